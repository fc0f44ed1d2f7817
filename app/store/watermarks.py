"""Revocation at any scale: valid-from watermarks (user, application, tenant), the access-token
denylist, and the cleanup jobs that bury what a watermark killed.

A watermark is one write that every script checks in the round trip it already makes, so it is
effective at once whatever the number of tokens; the physical work (deleting the records, their
pointers and index entries) happens afterwards in small batches (`cleanup_step`, driven by the
worker) that never hold Redis for more than a few milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from app.store import keys
from app.store.lua import Call, ReplicaWait, Scripts, Write, run_pipelined
from app.store.tokens import RevokeCount, _tag, split_ids

CLEANUP_BATCH = 64  # members per bucket per step: about a millisecond of Redis time
REVOKE_EVENT = "jwt.refresh-token.revoke"


@dataclass(frozen=True)
class CleanupStep:
    buried: int
    done: bool  # nothing of the application is left to bury


@dataclass(frozen=True)
class UserReset:
    valid_from: int
    count: RevokeCount


class WatermarkStore:
    def __init__(
        self,
        client: redis.Redis,
        scripts: Scripts,
        stream_max_length: int,
        cleanup_batch: int = CLEANUP_BATCH,
        replica_wait: ReplicaWait | None = None,
    ):
        self._redis = client
        self._scripts = scripts
        self._maxlen = stream_max_length
        self.cleanup_batch = cleanup_batch
        self._wait = replica_wait if replica_wait is not None and replica_wait.active else None

    def _revoking(self, calls: Sequence[Write]) -> list[Any]:
        """Writes that revoke, in one round trip per master: acknowledged only once a replica has
        them, when the setting says so (app/store/lua.py ReplicaWait)."""
        if not calls:  # a tenant without applications
            return []
        if self._wait is not None:
            return self._wait.run(calls)
        return run_pipelined(self._redis, calls)

    def invalidate_user(self, user_id: str, *, cap: int, event: str, access_ttl_ms: int) -> UserReset:
        """Set the user's valid-from to now and revoke their live tokens, one script (one round trip)."""
        tag = _tag(user_id)
        script_keys = [keys.user_valid_from(tag, user_id), keys.user_index(tag, user_id)]
        args: list[Any] = [tag, cap, self._maxlen, event, access_ttl_ms, user_id]
        if self._wait is None:
            result = self._scripts.invalidate_user(keys=script_keys, args=args)
        else:
            result = self._wait.run([(self._scripts.invalidate_user, script_keys, args)])[0]
        return UserReset(int(result[0]), RevokeCount(int(result[1]), 0, split_ids(result[2])))

    def user_valid_from(self, user_id: str) -> int | None:
        value = self._redis.get(keys.user_valid_from(_tag(user_id), user_id))
        return int(str(value)) if value else None

    def revoke_applications(
        self, application_ids: Sequence[str], *, cap: int, event: str, access_ttl_ms: int, tenant_id: str | None = None
    ) -> RevokeCount:
        """Watermark applications in every bucket (and the tenant, when given), count what that covered,
        and queue the burial: two round trips, whatever the number of tokens.

        1. One pipeline of watermark_app.lua, one per application and bucket, each atomic in its bucket:
           it writes the watermark, counts, and moves the killed ids aside for the burial.
        2. One pipeline with the tenant's watermark, the cleanup job(s), and ONE revoke event carrying
           the totals (invalidated, previously invalidated, the capped ids), appended to the stream of
           the application's bucket (the tenant's, for a tenant). The event is written right after the
           watermarks, not in the same atomic step as them: they span 16 slots, and no script can touch
           more than one. Should this round trip fail, the revoke is in force without its event or its
           job; the caller sees a 503 and retries (revokes are idempotent), and the retry appends the
           event, reporting those tokens as previously invalidated, and queues the burial.

        The tenant's watermark is the earliest of the applications' (Redis's clock, never this host's),
        so it kills nothing that they did not: it is there for a token of an application the listing
        missed, and lives as long as an access token."""
        calls: list[Call] = []
        share = -(-cap // len(keys.TAGS))  # each bucket names at most its share of the ids returned
        for application_id in application_ids:
            for tag in keys.TAGS:
                calls.append(
                    (
                        self._scripts.watermark_app,
                        [
                            keys.app_index(tag, application_id),
                            keys.app_tombstones(tag, application_id),
                            keys.app_valid_from(tag, application_id),
                            keys.app_killed(tag, application_id),
                            keys.app_buried(tag, application_id),
                        ],
                        [tag, share, access_ttl_ms],
                    )
                )
        marks: list[int] = []
        invalidated = previously = 0
        ids: list[str] = []
        for result in self._revoking(calls):
            marks.append(int(result[0]))
            invalidated += int(result[1])
            previously += int(result[2])
            ids += [str(i) for i in result[3:]]
        ids = ids[:cap]  # as stored (keys.stored_id): so the event keeps them; the answer names them whole
        writes: list[Write] = []
        if tenant_id and marks:
            for tag in keys.TAGS:
                key = keys.tenant_valid_from(tag, tenant_id)
                writes.append((None, [key], ["SET", key, min(marks), "PX", access_ttl_ms + 60_000]))
        job = time.time_ns() // 1000  # a new score for each revoke: see _drop_job
        jobs: list[Any] = []
        for application_id in application_ids:
            jobs += [job, application_id]
        if jobs:  # a tenant may have no applications
            writes.append((None, [keys.CLEANUP_JOBS], ["ZADD", keys.CLEANUP_JOBS, *jobs]))
        if invalidated:
            scope = tenant_id or (application_ids[0] if len(application_ids) == 1 else "")
            stream = keys.events(keys.tag_of_name(scope))
            fields = {"t": REVOKE_EVENT, "d": event, "n": invalidated, "p": previously, "ids": ",".join(ids)}
            command = ["XADD", stream, "MAXLEN", "~", self._maxlen, "*"]
            for name, value in fields.items():
                command += [name, value]
            writes.append((None, [stream], command))
        self._revoking(writes)
        return RevokeCount(invalidated, previously, keys.public_ids(ids))

    def deny_access_token(self, jti: str, expiry_ms: int) -> bool:
        """Deny one access token until it expires; False when it was denied already."""
        key = keys.denied(_tag(jti), jti)
        if self._wait is None:
            return bool(self._redis.set(key, 1, pxat=expiry_ms, nx=True))
        return bool(self._wait.run([(None, [key], ["SET", key, 1, "PXAT", expiry_ms, "NX"])])[0])

    def is_denied(self, jti: str) -> bool:
        return bool(self._redis.exists(keys.denied(_tag(jti), jti)))

    def sessionless_revoked(
        self, *, jti: str, user_id: str, application_id: str, tenant_id: str, issued_ms: int
    ) -> bool:
        """Whether an access token with no session (vended, or issued without a refresh token) is dead:
        its jti denied, or issued at or before its user's, application's or tenant's valid-from
        ('' = not named by the token). One pipelined round trip."""
        tag = _tag(jti) if jti else keys.TAGS[0]  # application and tenant watermarks are in every bucket
        pipe = self._redis.pipeline(transaction=False)
        pipe.execute_command(  # MGET of one slot (a Cluster pipeline refuses the mget() method)
            "MGET",
            keys.denied(tag, jti or "-"),
            keys.app_valid_from(tag, application_id or "-"),
            keys.tenant_valid_from(tag, tenant_id or "-"),
        )
        if user_id:
            pipe.get(keys.user_valid_from(_tag(user_id), user_id))
        results = pipe.execute()
        denied, *marks = results[0]
        if jti and denied:
            return True
        if user_id:
            marks.append(results[1])
        return any(mark is not None and issued_ms <= int(mark) for mark in marks)

    def pending_cleanups(self) -> list[str]:
        return [str(a) for a in self._redis.zrange(keys.CLEANUP_JOBS, 0, 99)]

    def bury_users_step(self) -> CleanupStep:
        """Turn one small batch (at most `cleanup_batch` tokens per bucket) of the tokens revokes of users
        killed whole into tombstones: one pipelined round trip of one short script per bucket. `done`
        when no bucket has anything left; progress lives in Redis (each user's killed indexes shrink)."""
        calls: list[Call] = [
            (self._scripts.bury_users, [keys.burial_queue(tag)], [tag, self.cleanup_batch]) for tag in keys.TAGS
        ]
        results = run_pipelined(self._redis, calls)
        return CleanupStep(sum(int(r[1]) for r in results), all(int(r[0]) == 0 for r in results))

    def cleanup_step(self, application_id: str) -> CleanupStep:
        """Bury one small batch (at most `cleanup_batch` tokens) in every bucket: one pipelined round
        trip of one short script per bucket. Progress lives in Redis (the killed index shrinks), so a
        cleanup killed midway loses nothing and any later step resumes it. When every bucket is done,
        the job is dropped, unless a revoke of the application came meanwhile (its score moved)."""
        job = self._redis.zscore(keys.CLEANUP_JOBS, application_id)
        calls: list[Call] = [
            (
                self._scripts.cleanup_app,
                [keys.app_killed(tag, application_id), keys.app_buried(tag, application_id)],
                [tag, self.cleanup_batch],
            )
            for tag in keys.TAGS
        ]
        results = run_pipelined(self._redis, calls)
        left = sum(int(r[0]) for r in results)
        buried = sum(int(r[1]) for r in results)
        if left == 0 and job is not None:
            self._drop_job(application_id, job)
        return CleanupStep(buried, left == 0)

    def _drop_job(self, application_id: str, seen: float) -> None:
        """Remove the application's job if its score is still the one seen before the step: a revoke
        since then (which rewrites the score with its own instant, in microseconds) keeps it queued,
        whether or not another worker dropped and it re-added the job meanwhile."""
        with self._redis.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(keys.CLEANUP_JOBS)
                if pipe.zscore(keys.CLEANUP_JOBS, application_id) == seen:
                    pipe.multi()
                    pipe.zrem(keys.CLEANUP_JOBS, application_id)
                    pipe.execute()
            except redis.WatchError:
                pass  # another job changed meanwhile: the next step looks again
