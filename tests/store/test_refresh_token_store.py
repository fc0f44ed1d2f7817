"""RefreshTokenStore against the session's real redis-server: mint, exchange, revoke, list, expiry, import."""

from __future__ import annotations

import secrets
import time

import pytest

from app.store import keys
from app.store.tokens import DuplicateToken, Exchanged, RevokeCount, Revoked
from tests.store.store_kit import (
    DAY,
    Kit,
    bucket_of,
    event_json,
    imported_value,
    new_user,
    next_value,
    now_ms,
    tag_of_user,
    user_in,
)

# -- mint and exchange ------------------------------------------------------------------------------


def test_exchanging_a_minted_token_by_digest_returns_its_user_application_tenant_and_meta(kit: Kit) -> None:
    user = new_user()
    meta = {"device": {"name": "phone"}, "scopes": ["a", "b"]}
    token = kit.mint(user, "app-7", "tenant-3", meta=meta)

    result = kit.exchange(token)

    assert result == Exchanged(token.token_id, user, "app-7", "tenant-3", meta, token.expiry)
    assert kit.store.get(token.token_id).last_accessed_address == "10.0.0.1"


def test_an_unknown_value_does_not_exchange(kit: Kit) -> None:
    user = new_user()
    kit.mint(user)
    stranger = keys.new_token_value(keys.new_token_id(bucket_of(user)))

    assert kit.store.exchange(keys.presented(stranger), "x", "{}", next_value) == "unknown"


def test_the_plain_token_value_is_stored_nowhere(kit: Kit) -> None:
    user = new_user()
    tokens = kit.mint_many(3, user, meta={"k": "v"})
    kit.exchange(tokens[0])
    kit.revoke(tokens[1])

    contents = repr(kit.dump())

    assert tokens[2].digest[: keys.DIGEST_KEPT] in contents  # the dump does read every value
    for token in tokens:
        assert token.value not in contents
        assert token.value[1:] not in contents


def test_every_key_but_the_event_stream_expires_no_later_than_the_tokens_it_holds(kit: Kit) -> None:
    users = [new_user() for _ in range(3)]
    fixed = [kit.mint(u, "app-1", policy="F:60000") for u in users]
    sliding = [kit.mint(u, "app-2", policy="S:3600000") for u in users]
    foreign = kit.import_one(users[0], imported_value(users[0], foreign=True), policy="S:120000")
    kit.exchange(sliding[0])
    kit.exchange(foreign)
    kit.revoke(fixed[0])
    kit.store.revoke_user(users[1], None, tenant="", cap=10, event=event_json())
    kit.list_all(users[2])
    expiry = {t.token_id: t.expiry for t in fixed + sliding + [foreign]}
    expiry.update({t.token_id: kit.store.get(t.token_id).expiry for t in (sliding[0], foreign)})  # slid

    def kinds_expiring_in_time() -> set[str]:
        kinds = set()
        for key, (kind, value) in kit.dump().items():
            if kind == "stream":  # bounded by MAXLEN instead: a TTL would drop it with its consumer groups
                assert key.startswith("ev:")
                continue
            if key.startswith("at:"):  # applications' tenants: an entry an application, whose tenant never changes
                assert set(value) <= {"app-1", "app-2"}
                continue
            if key.startswith("ac:"):  # their codes, likewise: two fields an application and the last code
                assert set(value) <= {"app-1", "app-2", "1", "2", "#"}
                continue
            expires_at = kit.redis.pexpiretime(key)
            assert kit.redis.pttl(key) > 0, key
            assert expires_at <= max(expiry.values()), key
            prefix = key.split(":", 1)[0]
            if prefix in ("rt", "dg"):
                assert expires_at == expiry[keys.public_id(value if prefix == "dg" else key.rsplit(":", 1)[1])], key
            kinds.add(prefix)
        return kinds

    # the user's revoke killed their tokens whole (uk:, ux:, ka:, kq:); the burial makes them tombstones;
    # the last user's listing is kept (lk:) until its earliest expiry
    assert kinds_expiring_in_time() == {"rt", "dg", "u", "a", "ud", "ad", "uk", "ux", "ka", "kq", "lk"}
    assert kit.bury_all() == 2
    assert kinds_expiring_in_time() == {"rt", "dg", "u", "a", "ud", "ad", "lk"}


# -- revoking one token -----------------------------------------------------------------------------


