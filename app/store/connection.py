"""Connecting to Redis, or to the embedded in-process store when no REDIS_URL is set."""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from typing import IO

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

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
    return redis.Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_connect_timeout=settings.redis_connect_timeout,
        socket_timeout=settings.redis_read_timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
        health_check_interval=30,
    )


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
