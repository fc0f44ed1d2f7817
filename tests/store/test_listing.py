"""Listing a user's live tokens (list.lua): what a listed token carries, which ids a listing forgets,
whose watermark hides what, and paging; on real Redis and the embedded store (and on the Cluster:
tests/cluster/test_store_on_cluster.py imports this module)."""

from __future__ import annotations

import time
from typing import Any

from app.store import keys
from app.store.tokens import StoredToken
from tests.store.store_kit import Kit, Token, event_json, hash_fields, imported_value, new_user, now_ms, tag_of_user


def _import_at(kit: Kit, user: str, instants: list[int], **kw: Any) -> list[Token]:
    prepared = [
        kit.new_import(user, imported_value(user, foreign=i % 2 == 0), insert=at, start=at, **kw)
        for i, at in enumerate(instants)
    ]
    return kit.import_tokens(prepared)


def _record(kit: Kit, token: Token) -> str:
    return keys.record(tag_of_user(token.user_id), token.token_id)


def _as_stored(kit: Kit, token: Token, app: str, tenant: str, address: str | None, meta: dict) -> StoredToken:
    """The token as its record stands in Redis, with what the test wrote into it."""
    record = hash_fields(kit.redis, _record(kit, token))
    accessed = int(record["la"]) if "la" in record else None
    return StoredToken(
        token.token_id,
        token.user_id,
        app,
        tenant,
        int(record["ii"]),
        int(record.get("si", record["ii"])),  # absent: the insert instant
        int(record["x"]),  # its key's expiry: a record keeps no x (hash_fields)
        accessed,
        address,
        meta,
    )


def _newest_first(tokens: list[Token]) -> list[str]:
    return [t.token_id for t in tokens]


def test_a_listed_token_carries_every_field_of_its_record_and_equals_the_token_got_by_id(any_kit: Kit) -> None:
    user = new_user()
    meta = {
        "device": {"name": "Zo\u00eb\u2019s phone", "description": None, "extra": [1]},
        "scopes": ["openid", "a b"],
        "data": {"f": 1.5e-07, "big": 2**70, "nul": "a\u0000b", "nested": {"z": None}},
        "other": {"k": 1},
    }
    used = any_kit.mint(user, "app-1", "tenant-1", meta=meta)
    fresh = any_kit.mint(user, "app-2", "tenant-2")
    any_kit.exchange(used, address="2001:db8::1")

    found, more = any_kit.store.list_tokens(user, None, tenant="", limit=10, cursor=None)

    expected = {
        used.token_id: _as_stored(any_kit, used, "app-1", "tenant-1", "2001:db8::1", meta),
        fresh.token_id: _as_stored(any_kit, fresh, "app-2", "tenant-2", None, {}),
    }
    assert expected[fresh.token_id].last_accessed_instant is None  # never exchanged
    assert expected[used.token_id].last_accessed_instant is not None
    assert {t.token_id: t for t in found} == expected
    assert not more
    assert found == [any_kit.store.get(t.token_id) for t in found]


def test_listing_forgets_ids_whose_record_is_gone_or_expired_and_keeps_the_live_ones(any_kit: Kit) -> None:
    user = new_user()
    live = any_kit.mint_many(2, user)
    gone, lapsed = any_kit.mint(user), any_kit.mint(user)
    any_kit.redis.delete(_record(any_kit, gone))
    any_kit.redis.pexpire(_record(any_kit, lapsed), 1)  # its expiry (its key's) passes
    time.sleep(0.01)
    index = keys.user_index(tag_of_user(user), user)
    assert any_kit.redis.zcard(index) == 4

    # a listing of one application (the user's index intersected with the application's) forgets them too
    assert sorted(any_kit.list_all(user, "app-1")) == sorted(t.token_id for t in live)
    assert sorted(any_kit.redis.zrange(index, 0, -1)) == sorted(keys.stored_id(t.token_id) for t in live)
    assert sorted(any_kit.list_all(user)) == sorted(t.token_id for t in live)
    assert not any_kit.redis.keys("kt:*")  # its scratch key is gone


def test_each_applications_watermark_hides_only_that_applications_earlier_tokens(any_kit: Kit) -> None:
    user = new_user()
    doomed = [any_kit.mint(user, "app-a"), any_kit.mint(user, "app-a")]
    spared = [any_kit.mint(user, "app-b"), any_kit.mint(user, "app-c")]

    any_kit.revoke_apps("app-a")
    later = any_kit.mint(user, "app-a")

    listed = any_kit.list_all(user)
    assert sorted(listed) == sorted(t.token_id for t in [*spared, later])
    assert not {t.token_id for t in doomed} & set(listed)
    assert any_kit.list_all(user, "app-a") == [later.token_id]


def test_an_import_from_before_the_users_reset_is_not_listed_and_one_from_after_it_is(any_kit: Kit) -> None:
    user = new_user()
    before = any_kit.mint(user)
    any_kit.marks.invalidate_user(user, cap=10, event=event_json(), access_ttl_ms=60_000)
    reset = any_kit.marks.user_valid_from(user)
    assert reset is not None

    older, newer = _import_at(any_kit, user, [reset - 1000, reset + 1])

    assert any_kit.list_all(user) == [newer.token_id]
    assert before.token_id not in (older.token_id, newer.token_id)