def test_revoking_by_value_makes_exchange_report_revoked_and_a_second_revoke_finds_nothing(kit: Kit) -> None:
    user = new_user()
    token, other = kit.mint(user, "app-1", "t-1"), kit.mint(user)

    assert kit.revoke(token) == Revoked(token.token_id, user, "app-1", "t-1")
    assert kit.exchange(token) == "revoked"
    assert kit.revoke(token) is None
    assert kit.store.get(token.token_id) is None
    assert kit.list_all(user) == [other.token_id]
    assert kit.is_live(other)


def test_revoking_by_id_makes_exchange_report_revoked_and_a_second_revoke_finds_nothing(kit: Kit) -> None:
    user = new_user()
    token = kit.mint(user, "app-1", "t-1")

    revoked = kit.store.revoke_token(event=event_json(), token_id=token.token_id)
    again = kit.store.revoke_token(event=event_json(), token_id=token.token_id)

    assert revoked == Revoked(token.token_id, user, "app-1", "t-1")
    assert again is None
    assert kit.exchange(token) == "revoked"
    assert kit.list_all(user) == []


@pytest.mark.parametrize("by", ["value", "id"])
@pytest.mark.parametrize("filter_", ["owner", "tenant"])
def test_another_owners_or_tenants_revoke_finds_nothing_and_leaves_the_token_live(
    kit: Kit, by: str, filter_: str
) -> None:
    user = new_user()
    token = kit.mint(user, "app-1", "tenant-a")
    wrong = {"owner": new_user()} if filter_ == "owner" else {"tenant": "tenant-b"}
    right = {"owner": user} if filter_ == "owner" else {"tenant": "tenant-a"}

    def revoke(**kw: str) -> Revoked | None:
        if by == "id":
            return kit.store.revoke_token(event=event_json(), token_id=token.token_id, **kw)
        return kit.revoke(token, **kw)

    assert revoke(**wrong) is None
    assert kit.is_live(token)
    assert kit.list_all(user) == [token.token_id]
    assert revoke(**right) is not None
    assert kit.exchange(token) == "revoked"


# -- revoking a user's tokens -----------------------------------------------------------------------


def test_revoking_a_user_counts_exactly_their_live_tokens_and_leaves_other_users_alive(kit: Kit) -> None:
    user, neighbour, elsewhere = user_in(5), user_in(5), user_in(9)
    mine = kit.mint_many(3, user, "app-1") + kit.mint_many(2, user, "app-2")
    kit.revoke(mine[0])
    others = kit.mint_many(2, neighbour) + kit.mint_many(2, elsewhere)

    count = kit.store.revoke_user(user, None, tenant="", cap=100, event=event_json())

    assert count.invalidated == 4
    assert count.previously_invalidated == 1
    assert sorted(count.token_ids) == sorted(t.token_id for t in mine[1:])
    assert not any(kit.is_live(t) for t in mine)
    assert all(kit.is_live(t) for t in others)
    assert kit.list_all(user) == []


def test_revoking_a_user_for_one_application_leaves_their_other_applications_live(kit: Kit) -> None:
    user = new_user()
    app1, app2 = kit.mint_many(3, user, "app-1"), kit.mint_many(2, user, "app-2")

    count = kit.store.revoke_user(user, "app-1", tenant="", cap=100, event=event_json())

    assert (count.invalidated, count.previously_invalidated) == (3, 0)
    assert sorted(count.token_ids) == sorted(t.token_id for t in app1)
    assert not any(kit.is_live(t) for t in app1)
    assert all(kit.is_live(t) for t in app2)
    assert sorted(kit.list_all(user)) == sorted(t.token_id for t in app2)
    assert kit.list_all(user, "app-1") == []
    again = kit.store.revoke_user(user, "app-1", tenant="", cap=100, event=event_json())
    assert (again.invalidated, again.previously_invalidated) == (0, 3)


def test_revoking_a_user_for_an_application_a_watermark_killed_counts_those_as_previously_invalidated(
    kit: Kit,
) -> None:
    # the killed ones await their burial in the application's killed index, not its live one
    user = new_user()
    killed = kit.mint_many(2, user, "app-1")
    kit.revoke_apps("app-1")
    live, other = kit.mint(user, "app-1"), kit.mint(user, "app-2")

    count = kit.store.revoke_user(user, "app-1", tenant="", cap=100, event=event_json())

    assert count == RevokeCount(1, 2, [live.token_id])
    assert not any(kit.is_live(t) for t in [*killed, live])
    assert kit.is_live(other) and kit.list_all(user) == [other.token_id]
    assert kit.bury_all() == 0  # the killed ones are tombstones already: nothing left to bury
    assert not kit.redis.keys("kt:*")


