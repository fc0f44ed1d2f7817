"""The event log over HTTP: filtered, tenant-scoped pages of events, newest first across the 16 bucket
streams, with a cursor that stays stable while events keep arriving, and bounded work per request.

Order: by stream id (Redis time, then sequence), then bucket, descending. The cursor is the position
(id and bucket) of the last entry looked at; the next page reads, in each stream, only what sorts
below it, so no entry is seen twice or skipped, and newer entries never shift a page.
Cost: streams are not indexed by user or application, so a filter reads and tests entries. A request
reads at most `scan_limit` entries (plus one chunk per stream); a page may then hold fewer than
`limit` events while more exist, and carries `nextCursor` to go on from where the scan stopped.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app import events
from app.caller import Caller
from app.errors import FieldError
from app.store.events import BUCKETS, EventStore, Fields, instant_of

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
CURSOR = re.compile(r"^(\d{1,20}-\d{1,20})\.([0-9a-f])$")
Position = tuple[str, int]  # stream id, bucket


@dataclass(frozen=True)
class EventFilter:
    user_id: str | None = None
    application_id: str | None = None
    tenant_id: str | None = None
    types: frozenset[str] = field(default_factory=frozenset)
    since_ms: int | None = None  # inclusive
    until_ms: int | None = None  # exclusive

    def _needles(self) -> list[str]:
        return [n for n in (self.user_id, self.application_id, self.tenant_id) if n]

    def admits(self, raw: Fields) -> dict[str, Any] | None:
        """The event, when the entry passes the filter. Ids are looked for in the raw entry first,
        so most entries are rejected without being parsed."""
        if self.types and raw.get("t") not in self.types:
            return None
        text = "|".join((raw.get("d", ""), raw.get("u", ""), raw.get("a", ""), raw.get("tn", "")))
        if any(n not in text for n in self._needles()):
            return None
        event = events.read(raw)
        for name, wanted in (("userId", self.user_id), ("applicationId", self.application_id)):
            if wanted and event.get(name) != wanted:
                return None
        if self.tenant_id and event.get("tenantId") != self.tenant_id:
            return None
        return event


@dataclass(frozen=True)
class EventPage:
    events: list[dict[str, Any]]
    next_cursor: str | None


class EventLog:
    def __init__(self, store: EventStore, ttl_of: Callable[[str], int | None], scan_limit: int):
        self._store = store
        self.ttl_of = ttl_of  # how long an application's access tokens live (None: no such application)
        self._scan_limit = scan_limit

    def search(self, caller: Caller, wanted: EventFilter, limit: int | None, cursor: str | None) -> EventPage:
        """A page of the events the caller may see (a tenant-scoped caller: its tenant's only)."""
        if caller.tenant_id:
            if wanted.tenant_id and wanted.tenant_id != caller.tenant_id:
                return EventPage([], None)
            wanted = EventFilter(**{**wanted.__dict__, "tenant_id": caller.tenant_id})
        size = min(limit or DEFAULT_LIMIT, MAX_LIMIT)
        after = _parse_cursor(cursor) if cursor else None
        selective = bool(wanted.types or wanted._needles())
        chunk = max(16, min(256, self._scan_limit // 16)) if selective else max(16, size // 4)
        found, last, more = _Merge(self._store, wanted, after, chunk).run(size, self._scan_limit)
        page = [events.with_access_ttl(e, self.ttl_of) for e in found]
        return EventPage(page, f"{last[0]}.{last[1]:x}" if more and last else None)


class _Merge:
    """A k-way merge of the 16 streams, newest first, refilling each stream's buffer a chunk at a
    time (one pipelined round trip refills every empty buffer)."""

    def __init__(self, store: EventStore, wanted: EventFilter, after: Position | None, chunk: int):
        self._store, self._wanted, self._chunk = store, wanted, chunk
        self._lower = str(wanted.since_ms) if wanted.since_ms is not None else "-"
        self._upper = {b: _upper_bound(b, after, wanted.until_ms) for b in BUCKETS}
        self._buffers: dict[int, deque[tuple[str, Fields]]] = {b: deque() for b in BUCKETS}
        # nothing lies below the first possible id ("(0-0", which XREVRANGE refuses): those buckets are done
        self._done: set[int] = {b for b in BUCKETS if self._upper[b] == "(0-0"}
        self.scanned = 0

    def run(self, size: int, budget: int) -> tuple[list[dict[str, Any]], Position | None, bool]:
        """Up to `size` matching events, the position of the last entry looked at, and whether more
        may follow it."""
        found: list[dict[str, Any]] = []
        last: Position | None = None
        while True:
            empty = [b for b in BUCKETS if not self._buffers[b] and b not in self._done]
            if empty:
                if self.scanned >= budget:
                    return found, last, True
                self._refill(empty)
            heads = [(self._buffers[b][0][0], b) for b in BUCKETS if self._buffers[b]]
            if not heads:
                return found, last, False
            entry_id, bucket = max(heads, key=lambda h: (_id_key(h[0]), h[1]))
            _, raw = self._buffers[bucket].popleft()
            last = (entry_id, bucket)
            event = self._wanted.admits(raw)
            if event is not None:
                found.append(event)
                if len(found) == size:
                    more = any(self._buffers.values()) or len(self._done) < len(BUCKETS)
                    return found, last, more

    def _refill(self, buckets: list[int]) -> None:
        got = self._store.read_newest({b: self._upper[b] for b in buckets}, self._lower, self._chunk)
        for bucket, entries in got.items():
            self.scanned += len(entries)
            self._buffers[bucket].extend(entries)
            if len(entries) < self._chunk:
                self._done.add(bucket)
            if entries:
                self._upper[bucket] = "(" + entries[-1][0]


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq)


def _upper_bound(bucket: int, after: Position | None, until_ms: int | None) -> str:
    """Where a stream's newest-first read starts: below the cursor (entries at the cursor's id sort
    by bucket, so a lower bucket still includes that id), and before `until`."""
    until = f"({until_ms}-0" if until_ms is not None else "+"
    if after is None:
        return until
    entry_id, cursor_bucket = after
    if until_ms is not None and instant_of(entry_id) >= until_ms:
        return until
    return entry_id if bucket < cursor_bucket else "(" + entry_id


def _parse_cursor(cursor: str) -> Position:
    match = CURSOR.match(cursor)
    if not match:
        raise FieldError("cursor", "invalid", "The cursor is not one this service returned.")
    return match.group(1), int(match.group(2), 16)
