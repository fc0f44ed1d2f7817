"""Revocation at any scale: valid-from watermarks (user, application, tenant), the access-token
denylist, and the cleanup jobs that bury what a watermark killed.

A watermark is one write that every script checks in the round trip it already makes, so it is
effective at once whatever the number of tokens; the physical work (tombstoning the records,
dropping them from the indexes) happens afterwards in small batches (`cleanup_step`, driven by
the worker) that never hold Redis for more than a few milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from app.store import keys
from app.store.lua import Call, Scripts, run_pipelined
from app.store.tokens import RevokeCount, _tag

CLEANUP_BATCH = 64  # members per bucket per step: about a millisecond of Redis time


@dataclass(frozen=True)
class UserReset:
    valid_from: int
    count: RevokeCount


class WatermarkStore:
    def __init__(self, client: redis.Redis, scripts: Scripts, stream_max_length: int):
        self._redis = client
        self._scripts = scripts
        self._maxlen = stream_max_length

    def invalidate_user(self, user_id: str, *, cap: int, event: str, access_ttl_ms: int) -> UserReset:
        """Set the user's valid-from to now and revoke their live tokens, one script (one round trip)."""
        tag = _tag(user_id)
        result = self._scripts.invalidate_user(
            keys=[keys.user_valid_from(tag, user_id), keys.user_index(tag, user_id)],
            args=[tag, cap, self._maxlen, event, access_ttl_ms],
        )
        return UserReset(int(result[0]), RevokeCount(int(result[1]), 0, list(result[2:])))

    def user_valid_from(self, user_id: str) -> int | None:
        value = self._redis.get(keys.user_valid_from(_tag(user_id), user_id))
        return int(str(value)) if value else None

    def revoke_applications(
        self, application_ids: Sequence[str], *, cap: int, event: str, access_ttl_ms: int, tenant_id: str | None = None
    ) -> RevokeCount:
        """Watermark applications in every bucket (and the tenant, when given), count what that
        covered, and queue the burial: one pipelined round trip for the scripts, one for the queue.
        Each bucket's part is atomic; a retry after a failure reports the rest as previously invalidated."""
        calls: list[Call] = []
        for application_id in application_ids:
            for tag in keys.TAGS:
                calls.append(
                    (
                        self._scripts.watermark_app,
                        [
                            keys.app_index(tag, application_id),
                            keys.app_tombstones(tag, application_id),
                            keys.app_valid_from(tag, application_id),
                            keys.app_pending(tag, application_id),
                            keys.app_buried(tag, application_id),
                        ],
                        # each bucket names at most its share of the ids the answer may carry
                        [
                            tag,
                            -(-cap // len(keys.TAGS)),
                            self._maxlen,
                            event if tag == keys.TAGS[0] else "",
                            access_ttl_ms,
                        ],
                    )
                )
        invalidated = previously = 0
        ids: list[str] = []
        for result in run_pipelined(self._redis, calls):
            invalidated += int(result[0])
            previously += int(result[1])
            ids += result[2:]
        pipe = self._redis.pipeline(transaction=False)
        now = int(time.time() * 1000)
        if tenant_id:
            for tag in keys.TAGS:
                # every token of the tenant is covered by its application's watermark; this one is
                # for access tokens, so it lives as long as the longest of them
                pipe.set(keys.tenant_valid_from(tag, tenant_id), now, px=access_ttl_ms + 60_000)
        for application_id in application_ids:
            pipe.zadd(keys.CLEANUP_JOBS, {application_id: now})
        pipe.execute()
        return RevokeCount(invalidated, previously, ids[:cap])

    def deny_access_token(self, jti: str, expiry_ms: int) -> bool:
        """Deny one access token until it expires; False when it was denied already."""
        tag = _tag(jti)
        return bool(self._redis.set(keys.denied(tag, jti), 1, pxat=expiry_ms, nx=True))

    def is_denied(self, jti: str) -> bool:
        return bool(self._redis.exists(keys.denied(_tag(jti), jti)))

    def pending_cleanups(self) -> list[str]:
        return [str(a) for a in self._redis.zrange(keys.CLEANUP_JOBS, 0, 99)]

    def cleanup_step(self, application_id: str, cursors: dict[str, str]) -> tuple[dict[str, str], int]:
        """One small batch in every bucket not yet walked; returns the cursors left and how many tokens
        were buried. When no cursor is left, the application's burial is done and its job dropped."""
        tags = [t for t in keys.TAGS if cursors.get(t, "0") != "done"]
        calls: list[Call] = [
            (
                self._scripts.cleanup_app,
                [keys.app_index(tag, application_id)],
                [tag, cursors.get(tag, "0"), CLEANUP_BATCH],
            )
            for tag in tags
        ]
        buried = 0
        left: dict[str, str] = {t: c for t, c in cursors.items() if c == "done"}
        for tag, (cursor, count) in zip(tags, run_pipelined(self._redis, calls), strict=True):
            buried += int(count)
            left[tag] = "done" if str(cursor) == "0" else str(cursor)
        if all(left.get(t) == "done" for t in keys.TAGS):
            self._redis.zrem(keys.CLEANUP_JOBS, application_id)
        return left, buried