def test_a_second_revoke_of_a_user_reports_the_first_count_as_previously_invalidated(kit: Kit) -> None:
    user = new_user()
    kit.mint_many(4, user, "app-1")
    kit.mint_many(2, user, "app-2")

    first = kit.store.revoke_user(user, None, tenant="", cap=100, event=event_json())
    second = kit.store.revoke_user(user, None, tenant="", cap=100, event=event_json())

    assert (first.invalidated, first.previously_invalidated) == (6, 0)
    assert second == RevokeCount(0, 6, [])


def test_revoking_a_user_returns_at_most_cap_ids_but_counts_them_all(kit: Kit) -> None:
    user = new_user()
    tokens = kit.mint_many(7, user)

    count = kit.store.revoke_user(user, None, tenant="", cap=3, event=event_json())

    assert count.invalidated == 7
    assert len(count.token_ids) == 3
    assert set(count.token_ids) <= {t.token_id for t in tokens}


def test_revoking_a_user_within_a_tenant_leaves_their_tokens_of_other_tenants_live(kit: Kit) -> None:
    user = new_user()
    ours, theirs = kit.mint(user, "app-1", "tenant-a"), kit.mint(user, "app-9", "tenant-b")

    count = kit.store.revoke_user(user, None, tenant="tenant-a", cap=10, event=event_json())

    assert count == RevokeCount(1, 0, [ours.token_id])
    assert kit.is_live(theirs) and not kit.is_live(ours)


def test_revoking_a_user_with_no_tokens_counts_nothing(kit: Kit) -> None:
    assert kit.store.revoke_user(new_user(), None, tenant="", cap=10, event=event_json()) == RevokeCount(0, 0, [])


# -- revoking an application ------------------------------------------------------------------------


def test_revoking_an_application_covers_every_bucket_and_leaves_other_applications_live(kit: Kit) -> None:
    users = [user_in(b) for b in range(keys.BUCKETS)]
    target = [t for u in users for t in kit.mint_many(2, u, "app-a")]
    other = [kit.mint(u, "app-b") for u in users]

    count = kit.revoke_apps("app-a", cap=1000)

    assert count.invalidated == 2 * keys.BUCKETS
    assert count.previously_invalidated == 0
    assert sorted(count.token_ids) == sorted(t.token_id for t in target)
    assert not any(kit.is_live(t) for t in target)
    assert all(kit.is_live(t) for t in other)
    again = kit.revoke_apps("app-a", cap=5)
    assert again == RevokeCount(0, 2 * keys.BUCKETS, [])


def test_revoking_an_application_caps_the_ids_it_returns(kit: Kit) -> None:
    for b in range(keys.BUCKETS):
        kit.mint_many(2, user_in(b), "app-a")

    count = kit.revoke_apps("app-a", cap=5)

    assert count.invalidated == 2 * keys.BUCKETS
    assert len(count.token_ids) == 5
    assert len(set(count.token_ids)) == 5


def test_revoking_a_tenants_applications_kills_them_whole_and_leaves_its_other_applications_live(kit: Kit) -> None:
    # an application belongs to one tenant, and the domain checks the caller may see it: the store
    # no longer filters an application's index by tenant, it kills the application whole
    ours = kit.mint(user_in(1), "app-a", "tenant-a")
    labelled_elsewhere = kit.mint(user_in(2), "app-a", "tenant-b")
    sibling = kit.mint(user_in(3), "app-b", "tenant-a")

    count = kit.revoke_apps("app-a", cap=10, tenant_id="tenant-a")

    assert (count.invalidated, count.previously_invalidated) == (2, 0)
    assert sorted(count.token_ids) == sorted([ours.token_id, labelled_elsewhere.token_id])
    assert not kit.is_live(ours) and not kit.is_live(labelled_elsewhere)
    assert kit.is_live(sibling)
    # the tenant's own watermark (for access tokens without a session) is the earliest of its
    # applications', in every bucket
    marks = {int(kit.redis.get(keys.app_valid_from(tag, "app-a"))) for tag in keys.TAGS}
    assert {kit.redis.get(keys.tenant_valid_from(tag, "tenant-a")) for tag in keys.TAGS} == {str(min(marks))}


# -- listing ----------------------------------------------------------------------------------------


def _import_at(kit: Kit, user: str, instants: list[int], application_id: str = "app-1") -> list[str]:
    prepared = [
        kit.new_import(user, imported_value(user, foreign=i % 2 == 0), application_id, insert=instant, start=instant)
        for i, instant in enumerate(instants)
    ]
    return [t.token_id for t in kit.import_tokens(prepared)]


