"""EventStore on real Redis: retention by age, a group's backlog, and claims walking every stream."""

from __future__ import annotations

import redis

from app.store import keys
from app.store.events import EventStore


def _append(client: redis.Redis, bucket: int, count: int) -> list[str]:
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        pipe.xadd(keys.events(keys.TAGS[bucket]), {"t": "jwt.refresh-token.create", "d": "{}", "n": i})
    return [str(i) for i in pipe.execute()]


def test_trimming_by_age_drops_old_entries_in_whole_nodes_and_keeps_newer_ones(redis_client: redis.Redis) -> None:
    streams = EventStore(redis_client)
    _append(redis_client, 2, 450)
    cut = streams.now_ms() + 1
    while streams.now_ms() <= cut:
        pass
    newer = _append(redis_client, 2, 3)

    trimmed = streams.trim_before(cut)

    left = [i for i, _ in redis_client.xrange(keys.events(keys.TAGS[2]))]
    assert len(left) == 453 - trimmed and len(left) - 3 < 100  # approximate: a node of older ones may stay
    assert left[-3:] == newer


def test_a_groups_backlog_counts_unread_and_pending_with_the_oldest_pending_age(redis_client: redis.Redis) -> None:
    streams = EventStore(redis_client)
    streams.ensure_group("audit", "0")
    _append(redis_client, 0, 3)
    _append(redis_client, 9, 2)
    assert streams.backlog("audit").unread == 5

    read = streams.read_group("audit", "c1", 10)
    streams.ack("audit", [(b, i) for b, i, _ in read[:2]])

    backlog = streams.backlog("audit")
    assert (backlog.unread, backlog.pending) == (0, 3)
    assert backlog.oldest_pending_ms is not None and backlog.oldest_pending_ms <= streams.now_ms()


def test_claims_walk_each_streams_pending_list_page_by_page(redis_client: redis.Redis) -> None:
    streams = EventStore(redis_client)
    streams.ensure_group("audit", "0")
    _append(redis_client, 4, 5)
    streams.read_group("audit", "dead", 10)
    cursors: dict[int, str] = {}

    pages = [streams.claim("audit", "c2", 0, cursors, 2) for _ in range(3)]

    assert [len(p) for p in pages] == [2, 2, 1] and cursors[4] == "0-0"
    assert {c["name"]: c["pending"] for c in redis_client.xinfo_consumers(keys.events(keys.TAGS[4]), "audit")} == {
        "dead": 0,
        "c2": 5,
    }
