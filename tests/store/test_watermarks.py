"""Valid-from watermarks against real Redis (and the embedded store where cheap): an application's,
written in O(1) and buried afterwards in small batches; a user's (Microsoft Graph's invalidate-all);
and the access-token denylist."""

from __future__ import annotations

import time

import redis

from app.store import keys
from app.store.tokens import RevokeCount
from app.worker import Cleaner
from tests.store.store_kit import Kit, Token, event_json, make_store, make_watermarks, new_user, user_in


def dead_everywhere(kit: Kit, token: Token) -> bool:
    """Dead for exchange, listing, retrieval by id, revocation by value, and an access token's session."""
    return (
        kit.exchange(token) in ("revoked", "unknown")
        and token.token_id not in kit.list_all(token.user_id)
        and kit.store.get(token.token_id) is None
        and kit.revoke(token) is None
        and not kit.store.session_is_live(token.token_id)
    )


def live_everywhere(kit: Kit, token: Token) -> bool:
    """Live for listing, retrieval by id, an access token's session and exchange (which changes nothing
    that matters for a Reusable token)."""
    return (
        token.token_id in kit.list_all(token.user_id)
        and kit.store.get(token.token_id) is not None
        and kit.store.session_is_live(token.token_id)
        and kit.is_live(token)
    )


def record_keys(kit: Kit, tokens: list[Token]) -> int:
    return sum(kit.redis.exists(keys.record(keys.TAGS[int(t.token_id[-1], 16)], t.token_id)) for t in tokens)


# -- an application's watermark ---------------------------------------------------------------------


def test_an_application_watermark_kills_every_earlier_token_of_the_application_and_nothing_else(any_kit: Kit) -> None:
    users = [user_in(b) for b in (0, 5, 5, 15)]
    doomed = [any_kit.mint(u, "app-a") for u in users]
    spared = [any_kit.mint(u, "app-b") for u in users]

    count = any_kit.revoke_apps("app-a")
    later = [any_kit.mint(u, "app-a") for u in users]

    assert (count.invalidated, count.previously_invalidated) == (4, 0)
    assert all(dead_everywhere(any_kit, t) for t in doomed)
    assert all(live_everywhere(any_kit, t) for t in spared + later)


def test_a_token_minted_right_after_the_watermark_even_in_the_same_millisecond_lives(kit: Kit) -> None:
    user = user_in(3)
    same_millisecond = 0
    for _ in range(60):
        before = kit.mint(user, "app-a")
        kit.revoke_apps("app-a")
        after = kit.mint(user, "app-a")
        tag = keys.TAGS[3]
        mark = int(kit.redis.get(keys.app_valid_from(tag, "app-a")))
        inserted = int(kit.redis.hget(keys.record(tag, after.token_id), "ii"))
        same_millisecond += inserted == mark + 1
        assert not kit.is_live(before)
        assert kit.is_live(after)
    assert same_millisecond > 0  # the stamping rule was exercised, not only later milliseconds


def test_a_token_stamped_past_a_reset_in_the_same_millisecond_is_still_covered_by_a_later_app_watermark(
    kit: Kit,
) -> None:
    # invalidate-all stamps a token minted in its millisecond, after it, at reset + 1 (in the future);
    # an application watermark written in that millisecond must still cover it
    user = user_in(8)
    for _ in range(60):
        kit.marks.invalidate_user(user, cap=10, event=event_json(), access_ttl_ms=60_000)
        token = kit.mint(user, "app-a")
        count = kit.revoke_apps("app-a")
        assert count.invalidated == 1
        assert not kit.is_live(token)


