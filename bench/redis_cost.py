"""Redis's own cost of each store operation, counted in instructions: repeatable on a noisy machine.

    .venv/bin/python bench/redis_cost.py            # 300 calls of each operation, about a minute
    CALLS=1000 .venv/bin/python bench/redis_cost.py

Runs its own redis-server under valgrind's callgrind (instructions, not seconds: the same count for
the same code and inputs, whatever else the machine does; a redis-server under callgrind is ~50x
slower, so this is no throughput measure, and instructions are only user space: a round trip's
socket calls are not in them) and calls the store's scripts as the service does (mint,
exchange, revoke by value and by id of minted tokens, a listing of 20 and an application-wide
count, and a revoke of a user holding 1,000 tokens, as the peers harness's revoke_user row sends it),
dumping callgrind's counters between phases. Prints thousands of instructions a call,
beside a bare GET and an EVALSHA of `return 1` (the floor any script pays), and the Redis memory a
minted token takes (INFO used_memory before and after the mints, over CALLS tokens, its creation
event apart; bench/scale.py measures 100,000 at once), also with a FusionAuth-style device
description as metaData and for a one-time token after its first rotation (the record's encoding
shown: a listpack, or a hashtable when a field outgrew 64 bytes). Compare runs before and after a
change to a script.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.dirname(BENCH))

import redis  # noqa: E402
import run as harness  # noqa: E402  (process helpers)

from app.store import keys  # noqa: E402
from app.store.lua import Scripts  # noqa: E402
from app.store.tokens import NewToken, RefreshTokenStore  # noqa: E402
from app.tokens import _seal  # noqa: E402  (a one-time rotation seals its next value as the service does)

CALLS = int(os.environ.get("CALLS", "300"))
USERS_REVOKED = 3  # revokes of a user holding 1,000 tokens
APP, TENANT = str(uuid.uuid4()), str(uuid.uuid4())
DAY = f"F:{86_400_000}"
DEVICE = {
    "device": {
        "name": "Chrome on macOS",
        "description": "Robotic's MacBook Pro",
        "type": "BROWSER",
        "lastAccessedAddress": "203.0.113.7",
    }
}
EVENT = json.dumps({"id": str(uuid.uuid4()), "type": "jwt.refresh-token.revoke", "info": {"ipAddress": "10.0.0.1"}})


def next_value(token_id: str) -> tuple[str, str]:
    value = keys.new_token_value(token_id)
    return keys.digest(value), "sealed"


def main() -> int:
    for tool in ("valgrind", "callgrind_control", "redis-server"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing (apt-get install -y valgrind redis-server)")
    port, out = harness.free_port(), tempfile.mkdtemp(prefix="redis-cost-")
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.%p", "redis-server", "--port", str(port)]
        + ["--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port, decode_responses=True)
        harness.wait_redis(client, seconds=60)  # slow to start under callgrind
        results = measure(client, server.pid)
    finally:
        server.terminate()
        server.wait()
    counts = {}
    for path in glob.glob(f"{out}/cg.*"):
        with open(path) as f:
            text = f.read()
        phase = re.search(r"^desc: Trigger: dump (.+)$", text, re.M)
        total = re.search(r"^summary: (\d+)", text, re.M)
        if phase and total:
            counts[phase.group(1)] = int(total.group(1))
    shutil.rmtree(out, ignore_errors=True)
    print(f"| operation | thousand Redis instructions a call (n={CALLS}) |\n|---|--:|")
    for phase, calls in results["calls"].items():
        print(f"| {results['labels'][phase]} | {counts[phase] / calls / 1000:.1f} |")
    print(
        f"\nRedis memory a minted token: {results['bytes_per_token']:.0f} bytes, its record and indexes"
        f" (used_memory, n={CALLS}), and {results['event_bytes']:.0f} bytes of its creation event in the"
        " bucket's stream (until the stream's MAXLEN trims it)"
    )
    for name, (size, encodings) in results["other_tokens"].items():
        print(f"{name}: {size:.0f} bytes (records: {encodings})")
    return 0


def measure(client: redis.Redis, pid: int) -> dict:
    store = RefreshTokenStore(client, Scripts.register(client), 1000)
    calls: dict[str, int] = {}
    labels: dict[str, str] = {}

    def phase(name: str, count: int, step: Callable[[int], object]) -> None:
        for i in range(count):
            step(i)
        slug = re.sub(r"\W+", "_", name)  # callgrind_control takes a plain word
        subprocess.run(["callgrind_control", "-d", slug, str(pid)], capture_output=True, check=False)
        calls[slug] = count
        labels[slug] = name

    users = [keys.new_token_id(i % 16) for i in range(max(1, CALLS // 10))]
    lister = keys.new_token_id(3)
    minted: list[tuple[str, str]] = []

    def mint(i: int, user: str | None = None, meta: dict | None = None, one_time: str = "") -> None:
        user = user or users[i % len(users)]
        token, value = _new_token(user, meta, one_time)
        store.mint(keys.TAGS[int(user[-1], 16)], [token], EVENT)
        minted.append((token.token_id, value))

    for i in range(20):
        mint(i, lister)
    client.set("floor:key", "x")
    floor_sha = client.script_load("return 1")
    mint(0)
    store.exchange(keys.presented(minted[-1][1]), "10.0.0.1", EVENT, next_value)  # every script loaded
    subprocess.run(["callgrind_control", "-d", "setup", str(pid)], capture_output=True, check=False)
    minted.clear()
    phase("GET (floor)", CALLS, lambda i: client.get("floor:key"))
    phase("EVALSHA return 1 (floor)", CALLS, lambda i: client.evalsha(floor_sha, 0))

    def used() -> tuple[int, int]:  # Redis memory in all, and its event streams' share
        streams = sum(client.memory_usage(keys.events(tag), samples=0) or 0 for tag in keys.TAGS)
        return int(client.info("memory")["used_memory"]), streams

    before = used()
    phase("mint", CALLS, mint)
    after = used()
    bytes_per_token = ((after[0] - before[0]) - (after[1] - before[1])) / CALLS
    event_bytes = (after[1] - before[1]) / CALLS
    half = CALLS // 2
    phase("exchange", half, lambda i: store.exchange(keys.presented(minted[i][1]), "10.0.0.1", EVENT, next_value))
    phase("revoke by value", half, lambda i: store.revoke_token(event=EVENT, presented=keys.presented(minted[i][1])))
    phase("revoke by id", CALLS - half, lambda i: store.revoke_token(event=EVENT, token_id=minted[half + i][0]))
    phase(
        "list 20 (kept: the same listing again)",
        CALLS,
        lambda i: store.list_tokens(lister, None, tenant="", limit=100, cursor=None),
    )
    phase("live count of an application", CALLS, lambda i: store.live_counts([APP], int(time.time() * 1000)))
    minted.clear()
    for i in range(CALLS):
        mint(i, one_time="30000:1")
    subprocess.run(["callgrind_control", "-d", "setup", str(pid)], capture_output=True, check=False)
    phase(
        "exchange, one-time (rotates)",
        CALLS,
        lambda i: store.exchange(keys.presented(minted[i][1]), "10.0.0.1", EVENT, next_value),
    )
    # A revoke of a user holding 1,000 tokens (the peers harness's revoke_user row), beside 5 other
    # users of the application holding as many, so the application's index is not just theirs.
    holders = [keys.new_token_id(5) for _ in range(USERS_REVOKED + 5)]
    for user in holders:
        for _batch in range(10):
            store.mint(keys.TAGS[5], [_new_token(user)[0] for _ in range(100)], EVENT)
    subprocess.run(["callgrind_control", "-d", "setup", str(pid)], capture_output=True, check=False)
    phase(
        "revoke a user's 1,000 tokens",
        USERS_REVOKED,
        lambda i: store.revoke_user(holders[i], None, tenant="", cap=1000, event=EVENT),
    )
    return {
        "calls": calls,
        "labels": labels,
        "bytes_per_token": bytes_per_token,
        "event_bytes": event_bytes,
        "other_tokens": other_tokens(client, store, mint, minted, used),
    }


def _new_token(user: str, meta: dict | None = None, one_time: str = "") -> tuple[NewToken, str]:
    """A token of `user` (in the user's bucket) to mint, and its value."""
    token_id = keys.new_token_id(int(user[-1], 16))
    value = keys.new_token_value(token_id)
    return NewToken(token_id, keys.digest(value), user, APP, TENANT, DAY, meta or {}, one_time=one_time), value


def other_tokens(client: redis.Redis, store: RefreshTokenStore, mint: Callable, minted: list, used: Callable) -> dict:
    """Redis bytes a token (events apart) with device metaData, and one-time after its first rotation."""

    def rotate(value: str) -> None:
        def sealed_next(token_id: str) -> tuple[str, str]:
            after = keys.new_token_value(token_id)
            return keys.digest(after), _seal(value, after)

        store.exchange(keys.presented(value), "203.0.113.7", EVENT, sealed_next)

    out = {}
    for name, meta, one_time in (
        ("Redis memory a token with a device description as metaData", DEVICE, ""),
        ("Redis memory a one-time token after its first rotation (grace window on)", None, "30000:1"),
    ):
        minted.clear()
        before = used()
        for i in range(CALLS):
            mint(i, meta=meta, one_time=one_time)
        if one_time:
            for _, value in minted:
                rotate(value)
        after = used()
        encodings: dict[str, int] = {}
        for token_id, _ in minted:
            encoding = client.object("encoding", keys.record(keys.TAGS[int(token_id[-1], 16)], token_id))
            encodings[encoding] = encodings.get(encoding, 0) + 1
        out[name] = (((after[0] - before[0]) - (after[1] - before[1])) / CALLS, encodings)
    return out


if __name__ == "__main__":
    sys.exit(main())
