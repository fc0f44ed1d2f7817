"""Prometheus instruments, written by the request middleware (app/telemetry.py), the domain (revocations,
exchanges) and the Redis client (app/store/connection.py); read by `GET /metrics` (app/scrape.py).

Several worker processes serve one deployment, and a scrape reaches only one of them, so the counters
live in prometheus_client's multiprocess mode: each process writes its values into mmap'd files of its
own (named by its pid) in one directory, and a scrape sums every file there. A worker that dies or is
replaced leaves its file behind, so its counts stay counted and no counter goes backwards; the new
worker writes a new file. A new deployment starts from a fresh directory (see `prepare`).

Writing a value there takes a lock and an mmap write: a histogram observation cost ~2-5 us, ~10 us a
request in all. So observations are added up in plain Python first (`Tally`, well under a microsecond
each) and written once a second by a thread, at exit, and before this process renders a scrape: the
other workers' counts reach a scrape at most a second late, and a worker killed outright loses at
most its last second. Gauges (live sessions, delivery lag) are not written here at all: the scrape
computes them from Redis (app/scrape.py), so no per-process gauge can go stale.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import threading
from bisect import bisect_left
from multiprocessing import util
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, values
from redis.exceptions import NoScriptError

FLUSH_SECONDS = 1.0
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
REDIS_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1.0)

_directory: str | None = None
_instruments: Instruments | None = None


def prepare(directory: str | None) -> str:
    """Choose the multiprocess directory, once per process, before the first instrument exists: the
    given one (PROMETHEUS_MULTIPROC_DIR, managed by the operator), else one per server: named after
    the parent process (the uvicorn, Granian or gunicorn master, whose workers share it), so every worker of a
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
        self._revocations: dict[tuple[str, bool], Any] = {}
        self.tally = Tally()

    def request(self, route: str, method: str, status: str, seconds: float) -> None:
        """One answered request (label children are cached: `labels()` alone costs 1-2 us)."""
        key = (route, method, status)
        child = self._http.get(key)
        if child is None:
            child = self._http[key] = self.duration.labels(*key)
        self.tally.observe(child, seconds)

    def exchange(self, outcome: str) -> None:
        child = self._exchanges.get(outcome)
        if child is None:
            child = self._exchanges[outcome] = self.exchanges.labels(outcome)
        self.tally.inc(child, 1)

    def revocation(self, scope: str, invalidated: int) -> None:
        for counter, amount in ((self.revocations, 1), (self.revoked, invalidated)):
            if amount:
                child = self._revocations.get((scope, counter is self.revoked))
                if child is None:
                    child = self._revocations[(scope, counter is self.revoked)] = counter.labels(scope)
                self.tally.inc(child, amount)

    def redis_command(self, command: str, seconds: float) -> None:
        child = self._redis.get(command)
        if child is None:
            child = self._redis[command] = self.redis_duration.labels(command)
        self.tally.observe(child, seconds)


class Tally:
    """Counter increments and histogram observations, added up in this process until `flush` writes
    them to their prometheus_client children (one write per bucket, sum or counter that moved). A
    thread flushes every FLUSH_SECONDS; it is started by the first record in each process, so a
    forked worker gets its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[Any, float] = {}
        self._histograms: dict[Any, list[float]] = {}  # child -> [sum, count in bucket 0, 1, ...]
        self._started = False
        os.register_at_fork(after_in_child=self._forked)

    def inc(self, child: Any, amount: float) -> None:
        with self._lock:
            self._counts[child] = self._counts.get(child, 0.0) + amount
        if not self._started:
            self._start()

    def observe(self, child: Any, amount: float) -> None:
        # the bucket prometheus_client's Histogram.observe increments: the first bound >= amount
        bounds = child._upper_bounds
        with self._lock:
            pending = self._histograms.get(child)
            if pending is None:
                pending = self._histograms[child] = [0.0] * (len(bounds) + 1)
            pending[0] += amount
            pending[bisect_left(bounds, amount) + 1] += 1
        if not self._started:
            self._start()

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, {}
            histograms, self._histograms = self._histograms, {}
        for child, amount in counts.items():
            child.inc(amount)
        for child, pending in histograms.items():
            child._sum.inc(pending[0])
            for bucket, count in zip(child._buckets, pending[1:], strict=True):
                if count:
                    bucket.inc(count)

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run, name="metrics-flush", daemon=True).start()
        # at exit: a Granian worker ends by os._exit after multiprocessing's finalizers, never atexit's; a
        # uvicorn worker by its signal, after app/asgi.py flushes at its lifespan's end
        # (flush is idempotent: it may run twice)
        atexit.register(self.flush)
        util.Finalize(None, self.flush, exitpriority=0)

    def _forked(self) -> None:
        """In a forked child: what the parent had pending is the parent's to write, and its thread
        did not come along."""
        self._lock = threading.Lock()
        self._counts, self._histograms = {}, {}
        self._started = False

    def _run(self) -> None:
        stop = threading.Event()
        while not stop.wait(FLUSH_SECONDS):
            with contextlib.suppress(Exception):  # a full disk must not end the flushing for good
                self.flush()


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
    instruments().revocation(scope, invalidated)


def exchange(outcome: str) -> None:
    """An exchange's outcome: ok, or why it was refused (invalid, expired, revoked, reuse, ...)."""
    instruments().exchange(outcome)


def redis_error(error: BaseException) -> None:
    """A failed Redis command (NOSCRIPT is not a failure: the script is loaded and the call repeated)."""
    if not isinstance(error, NoScriptError):
        found = instruments()
        found.tally.inc(found.redis_errors.labels(type(error).__name__), 1)
