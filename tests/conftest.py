"""A real redis-server on a free port for the whole session (flushed before each test), and the app."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest
import redis

from app import create_app
from app.config import Settings

API_KEY = "test-bootstrap-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server process of the tests' own, stopped by pid; never the machine's shared Redis."""

    def __init__(self, *extra: str, port: int | None = None, directory: str | None = None):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run `make test`, which installs it")
        self.port = port or free_port()
        self.extra = extra
        self.dir = directory or tempfile.mkdtemp(prefix="refreshd-redis-")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
                "--maxmemory-policy",
                "noeviction",
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"redis://127.0.0.1:{self.port}/0"
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def stop(self, *, keep_data: bool = False) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        if not keep_data:
            shutil.rmtree(self.dir, ignore_errors=True)

    def restart(self) -> RedisServer:
        """The same server again: same port, same data directory."""
        self.stop(keep_data=True)
        return RedisServer(*self.extra, port=self.port, directory=self.dir)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    client.flushall()
    yield client
    client.close()


def make_settings(url: str | None, **overrides: object) -> Settings:
    values: dict[str, object] = {"redis_url": url, "bootstrap_api_key": API_KEY, "cache_seconds": 0.0}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def app(redis_client: redis.Redis, redis_server: RedisServer):  # type: ignore[no-untyped-def]
    return create_app(make_settings(redis_server.url))


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client(use_cookies=False)


@pytest.fixture
def key_headers() -> dict[str, str]:
    return {"Authorization": API_KEY}


@pytest.fixture(autouse=True)
def one_slot_per_atomic_step() -> Iterator[None]:
    """Every script call and MULTI any test makes touches one hash slot (tests/slots.py)."""
    from tests.slots import recording

    with recording() as recorder:
        yield
    assert not recorder.violations, "atomic steps over several hash slots:\n" + "\n".join(recorder.violations)