def test_listing_returns_live_tokens_newest_first_by_insert_instant(kit: Kit) -> None:
    user, now = new_user(), now_ms()
    ids = _import_at(kit, user, [now - 5000, now - 1000, now - 3000, now - 2000, now - 4000])

    found, more = kit.store.list_tokens(user, None, tenant="", limit=10, cursor=None)

    assert [t.token_id for t in found] == [ids[1], ids[3], ids[2], ids[4], ids[0]]
    assert [t.insert_instant for t in found] == sorted((t.insert_instant for t in found), reverse=True)
    assert not more


def test_listing_leaves_out_revoked_tokens_and_other_applications_and_tenants(kit: Kit) -> None:
    user = new_user()
    kept = kit.mint(user, "app-1", "tenant-a")
    kit.revoke(kit.mint(user, "app-1", "tenant-a"))
    other_app = kit.mint(user, "app-2", "tenant-a")
    other_tenant = kit.mint(user, "app-3", "tenant-b")

    assert sorted(kit.list_all(user)) == sorted([kept.token_id, other_app.token_id, other_tenant.token_id])
    assert kit.list_all(user, "app-1") == [kept.token_id]
    assert sorted(kit.list_all(user, tenant="tenant-a")) == sorted([kept.token_id, other_app.token_id])


def test_paging_three_at_a_time_returns_every_token_once_in_order(kit: Kit) -> None:
    user, now = new_user(), now_ms()
    ids = _import_at(kit, user, [now - 1000 * i for i in range(10)])

    pages = kit.pages(user, 3)

    assert [len(p) for p in pages] == [3, 3, 3, 1]
    assert [i for p in pages for i in p] == ids


def test_paging_over_tokens_with_the_same_insert_instant_returns_each_once(kit: Kit) -> None:
    user, now = new_user(), now_ms()
    same = _import_at(kit, user, [now - 2000] * 7)
    newer = _import_at(kit, user, [now - 1000] * 2)
    older = _import_at(kit, user, [now - 3000])

    pages = kit.pages(user, 3)
    listed = [i for p in pages for i in p]

    assert len(listed) == len(set(listed)) == 10
    # ties in the order of their ids as Redis keeps them (keys.stored_id), descending
    assert (
        listed
        == sorted(newer, key=keys.stored_id, reverse=True) + sorted(same, key=keys.stored_id, reverse=True) + older
    )


# -- expiry -----------------------------------------------------------------------------------------


def test_a_fixed_policy_token_is_invalid_once_its_expiry_passes(kit: Kit) -> None:
    user = new_user()
    token, kept = kit.mint(user, policy="F:50"), kit.mint(user)

    time.sleep(0.1)

    assert isinstance(kit.exchange(token), str)
    assert kit.store.get(token.token_id) is None
    assert kit.list_all(user) == [kept.token_id]
    assert kit.revoke(token) is None
    assert kit.store.revoke_user(user, None, tenant="", cap=10, event=event_json()).invalidated == 1


def test_a_fixed_policy_token_keeps_its_expiry_when_exchanged(kit: Kit) -> None:
    user, now = new_user(), now_ms()
    token = kit.import_one(user, imported_value(user, foreign=False), policy="F:60000", start=now - 30000)

    assert kit.exchange(token).expiry == token.expiry == now + 30000


def test_a_record_names_its_application_by_its_buckets_code_and_one_naming_it_by_id_still_reads(kit: Kit) -> None:
    user = new_user()
    tag = keys.TAGS[bucket_of(user)]
    first, second, again = kit.mint(user, "app-x"), kit.mint(user, "app-y"), kit.mint(user, "app-x")
    codes = keys.app_codes(tag)
    assert [kit.redis.hget(keys.record(tag, t.token_id), "c") for t in (first, second, again)] == [
        kit.redis.hget(codes, "app-x"),
        kit.redis.hget(codes, "app-y"),
        kit.redis.hget(codes, "app-x"),
    ]
    assert kit.redis.hget(codes, "app-x") != kit.redis.hget(codes, "app-y")
    assert kit.redis.hget(codes, kit.redis.hget(codes, "app-y")) == "app-y tenant-1"  # and its tenant, as at: names it
    older = kit.mint(user, "app-x")
    older_record = keys.record(tag, older.token_id)
    kit.redis.hset(older_record, "a", "app-x")  # as written before codes: the id, no code
    kit.redis.hdel(older_record, "c")
    assert not any(kit.redis.hexists(keys.record(tag, t.token_id), "a") for t in (first, second, again))

    for t in (first, second, older):
        stored = kit.store.get(t.token_id)
        assert stored is not None and stored.application_id == t.application_id
        assert kit.exchange(t).application_id == t.application_id
    assert sorted(kit.list_all(user, "app-x")) == sorted(t.token_id for t in (first, again, older))
    assert kit.store.revoke_user(user, "app-x", tenant="", cap=10, event=event_json()).invalidated == 3
    assert kit.list_all(user) == [second.token_id]
    assert kit.revoke(second) is not None
    assert [e.get("a") for e in kit.events(user) if e["t"] == "jwt.refresh-token.revoke"][-1:] == ["app-y"]


