"""Prometheus instruments, written by the request middleware (app/telemetry.py), the domain (revocations,
exchanges) and the Redis client (app/store/connection.py); read by `GET /metrics` (app/scrape.py).

Several worker processes serve one deployment, and a scrape reaches only one of them, so the counters
live in prometheus_client's multiprocess mode: each process writes its values into mmap'd files of its
own (named by its pid) in one directory, and a scrape sums every file there. A worker that dies or is
replaced leaves its file behind, so its counts stay counted and no counter goes backwards; the new
worker writes a new file. A new deployment starts from a fresh directory (see `prepare`).

Per request this costs about 2 us (one histogram child, cached by its label values, whose _count is
the request count); a Redis command about 2 us. Gauges (live sessions, delivery lag) are not written here at all: the
scrape computes them from Redis (app/scrape.py), so no per-process gauge can go stale.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, values
from redis.exceptions import NoScriptError

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
REDIS_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1.0)

_directory: str | None = None
_instruments: Instruments | None = None


def prepare(directory: str | None) -> str:
    """Choose the multiprocess directory, once per process, before the first instrument exists: the
    given one (PROMETHEUS_MULTIPROC_DIR, managed by the operator), else one per server: named after
    the parent process (the Granian or gunicorn master, whose workers share it), so every worker of a
    deployment writes beside its siblings, a restarted worker keeps the dead one's counts, and a new
    master starts at zero. Directories of masters that are gone are removed."""
    global _directory
    if _directory is not None:
        return _directory
    if directory is None:
        base = tempfile.gettempdir()
        prefix = f"refreshd-metrics-{os.getuid()}-"
        _remove_orphans(base, prefix)
        directory = os.path.join(base, prefix + _process_name(os.getppid()))
    os.makedirs(directory, exist_ok=True)
    # prometheus_client opens each process's file under this variable's directory
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    _directory = directory
    return directory


def directory() -> str | None:
    """The multiprocess directory, when this process records into one."""
    return _directory if instruments().multiprocess else None


def _process_name(pid: int) -> str:
    """`<pid>-<start time>`: a process, told apart from a later one that got the same pid (Linux's
    /proc gives the start time; elsewhere the pid alone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return f"{pid}-{stat.read().rpartition(')')[2].split()[19]}"
    except (OSError, IndexError):
        return str(pid)


def _remove_orphans(base: str, prefix: str) -> None:
    """Remove the directories of masters that are gone (their pid dead, or reused by another process)."""
    with contextlib.suppress(OSError):
        for name in os.listdir(base):
            owner = name[len(prefix) :]
            pid = owner.partition("-")[0]
            if name.startswith(prefix) and pid.isdigit() and _process_name(int(pid)) != owner:
                shutil.rmtree(os.path.join(base, name), ignore_errors=True)


class Instruments:
    """Every metric this process records. In-memory (one registry) unless `prepare` chose a directory."""

    def __init__(self) -> None:
        self.multiprocess = _directory is not None
        if self.multiprocess and not getattr(values.ValueClass, "_multiprocess", False):
            # prometheus_client picks its value class from the environment when it is first imported,
            # which happened before prepare() could set the directory
            values.ValueClass = values.MultiProcessValue()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        http = ["route", "method", "status"]
        # its _count series is the number of requests: a separate counter would cost another ~1 us a request
        self.duration = Histogram(
            "refreshd_http_request_duration_seconds",
            "Time to answer (the _count series counts requests)",
            http,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.revocations = Counter("refreshd_revocations", "Revoke operations, by scope", ["scope"], registry=r)
        self.revoked = Counter(
            "refreshd_revoked_tokens", "Refresh tokens a revoke invalidated (newly), by scope", ["scope"], registry=r
        )
        self.exchanges = Counter("refreshd_exchanges", "Refresh-token exchanges, by outcome", ["outcome"], registry=r)
        self.redis_duration = Histogram(
            "refreshd_redis_command_duration_seconds",
            "Redis round trips (a pipeline is one), by command",
            ["command"],
            buckets=REDIS_BUCKETS,
            registry=r,
        )
        self.redis_errors = Counter(
            "refreshd_redis_errors", "Redis commands that failed, by error", ["error"], registry=r
        )
        self._http: dict[tuple[str, str, str], Any] = {}
        self._redis: dict[str, Any] = {}
        self._exchanges: dict[str, Any] = {}

    def request(self, route: str, method: str, status: str, seconds: float) -> None:
        """One answered request (label children are cached: `labels()` alone costs 1-2 us)."""
        key = (route, method, status)
        child = self._http.get(key)
        if child is None:
            child = self._http[key] = self.duration.labels(*key)
        child.observe(seconds)

    def exchange(self, outcome: str) -> None:
        child = self._exchanges.get(outcome)
        if child is None:
            child = self._exchanges[outcome] = self.exchanges.labels(outcome)
        child.inc()

    def redis_command(self, command: str, seconds: float) -> None:
        child = self._redis.get(command)
        if child is None:
            child = self._redis[command] = self.redis_duration.labels(command)
        child.observe(seconds)


def instruments() -> Instruments:
    """This process's instruments, made on first use (after `prepare`, when the app calls it)."""
    global _instruments
    if _instruments is None:
        _instruments = Instruments()
    return _instruments


# -- what the domain records: plain calls, no Flask ------------------------------------------------
def revocation(scope: str, invalidated: int) -> None:
    """A revoke operation of a scope (token, id, user, user_application, application, tenant,
    user_all, access_token, oauth, logout, ...) that newly invalidated `invalidated` tokens."""
    found = instruments()
    found.revocations.labels(scope).inc()
    if invalidated:
        found.revoked.labels(scope).inc(invalidated)


def exchange(outcome: str) -> None:
    """An exchange's outcome: ok, or why it was refused (invalid, expired, revoked, reuse, ...)."""
    instruments().exchange(outcome)


def redis_error(error: BaseException) -> None:
    """A failed Redis command (NOSCRIPT is not a failure: the script is loaded and the call repeated)."""
    if not isinstance(error, NoScriptError):
        instruments().redis_errors.labels(type(error).__name__).inc()