def test_counts_are_honest_before_and_after_the_burial(any_kit: Kit) -> None:
    users = [user_in(b) for b in (1, 1, 6, 12)]
    tokens = [t for u in users for t in any_kit.mint_many(2, u, "app-a")]
    other = any_kit.mint(users[0], "app-b")
    any_kit.revoke(tokens[0])
    any_kit.store.revoke_user(users[3], "app-a", tenant="", cap=10, event=event_json())

    first = any_kit.revoke_apps("app-a")
    before_burial = any_kit.revoke_apps("app-a")
    buried = any_kit.bury_all()
    after_burial = any_kit.revoke_apps("app-a")

    assert (first.invalidated, first.previously_invalidated) == (5, 3)
    assert sorted(first.token_ids) == sorted(t.token_id for t in tokens[1:6])
    assert before_burial == RevokeCount(0, 8, [])
    assert buried == 5
    assert after_burial == RevokeCount(0, 8, [])
    assert any_kit.store.revoke_user(users[0], None, tenant="", cap=10, event=event_json()) == RevokeCount(
        1, 1, [other.token_id]
    )


def test_tokens_that_expired_before_their_burial_are_counted_nowhere(kit: Kit) -> None:
    user = user_in(4)
    short = kit.mint_many(3, user, "app-a", policy="F:300")
    long = kit.mint_many(2, user, "app-a")

    assert kit.revoke_apps("app-a").invalidated == 5
    time.sleep(0.35)
    assert kit.bury_all() == 2  # the expired ones were gone already
    fresh = kit.mint_many(4, user, "app-a")
    again = kit.revoke_apps("app-a")

    assert (again.invalidated, again.previously_invalidated) == (4, 2)
    assert not any(kit.is_live(t) for t in short + long + fresh)


def test_a_watermark_killed_token_revoked_with_its_user_counts_as_previously_invalidated_once(kit: Kit) -> None:
    user = user_in(9)
    killed = kit.mint_many(2, user, "app-a")
    live = kit.mint(user, "app-b")
    kit.revoke_apps("app-a")

    by_user = kit.store.revoke_user(user, None, tenant="", cap=10, event=event_json())
    again = kit.revoke_apps("app-a")

    assert by_user == RevokeCount(1, 2, [live.token_id])
    assert again == RevokeCount(0, 2, [])
    # the watermark-killed ones are tombstones now; only the live one, killed whole, awaited burial
    assert kit.bury_all() == 1
    assert not any(kit.is_live(t) for t in [*killed, live])


# -- the burial ---------------------------------------------------------------------------------------


def test_the_cleanup_walks_every_bucket_in_bounded_batches_and_buries_exactly_the_killed_tokens(
    redis_client: redis.Redis,
) -> None:
    marks = make_watermarks(redis_client, cleanup_batch=3)
    kit = Kit(redis_client, make_store(redis_client), marks)
    user, neighbour = user_in(2), user_in(9)
    killed = kit.mint_many(7, user, "app-a") + kit.mint_many(2, neighbour, "app-a")
    other = kit.mint(user, "app-b")
    kit.revoke_apps("app-a")
    later = [kit.mint(user, "app-a"), kit.mint(neighbour, "app-a")]

    steps = []
    while True:
        step = marks.cleanup_step("app-a")
        steps.append(step.buried)
        assert all(dead_everywhere(kit, t) for t in killed)
        if step.done:
            break
        assert len(steps) < 10

    assert steps == [3 + 2, 3, 1]  # at most the batch size in each bucket, every bucket in each step
    assert record_keys(kit, killed) == 0  # the memory is reclaimed, not left for their expiry
    assert redis_client.zcard(keys.user_index(keys.TAGS[2], user)) == 2  # the other app's and the later one
    assert all(live_everywhere(kit, t) for t in [*later, other])
    assert not any(redis_client.exists(keys.app_killed(tag, "app-a")) for tag in keys.TAGS)
    assert redis_client.zscore(keys.CLEANUP_JOBS, "app-a") is None