def test_expired_tokens_leave_their_applications_index_when_it_next_takes_one(kit: Kit) -> None:
    """Nothing else removes them (a revoke of the application aside): an application's index would
    otherwise keep every token the application ever had."""
    user = new_user()
    keeper = kit.mint(user)  # a day: the index itself lives on
    short = [kit.mint(user, policy="F:20") for _ in range(3)]
    index = keys.app_index(tag_of_user(user), "app-1")
    assert kit.redis.zcard(index) == 4
    time.sleep(0.05)
    assert all(not kit.redis.exists(keys.record(t.tag, t.token_id)) for t in short)

    fresh = kit.mint(user)

    assert sorted(kit.redis.zrange(index, 0, -1)) == sorted(keys.stored_id(t.token_id) for t in (keeper, fresh))
    assert kit.store.live_counts(["app-1"], now_ms()) == {"app-1": 2}


def test_a_record_keeps_no_expiry_of_its_own_its_keys_expiry_is_the_tokens(kit: Kit) -> None:
    """13 bytes less a record: x is its key's expiry, which mint sets and a sliding exchange moves (a
    record written before also holds an x, always that instant: not read)."""
    user, now = new_user(), now_ms()
    token, older = kit.mint(user, policy="S:60000"), kit.mint(user, policy="S:60000")
    record = keys.record(token.tag, token.token_id)
    assert not kit.redis.hexists(record, "x")
    assert kit.redis.pexpiretime(record) == token.expiry == kit.store.get(token.token_id).expiry
    kit.redis.hset(keys.record(older.tag, older.token_id), "x", older.expiry)  # as written before

    time.sleep(0.005)
    for t in (token, older):
        slid = kit.exchange(t)
        assert slid.expiry > t.expiry and slid.expiry >= now + 60000
        assert kit.redis.pexpiretime(keys.record(t.tag, t.token_id)) == slid.expiry
        assert kit.store.get(t.token_id).expiry == slid.expiry
        assert [
            r.expiry
            for r in kit.store.list_tokens(user, None, tenant="", limit=10, cursor=None)[0]
            if r.token_id == t.token_id
        ] == [slid.expiry]


def test_a_fixed_policy_record_keeps_no_policy_and_one_written_with_it_still_never_slides(kit: Kit) -> None:
    user = new_user()
    token, older, oldest = (kit.mint(user, policy="F:2592000000") for _ in range(3))
    record = keys.record(token.tag, token.token_id)
    assert not kit.redis.hexists(record, "pl")  # the expiry x holds it: 18 bytes less a record
    kit.redis.hset(keys.record(older.tag, older.token_id), "pl", "F")  # as earlier versions wrote it
    kit.redis.hset(keys.record(oldest.tag, oldest.token_id), "pl", "F:2592000000")

    for t in (token, older, oldest):
        assert kit.exchange(t).expiry == t.expiry
        assert kit.redis.pexpiretime(keys.record(t.tag, t.token_id)) == t.expiry


@pytest.mark.parametrize("foreign", [False, True], ids=["pointer-in-users-bucket", "foreign-pointer"])
def test_a_sliding_policy_token_extends_its_expiry_on_exchange(kit: Kit, foreign: bool) -> None:
    user, now = new_user(), now_ms()
    token = kit.import_one(user, imported_value(user, foreign=foreign), policy="S:60000", start=now - 30000)

    before = now_ms()
    result = kit.exchange(token)

    assert token.expiry == now + 30000
    assert before + 60000 <= result.expiry <= now_ms() + 60000
    assert kit.store.get(token.token_id).expiry == result.expiry
    assert kit.redis.pexpiretime(keys.pointer(token.tag, token.digest)) == result.expiry
    assert kit.redis.pexpiretime(keys.record(tag_of_user(user), token.token_id)) == result.expiry


