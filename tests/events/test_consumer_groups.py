"""Audit consumers on the streams with a consumer group: XREADGROUP, XACK, and XAUTOCLAIM taking over
what a crashed consumer held; and the reference consumer command doing exactly that."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis

from app import events
from app.consumer import Consumer
from app.store.events import EventStore
from tests.api.helpers import mint, new_application, user
from tests.conftest import RedisServer

ROOT = Path(__file__).resolve().parents[2]


def _pending(client: redis.Redis, group: str) -> int:
    return EventStore(client).backlog(group).pending


def test_a_crashed_consumers_pending_events_are_claimed_and_acknowledged_by_another(
    client: Any, redis_client: redis.Redis
) -> None:
    streams = EventStore(redis_client)
    first, second = (Consumer(streams, "audit", name, claim_idle_ms=60_000) for name in ("c1", "c2"))
    first.start()
    application = new_application(client)
    minted = {mint(client, user(), application)["refreshTokenId"] for _ in range(20)}

    held = first.poll()  # c1 reads everything ... and crashes before acknowledging any of it
    assert len(held) == 20 and _pending(redis_client, "audit") == 20
    assert second.poll() == []  # not idle long enough yet: c1 may still be working on them
    written: list[dict[str, Any]] = []
    second.claim_idle_ms = 0

    second.run(written.append, once=True)

    assert {i for e in written for i in e["refreshTokenIds"]} == minted
    assert _pending(redis_client, "audit") == 0


def test_a_consumer_restarted_under_its_name_first_rereads_what_it_never_acknowledged(
    client: Any, redis_client: redis.Redis
) -> None:
    streams = EventStore(redis_client)
    before = Consumer(streams, "audit", "c1", claim_idle_ms=60_000)
    before.start()
    application = new_application(client)
    minted = {mint(client, user(), application)["refreshTokenId"] for _ in range(5)}
    assert len(before.poll()) == 5  # then the process dies

    again = Consumer(streams, "audit", "c1", claim_idle_ms=60_000)
    written: list[dict[str, Any]] = []
    again.run(written.append, once=True)

    assert {i for e in written for i in e["refreshTokenIds"]} == minted
    assert _pending(redis_client, "audit") == 0


def test_the_reference_consumer_command_takes_over_and_writes_json_lines(
    client: Any, redis_client: redis.Redis, redis_server: RedisServer, tmp_path: Path
) -> None:
    streams = EventStore(redis_client)
    crashed = Consumer(streams, "audit", "c1", claim_idle_ms=0)
    crashed.start()
    application = new_application(client)
    owner = user()
    minted = [mint(client, owner, application)["refreshTokenId"] for _ in range(8)]
    held = crashed.poll()
    assert len(held) == 8
    out = tmp_path / "audit.jsonl"

    env = {**os.environ, "REDIS_URL": redis_server.url}
    command = [sys.executable, "-m", "app.consumer", "--group", "audit", "--name", "c2", "--out", str(out)]
    subprocess.run([*command, "--claim-idle", "0.001", "--once"], cwd=ROOT, env=env, check=True, timeout=30)

    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(i for e in lines for i in e["refreshTokenIds"]) == sorted(minted)
    assert all(e["type"] == events.CREATE and e["userId"] == owner for e in lines)
    assert _pending(redis_client, "audit") == 0
