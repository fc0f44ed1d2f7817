"""Webhook delivery under a burst: how fast the Procfile's worker drains it, and how far behind it gets.

    .venv/bin/python bench/delivery.py                  # 5,000 revoke events, 1 worker, 1 webhook
    EVENTS=20000 WORKERS=2 WEBHOOKS=2 .venv/bin/python bench/delivery.py

Starts its own redis-server, a webhook receiver on 127.0.0.1 (Python's ThreadingHTTPServer, keep-alive),
and WORKERS `python -m app.worker` processes; appends EVENTS revoke events spread over the 16 bucket
streams in one pipeline (as EVENTS single-token revokes would: the events are what is measured, not
the revokes), then reports the time until every webhook has received every event, deliveries per
second, the largest backlog seen (GET /api/status's `webhookDelivery`, sampled every 100 ms) and
duplicates.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import create_app, events  # noqa: E402
from app.caller import Caller  # noqa: E402
from app.store import keys  # noqa: E402
from tests.conftest import API_KEY, RedisServer, make_settings  # noqa: E402
from tests.events.conftest import Receiver  # noqa: E402

EVENTS = int(os.environ.get("EVENTS", "5000"))
WORKERS = int(os.environ.get("WORKERS", "1"))
WEBHOOKS = int(os.environ.get("WEBHOOKS", "1"))


def burst(client: object, count: int) -> None:
    caller = Caller("apiKey", "bench", None, "127.0.0.1", "bench", "bench")
    pipe = client.pipeline(transaction=False)  # type: ignore[attr-defined]
    for i in range(count):
        data = events.build(events.REVOKE, caller, None, scope="token", user_id=f"user-{i}")
        tag = keys.TAGS[i % 16]
        pipe.xadd(keys.events(tag), {"t": events.REVOKE, "d": data, "n": 1, "p": 0, "ids": f"token-{i}"})
    pipe.execute()


def main() -> None:
    server = RedisServer()
    receivers = [Receiver() for _ in range(WEBHOOKS)]
    workers: list[subprocess.Popen[bytes]] = []
    try:
        app = create_app(make_settings(server.url))
        client = app.test_client()
        headers = {"Authorization": API_KEY}
        for receiver in receivers:
            body = {"webhook": {"url": receiver.url, "eventsEnabled": {events.REVOKE: True}}}
            assert client.post("/api/webhook", json=body, headers=headers).status_code == 200
        env = {**os.environ, "REDIS_URL": server.url}
        workers = [
            subprocess.Popen([sys.executable, "-m", "app.worker"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
            for _ in range(WORKERS)
        ]
        time.sleep(2.0)  # the workers start (imports) and see the webhooks
        worst = {"unreadEvents": 0, "pendingEvents": 0, "oldestPendingEventAgeInSeconds": 0.0}
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                lag = client.get("/api/status", headers=headers).json["webhookDelivery"]
                for name in worst:
                    worst[name] = max(worst[name], lag[name])
                done.wait(0.1)

        started = time.monotonic()
        burst(app.extensions["refreshd"].redis, EVENTS)
        appended = time.monotonic() - started
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        for receiver in receivers:
            receiver.wait_for(EVENTS, timeout=600)
        elapsed = time.monotonic() - started
        done.set()
        sampler.join()
        deliveries = sum(len(r.received) for r in receivers)
        print(f"events {EVENTS}, webhooks {WEBHOOKS}, workers {WORKERS}: appended in {appended:.2f} s")
        print(f"all delivered after {elapsed:.2f} s: {EVENTS * WEBHOOKS / elapsed:,.0f} deliveries/s")
        print(f"duplicates {deliveries - EVENTS * WEBHOOKS}; worst backlog seen: {worst}")
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(15)
        for receiver in receivers:
            receiver.stop()
        server.stop()


if __name__ == "__main__":
    main()
