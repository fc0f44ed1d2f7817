"""`refreshd doctor`: is the Redis at REDIS_URL fit to hold revocations? Each check says plainly what is
wrong and what to set; any problem makes the command exit non-zero.

- reachable at all;
- `maxmemory-policy noeviction`: an evicting Redis drops tombstones and watermarks when memory runs
  short, and revoked tokens silently work again;
- `appendonly yes`: without the append-only file a restart loses every revocation since the last
  snapshot; `appendfsync always` (or `everysec`, which may lose the last second of acknowledged
  writes on a power cut; `no` leaves it to the OS, tens of seconds);
- the last AOF write and snapshot succeeded; memory is not close to `maxmemory` (with noeviction,
  a full Redis refuses writes: every mint and revoke fails).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

OK, NOTE, PROBLEM = "ok", "note", "PROBLEM"
MEMORY_WARNING = 0.9


@dataclass(frozen=True)
class Finding:
    level: str
    text: str


def examine(client: redis.Redis, where: str) -> list[Finding]:
    """What is right and wrong with this Redis, in the order an operator should read it."""
    try:
        info: dict[str, Any] = client.info()
    except redis.RedisError as error:
        return [Finding(PROBLEM, f"cannot reach Redis at {where}: {type(error).__name__}: {error}")]
    found = [Finding(OK, f"Redis {info.get('redis_version', '?')} answers at {where}")]
    try:
        config = {str(k): str(v) for k, v in client.config_get("*").items()}
    except redis.ResponseError as error:
        return [
            *found,
            Finding(
                PROBLEM,
                f"cannot read the configuration (CONFIG GET refused: {error}); make sure yourself that "
                "maxmemory-policy is noeviction and appendonly is yes",
            ),
        ]
    for check in CHECKS:
        found += check(config, info)
    return found


def _eviction(config: dict[str, str], info: dict[str, Any]) -> list[Finding]:
    policy = config.get("maxmemory-policy", "?")
    if policy == "noeviction":
        return [Finding(OK, "maxmemory-policy is noeviction")]
    return [
        Finding(
            PROBLEM,
            f"maxmemory-policy is {policy}: when memory runs short Redis will delete keys, including the "
            "tombstones and watermarks that keep revoked tokens dead, and revoked tokens will work again. "
            "Set `maxmemory-policy noeviction` (memory is bounded by the keys' expiry instead).",
        )
    ]


def _persistence(config: dict[str, str], info: dict[str, Any]) -> list[Finding]:
    if config.get("appendonly") != "yes":
        saves = config.get("save") or "none"
        return [
            Finding(
                PROBLEM,
                f"appendonly is {config.get('appendonly', '?')}: a restart loses every revocation made since "
                f"the last snapshot (save: {saves}), and those tokens work again. Set `appendonly yes` "
                "with `appendfsync always` (or everysec).",
            )
        ]
    fsync = config.get("appendfsync", "?")
    if fsync == "always":
        return [Finding(OK, "appendonly yes, appendfsync always: an acknowledged revoke survives a power cut")]
    if fsync == "everysec":
        return [Finding(NOTE, "appendonly yes, appendfsync everysec: a power cut may lose up to 1 s of revokes")]
    return [
        Finding(
            PROBLEM,
            f"appendfsync is {fsync}: the OS decides when revocations reach the disk (tens of seconds). "
            "Set `appendfsync always` (or everysec).",
        )
    ]


def _last_writes(config: dict[str, str], info: dict[str, Any]) -> list[Finding]:
    out = []
    for field, what in (("aof_last_write_status", "append-only file"), ("rdb_last_bgsave_status", "snapshot")):
        status = info.get(field)
        if status not in (None, "ok"):
            out.append(Finding(PROBLEM, f"the last {what} write failed ({field}: {status}): check the disk"))
    return out


def _memory(config: dict[str, str], info: dict[str, Any]) -> list[Finding]:
    limit = int(config.get("maxmemory") or 0)
    used = int(info.get("used_memory") or 0)
    if not limit:
        return [Finding(NOTE, f"no maxmemory limit; {used / 2**20:.1f} MiB in use")]
    share = used / limit
    text = f"{used / 2**20:.1f} MiB of maxmemory {limit / 2**20:.1f} MiB in use ({share:.0%})"
    if share >= MEMORY_WARNING:
        return [Finding(PROBLEM, text + ": with noeviction a full Redis refuses writes (every mint and revoke)")]
    return [Finding(OK, text)]


CHECKS: tuple[Callable[[dict[str, str], dict[str, Any]], list[Finding]], ...] = (
    _eviction,
    _persistence,
    _last_writes,
    _memory,
)
