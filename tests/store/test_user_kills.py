"""Revoking all of a user's tokens kills them whole, application by application, in the request, and
the worker turns them into tombstones afterwards (against real Redis, and the embedded store where
cheap): dead at once everywhere, counted exactly by every later revoke, buried in bounded batches."""

from __future__ import annotations

import time

import redis

from app.store import keys
from app.store.tokens import RevokeCount
from tests.store.store_kit import Kit, event_json, imported_value, make_store, make_watermarks, user_in
from tests.store.test_watermarks import dead_everywhere, live_everywhere

KILL_KINDS = {"uk", "ux", "ka", "kq"}


def revoke_user(kit: Kit, user: str, application_id: str | None = None, tenant: str = "") -> RevokeCount:
    return kit.store.revoke_user(user, application_id, tenant=tenant, cap=1000, event=event_json())


def kinds(kit: Kit) -> set[str]:
    return {key.split(":", 1)[0] for key in kit.dump()}


def test_a_revoked_users_tokens_are_dead_at_once_and_tombstones_once_buried(any_kit: Kit) -> None:
    user, neighbour = user_in(4), user_in(4)
    mine = any_kit.mint_many(3, user, "app-a") + any_kit.mint_many(2, user, "app-b")
    theirs = any_kit.mint(neighbour, "app-a")

    count = revoke_user(any_kit, user)
    later = any_kit.mint(user, "app-a")

    assert (count.invalidated, count.previously_invalidated) == (5, 0)
    assert sorted(count.token_ids) == sorted(t.token_id for t in mine)
    assert all(any_kit.exchange(t) == "revoked" for t in mine)  # revoked, not unknown (no guess throttled)
    assert all(dead_everywhere(any_kit, t) for t in mine)
    assert all(live_everywhere(any_kit, t) for t in (theirs, later))
    assert any_kit.store.live_counts(["app-a", "app-b"], int(time.time() * 1000)) == {"app-a": 2, "app-b": 0}
    assert kinds(any_kit) >= KILL_KINDS

    assert any_kit.bury_all() == 5
    assert not KILL_KINDS & kinds(any_kit)  # nothing awaits burial: the killed indexes are gone
    tag = keys.TAGS[4]
    assert all(any_kit.redis.hexists(keys.record(tag, t.token_id), "rv") for t in mine)
    tombstones = any_kit.redis.zrange(keys.user_tombstones(tag, user), 0, -1)
    assert sorted(tombstones) == sorted(keys.stored_id(t.token_id) for t in mine)
    assert all(dead_everywhere(any_kit, t) for t in mine)
    assert all(live_everywhere(any_kit, t) for t in (theirs, later))
    assert revoke_user(any_kit, user) == RevokeCount(1, 5, [later.token_id])


def test_the_records_of_a_revoked_user_leave_redis_once_buried_and_expired(kit: Kit) -> None:
    user = user_in(7)
    kit.mint_many(4, user, "app-a", policy="F:400")
    assert revoke_user(kit, user).invalidated == 4
    assert kit.bury_all() == 4

    time.sleep(0.45)

    # nothing is left but the event stream and the application's tenant (an entry an application)
    assert [key for key in kit.dump() if not key.startswith(("ev:", "at:", "ac:"))] == []


def test_a_later_revoke_counts_killed_tokens_as_previously_invalidated_before_and_after_their_burial(
    kit: Kit,
) -> None:
    user = user_in(9)
    killed = kit.mint_many(3, user, "app-a") + [kit.mint(user, "app-b", "tenant-2")]
    revoke_user(kit, user)

    for _ in range(2):  # before the burial, then after it
        assert revoke_user(kit, user) == RevokeCount(0, 4, [])
        assert revoke_user(kit, user, "app-a") == RevokeCount(0, 3, [])
        assert revoke_user(kit, user, tenant="tenant-2") == RevokeCount(0, 1, [])
        assert kit.revoke_apps("app-a") == RevokeCount(0, 3, [])
        assert kit.bury_all() in (0, 4)
    assert not any(kit.is_live(t) for t in killed)


def test_the_burial_walks_every_bucket_in_bounded_batches(redis_client: redis.Redis) -> None:
    marks = make_watermarks(redis_client, cleanup_batch=3)
    kit = Kit(redis_client, make_store(redis_client), marks)
    user, other = user_in(2), user_in(11)
    killed = kit.mint_many(5, user, "app-a") + kit.mint_many(2, user, "app-b") + kit.mint_many(2, other, "app-a")
    revoke_user(kit, user)
    revoke_user(kit, other)

    steps = []
    while True:
        step = marks.bury_users_step()
        steps.append(step.buried)
        assert all(dead_everywhere(kit, t) for t in killed)
        if step.done:
            break
        assert len(steps) < 10

    assert steps == [3 + 2, 3, 1]
    assert not KILL_KINDS & kinds(kit)
    assert revoke_user(kit, user) == RevokeCount(0, 7, [])


