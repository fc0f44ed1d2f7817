"""Webhook delivery state: which webhooks still owe a stream entry (in the entry's bucket), each
webhook's queue of due deliveries with their attempts (in the webhook's own slot), and its dead letters.

The order of the steps makes delivery at-least-once whatever crashes: an entry stays pending in the
webhook group until every webhook it was fanned out to has settled it (delivered or dead-lettered);
a queued delivery leaves its webhook's queue only after its entry was settled (`forget`), and one a
worker took but never finished becomes due again when its lease runs out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from app.store import keys
from app.store.events import stream
from app.store.lua import Call, run_pipelined, script_for

OUTSTANDING_TTL_MS = 7 * 24 * 3600 * 1000  # far longer than any retry schedule
LEASE_MARGIN_MS = 1000


def member_of(bucket: int, entry_id: str) -> str:
    """A queued delivery's name: the stream entry it delivers."""
    return f"{entry_id}/{bucket:x}"


def entry_of(member: str) -> tuple[int, str]:
    entry_id, _, bucket = member.partition("/")
    return int(bucket, 16), entry_id


@dataclass(frozen=True)
class Queued:
    member: str
    event_json: str | None  # None: the queued copy is gone (its webhook was deleted meanwhile)
    attempts: int

    @property
    def entry(self) -> tuple[int, str]:
        return entry_of(self.member)


@dataclass(frozen=True)
class Failure:
    attempts: int
    retry_at: int | None  # Redis time (ms) of the next attempt; None: dead-lettered


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    first_delay_ms: int
    max_delay_ms: int


