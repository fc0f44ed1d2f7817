"""Event fixtures: a real HTTP receiver on 127.0.0.1 (stoppable, restartable on its port, able to
answer slowly or with an error), an app with small delivery timings, and its webhook delivery running
in threads as the worker runs it."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis

from app import create_app
from app.delivery import Delivery, delivery_for
from tests.conftest import RedisServer, free_port, make_settings

FAST: dict[str, object] = {
    "webhook_backoff_seconds": 0.05,
    "webhook_backoff_max_seconds": 0.2,
    "webhook_claim_idle_seconds": 0.5,
    "webhook_poll_seconds": 0.02,
    "webhook_batch": 8,
}


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body)["event"])


class Receiver:
    """A webhook receiver: records every POST; `status` and `delay` set how it answers."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.status = 200
        self.delay = 0.0
        self.received: list[Received] = []
        self._event_ids: set[str] = set()
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._sockets: set[socket.socket] = set()
        self.start()

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.status
                if 200 <= status < 300:
                    receiver._record(Received(self.path, dict(self.headers.items()), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

            def process_request(self, request: Any, client_address: Any) -> None:
                receiver._sockets.add(request)
                super().process_request(request, client_address)

        self._server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        """Stop listening and drop every open connection (kept-alive ones too)."""
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._sockets.clear()
        self._server = None

    def _record(self, received: Received) -> None:
        event_id = received.event["id"] if received.headers.get("Content-Type") == "application/json" else None
        with self._changed:
            self.received.append(received)
            self._event_ids.add(event_id or received.headers.get("Idempotency-Key", ""))
            self._changed.notify_all()

    def events(self) -> list[dict[str, Any]]:
        with self._changed:
            return [r.event for r in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The events received once at least `count` distinct event ids have arrived."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._event_ids) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.received)} deliveries, wanted {count} distinct events"
                self._changed.wait(left)
            return [r.event for r in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    if server._server is not None:
        server.stop()


@pytest.fixture
def app(redis_client: redis.Redis, redis_server: RedisServer):  # type: ignore[no-untyped-def]
    return create_app(make_settings(redis_server.url, **FAST))


@pytest.fixture
def run_delivery(app: Any) -> Iterator[Callable[[], Delivery]]:
    """Start the worker's webhook delivery in threads (stopped at the end of the test)."""
    running: list[tuple[Delivery, threading.Thread]] = []

    def start() -> Delivery:
        delivery = delivery_for(app.extensions["refreshd"], app.extensions["refreshd"].settings)
        thread = threading.Thread(target=delivery.run, daemon=True)
        thread.start()
        running.append((delivery, thread))
        return delivery

    yield start
    for delivery, thread in running:
        delivery.stop()
        thread.join(10)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message or "condition not met in time"
        time.sleep(0.02)