def test_a_cleanup_killed_midway_leaves_nothing_usable_and_the_next_one_finishes_the_job(
    redis_client: redis.Redis,
) -> None:
    marks = make_watermarks(redis_client, cleanup_batch=2)
    kit = Kit(redis_client, make_store(redis_client), marks)
    killed = [t for b in (0, 3, 3, 7) for t in kit.mint_many(3, user_in(b), "app-a")]
    kit.revoke_apps("app-a")

    for _ in range(2):  # a worker that got this far, then died (its process state is lost)
        assert not marks.cleanup_step("app-a").done
    assert all(dead_everywhere(kit, t) for t in killed)
    assert redis_client.zscore(keys.CLEANUP_JOBS, "app-a") is not None

    buried = Cleaner(make_watermarks(redis_client, cleanup_batch=2)).run_once()

    assert 0 < buried < len(killed)
    assert record_keys(kit, killed) == 0
    assert redis_client.zcard(keys.CLEANUP_JOBS) == 0
    assert kit.revoke_apps("app-a") == RevokeCount(0, len(killed), [])


def test_a_revoke_while_a_burial_is_pending_merges_into_it_and_keeps_its_job(redis_client: redis.Redis) -> None:
    marks = make_watermarks(redis_client, cleanup_batch=1)
    kit = Kit(redis_client, make_store(redis_client), marks)
    user = user_in(6)
    first = kit.mint_many(3, user, "app-a")
    kit.revoke_apps("app-a")
    marks.cleanup_step("app-a")  # one buried, two pending
    second = kit.mint_many(5, user, "app-a")  # more than pending: the killed index merges into these

    count = kit.revoke_apps("app-a")

    assert (count.invalidated, count.previously_invalidated) == (5, 3)
    killed = keys.app_killed(keys.TAGS[6], "app-a")
    assert redis_client.zcard(killed) == 7
    assert redis_client.pexpiretime(killed) >= max(t.expiry for t in second)
    assert kit.bury_all() == 7
    assert not any(kit.is_live(t) for t in first + second)
    assert kit.revoke_apps("app-a") == RevokeCount(0, 8, [])


def test_the_job_is_dropped_only_if_no_revoke_came_since_the_step_began(kit: Kit) -> None:
    kit.mint(user_in(1), "app-a")
    kit.revoke_apps("app-a")
    seen = kit.redis.zscore(keys.CLEANUP_JOBS, "app-a")
    assert kit.marks.cleanup_step("app-a").done
    kit.revoke_apps("app-a")  # a revoke that came after the step read its job

    kit.marks._drop_job("app-a", seen)  # what the earlier step does when it finds nothing left

    assert kit.redis.zscore(keys.CLEANUP_JOBS, "app-a") is not None
    assert kit.marks.cleanup_step("app-a").done
    assert kit.redis.zscore(keys.CLEANUP_JOBS, "app-a") is None


def test_every_watermark_and_burial_key_expires(any_kit: Kit) -> None:
    user = user_in(2)
    any_kit.mint_many(3, user, "app-a")
    any_kit.revoke_apps("app-a", tenant_id="tenant-1")
    any_kit.marks.invalidate_user(new_user(), cap=1, event=event_json(), access_ttl_ms=60_000)
    any_kit.bury_all()
    any_kit.mint(user, "app-a")
    any_kit.revoke_apps("app-a")

    for key, (kind, _) in any_kit.dump().items():
        # (at: and ac: map applications to tenants and codes: an entry an application, never changing)
        if kind == "stream" or key == keys.CLEANUP_JOBS or key.startswith(("at:", "ac:")):
            continue
        assert any_kit.redis.pttl(key) > 0, key


# -- a user's valid-from (Microsoft Graph) ----------------------------------------------------------


def test_invalidating_a_user_kills_every_earlier_token_of_the_user_and_none_of_anyone_elses(any_kit: Kit) -> None:
    user, neighbour = user_in(7), user_in(7)
    mine = any_kit.mint_many(2, user, "app-a") + [any_kit.mint(user, "app-b")]
    any_kit.revoke(mine[0])
    theirs = any_kit.mint(neighbour, "app-a")

    reset = any_kit.marks.invalidate_user(user, cap=1, event=event_json(), access_ttl_ms=60_000)
    later = any_kit.mint(user, "app-a")

    assert (reset.count.invalidated, len(reset.count.token_ids)) == (2, 1)
    assert any_kit.marks.user_valid_from(user) == reset.valid_from
    assert any_kit.marks.user_valid_from(neighbour) is None
    assert all(dead_everywhere(any_kit, t) for t in mine)
    assert all(live_everywhere(any_kit, t) for t in (theirs, later))


