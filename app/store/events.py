"""The event streams read back: newest-first ranges for the query API, consumer groups (read, claim,
acknowledge) for audit consumers and the webhook worker, trimming by age, and a group's backlog.

Every method is one round trip: a pipeline of one command per bucket stream ev:{b0}..ev:{bf}, so the
same code runs on Redis Cluster, where the 16 streams live in 16 slots. An entry is named by its
bucket (0..15) and its stream id (`<ms>-<seq>`, Redis's clock).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from app.store import keys

Fields = dict[str, str]
Entry = tuple[int, str, Fields]  # bucket, stream id, fields
BUCKETS = range(keys.BUCKETS)


class NoGroup(Exception):
    """The consumer group does not exist on some stream (never created, or Redis lost its data)."""


@dataclass(frozen=True)
class Backlog:
    """How far behind a consumer group is, over the 16 streams."""

    pending: int  # delivered to a consumer, not yet acknowledged
    oldest_pending_ms: int | None  # when the oldest of them was recorded (Redis time)
    unread: int  # recorded, not yet read by the group


def stream(bucket: int) -> str:
    return keys.events(keys.TAGS[bucket])


def instant_of(entry_id: str) -> int:
    """The Redis time (ms) at which an entry was recorded: the first half of its id."""
    return int(entry_id.partition("-")[0])


class EventStore:
    def __init__(self, client: redis.Redis):
        self._redis = client

    def now_ms(self) -> int:
        seconds, micros = self._redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    def read_newest(self, bounds: Mapping[int, str], lower: str, count: int) -> dict[int, list[tuple[str, Fields]]]:
        """Up to `count` entries of each given bucket's stream, newest first, from its upper bound
        (an XREVRANGE bound: `+`, an id, or `(`id for exclusive) down to `lower` (`-` or an id)."""
        pipe = self._redis.pipeline(transaction=False)
        order = list(bounds)
        for bucket in order:
            pipe.xrevrange(stream(bucket), max=bounds[bucket], min=lower, count=count)
        return {bucket: [(i, f) for i, f in result] for bucket, result in zip(order, pipe.execute(), strict=True)}

    def latest_ids(self) -> dict[int, str]:
        """The id of each stream's newest entry ("0-0" for an empty one): where a tail starts."""
        newest = self.read_newest(dict.fromkeys(BUCKETS, "+"), "-", 1)
        return {bucket: entries[0][0] if entries else "0-0" for bucket, entries in newest.items()}

    def read_after(self, positions: dict[int, str], count: int, block_ms: int) -> list[Entry]:
        """Entries after each stream's position (XREAD of all 16 streams, waiting up to `block_ms` for
        one), oldest first; `positions` advance past what was read. No consumer group: reads nothing
        for anyone else and acknowledges nothing."""
        answer: Any = self._redis.xread({stream(b): positions[b] for b in BUCKETS}, count=count, block=block_ms)
        out: list[Entry] = []
        for name, entries in answer or []:
            bucket = int(str(name)[-2], 16)  # ev:{bX}
            out += [(bucket, i, f) for i, f in entries if f]
            if entries:
                positions[bucket] = entries[-1][0]
        return sorted(out, key=lambda e: (instant_of(e[1]), int(e[1].partition("-")[2]), e[0]))

    # -- consumer groups -----------------------------------------------------------------------
    def ensure_group(self, group: str, start: str = "$") -> None:
        """Create the group on every stream (and the stream if missing) at `start` (`$`: from now on,
        `0`: everything retained); a stream that has the group already keeps its position."""
        pipe = self._redis.pipeline(transaction=False)
        for bucket in BUCKETS:
            pipe.xgroup_create(stream(bucket), group, id=start, mkstream=True)
        for result in pipe.execute(raise_on_error=False):
            if isinstance(result, Exception) and "BUSYGROUP" not in str(result):
                raise result

    def read_group(self, group: str, consumer: str, count: int, *, own_pending: bool = False) -> list[Entry]:
        """Up to `count` entries per stream never delivered to the group (XREADGROUP `>`), now pending
        for `consumer` until acknowledged; with own_pending, those already pending for it (`0`).
        Raises NoGroup when a stream lacks the group."""
        position = "0" if own_pending else ">"
        pipe = self._redis.pipeline(transaction=False)
        for bucket in BUCKETS:
            pipe.xreadgroup(group, consumer, {stream(bucket): position}, count=count)
        out: list[Entry] = []
        for bucket, result in enumerate(_checked(pipe.execute(raise_on_error=False))):
            for _, entries in result or []:
                out += [(bucket, i, f) for i, f in entries if f]
        return out

    def claim(self, group: str, consumer: str, min_idle_ms: int, cursors: dict[int, str], count: int) -> list[Entry]:
        """Take over entries pending longer than `min_idle_ms` for any consumer of the group (one
        that crashed holding them, or is stuck): XAUTOCLAIM, one page per stream from `cursors`,
        which are advanced in place ("0-0" again once a stream's pending list has been walked).
        Entries trimmed from the stream meanwhile are dropped from the pending list by Redis."""
        pipe = self._redis.pipeline(transaction=False)
        for bucket in BUCKETS:
            pipe.xautoclaim(stream(bucket), group, consumer, min_idle_ms, cursors.get(bucket, "0-0"), count=count)
        out: list[Entry] = []
        for bucket, result in enumerate(_checked(pipe.execute(raise_on_error=False))):
            cursors[bucket] = str(result[0])
            out += [(bucket, i, f) for i, f in result[1] if f]
        return out

    def ack(self, group: str, entries: Iterable[tuple[int, str]]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for bucket, entry_id in entries:
            pipe.xack(stream(bucket), group, entry_id)
        pipe.execute()

    def backlog(self, group: str) -> Backlog:
        """Pending and unread counts of a group, and the age of its oldest pending entry (a stream
        without the group counts as empty)."""
        pipe = self._redis.pipeline(transaction=False)
        for bucket in BUCKETS:
            pipe.xpending(stream(bucket), group)
            pipe.xinfo_groups(stream(bucket))
        results = pipe.execute(raise_on_error=False)
        pending = unread = 0
        oldest: int | None = None
        for summary, groups in zip(results[::2], results[1::2], strict=True):
            if isinstance(summary, Exception) or isinstance(groups, Exception):
                continue
            pending += int(summary["pending"])
            if summary["pending"]:
                at = instant_of(str(summary["min"]))
                oldest = at if oldest is None else min(oldest, at)
            info = next((g for g in groups if g["name"] == group), None)
            unread += int((info or {}).get("lag") or 0)
        return Backlog(pending, oldest, unread)

    def drop_idle_consumers(self, group: str, idle_ms: int) -> int:
        """Forget consumers of the group that hold nothing and were idle `idle_ms` (each worker
        process names itself anew): two round trips."""
        pipe = self._redis.pipeline(transaction=False)
        for bucket in BUCKETS:
            pipe.xinfo_consumers(stream(bucket), group)
        stale: list[tuple[int, str]] = []
        for bucket, consumers in enumerate(pipe.execute(raise_on_error=False)):
            if isinstance(consumers, Exception):
                continue
            stale += [(bucket, c["name"]) for c in consumers if not c["pending"] and int(c["idle"]) >= idle_ms]
        for bucket, name in stale:
            pipe.xgroup_delconsumer(stream(bucket), group, name)
        pipe.execute(raise_on_error=False)
        return len(stale)

    # -- retention -----------------------------------------------------------------------------
    def trim_before(self, instant_ms: int) -> int:
        """Drop entries recorded before `instant_ms` (XTRIM MINID ~: whole macro nodes only, so a
        few older entries may stay until the next trim). Returns how many went."""
        pipe = self._redis.pipeline(transaction=False)
        for bucket in BUCKETS:
            pipe.xtrim(stream(bucket), minid=f"{instant_ms}-0", approximate=True)
        return sum(int(n) for n in pipe.execute())


def _checked(results: list[Any]) -> list[Any]:
    for result in results:
        if isinstance(result, redis.ResponseError) and "NOGROUP" in str(result):
            raise NoGroup(str(result))
        if isinstance(result, Exception):
            raise result
    return results