@pytest.mark.parametrize("foreign", [False, True], ids=["pointer-in-users-bucket", "foreign-pointer"])
def test_a_sliding_token_stays_usable_past_its_first_expiry_once_exchanged(kit: Kit, foreign: bool) -> None:
    user, now = new_user(), now_ms()
    token = kit.import_one(user, imported_value(user, foreign=foreign), policy="S:1000", start=now - 800)

    kit.exchange(token)
    time.sleep(0.25)

    assert kit.is_live(token)


def test_a_maximum_policy_extends_on_exchange_but_never_beyond_insert_plus_maximum(kit: Kit) -> None:
    user, now = new_user(), now_ms()
    roomy = kit.import_one(
        user,
        imported_value(user, foreign=False),
        policy="M:60000:120000",
        insert=now - 40000,
        start=now - 40000,
    )
    capped = kit.import_one(
        user,
        imported_value(user, foreign=True),
        policy="M:60000:120000",
        insert=now - 100000,
        start=now - 50000,
    )

    assert roomy.expiry == now + 20000
    assert capped.expiry == now + 10000
    before = now_ms()
    assert before + 60000 <= kit.exchange(roomy).expiry <= now_ms() + 60000
    assert kit.exchange(capped).expiry == now + 20000
    assert kit.exchange(capped).expiry == now + 20000


# -- import -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("foreign", [False, True], ids=["pointer-in-users-bucket", "foreign-pointer"])
def test_an_imported_value_exchanges_and_revokes_by_value(kit: Kit, foreign: bool) -> None:
    user = new_user()
    token = kit.import_one(user, imported_value(user, foreign=foreign), "app-1", meta={"m": 1})
    second = kit.import_one(user, imported_value(user, foreign=foreign), "app-1")

    assert (token.tag != tag_of_user(user)) == foreign
    assert kit.exchange(token) == Exchanged(token.token_id, user, "app-1", "tenant-1", {"m": 1}, token.expiry)
    assert kit.revoke(token) == Revoked(token.token_id, user, "app-1", "tenant-1")
    assert kit.exchange(token) == "revoked"
    assert kit.revoke(token) is None
    assert kit.list_all(user) == [second.token_id]
    assert kit.is_live(second)


def test_an_import_batch_writes_every_bucket_it_covers(kit: Kit) -> None:
    users = [user_in(0), user_in(3), user_in(3), user_in(15)]
    prepared = [kit.new_import(u, imported_value(u, foreign=i % 2 == 1)) for i, u in enumerate(users)]
    prepared.append(kit.new_import(users[1], imported_value(users[1], foreign=False)))

    tokens = kit.import_tokens(prepared)

    assert all(kit.is_live(t) for t in tokens)
    assert sorted(kit.list_all(users[1])) == sorted([tokens[1].token_id, tokens[4].token_id])
    assert [kit.list_all(u) for u in (users[0], users[2], users[3])] == [
        [tokens[0].token_id],
        [tokens[2].token_id],
        [tokens[3].token_id],
    ]


@pytest.mark.parametrize("foreign", [False, True], ids=["pointer-in-users-bucket", "foreign-pointer"])
def test_importing_a_value_that_exists_raises_duplicate_and_writes_nothing(kit: Kit, foreign: bool) -> None:
    user = new_user()
    value = imported_value(user, foreign=foreign)
    original = kit.import_one(user, value)
    again, new = kit.new_import(user, value, "app-2")
    fresh = kit.new_import(user, imported_value(user, foreign=not foreign))

    with pytest.raises(DuplicateToken) as raised:
        kit.import_tokens([fresh, (again, new)])

    assert raised.value.index == 1
    assert kit.exchange(original).token_id == original.token_id
    assert kit.list_all(user) == [original.token_id]
    assert kit.store.get(again.token_id) is None
    assert kit.store.existing_ids([fresh[0].presented]) == [None]
    assert [e["t"] for e in kit.events(user)] == ["jwt.refresh-token.import", "jwt.refresh"]
    kit.import_tokens([fresh])
    assert kit.exchange(fresh[0]).token_id == fresh[0].token_id


def test_a_refused_import_group_leaves_the_other_buckets_written(kit: Kit) -> None:
    taken, other = user_in(1), user_in(2)
    original = kit.import_one(taken, imported_value(taken, foreign=False))
    refused = [kit.new_import(taken, imported_value(taken, foreign=True)), kit.new_import(taken, original.value)]
    written = kit.new_import(other, imported_value(other, foreign=True))

    with pytest.raises(DuplicateToken) as raised:
        kit.import_tokens([*refused, written])

    assert raised.value.index == 1
    assert kit.list_all(taken) == [original.token_id]
    assert kit.exchange(refused[0][0]) == "unknown"
    assert kit.is_live(written[0])


