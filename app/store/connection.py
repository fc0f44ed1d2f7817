"""Connecting to Redis, or to the embedded in-process store when no REDIS_URL is set."""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import threading
import weakref
from time import perf_counter
from typing import IO, Any

import redis
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.connection import AbstractConnection
from redis.retry import Retry

from app import metrics
from app.config import Settings

log = logging.getLogger(__name__)

EMBEDDED_NOTICE = (
    "REDIS_URL is not set: refreshd is running on its EMBEDDED IN-PROCESS STORE. Nothing is durable: "
    "every token, key and event is lost when this process stops, and it must run as a single process. "
    "Set REDIS_URL for anything but a trial."
)


def connect(settings: Settings) -> redis.Redis:
    """A client whose pool connects lazily (so it is safe to create before a server forks).

    Timeouts turn a stalled Redis into a fast error (503). A broken pooled connection is retried
    once on a fresh one (Redis restarted); a timeout is not retried, since a write may have landed.
    """
    if not settings.redis_url:
        import fakeredis

        _hold_embedded_lock()
        log.warning(EMBEDDED_NOTICE)
        return fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    return ThreadConnectionRedis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_connect_timeout=settings.redis_connect_timeout,
        socket_timeout=settings.redis_read_timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
        health_check_interval=30,
    )


class ThreadConnectionRedis(redis.Redis):
    """redis-py's client, sending each command on a connection of the calling thread's own.

    redis-py checks a connection out of its pool for every command (a lock, a pid check, a poll of
    the socket for stale data) and runs observability hooks around it: about 30 us of CPU a
    command, a fifth of a hot request. Each thread here keeps one connection instead (a new one
    after a fork), with the same settings, timeouts, health checks and retry: a ConnectionError is
    retried once on a fresh connection, and any error drops the connection, so a reply that never
    arrived cannot be read by the next command. Pipelines and pub/sub still use the pool.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._observe = metrics.instruments().redis_command
        self._own = threading.local()
        # weak: a thread that ends (Granian retires idle ones) takes its connection with it, closed
        self._opened: weakref.WeakSet[AbstractConnection] = weakref.WeakSet()
        self._opened_lock = threading.Lock()

    def execute_command(self, *args: Any, **options: Any) -> Any:
        connection = self._thread_connection()
        started = perf_counter()
        try:
            return connection.retry.call_with_retry(
                lambda: self._send(connection, args, options),
                lambda error: connection.disconnect(),
            )
        except redis.RedisError as error:
            metrics.redis_error(error)
            raise
        finally:
            self._observe(args[0], perf_counter() - started)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        return TimedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)

    def _send(self, connection: AbstractConnection, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
        try:
            connection.send_command(*args, **options)
            return self.parse_response(connection, args[0], **options)
        except redis.ResponseError:
            raise  # an error reply: it was read whole
        except BaseException:
            connection.disconnect()
            raise

    def _thread_connection(self) -> AbstractConnection:
        own = self._own
        if getattr(own, "pid", None) != os.getpid():
            pool = self.connection_pool
            own.connection = pool.connection_class(**pool.connection_kwargs)
            own.pid = os.getpid()
            with self._opened_lock:
                self._opened.add(own.connection)
        connection: AbstractConnection = own.connection
        return connection

    def close(self) -> None:
        with self._opened_lock:
            opened, self._opened = list(self._opened), weakref.WeakSet()
        for connection in opened:
            connection.disconnect()
        super().close()


class TimedPipeline(Pipeline):
    """A pipeline whose round trip is timed and whose failure is counted (app/metrics.py)."""

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        started = perf_counter()
        try:
            return super().execute(raise_on_error)
        except redis.RedisError as error:
            metrics.redis_error(error)
            raise
        finally:
            metrics.instruments().redis_command("pipeline", perf_counter() - started)


_lock_file: IO[str] | None = None


def _hold_embedded_lock() -> None:
    """The embedded store lives in one process: a second process (another worker) refuses to start,
    since it would silently see different data."""
    global _lock_file
    if _lock_file is not None:
        return
    path = os.path.join(tempfile.gettempdir(), f"refreshd-embedded-{os.getuid()}-{os.getcwd().replace('/', '_')}.lock")
    handle = open(path, "w")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise RuntimeError(
            "the embedded store (no REDIS_URL) runs in a single process: another refreshd "
            "process in this directory holds it. Run one worker, or set REDIS_URL."
        ) from None
    _lock_file = handle
