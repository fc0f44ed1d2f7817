"""Redis keeps a token id in 22 characters (keys.stored_id: its record's key, its index members, its
pointers, its events), and a record its user's id in 16 bytes and no expiry field; a record written
before keeps its id whole (36 characters), its user's id as text and an expiry field x, and keeps
working: found by value and by id, exchanged, listed (and paged past), revoked every way, counted and
buried, always named by its canonical id."""

from __future__ import annotations

import uuid

import pytest

from app import events
from app.store import keys
from tests.store.store_kit import Kit, event_json, new_user, next_value, now_ms, tag_of_user


def written_before(kit: Kit, token_id: str, user: str, application: str = "app-1") -> None:
    """Rewrite a token as an earlier version kept it: its record (its user's id as text, its expiry in
    x), and its members in its user's and its application's indexes, under its whole id (and its user's
    kept listing forgotten)."""
    tag, stored = tag_of_user(user), keys.stored_id(token_id)
    record = keys.record(tag, stored)
    kit.redis.hset(record, mapping={"u": user, "x": kit.redis.pexpiretime(record)})
    kit.redis.rename(record, keys.record_written_before(tag, stored))
    for index in (keys.user_index(tag, user), keys.app_index(tag, application)):
        score = kit.redis.zscore(index, stored)
        assert score is not None
        kit.redis.zrem(index, stored)
        kit.redis.zadd(index, {token_id: score})
    kit.redis.delete(keys.kept_listing(tag, user))


def test_a_new_token_is_kept_under_its_short_id_everywhere_and_answered_whole(any_kit: Kit) -> None:
    user = new_user()
    token = any_kit.mint(user)
    tag, stored = tag_of_user(user), keys.stored_id(token.token_id)
    assert len(stored) == 22 and token.value.startswith(stored)
    assert any_kit.redis.exists(f"rt:{tag}:{stored}") and not any_kit.redis.exists(f"rt:{tag}:{token.token_id}")
    raw = any_kit.redis.execute_command("HGETALL", f"rt:{tag}:{stored}", NEVER_DECODE=True)
    raw = dict(zip(raw[::2], raw[1::2], strict=True)) if isinstance(raw, list) else raw
    assert raw[b"u"] == uuid.UUID(user).bytes and b"x" not in raw  # 16 bytes; the key's expiry is its x
    assert any_kit.redis.zrange(keys.user_index(tag, user), 0, -1) == [stored]
    assert any_kit.redis.zrange(keys.app_index(tag, "app-1"), 0, -1) == [stored]
    (create,) = any_kit.events(user)
    assert create["ids"] == stored and events.read(create)["refreshTokenIds"] == [token.token_id]
    assert any_kit.list_all(user) == [token.token_id]


def test_a_record_written_before_is_found_by_value_and_by_id_exchanged_and_listed(any_kit: Kit) -> None:
    user = new_user()
    old, new = any_kit.mint(user, policy="S:60000"), any_kit.mint(user, policy="S:60000")
    written_before(any_kit, old.token_id, user)
    tag = tag_of_user(user)
    assert any_kit.redis.exists(keys.record_written_before(tag, old.token_id))
    assert not any_kit.redis.exists(keys.record(tag, old.token_id))
    assert any_kit.redis.exists(keys.record(tag, new.token_id))
    assert sorted(any_kit.redis.zrange(keys.user_index(tag, user), 0, -1)) == sorted(
        [old.token_id, keys.stored_id(new.token_id)]
    )

    for t in (old, new):
        found = any_kit.store.find(t.presented)
        assert found is not None and found.token_id == t.token_id
        got = any_kit.store.get(t.token_id)
        assert got is not None and got.token_id == t.token_id and got.user_id == user
        assert any_kit.store.session_is_live(t.token_id)
        assert any_kit.store.is_known(t.presented)
        assert any_kit.store.existing_ids([t.presented]) == [t.token_id]
        exchanged = any_kit.exchange(t)
        assert exchanged.token_id == t.token_id and exchanged.expiry > t.expiry - 60000
    assert sorted(any_kit.list_all(user)) == sorted([old.token_id, new.token_id])
    assert sorted(any_kit.list_all(user, "app-1")) == sorted([old.token_id, new.token_id])
    refreshed = [events.read(e) for e in any_kit.events(user) if e["t"] == "jwt.refresh"]
    assert sorted(e["refreshTokenIds"][0] for e in refreshed) == sorted([old.token_id, new.token_id])