class WebhookStore:
    def __init__(self, client: redis.Redis, dead_letter_max: int):
        self._redis = client
        self._dead_letter_max = dead_letter_max
        self._fanout = script_for(client, "event_fanout")
        self._settle = script_for(client, "event_settle")
        self._take = script_for(client, "webhook_take")
        self._fail = script_for(client, "webhook_fail")

    # -- the stream side (each entry's bucket) -------------------------------------------------
    def fan_out(self, entries: Sequence[tuple[int, str, Sequence[str]]]) -> list[list[str]]:
        """For each (bucket, entry id, matching webhook ids): the webhooks that owe it, recorded on
        first sight and kept on later ones (see event_fanout.lua). One round trip."""
        calls: list[Call] = [
            (self._fanout, [keys.outstanding(keys.TAGS[b], i)], [keys.TAGS[b], OUTSTANDING_TTL_MS, *webhooks])
            for b, i, webhooks in entries
        ]
        return [[str(w) for w in owed] for owed in run_pipelined(self._redis, calls)] if calls else []

    def settle(self, group: str, done: Sequence[tuple[int, str, Sequence[str]]]) -> None:
        """Each (bucket, entry id, webhook ids done with it): acknowledge the entry in `group` once no
        webhook owes it any more. One round trip."""
        calls: list[Call] = [
            (self._settle, [stream(b), keys.outstanding(keys.TAGS[b], i)], [keys.TAGS[b], group, i, *webhooks])
            for b, i, webhooks in done
        ]
        if calls:
            run_pipelined(self._redis, calls)

    # -- one webhook's queue -------------------------------------------------------------------
    def enqueue(self, deliveries: Sequence[tuple[str, int, str, str]]) -> None:
        """Queue (webhook id, bucket, entry id, event JSON) deliveries, due at once; one already
        queued keeps its schedule and attempts. One round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for webhook_id, bucket, entry_id, event_json in deliveries:
            queue, bodies, *_ = keys.webhook_keys(webhook_id)
            member = member_of(bucket, entry_id)
            pipe.zadd(queue, {member: int(entry_id.partition("-")[0])}, nx=True)
            pipe.hsetnx(bodies, member, event_json)
        pipe.execute()

    def take(self, webhook_id: str, count: int, per_delivery_ms: int) -> list[Queued]:
        """Lease up to `count` due deliveries of a webhook (see webhook_take.lua)."""
        raw = self._take(keys=keys.webhook_keys(webhook_id)[:3], args=["", count, LEASE_MARGIN_MS, per_delivery_ms])
        return [Queued(str(raw[i]), raw[i + 1], int(raw[i + 2])) for i in range(0, len(raw), 3)]

    def fail(
        self, webhook_id: str, queued: Queued, event_id: str, policy: RetryPolicy, *, jitter: float,
        permanent: bool, retry_after_ms: int, error: str,
    ) -> Failure:  # fmt: skip
        """Count a failed attempt: a retry is scheduled, or the delivery is dead-lettered."""
        attempts, due = self._fail(
            keys=keys.webhook_keys(webhook_id),
            args=[
                "", queued.member, event_id, policy.max_attempts, policy.first_delay_ms, policy.max_delay_ms,
                jitter, "1" if permanent else "0", retry_after_ms, error[:500], self._dead_letter_max,
                LEASE_MARGIN_MS,
            ],
        )  # fmt: skip
        return Failure(int(attempts), None if int(due) < 0 else int(due))

    def release(self, webhook_id: str, members: Sequence[str], due_ms: int) -> None:
        """Give leased deliveries back, due at `due_ms` (0: at once), their attempts unchanged."""
        if members:
            self._redis.zadd(keys.webhook_keys(webhook_id)[0], {m: due_ms for m in members}, xx=True)

    def forget(self, webhook_id: str, members: Sequence[str]) -> None:
        """Drop settled deliveries from the webhook's queue: the last step of each delivery."""
        if not members:
            return
        queue, bodies, attempts, *_ = keys.webhook_keys(webhook_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.zrem(queue, *members)
        pipe.hdel(bodies, *members)
        pipe.hdel(attempts, *members)
        pipe.execute()

    def purge(self, webhook_id: str) -> None:
        """Everything of a deleted webhook: queue, copies, attempts, dead letters."""
        self._redis.unlink(*keys.webhook_keys(webhook_id))

    # -- what the API shows --------------------------------------------------------------------
    def counts(self, webhook_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Queued deliveries and dead letters of each webhook. One round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for webhook_id in webhook_ids:
            queue, _, _, dead, _ = keys.webhook_keys(webhook_id)
            pipe.zcard(queue)
            pipe.zcard(dead)
        results = pipe.execute()
        return {w: (int(results[2 * i]), int(results[2 * i + 1])) for i, w in enumerate(webhook_ids)}

    def dead_letters(self, webhook_id: str, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        """How many dead letters a webhook has, and a page of them, newest first."""
        _, _, _, dead, records = keys.webhook_keys(webhook_id)
        pipe = self._redis.pipeline(transaction=False)
        pipe.zcard(dead)
        pipe.zrevrange(dead, offset, offset + limit - 1)
        total, ids = pipe.execute()
        raws = self._redis.hmget(records, ids) if ids else []
        return int(total), [json.loads(r) for r in raws if r]

    def replay(self, webhook_id: str, event_ids: Sequence[str] | None, most: int) -> int:
        """Queue dead letters again, due at once with a fresh attempt count: the given ones, or the
        oldest `most`. Returns how many were queued (a dead letter whose event copy was lost is not)."""
        queue, bodies, attempts, dead, records = keys.webhook_keys(webhook_id)
        ids = list(event_ids) if event_ids is not None else [str(i) for i in self._redis.zrange(dead, 0, most - 1)]
        if not ids:
            return 0
        letters = [json.loads(r) for r in self._redis.hmget(records, ids) if r]
        pipe = self._redis.pipeline(transaction=True)
        replayed = 0
        for letter in letters:
            if letter.get("event") is not None:
                pipe.zadd(queue, {letter["position"]: 0})
                pipe.hset(bodies, letter["position"], json.dumps(letter["event"], separators=(",", ":")))
                pipe.hdel(attempts, letter["position"])
                replayed += 1
            pipe.zrem(dead, letter["eventId"])
            pipe.hdel(records, letter["eventId"])
        pipe.execute()
        return replayed