def test_a_minted_value_names_its_token_and_has_no_pointer(kit: Kit) -> None:
    token = kit.mint(new_user())

    assert keys.named_id(token.value) == token.token_id
    assert kit.redis.exists(keys.pointer(token.tag, token.digest)) == 0
    assert kit.store.find(token.presented).token_id == token.token_id
    assert kit.exchange(token).token_id == token.token_id


def test_a_value_made_up_to_name_a_token_is_unknown_and_changes_nothing(kit: Kit) -> None:
    user = new_user()
    token = kit.mint(user, policy="S:60000")
    forged = keys.presented(token.value[:22] + secrets.token_urlsafe(32))

    assert forged.token_id == keys.stored_id(token.token_id)
    assert kit.store.exchange(forged, "x", "{}", next_value) == "unknown"
    assert kit.store.revoke_token(event=event_json(), presented=forged) is None
    assert kit.store.find(forged) is None
    assert not kit.store.is_known(forged)
    assert kit.store.existing_ids([forged]) == [None]
    assert kit.is_live(token)


def test_a_value_minted_before_values_named_their_token_still_works_by_its_pointer(kit: Kit) -> None:
    """Such a value (44 characters: its bucket's hex digit, then 256 random bits) had its pointer in that
    bucket, as an import of it writes one now: it is found, slides, rotates and is revoked by value."""
    user, now = new_user(), now_ms()
    old = "0123456789abcdef"[bucket_of(user)] + secrets.token_urlsafe(32)
    assert len(old) == keys.MINTED_LENGTH and keys.named_id(old) is None
    token = kit.import_one(user, old, policy="S:60000", start=now - 30000)

    assert token.tag == tag_of_user(user)
    assert kit.redis.get(keys.pointer(token.tag, token.digest)) == keys.stored_id(token.token_id)
    assert kit.store.find(token.presented).token_id == token.token_id
    result = kit.exchange(token)
    assert result.token_id == token.token_id and result.expiry >= now + 60000
    assert kit.redis.pexpiretime(keys.pointer(token.tag, token.digest)) == result.expiry
    assert kit.revoke(token) is not None
    assert kit.exchange(token) == "revoked"
    assert kit.store.is_known(token.presented)


def test_introspecting_a_value_naming_a_token_elsewhere_finds_it_by_its_pointer(kit: Kit) -> None:
    """An imported value of the named form (the id it names is no record here) is found by its pointer;
    a minted value no longer live is None (in one read: test_store_events_and_round_trips)."""
    user = new_user()
    elsewhere = kit.import_one(user, keys.new_token_value(keys.new_token_id(bucket_of(user))))
    assert elsewhere.presented.token_id not in (None, elsewhere.token_id)
    assert kit.store.find(elsewhere.presented).token_id == elsewhere.token_id

    minted = kit.mint(user)
    kit.revoke(minted)
    assert kit.store.find(minted.presented) is None


def test_importing_a_value_minted_here_finds_it_by_the_token_it_names(kit: Kit) -> None:
    user = new_user()
    token = kit.mint(user)

    assert kit.store.existing_ids([token.presented]) == [token.token_id]
    assert kit.store.is_known(token.presented)


@pytest.mark.parametrize("foreign", [False, True], ids=["pointer-in-users-bucket", "foreign-pointer"])
def test_one_value_twice_in_one_import_raises_duplicate_and_writes_nothing(kit: Kit, foreign: bool) -> None:
    user = new_user()
    value = imported_value(user, foreign=foreign)
    first, second = kit.new_import(user, value), kit.new_import(user, value, "app-2")

    with pytest.raises(DuplicateToken) as raised:
        kit.import_tokens([first, second])

    assert raised.value.index == 1
    assert kit.list_all(user) == []
    assert kit.store.existing_ids([first[0].presented]) == [None]


def test_existing_ids_reports_the_token_each_digest_points_to(kit: Kit) -> None:
    user = new_user()
    minted, imported = kit.mint(user), kit.import_one(user, imported_value(user, foreign=True))
    unknown = imported_value(user, foreign=True)

    found = kit.store.existing_ids([minted.presented, imported.presented, keys.presented(unknown)])

    assert found == [minted.token_id, imported.token_id, None]


def test_an_import_uses_the_given_insert_and_start_instants(kit: Kit) -> None:
    user, now = new_user(), now_ms()
    token = kit.import_one(user, imported_value(user, foreign=True), insert=now - 7000, start=now - 3000, policy=DAY)

    stored = kit.store.get(token.token_id)

    assert (stored.insert_instant, stored.start_instant, stored.expiry) == (
        now - 7000,
        now - 3000,
        now - 3000 + 86400000,
    )


