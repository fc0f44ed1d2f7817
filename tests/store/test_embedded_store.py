"""The behaviours refreshd relies on, proven on both backends: the real redis-server and the embedded
store (fakeredis with Lua) that runs the service when REDIS_URL is unset."""

from __future__ import annotations

import pytest

from app import events
from app.store import keys
from app.store.tokens import DuplicateToken, Exchanged, RevokeCount, Revoked
from tests.store.store_kit import Kit, event_json, imported_value, new_user, now_ms, user_in
from tests.store.test_store_concurrency import run_together

FOREIGN = pytest.mark.parametrize("foreign", [False, True], ids=["pointer-in-users-bucket", "foreign-pointer"])


def test_a_minted_token_exchanges_and_its_value_is_stored_nowhere(any_kit: Kit) -> None:
    user = new_user()
    token = any_kit.mint(user, "app-1", "tenant-1", meta={"scopes": ["x"]})

    assert any_kit.exchange(token) == Exchanged(
        token.token_id, user, "app-1", "tenant-1", {"scopes": ["x"]}, token.expiry
    )
    contents = repr(any_kit.dump())
    assert token.digest[: keys.DIGEST_KEPT] in contents and token.value not in contents


def test_every_token_key_expires(any_kit: Kit) -> None:
    user = new_user()
    tokens = any_kit.mint_many(3, user, policy="S:600000")
    any_kit.exchange(tokens[0])
    any_kit.revoke(tokens[1])
    any_kit.import_one(user, imported_value(user, foreign=True))

    for key, (kind, _) in any_kit.dump().items():
        ttl = any_kit.redis.pttl(key)
        if key.startswith("at:"):  # applications' tenants, an entry an application: bounded, never expires
            assert ttl == -1 and any_kit.redis.hgetall(key) == {"app-1": "tenant-1"}
            continue
        if key.startswith("ac:"):  # applications' codes, likewise
            assert ttl == -1 and any_kit.redis.hgetall(key) == {"#": "1", "1": "app-1 tenant-1", "app-1": "1"}
            continue
        assert kind == "stream" or 0 < ttl <= 86400000, key


def test_revoking_by_value_or_id_only_for_the_right_owner(any_kit: Kit) -> None:
    user = new_user()
    by_value, by_id = any_kit.mint(user, "app-1", "t-1"), any_kit.mint(user, "app-1", "t-1")

    assert any_kit.revoke(by_value, owner=new_user()) is None
    assert any_kit.revoke(by_value, owner=user) == Revoked(by_value.token_id, user, "app-1", "t-1")
    assert any_kit.revoke(by_value) is None
    assert any_kit.store.revoke_token(event=event_json(), token_id=by_id.token_id, tenant="t-2") is None
    assert any_kit.store.revoke_token(event=event_json(), token_id=by_id.token_id) is not None
    assert [any_kit.exchange(t) for t in (by_value, by_id)] == ["revoked", "revoked"]


def test_revoking_a_user_counts_exactly_and_reports_previous_revokes(any_kit: Kit) -> None:
    user, other = user_in(6), user_in(6)
    mine = any_kit.mint_many(3, user, "app-1") + any_kit.mint_many(2, user, "app-2")
    theirs = any_kit.mint(other, "app-1")

    scoped = any_kit.store.revoke_user(user, "app-1", tenant="", cap=2, event=event_json())
    rest = any_kit.store.revoke_user(user, None, tenant="", cap=10, event=event_json())
    again = any_kit.store.revoke_user(user, None, tenant="", cap=10, event=event_json())

    assert (scoped.invalidated, scoped.previously_invalidated, len(scoped.token_ids)) == (3, 0, 2)
    assert (rest.invalidated, rest.previously_invalidated) == (2, 3)
    assert again == RevokeCount(0, 5, [])
    assert not any(any_kit.is_live(t) for t in mine)
    assert any_kit.is_live(theirs)


def test_revoking_an_application_reaches_every_bucket(any_kit: Kit) -> None:
    target = [any_kit.mint(user_in(b), "app-a") for b in range(keys.BUCKETS)]
    other = any_kit.mint(user_in(9), "app-b")

    count = any_kit.revoke_apps("app-a", cap=100)

    assert count.invalidated == keys.BUCKETS
    assert sorted(count.token_ids) == sorted(t.token_id for t in target)
    assert any_kit.is_live(other) and not any(any_kit.is_live(t) for t in target)
    assert any_kit.bury_all() == keys.BUCKETS
    assert any_kit.is_live(other) and not any(any_kit.is_live(t) for t in target)
    assert any_kit.revoke_apps("app-a") == RevokeCount(0, keys.BUCKETS, [])


