"""The worker's webhook delivery (beside the Cleaner), and event retention.

- The dispatcher (one thread) reads new entries of the 16 streams in the `refreshd-webhooks`
  consumer group and fans each out to the webhooks that want it: their ids are recorded with the
  entry, and a copy of the event is queued per webhook. An entry no webhook wants is acknowledged
  at once; the others stay pending until every webhook has settled them. Each tick it also takes
  over entries pending longer than the claim-idle time (a worker died between reading and fanning
  out) and, every minute, trims events older than the retention age.
- A deliverer (one thread per webhook, so a slow or dead receiver holds up nobody else) leases due
  deliveries from its webhook's queue, POSTs them signed, and settles each one delivered or
  dead-lettered: its webhook leaves the entry's record, and the entry is acknowledged when none is
  left. A failure is retried with exponential backoff and jitter until the webhook's attempt limit.

At-least-once: a worker killed at any point loses nothing (its pending entries are claimed, its
leased deliveries fall due again); a receiver may see an event twice, always with the same event id
(`Idempotency-Key`). SIGTERM: each deliverer finishes the POST it is making, gives back what it
leased and not sent, and the threads stop.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis

from app import events
from app.config import Settings
from app.outbound import Sender
from app.store.events import Entry, EventStore, NoGroup, instant_of
from app.store.keys import WEBHOOK_GROUP
from app.store.webhooks import Queued, RetryPolicy, WebhookStore
from app.webhook_requests import Requests
from app.webhooks import Webhook, Webhooks

if TYPE_CHECKING:
    from app import Services

log = logging.getLogger("refreshd.delivery")
READ_COUNT = 100  # entries per stream per read
CLAIM_COUNT = 100
HOUSEKEEPING_SECONDS = 60.0
IDLE_CONSUMER_MS = 3600 * 1000
SUPERVISION_SECONDS = 1.0  # a new webhook's deliverer starts within this, or with the next event


@dataclass(frozen=True)
class Tuning:
    """The knobs of the REFRESHD_WEBHOOK_* and REFRESHD_EVENT_RETENTION_SECONDS settings."""

    batch: int
    poll_seconds: float
    claim_idle_ms: int
    first_delay_ms: int
    max_delay_ms: int
    retention_ms: int

    @classmethod
    def of(cls, settings: Settings) -> Tuning:
        return cls(
            batch=settings.webhook_batch,
            poll_seconds=settings.webhook_poll_seconds,
            claim_idle_ms=int(settings.webhook_claim_idle_seconds * 1000),
            first_delay_ms=int(settings.webhook_backoff_seconds * 1000),
            max_delay_ms=int(settings.webhook_backoff_max_seconds * 1000),
            retention_ms=settings.event_retention_seconds * 1000,
        )


class Delivery:
    def __init__(
        self,
        webhooks: Webhooks,
        requests: Requests,
        streams: EventStore,
        queues: WebhookStore,
        ttl_of: Callable[[str], int | None],
        tuning: Tuning,
    ):
        self._webhooks, self._requests = webhooks, requests
        self._streams, self._queues, self._ttl_of = streams, queues, ttl_of
        self.tuning = tuning
        self.name = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.stopping = threading.Event()
        self._deliverers: dict[str, Deliverer] = {}
        self._claim_cursors: dict[int, str] = {}
        self._next_claim = self._next_housekeeping = self._next_supervision = 0.0
        self._hooks: dict[str, Webhook] = {}

    def run(self) -> None:
        """Dispatch until stopped; Redis outages are waited out, a lost group is made again."""
        while not self.stopping.is_set():
            try:
                self._streams.ensure_group(WEBHOOK_GROUP)
                while not self.stopping.is_set():
                    if self.tick() == 0:
                        self.stopping.wait(self.tuning.poll_seconds)
            except NoGroup:
                log.warning("the webhook group is gone (Redis lost its data?): reading every retained event")
                self._guard(lambda: self._streams.ensure_group(WEBHOOK_GROUP, "0"))
            except (redis.ConnectionError, redis.TimeoutError) as error:
                log.warning("redis unavailable (%s); retrying", type(error).__name__)
                self.stopping.wait(1.0)
            except Exception:  # e.g. Redis refusing writes (OOM): keep trying, never stop delivering silently
                log.exception("webhook dispatch failed; retrying")
                self.stopping.wait(1.0)
        self._stop_deliverers(list(self._deliverers))

    def stop(self) -> None:
        self.stopping.set()

    def tick(self) -> int:
        """One round of the dispatcher: new entries, then (when due) claims and housekeeping. The
        webhooks are read after the entries, so an entry sees every webhook made before it."""
        entries = self._streams.read_group(WEBHOOK_GROUP, self.name, READ_COUNT)
        now = time.monotonic()
        if entries or now >= self._next_claim or now >= self._next_supervision:
            self._next_supervision = now + SUPERVISION_SECONDS
            self._hooks = self._supervise()
        hooks = self._hooks
        self._route(entries, hooks, fresh=True)
        if now >= self._next_claim:
            self._next_claim = now + min(1.0, self.tuning.claim_idle_ms / 4000)
            claimed = self._streams.claim(
                WEBHOOK_GROUP, self.name, self.tuning.claim_idle_ms, self._claim_cursors, CLAIM_COUNT
            )
            self._route(claimed, hooks, fresh=False)
        if now >= self._next_housekeeping:
            self._next_housekeeping = now + HOUSEKEEPING_SECONDS
            self.housekeeping()
        return len(entries)

    def housekeeping(self) -> None:
        if self.tuning.retention_ms:
            trimmed = self._streams.trim_before(self._streams.now_ms() - self.tuning.retention_ms)
            if trimmed:
                log.info("retention: %d events trimmed", trimmed)
        self._streams.drop_idle_consumers(WEBHOOK_GROUP, IDLE_CONSUMER_MS)

    def _route(self, entries: list[Entry], hooks: dict[str, Webhook], *, fresh: bool) -> None:
        """Fan entries out to the webhooks that want them (and, for an entry seen before, to those it
        was fanned out to and that have not settled it); acknowledge those nobody wants."""
        if not entries:
            return
        acked, plans = [], []
        for bucket, entry_id, fields in entries:
            if fresh and not hooks:
                acked.append((bucket, entry_id))
                continue
            event = events.with_access_ttl(events.read(fields), self._ttl_of)
            wanted = [w.id for w in hooks.values() if w.wants(event, instant_of(entry_id))]
            if fresh and not wanted:
                acked.append((bucket, entry_id))
            else:
                plans.append((bucket, entry_id, events.dumps(event), wanted))
        owed = self._queues.fan_out([(b, i, wanted) for b, i, _, wanted in plans])
        queued, orphaned = [], []
        for (bucket, entry_id, event_json, _), owners in zip(plans, owed, strict=True):
            if not owners:
                acked.append((bucket, entry_id))
            queued += [(w, bucket, entry_id, event_json) for w in owners if w in hooks]
            gone = [w for w in owners if w not in hooks]  # deleted webhooks owe nothing any more
            if gone:
                orphaned.append((bucket, entry_id, gone))
        self._queues.enqueue(queued)
        self._queues.settle(WEBHOOK_GROUP, orphaned)
        self._streams.ack(WEBHOOK_GROUP, acked)

    def _supervise(self) -> dict[str, Webhook]:
        """The webhooks as they are now: a deliverer starts for each new one, stops for each gone."""
        hooks = {w.id: w for w in self._webhooks.active()}
        for webhook_id in hooks.keys() - self._deliverers.keys():
            deliverer = Deliverer(hooks[webhook_id], self._requests, self._queues, self.tuning)
            self._deliverers[webhook_id] = deliverer
            deliverer.start()
        for webhook_id, deliverer in self._deliverers.items():
            if webhook_id in hooks:
                deliverer.webhook = hooks[webhook_id]
        self._stop_deliverers([w for w in self._deliverers if w not in hooks])
        return hooks

    def _stop_deliverers(self, webhook_ids: list[str]) -> None:
        stopping = [self._deliverers.pop(w) for w in webhook_ids]
        for deliverer in stopping:
            deliverer.stopping.set()
        for deliverer in stopping:
            deliverer.join()

    def _guard(self, step: Callable[[], None]) -> None:
        try:
            step()
        except (redis.ConnectionError, redis.TimeoutError):
            self.stopping.wait(1.0)


class Deliverer(threading.Thread):
    """Delivers one webhook's queue, one POST at a time."""

    def __init__(self, webhook: Webhook, requests: Requests, queues: WebhookStore, tuning: Tuning):
        super().__init__(name=f"webhook-{webhook.id[:8]}", daemon=True)
        self.webhook = webhook
        self._requests, self._queues, self._tuning = requests, queues, tuning
        self._sender = Sender()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                if self.deliver_once() == 0:
                    self.stopping.wait(self._tuning.poll_seconds)
            except (redis.ConnectionError, redis.TimeoutError) as error:
                log.warning("webhook %s: redis unavailable (%s); retrying", self.webhook.id, type(error).__name__)
                self.stopping.wait(1.0)
            except Exception:  # a bug must not silently end this webhook's deliveries
                log.exception("webhook %s: delivery failed", self.webhook.id)
                self.stopping.wait(1.0)
        self._sender.close()

    def deliver_once(self) -> int:
        """Lease a batch, POST each in turn, settle what was delivered or dead-lettered. A receiver in
        trouble (no answer, 5xx) ends the batch: the rest is given back, due with the retry."""
        webhook = self.webhook
        batch = self._queues.take(webhook.id, self._tuning.batch, webhook.connect_timeout_ms + webhook.read_timeout_ms)
        settled: list[Queued] = []
        for index, queued in enumerate(batch):
            if self.stopping.is_set():
                self._queues.release(webhook.id, [q.member for q in batch[index:]], 0)
                break
            retry_at = self._attempt(webhook, queued, settled)
            if retry_at is not None:
                self._queues.release(webhook.id, [q.member for q in batch[index + 1 :]], retry_at)
                break
        if settled:
            self._queues.settle(WEBHOOK_GROUP, [(*q.entry, [webhook.id]) for q in settled])
            self._queues.forget(webhook.id, [q.member for q in settled])
        return len(batch)

    def _attempt(self, webhook: Webhook, queued: Queued, settled: list[Queued]) -> int | None:
        """POST one delivery; returns when to try again if the receiver is in trouble."""
        request = self._requests.build(webhook, queued.event_json, queued.attempts + 1) if queued.event_json else None
        if request is None:  # its copy went with a deleted webhook, or the webhook's form has no such event
            settled.append(queued)
            return None
        outcome = self._sender.post(
            webhook.url,
            request.body,
            request.headers,
            webhook.connect_timeout_ms / 1000,
            webhook.read_timeout_ms / 1000,
        )
        if outcome.delivered:
            settled.append(queued)
            return None
        policy = RetryPolicy(webhook.max_attempts, self._tuning.first_delay_ms, self._tuning.max_delay_ms)
        failure = self._queues.fail(
            webhook.id, queued, request.event_id, policy, jitter=random.random(), permanent=not outcome.retryable,
            retry_after_ms=min(outcome.retry_after_ms, self._tuning.max_delay_ms), error=outcome.error,
        )  # fmt: skip
        if failure.retry_at is None:
            log.warning("webhook %s: event %s dead-lettered after %d attempts: %s",
                        webhook.id, request.event_id, failure.attempts, outcome.error)  # fmt: skip
            settled.append(queued)
        return failure.retry_at if outcome.retryable else None


def delivery_for(services: Services, settings: Settings) -> Delivery:
    """The delivery of a process's services: the worker's, or the web process's on the embedded store."""
    return Delivery(
        services.webhooks,
        Requests(services.signer, settings.issuer),
        services.event_streams,
        services.webhook_queues,
        services.event_log.ttl_of,
        Tuning.of(settings),
    )