def test_tokens_minted_or_imported_after_the_revoke_live_whatever_their_insert_instant(kit: Kit) -> None:
    # no clock decides: a killed token is one the revoke found, so an import stamped in the past lives
    user = user_in(6)
    before = kit.mint(user, "app-a")
    revoke_user(kit, user)
    minted = kit.mint(user, "app-a")
    past = int(time.time() * 1000) - 60_000
    imported = kit.import_one(user, imported_value(user, foreign=False), "app-a", insert=past, start=past)

    assert not kit.is_live(before)
    assert all(live_everywhere(kit, t) for t in (minted, imported))
    again = revoke_user(kit, user)
    assert (again.invalidated, again.previously_invalidated) == (2, 1)
    assert sorted(again.token_ids) == sorted([minted.token_id, imported.token_id])


def test_what_a_watermark_touched_or_another_tenant_holds_is_handled_record_by_record(kit: Kit) -> None:
    user = user_in(3)
    app_killed = kit.mint_many(2, user, "app-a")
    kit.revoke_apps("app-a")
    live_a = kit.mint(user, "app-a")  # its index holds the watermark-killed ones too
    live_b = kit.mint(user, "app-b")
    elsewhere = kit.mint(user, "app-c", "tenant-2")

    count = revoke_user(kit, user, tenant="tenant-1")

    assert (count.invalidated, count.previously_invalidated) == (2, 2)
    assert sorted(count.token_ids) == sorted([live_a.token_id, live_b.token_id])
    assert not any(kit.is_live(t) for t in [*app_killed, live_a, live_b])
    assert live_everywhere(kit, elsewhere)


def test_an_application_a_watermark_covers_goes_record_by_record_and_the_next_is_still_killed_whole(kit: Kit) -> None:
    # an import stamped before its application's watermark is dead on arrival, yet in the live indexes:
    # that application's tokens are revoked one by one (it counts as previously invalidated), the next
    # application's are killed whole
    user = user_in(5)
    kit.revoke_apps("app-a")
    past = int(time.time() * 1000) - 60_000
    doomed = kit.import_one(user, imported_value(user, foreign=False), "app-a", insert=past, start=past)
    live_a, live_b = kit.mint(user, "app-a"), kit.mint(user, "app-b")
    assert not kit.is_live(doomed) and kit.is_live(live_a)

    count = revoke_user(kit, user)

    assert (count.invalidated, count.previously_invalidated) == (2, 1)
    assert sorted(count.token_ids) == sorted([live_a.token_id, live_b.token_id])
    assert kit.bury_all() == 1  # only app-b's was killed whole, awaiting burial
    assert not any(kit.is_live(t) for t in [doomed, live_a, live_b])
    assert revoke_user(kit, user) == RevokeCount(0, 3, [])
    assert not kit.redis.keys("kt:*")


def test_revoking_a_user_of_a_thousand_tokens_runs_a_few_commands_not_a_few_per_token(kit: Kit) -> None:
    user = user_in(5)
    now = int(time.time() * 1000)
    kit.import_tokens(
        [kit.new_import(user, imported_value(user, foreign=False), "app-a", insert=now) for _ in range(1000)]
    )
    kit.redis.config_resetstat()

    assert revoke_user(kit, user).invalidated == 1000

    stats = kit.redis.info("commandstats")
    nested = sum(v["calls"] for k, v in stats.items() if k not in ("cmdstat_evalsha", "cmdstat_config|resetstat"))
    assert nested < 60, stats  # one record read and a few whole-set commands, not ~10 per token


def test_a_user_index_holding_another_applications_ids_keeps_them_whatever_the_sizes(any_kit: Kit) -> None:
    """The kill of one application empties the user's index only when nothing else is in it: here the
    application's index keeps an expired id the user's index has already forgotten (a listing of all
    the user's tokens forgets it there only), so both indexes have the same size."""
    user = user_in(6)
    mine = any_kit.mint_many(2, user, "app-a")
    any_kit.mint(user, "app-a", policy="F:300")
    other = any_kit.mint(user, "app-b")
    time.sleep(0.35)
    assert sorted(any_kit.list_all(user)) == sorted(t.token_id for t in mine + [other])
    tag = keys.TAGS[6]
    assert any_kit.redis.zcard(keys.user_index(tag, user)) == any_kit.redis.zcard(keys.app_index(tag, "app-a")) == 3

    count = revoke_user(any_kit, user)

    assert (count.invalidated, sorted(count.token_ids)) == (3, sorted(t.token_id for t in mine + [other]))
    assert any_kit.exchange(other) == "revoked"
    assert any_kit.list_all(user) == []