def test_paging_returns_each_token_once_newest_first_even_with_equal_insert_instants(any_kit: Kit) -> None:
    user, now = new_user(), now_ms()
    instants = [now - 1000] * 4 + [now - 2000, now - 500, now - 3000] + [now - 2000] * 3
    prepared = [
        any_kit.new_import(user, imported_value(user, foreign=i % 3 == 0), insert=at, start=at)
        for i, at in enumerate(instants)
    ]
    tokens = any_kit.import_tokens(prepared)
    any_kit.revoke(tokens[0])
    # equal instants: in the order of the ids as Redis keeps them (keys.stored_id), descending
    expected = [
        t.token_id
        for t in sorted(tokens[1:], key=lambda t: (instants[tokens.index(t)], keys.stored_id(t.token_id)), reverse=True)
    ]

    listed = [i for page in any_kit.pages(user, 3) for i in page]

    assert listed == expected


@FOREIGN
def test_an_imported_value_exchanges_slides_and_revokes(any_kit: Kit, foreign: bool) -> None:
    user, now = new_user(), now_ms()
    token = any_kit.import_one(user, imported_value(user, foreign=foreign), policy="S:60000", start=now - 30000)

    result = any_kit.exchange(token)

    assert result.expiry >= now + 60000
    assert any_kit.redis.pexpiretime(keys.pointer(token.tag, token.digest)) == result.expiry
    assert any_kit.revoke(token) is not None
    assert any_kit.exchange(token) == "revoked"


def test_a_maximum_policy_never_slides_past_insert_plus_maximum(any_kit: Kit) -> None:
    user, now = new_user(), now_ms()
    token = any_kit.import_one(
        user, imported_value(user, foreign=True), policy="M:60000:120000", insert=now - 100000, start=now - 50000
    )

    assert any_kit.exchange(token).expiry == now + 20000


@FOREIGN
def test_importing_an_existing_value_raises_duplicate(any_kit: Kit, foreign: bool) -> None:
    user = new_user()
    original = any_kit.import_one(user, imported_value(user, foreign=foreign))

    with pytest.raises(DuplicateToken):
        any_kit.import_one(user, original.value, "app-2")

    assert any_kit.list_all(user) == [original.token_id]
    assert any_kit.exchange(original).token_id == original.token_id


def test_mints_and_revokes_append_one_event_each(any_kit: Kit) -> None:
    user = new_user()
    tokens = any_kit.mint_many(2, user)
    any_kit.revoke(tokens[0])
    any_kit.store.revoke_user(user, None, tenant="", cap=10, event='{"id":"u"}')
    any_kit.store.revoke_user(user, None, tenant="", cap=10, event='{"id":"none"}')

    read = [events.read(e) for e in any_kit.events(user)]

    assert [e["type"] for e in read] == [events.CREATE, events.CREATE, events.REVOKE, events.REVOKE]
    assert (read[-1]["id"], read[-1]["invalidatedTokens"], read[-1]["previouslyInvalidatedTokens"]) == ("u", 1, 1)


def test_concurrent_revokes_of_one_user_count_each_token_once(any_kit: Kit) -> None:
    user = new_user()
    any_kit.mint_many(40, user)

    counts = run_together(
        [lambda s: s.revoke_user(user, None, tenant="", cap=100, event=event_json())] * 16, any_kit.redis
    )

    assert sorted(c.invalidated for c in counts) == [0] * 15 + [40]


def test_pipelined_steps_still_work_after_redis_forgets_its_scripts(any_kit: Kit) -> None:
    users = [user_in(b) for b in range(keys.BUCKETS)]
    any_kit.redis.script_flush()
    tokens = any_kit.import_tokens([any_kit.new_import(u, imported_value(u, foreign=False)) for u in users])
    any_kit.redis.script_flush()

    count = any_kit.revoke_apps("app-1", cap=99)
    any_kit.redis.script_flush()
    buried = any_kit.bury_all()

    assert count.invalidated == keys.BUCKETS
    assert buried == keys.BUCKETS
    assert not any(any_kit.is_live(t) for t in tokens)