def test_paging_past_a_record_written_before_returns_each_token_once(any_kit: Kit) -> None:
    """Tokens tied on their insert instant are paged in the order of their ids as Redis keeps them;
    a cursor at a token written before skips by its whole id, as its index holds it."""
    user, at = new_user(), now_ms() - 1000
    prepared = [any_kit.new_import(user, f"imported-{i}-{user}", insert=at, start=at) for i in range(6)]
    tokens = any_kit.import_tokens(prepared)
    for t in tokens[::2]:
        written_before(any_kit, t.token_id, user)

    listed = [i for page in any_kit.pages(user, 1) for i in page]

    assert sorted(listed) == sorted(t.token_id for t in tokens) and len(listed) == 6


@pytest.mark.parametrize("how", ["by id", "by value"])
def test_a_record_written_before_is_revoked_and_named_whole_in_the_answer_and_the_event(any_kit: Kit, how: str) -> None:
    user = new_user()
    token = any_kit.mint(user, "app-1", "tenant-1")
    written_before(any_kit, token.token_id, user)

    if how == "by id":
        revoked = any_kit.store.revoke_token(event=event_json(), token_id=token.token_id)
    else:
        revoked = any_kit.revoke(token)

    assert revoked is not None and revoked.token_id == token.token_id
    assert any_kit.store.get(token.token_id) is None
    assert any_kit.store.revoke_token(event=event_json(), token_id=token.token_id) is None
    assert any_kit.list_all(user) == []
    (revoke,) = [events.read(e) for e in any_kit.events(user) if e["t"] == "jwt.refresh-token.revoke"]
    assert revoke["refreshTokenIds"] == [token.token_id]
    tag = tag_of_user(user)
    assert any_kit.redis.hexists(keys.record_written_before(tag, token.token_id), "rv")  # its tombstone


def test_a_users_and_an_applications_revoke_count_and_bury_records_written_before(any_kit: Kit) -> None:
    user, other = new_user(), new_user()
    mine = [any_kit.mint(user) for _ in range(3)]
    theirs = [any_kit.mint(other) for _ in range(2)]
    written_before(any_kit, mine[0].token_id, user)
    written_before(any_kit, theirs[0].token_id, other)

    count = any_kit.store.revoke_user(user, None, tenant="", cap=10, event=event_json())
    assert count.invalidated == 3 and sorted(count.token_ids) == sorted(t.token_id for t in mine)
    assert all(any_kit.store.get(t.token_id) is None for t in mine)
    apps = any_kit.revoke_apps("app-1")
    assert apps.invalidated == 2 and sorted(apps.token_ids) == sorted(t.token_id for t in theirs)
    (app_event,) = [
        events.read(fields)
        for tag in keys.TAGS
        for _, fields in any_kit.redis.xrange(keys.events(tag))
        if fields["t"] == "jwt.refresh-token.revoke" and fields["n"] == "2"
    ]
    assert sorted(app_event["refreshTokenIds"]) == sorted(t.token_id for t in theirs)
    assert any_kit.bury_all() >= 2
    assert all(any_kit.store.get(t.token_id) is None for t in mine + theirs)


def test_a_one_time_token_written_before_rotates_and_its_old_value_is_reuse(kit: Kit) -> None:
    user = new_user()
    token = kit.mint(user, policy="S:60000")
    tag = tag_of_user(user)
    kit.redis.hset(keys.record(tag, token.token_id), "ou", "0:1")  # one-time use, no grace, revoke on reuse
    written_before(kit, token.token_id, user)
    minted: list[str] = []

    def rotate(names: str) -> tuple[str, str]:
        digest, sealed = next_value(names)
        minted.append(sealed.removeprefix("sealed-"))
        return digest, sealed

    result = kit.store.exchange(token.presented, "x", event_json(), rotate)
    assert result.token_id == token.token_id and result.rotated
    fresh = keys.presented(minted[-1])
    assert kit.store.find(fresh) is not None and kit.store.find(fresh).token_id == token.token_id
    assert kit.store.exchange(token.presented, "x", event_json(), rotate) == "reuse"
    assert kit.store.get(token.token_id) is None  # revoked on reuse