def test_a_record_leaves_its_tenant_to_the_buckets_map_unless_the_map_names_another(kit: Kit) -> None:
    user = new_user()
    mapped = kit.mint(user, "app-t", "tenant-1")
    tag = mapped.tag
    assert kit.redis.hget(keys.app_tenants(tag), "app-t") == "tenant-1"
    assert kit.redis.hget(keys.record(tag, mapped.token_id), "tn") is None  # 36 bytes less a record
    # an application the map names in another tenant (deleted, then made again): its record keeps its own
    kit.redis.hset(keys.app_tenants(tag), "app-u", "tenant-0")
    other = kit.mint(user, "app-u", "tenant-2")
    assert kit.redis.hget(keys.record(tag, other.token_id), "tn") == "tenant-2"
    # a record written before the map had its application: its own
    older = kit.mint(user, "app-v", "tenant-1")
    kit.redis.hset(keys.record(tag, older.token_id), "tn", "tenant-1")
    kit.redis.hdel(keys.app_tenants(tag), "app-v")

    expected = {mapped.token_id: "tenant-1", other.token_id: "tenant-2", older.token_id: "tenant-1"}
    for token in (mapped, other, older):
        assert kit.store.get(token.token_id).tenant_id == expected[token.token_id]
        assert kit.exchange(token).tenant_id == expected[token.token_id]
    assert sorted(kit.list_all(user, tenant="tenant-1")) == sorted([mapped.token_id, older.token_id])
    assert kit.list_all(user, tenant="tenant-2") == [other.token_id]
    assert kit.revoke(mapped, tenant="tenant-2") is None
    assert kit.revoke(mapped, tenant="tenant-1").tenant_id == "tenant-1"
    assert kit.store.revoke_user(user, None, tenant="tenant-2", cap=10, event=event_json()).token_ids == [
        other.token_id
    ]
    assert kit.store.revoke_user(user, None, tenant="tenant-1", cap=10, event=event_json()).token_ids == [
        older.token_id
    ]
    revoked_one = [e for e in kit.events(user) if e.get("t") == "jwt.refresh-token.revoke" and e.get("u")]
    assert [e["tn"] for e in revoked_one] == ["tenant-1"]


def test_a_record_keeps_the_start_of_a_naming_values_digest_and_one_kept_whole_still_serves(kit: Kit) -> None:
    user = new_user()
    short, whole = kit.mint(user), kit.mint(user)
    assert kit.redis.hget(keys.record(short.tag, short.token_id), "cd") == short.digest[: keys.DIGEST_KEPT]
    kit.redis.hset(keys.record(whole.tag, whole.token_id), "cd", whole.digest)  # as an earlier version kept it
    # a value naming the token with other random bits is nobody's
    forged = short.value[: keys.NAMING_LENGTH] + secrets.token_urlsafe(32)
    assert kit.store.exchange(keys.presented(forged), "x", "{}", next_value) == "unknown"
    assert not kit.store.is_known(keys.presented(forged))

    for token in (short, whole):
        assert kit.store.is_known(token.presented)
        assert kit.store.find(token.presented).token_id == token.token_id
        assert kit.store.existing_ids([token.presented]) == [token.token_id]
        assert isinstance(kit.exchange(token), Exchanged)
        assert kit.revoke(token).token_id == token.token_id


def test_expired_tokens_leave_their_users_index_as_the_user_takes_more(any_kit: Kit) -> None:
    """A user who is never listed nor revoked kept every expired token's id in the user's index: once
    it holds more than 32, each mint drops the dead among the user's two oldest ids and one at random."""
    user = new_user()
    keeper = any_kit.mint(user)  # a day, and the oldest: the dead behind it must leave all the same
    short = [any_kit.mint(user, policy="F:20") for _ in range(6)]
    index = keys.user_index(tag_of_user(user), user)
    assert any_kit.redis.zcard(index) == 7
    time.sleep(0.05)
    assert all(not any_kit.redis.exists(keys.record(t.tag, t.token_id)) for t in short)

    fresh = [any_kit.mint(user) for _ in range(25)]
    assert any_kit.redis.zcard(index) == 32  # up to 32 ids are left as they are
    fresh += [any_kit.mint(user) for _ in range(15)]

    live = sorted(keys.stored_id(t.token_id) for t in (keeper, *fresh))
    assert sorted(any_kit.redis.zrange(index, 0, -1)) == live
    assert sorted(sum(any_kit.pages(user, 100), [])) == sorted(t.token_id for t in (keeper, *fresh))
