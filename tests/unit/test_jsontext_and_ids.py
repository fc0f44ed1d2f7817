"""jsontext writes what json.dumps writes; random_uuid writes what str(uuid.uuid4()) writes."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app import jsontext
from app.ids import random_uuid
from app.store.keys import is_canonical_uuid

OWN = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=15,
)
CALLERS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=15,
)


def stdlib(value: Any, sort_keys: bool) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str, sort_keys=sort_keys).encode()


@given(value=OWN, sort_keys=st.booleans())
def test_values_without_floats_are_written_as_the_standard_library_writes_them(value: Any, sort_keys: bool) -> None:
    assert jsontext.dumps(value, sort_keys=sort_keys) == stdlib(value, sort_keys)


@given(value=CALLERS, sort_keys=st.booleans())
def test_a_callers_json_is_written_as_the_standard_library_writes_it(value: Any, sort_keys: bool) -> None:
    assert jsontext.dumps(value, sort_keys=sort_keys, caller_json=True) == stdlib(value, sort_keys)


def test_random_uuids_are_version_4_in_uuid4s_format() -> None:
    seen = {random_uuid() for _ in range(2000)}
    assert len(seen) == 2000
    for text in seen:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert {text[19] for text in seen} == set("89ab")


def test_a_forked_process_never_repeats_its_parents_next_ids() -> None:
    """Ids come from a batch of random digits read at once (app/ids.py); a forked worker must not
    hand out the rest of its parent's batch."""
    random_uuid()  # the batch is read, and most of it left for later
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        os.write(write, " ".join(random_uuid() for _ in range(5)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    theirs = set(os.read(read, 4096).decode().split())
    os.close(read)
    assert len(theirs) == 5 and not theirs & {random_uuid() for _ in range(5)}


def _round_trips(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


@given(
    value=st.uuids().map(str)
    | st.uuids().map(lambda u: str(u).upper())
    | st.uuids().map(lambda u: u.hex)
    | st.text(alphabet="0123456789abcdefABCDEF-{}urn:", min_size=30, max_size=45)
    | st.text(max_size=40)
)
def test_a_canonical_uuid_is_exactly_a_text_uuid_gives_back_unchanged(value: str) -> None:
    assert is_canonical_uuid(value) == _round_trips(value)
    assert is_canonical_uuid(value + "\n") is False and is_canonical_uuid(None) is False