def test_paging_skips_the_ids_tied_with_the_cursor_and_keeps_to_the_tenant_and_live_records(any_kit: Kit) -> None:
    user, now = new_user(), now_ms()
    newer = _import_at(any_kit, user, [now - 1000] * 2)
    tied = _import_at(any_kit, user, [now - 2000] * 6)
    _import_at(any_kit, user, [now - 2000] * 2, tenant_id="tenant-2")
    older = _import_at(any_kit, user, [now - 3000])
    dead = sorted(tied, key=lambda t: t.token_id)[2]  # in the middle of the tied ones
    any_kit.redis.delete(_record(any_kit, dead))

    pages = any_kit.pages(user, 2, tenant="tenant-1")

    tied_live = [t.token_id for t in tied if t is not dead]
    # ties in the order of their ids as Redis keeps them (keys.stored_id), descending
    expected = (
        sorted(_newest_first(newer), key=keys.stored_id, reverse=True)
        + sorted(tied_live, key=keys.stored_id, reverse=True)
        + _newest_first(older)
    )
    assert [i for page in pages for i in page] == expected
    assert [len(page) for page in pages] == [2, 2, 2, 2]  # no empty last page: `more` only when one follows


def test_a_page_as_long_as_what_is_left_says_no_more_even_with_dead_ids_behind_it(any_kit: Kit) -> None:
    user, now = new_user(), now_ms()
    tokens = _import_at(any_kit, user, [now - 1000 * i for i in range(5)])
    any_kit.redis.delete(_record(any_kit, tokens[4]))

    found, more = any_kit.store.list_tokens(user, None, tenant="", limit=4, cursor=None)
    assert [t.token_id for t in found] == _newest_first(tokens[:4]) and not more

    found, more = any_kit.store.list_tokens(user, None, tenant="", limit=3, cursor=None)
    assert [t.token_id for t in found] == _newest_first(tokens[:3]) and more


def test_listing_walks_an_index_longer_than_one_read_forgetting_dead_ids_on_the_way(any_kit: Kit) -> None:
    # list.lua reads the index 200 ids at a time: removing dead ids must not skip or repeat a live one
    users, now = [new_user(), new_user()], now_ms()
    live: dict[str, list[str]] = {}
    for user in users:
        tokens = _import_at(any_kit, user, [now - 10 * i for i in range(260)])
        dead = set(range(5, 255, 7))
        for i in dead:
            any_kit.redis.delete(_record(any_kit, tokens[i]))
        live[user] = [t.token_id for i, t in enumerate(tokens) if i not in dead]

    assert any_kit.list_all(users[0]) == live[users[0]]

    first, more = any_kit.store.list_tokens(users[1], None, tenant="", limit=3, cursor=None)
    cursor = (first[-1].insert_instant, first[-1].token_id)
    rest, more_after = any_kit.store.list_tokens(users[1], None, tenant="", limit=1000, cursor=cursor)
    assert more and not more_after
    assert [t.token_id for t in first + rest] == live[users[1]]


def _page(kit: Kit, user: str, *, limit: int = 1000, tenant: str = "") -> tuple[list[str], bool]:
    found, more = kit.store.list_tokens(user, None, tenant=tenant, limit=limit, cursor=None)
    return [t.token_id for t in found], more


def test_a_kept_listing_is_not_given_once_a_token_it_shows_expires(any_kit: Kit) -> None:
    user = new_user()
    short, long = any_kit.mint(user, policy="F:150"), any_kit.mint(user)
    assert set(any_kit.list_all(user)) == {short.token_id, long.token_id}
    time.sleep(0.2)
    assert any_kit.list_all(user) == [long.token_id]


def test_a_kept_listing_is_given_only_for_its_tenant_and_within_the_limit(any_kit: Kit) -> None:
    user = new_user()
    ours, theirs = any_kit.mint(user, tenant_id="t-1"), any_kit.mint(user, tenant_id="t-2")
    everyone, more = _page(any_kit, user)
    assert set(everyone) == {ours.token_id, theirs.token_id} and not more
    assert _page(any_kit, user, tenant="t-1") == ([ours.token_id], False)
    assert _page(any_kit, user, limit=1) == (everyone[:1], True)
    assert _page(any_kit, user) == (everyone, False)


def test_a_listing_of_more_than_a_hundred_tokens_is_not_kept(any_kit: Kit) -> None:
    user, few = new_user(), new_user()
    any_kit.mint_many(101, user)
    any_kit.mint_many(2, few)
    assert len(any_kit.list_all(user)) == 101 and len(any_kit.list_all(few)) == 2
    kept = {key for key in any_kit.redis.scan_iter("lk:*")}
    assert kept == {keys.kept_listing(tag_of_user(few), few)}


def test_burying_what_revokes_and_watermarks_killed_leaves_a_kept_listing_as_read_afresh(any_kit: Kit) -> None:
    # the burial and the cleanup do not forget kept listings: what they remove was hidden already
    user, other = new_user(), new_user()
    for u in (user, other):
        any_kit.mint(u, "app-1")
        any_kit.mint(u, "app-2")
    any_kit.store.revoke_user(other, None, tenant="", cap=10, event=event_json())
    any_kit.revoke_apps("app-1")
    kept = {u: any_kit.list_all(u) for u in (user, other)}
    assert len(kept[user]) == 1 and kept[other] == []
    assert any_kit.bury_all() == 3
    for u in (user, other):
        assert any_kit.list_all(u) == kept[u]
        any_kit.redis.delete(keys.kept_listing(tag_of_user(u), u))
        assert any_kit.list_all(u) == kept[u]
