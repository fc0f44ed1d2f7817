"""A minted value names its token: the id's 16 bytes, base64url, then 256 random bits."""

from __future__ import annotations

import base64
import secrets
import uuid

import pytest

from app.store import keys


@pytest.mark.parametrize("steady", [False, True])
def test_a_minted_value_names_its_token_and_its_bucket(steady: bool) -> None:
    for bucket in range(keys.BUCKETS):
        for _ in range(50):
            token_id = keys.new_token_id(bucket)
            value = keys.new_token_value(token_id, steady=steady)
            assert len(value) == keys.VALUE_LENGTH
            assert keys.named_id(value) == token_id
            assert keys.presented(value) == (keys.digest(value), keys.TAGS[bucket], value[:22], steady)


def test_an_id_as_redis_keeps_it_is_its_16_bytes_in_base64url_and_names_its_bucket() -> None:
    """Redis keeps a token id in 22 characters (key, index members, pointers, events), which name the
    same bucket (the last byte's low nibble), and gives it back whole; an id a record written before
    kept whole (36 characters) is left as it is either way."""
    for bucket in range(keys.BUCKETS):
        for _ in range(50):
            token_id = keys.new_token_id(bucket)
            stored = keys.stored_id(token_id)
            assert len(stored) == keys.NAMING_LENGTH == 22
            assert base64.urlsafe_b64decode(stored + "==") == uuid.UUID(token_id).bytes
            assert keys.public_id(stored) == token_id
            assert keys.bucket_of_id(stored) == keys.bucket_of_id(token_id) == bucket
            assert keys.stored_id(stored) == stored and keys.public_id(token_id) == token_id
            assert keys.record(keys.TAGS[bucket], token_id) == keys.record(keys.TAGS[bucket], stored)
            assert keys.record(keys.TAGS[bucket], token_id) == f"rt:{keys.TAGS[bucket]}:{stored}"
            assert keys.record_written_before(keys.TAGS[bucket], stored) == f"rt:{keys.TAGS[bucket]}:{token_id}"
            assert keys.new_token_value(stored)[:22] == keys.new_token_value(token_id)[:22] == stored


def test_many_stored_ids_are_named_whole_at_once_as_one_by_one() -> None:
    ids = [keys.new_token_id(b % keys.BUCKETS) for b in range(300)]
    stored = [keys.stored_id(i) for i in ids]
    assert keys.public_ids(stored) == ids
    assert keys.public_ids(stored[:1]) == ids[:1] and keys.public_ids([]) == []
    for n in (keys.STRIDED_FROM - 1, keys.STRIDED_FROM, keys.STRIDED_FROM + 1):  # both ways of writing them
        assert keys.public_ids(stored[:n]) == ids[:n]
    mixed = stored[:5] + [ids[5]] + stored[6:9]  # an id a record written before kept whole among them
    assert keys.public_ids(mixed) == ids[:9]


def test_a_steady_mark_costs_no_randomness() -> None:
    """The mark is the last character's spare low bit: the 32 random bytes decode the same."""
    for _ in range(200):
        value = keys.new_token_value(keys.new_token_id(1), steady=True)
        rest = value[keys.NAMING_LENGTH :]
        unmarked = rest[:-1] + keys._B64URL[keys._B64URL.index(rest[-1]) & ~1]
        assert base64.urlsafe_b64decode(rest + "=") == base64.urlsafe_b64decode(unmarked + "=")
        assert len(base64.urlsafe_b64decode(rest + "=")) == 32
        assert not keys.presented(value[: keys.NAMING_LENGTH] + unmarked).steady


def test_two_values_of_one_token_differ_only_after_its_id() -> None:
    token_id = keys.new_token_id(7)
    first, second = keys.new_token_value(token_id), keys.new_token_value(token_id)
    assert first[:22] == second[:22] and first[22:] != second[22:]


def test_values_of_other_forms_name_nothing() -> None:
    named = keys.new_token_value(keys.new_token_id(3))
    others = [
        "0123456789abcdef"[5] + secrets.token_urlsafe(32),  # minted before values named their token
        secrets.token_urlsafe(32),  # imported: any opaque value
        named[:-1],  # one character short
        named + "A",  # one too many
        named[:21] + "B" + named[22:],  # 22 characters that hold more than 16 bytes
        named[:10] + "." + named[11:],  # not base64url
        named[:10] + "é" + named[11:],
    ]
    for value in others:
        assert keys.named_id(value) is None, value
        assert keys.presented(value).token_id is None
    assert keys.presented(others[0]).tag == keys.TAGS[5]