def test_invalidating_a_user_answers_the_ids_it_killed_up_to_the_cap(any_kit: Kit) -> None:
    user = user_in(9)
    mine = any_kit.mint_many(3, user, "app-a") + [any_kit.mint(user, "app-b")]

    whole = any_kit.marks.invalidate_user(user, cap=10, event=event_json(), access_ttl_ms=60_000)
    assert sorted(whole.count.token_ids) == sorted(t.token_id for t in mine)
    assert any_kit.marks.invalidate_user(user, cap=10, event=event_json(), access_ttl_ms=60_000).count.token_ids == []


def test_a_token_minted_after_a_reset_in_the_same_millisecond_lives(kit: Kit) -> None:
    user = user_in(11)
    same_millisecond = 0
    for i in range(60):
        before = kit.mint(user)
        reset = kit.marks.invalidate_user(user, cap=10, event=event_json(), access_ttl_ms=60_000)
        after = kit.mint(user)
        inserted = int(kit.redis.hget(keys.record(keys.TAGS[11], after.token_id), "ii"))
        same_millisecond += inserted == reset.valid_from + 1
        assert reset.count.invalidated == (1 if i == 0 else 2)  # and the previous round's `after`
        assert not kit.is_live(before)
        assert kit.is_live(after)
    assert same_millisecond > 0


def test_invalidating_a_user_appends_one_event_with_the_count(kit: Kit) -> None:
    user = user_in(13)
    kit.mint_many(3, user)
    before = len(kit.events(user))

    kit.marks.invalidate_user(user, cap=10, event='{"id":"ia"}', access_ttl_ms=60_000)

    entries = kit.events(user)
    assert len(entries) == before + 1
    assert (entries[-1]["t"], entries[-1]["d"], entries[-1]["n"]) == ("user.invalidate-all", '{"id":"ia"}', "3")


# -- the access-token denylist ---------------------------------------------------------------------


def test_denying_an_access_token_is_new_once_and_kills_it_with_its_session_live(any_kit: Kit) -> None:
    token = any_kit.mint(user_in(4))
    jti = str(keys.new_token_id(4))  # minted in its session's bucket, as app/tokens.py does
    other_jti = str(keys.new_token_id(4))
    expiry = int(time.time() * 1000) + 60_000

    assert any_kit.marks.deny_access_token(jti, expiry) is True
    assert any_kit.marks.deny_access_token(jti, expiry) is False

    assert not any_kit.store.session_is_live(token.token_id, jti)
    assert any_kit.store.session_is_live(token.token_id, other_jti)
    assert any_kit.marks.is_denied(jti)
    assert 0 < any_kit.redis.pttl(keys.denied(keys.TAGS[4], jti)) <= 60_000


def test_a_sessionless_access_token_is_dead_when_denied_or_issued_before_a_valid_from(kit: Kit) -> None:
    user, jti = user_in(5), str(keys.new_token_id(2))
    issued = (int(time.time()) - 5) * 1000

    def revoked(**kw: str) -> bool:
        claims = {"jti": jti, "user_id": user, "application_id": "app-a", "tenant_id": "tenant-1", **kw}
        return kit.marks.sessionless_revoked(issued_ms=issued, **claims)

    assert not revoked()
    kit.marks.invalidate_user(user, cap=1, event=event_json(), access_ttl_ms=60_000)
    assert revoked() and not revoked(user_id="")
    kit.revoke_apps("app-a", tenant_id="tenant-1")
    assert revoked(user_id="", tenant_id="") and revoked(user_id="", application_id="")
    assert not revoked(user_id="", application_id="", tenant_id="")
    kit.marks.deny_access_token(jti, int(time.time() * 1000) + 60_000)
    assert revoked(user_id="", application_id="", tenant_id="")
