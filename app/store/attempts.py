"""Counting failed attempts per client address, for the abuse limits (app/throttle.py)."""

from __future__ import annotations

import redis

from app.store import keys


class FailedAttempts:
    def __init__(self, client: redis.Redis):
        self._redis = client

    def count(self, kind: str, address: str, window_seconds: int) -> tuple[int, int]:
        """Count one more failed attempt in the current window (which the first one opens): the count
        so far and the milliseconds left in the window. One round trip."""
        key = keys.failed_attempts(kind, address)
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(key, 0, ex=window_seconds, nx=True)
        pipe.incr(key)
        pipe.pttl(key)
        _, count, left = pipe.execute()
        return int(count), max(int(left), 0)
