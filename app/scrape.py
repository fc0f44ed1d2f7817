"""`GET /metrics`: who may scrape, and the Prometheus text a scrape answers.

The counters and histograms come from every worker process (app/metrics.py, multiprocess mode); the
gauges are read from Redis at scrape time, at most once per REFRESHD_METRICS_CACHE_SECONDS per
process, with a bounded cost: live sessions are the sizes of each application's 16 index sets (one
pipelined round trip for at most REFRESHD_METRICS_MAX_APPLICATIONS applications, never a walk over
tokens), and the worker's delivery lag is what `GET /api/status` reports to an API key.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import redis
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from app import metrics
from app.caller import Caller
from app.config import Settings

if TYPE_CHECKING:
    from app import Services

log = logging.getLogger(__name__)
SYSTEM = Caller("system", None, None, "", "", "")  # sees every tenant's webhooks


def may_scrape(settings: Settings, environ: dict[str, Any]) -> int:
    """200 when this request may read the metrics, else the status to answer: 404 when they are off,
    401 otherwise (REFRESHD_METRICS_ACCESS, REFRESHD_METRICS_TOKEN)."""
    mode = settings.metrics_access
    if mode == "off":
        return 404
    if mode == "open":
        return 200
    token = settings.metrics_token
    header = environ.get("HTTP_AUTHORIZATION", "")
    if token and header[:7].lower() == "bearer " and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return 200
    if mode == "loopback" and _is_loopback(environ.get("REMOTE_ADDR") or ""):
        return 200
    return 401


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.partition("%")[0]).is_loopback
    except ValueError:
        return False


class Scraper:
    """Renders the exposition: every process's counters, and the gauges read from Redis."""

    def __init__(self, services: Services):
        self._gauges = StoreGauges(services)
        registry = CollectorRegistry(auto_describe=False)
        # the gauges first: what their Redis reads record (latency, errors) is then in the same scrape
        registry.register(self._gauges)
        registry.register(_Flush())  # then this process's own pending counts, up to now
        directory = metrics.directory()
        if directory:
            MultiProcessCollector(registry, path=directory)
            self._registries: list[CollectorRegistry] = [registry]
        else:
            self._registries = [registry, metrics.instruments().registry]

    def render(self) -> tuple[bytes, str]:
        return b"".join(generate_latest(r) for r in self._registries), CONTENT_TYPE_LATEST


class _Flush:
    """A collector of nothing that writes this process's pending counts (app/metrics.py Tally) when
    collected: registered after the gauges, before the counts are read."""

    def collect(self) -> Iterator[Metric]:
        metrics.instruments().tally.flush()
        return iter(())


class StoreGauges:
    """A prometheus_client collector of the gauges that come from Redis, cached for a few seconds."""

    def __init__(self, services: Services):
        self._services = services
        self._ttl = services.settings.metrics_cache_seconds
        self._most = services.settings.metrics_max_applications
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] = (0.0, [])

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            expires, families = self._cached
            if time.monotonic() >= expires or not families:
                families = self._read()
                self._cached = (time.monotonic() + self._ttl, families)
        yield from families

    def _read(self) -> list[Metric]:
        up = GaugeMetricFamily("refreshd_store_up", "1 when the last read of these gauges reached Redis")
        try:
            families = [*self._sessions(), *self._delivery()]
        except redis.RedisError as error:
            log.warning("metrics: redis unavailable (%s)", type(error).__name__)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *families]

    def _sessions(self) -> Iterable[Metric]:
        applications = sorted(a["id"] for a in self._services.registry.applications(None))
        shown = applications[: self._most]
        counts = self._services.tokens.live_counts(shown) if shown else {}
        live = GaugeMetricFamily(
            "refreshd_live_sessions",
            "Live (unexpired, unrevoked) refresh tokens of an application",
            labels=["application_id"],
        )
        for application_id in shown:
            live.add_metric([application_id], counts[application_id])
        omitted = GaugeMetricFamily(
            "refreshd_live_sessions_omitted_applications",
            "Applications left out of refreshd_live_sessions (REFRESHD_METRICS_MAX_APPLICATIONS)",
        )
        omitted.add_metric([], len(applications) - len(shown))
        return [live, omitted]

    def _delivery(self) -> Iterable[Metric]:
        lag = self._services.webhooks.lag(SYSTEM)
        described = [
            ("unread_events", "unreadEvents", "Events the worker has not read yet"),
            ("pending_events", "pendingEvents", "Events read and not yet delivered to every webhook"),
            ("oldest_pending_event_age_seconds", "oldestPendingEventAgeInSeconds", "Age of the oldest of those"),
            ("queued_deliveries", "queuedDeliveries", "Deliveries queued (due or waiting to be retried)"),
            ("dead_letters", "deadLetters", "Deliveries given up on (dead letters kept)"),
        ]
        out = []
        for name, field, text in described:
            family = GaugeMetricFamily(f"refreshd_webhook_{name}", text)
            family.add_metric([], lag[field])
            out.append(family)
        return out
