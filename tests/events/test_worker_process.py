"""The worker as the Procfile runs it (`python -m app.worker`, a process of its own): killed with
SIGKILL in the middle of deliveries it loses nothing; SIGTERM stops it cleanly, losing nothing; and
delivery waits out a Redis restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from app import create_app
from app.delivery import delivery_for
from tests.api.helpers import mint, new_application, user
from tests.conftest import RedisServer, make_settings
from tests.events.conftest import FAST, Receiver
from tests.events.helpers import REVOKE, create_webhook, revoke_token, wait_until_delivered

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    def __init__(self, redis_url: str):
        env = {k: v for k, v in os.environ.items() if not k.startswith("REFRESHD_")}
        env.update(
            REDIS_URL=redis_url,
            REFRESHD_WEBHOOK_BACKOFF_SECONDS="0.05",
            REFRESHD_WEBHOOK_BACKOFF_MAX_SECONDS="0.2",
            REFRESHD_WEBHOOK_CLAIM_IDLE_SECONDS="0.5",
            REFRESHD_WEBHOOK_POLL_SECONDS="0.02",
            REFRESHD_WEBHOOK_BATCH="2",
        )
        self.log = tempfile.NamedTemporaryFile(prefix="refreshd-worker-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.worker"], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        return Path(self.log.name).read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()
        os.unlink(self.log.name)


def _revoke_many(client: Any, receiver: Receiver, count: int) -> set[str]:
    application = new_application(client)
    create_webhook(client, receiver.url, REVOKE, maximumAttempts=100, connectTimeout=200, readTimeout=500)
    tokens = [mint(client, user(), application) for _ in range(count)]
    for token in tokens:
        revoke_token(client, token["refreshToken"])
    return {t["refreshTokenId"] for t in tokens}


def _delivered_ids(receiver: Receiver) -> set[str]:
    return {i for e in receiver.events() for i in e["refreshTokenIds"]}


def test_a_worker_killed_mid_delivery_and_restarted_loses_nothing(
    client: Any, receiver: Receiver, redis_server: RedisServer
) -> None:
    receiver.delay = 0.03
    expected = _revoke_many(client, receiver, 60)
    first = Worker(redis_server.url)
    try:
        receiver.wait_for(10, timeout=20)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
        assert len(_delivered_ids(receiver)) < 60, "the kill came after every delivery: nothing was tested"
    finally:
        first.stop()
    second = Worker(redis_server.url)
    try:
        receiver.wait_for(60, timeout=20)
        wait_until_delivered(client)
    finally:
        second.stop()
    assert _delivered_ids(receiver) == expected


def test_sigterm_stops_the_worker_cleanly_and_the_next_one_finishes_the_work(
    client: Any, receiver: Receiver, redis_server: RedisServer
) -> None:
    receiver.delay = 0.05
    expected = _revoke_many(client, receiver, 30)
    first = Worker(redis_server.url)
    try:
        receiver.wait_for(3, timeout=20)
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(10) == 0, first.output()
        assert "worker stopped" in first.output()
    finally:
        first.stop()
    second = Worker(redis_server.url)
    try:
        receiver.wait_for(30, timeout=20)
        wait_until_delivered(client)
    finally:
        second.stop()
    assert _delivered_ids(receiver) == expected


def test_delivery_carries_on_across_a_redis_restart(receiver: Receiver) -> None:
    server = RedisServer("--appendonly", "yes", "--appendfsync", "always")
    delivery = None
    try:
        app = create_app(make_settings(server.url, **FAST))
        client = app.test_client()
        delivery = delivery_for(app.extensions["refreshd"], app.extensions["refreshd"].settings)
        threading.Thread(target=delivery.run, daemon=True).start()
        application = new_application(client)
        create_webhook(client, receiver.url, REVOKE, maximumAttempts=100)
        tokens = [mint(client, user(), application) for _ in range(6)]
        for token in tokens[:3]:
            revoke_token(client, token["refreshToken"])
        receiver.wait_for(3)

        server = server.restart()
        for token in tokens[3:]:
            revoke_token(client, token["refreshToken"])

        receiver.wait_for(6, timeout=15)
        assert _delivered_ids(receiver) == {t["refreshTokenId"] for t in tokens}
    finally:
        if delivery is not None:
            delivery.stop()
        server.stop()
