"""The service as the Procfile starts it, on a redis-server of its own with AOF (`appendfsync always`),
for tests that stall, kill and restart that Redis, or kill a web worker, while clients call."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from tests.compat.conftest import LiveServer
from tests.conftest import API_KEY, RedisServer

KEY = {"Authorization": API_KEY}
AOF = ("--appendonly", "yes", "--appendfsync", "always")


@dataclass
class Answer:
    """One request as a client saw it: when it started (monotonic), how long it took, what came back."""

    started: float
    seconds: float
    status: int  # 0: no HTTP answer at all (connection refused or reset, or the client's own timeout)
    json_error: str | None = None
    retry_after: str | None = None


@dataclass
class Stack:
    redis: RedisServer
    server: LiveServer
    base_url: str = field(init=False)

    def __post_init__(self) -> None:
        self.base_url = self.server.base_url

    def pause_redis(self) -> None:
        os.kill(self.redis.process.pid, signal.SIGSTOP)

    def resume_redis(self) -> None:
        os.kill(self.redis.process.pid, signal.SIGCONT)

    def kill_redis(self) -> None:
        self.redis.process.kill()
        self.redis.process.wait(5)

    def start_redis_again(self) -> None:
        self.redis = RedisServer(*AOF, port=self.redis.port, directory=self.redis.dir)

    def call(self, session: requests.Session, method: str, path: str, **kwargs: Any) -> tuple[Answer, Any]:
        headers = kwargs.pop("headers", KEY)
        started = time.monotonic()
        try:
            response = session.request(method, self.base_url + path, headers=headers, timeout=10, **kwargs)
        except requests.RequestException as error:
            return Answer(started, time.monotonic() - started, 0, json_error=repr(error)[:300]), None
        answer = Answer(started, time.monotonic() - started, response.status_code)
        body = None
        if response.content:
            assert response.headers.get("Content-Type", "").startswith("application/json"), response.text[:200]
            body = response.json()
        if response.status_code == 503:
            answer.json_error = body["generalErrors"][0]["code"]
            answer.retry_after = response.headers.get("Retry-After")
        return answer, body

    def new_application(self, **jwt: Any) -> str:
        app_id = str(uuid.uuid4())
        configuration = {"enabled": True, "timeToLiveInSeconds": 600, "refreshTokenTimeToLiveInMinutes": 60, **jwt}
        response = requests.post(
            f"{self.base_url}/api/application/{app_id}",
            json={"application": {"name": f"faults-{app_id[:8]}", "jwtConfiguration": configuration}},
            headers=KEY,
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return app_id

    def wait_until_serving(self, bound: float = 10.0) -> float:
        """Seconds until a request that needs Redis succeeds again."""
        started = time.monotonic()
        with requests.Session() as session:
            while True:
                answer, _ = self.call(session, "GET", f"/api/jwt/refresh?userId={uuid.uuid4()}")
                if answer.status == 200:
                    return time.monotonic() - started
                assert time.monotonic() - started < bound, f"not serving {bound} s after Redis returned"
                time.sleep(0.02)


@pytest.fixture
def stack() -> Iterator[Stack]:
    redis_server = RedisServer(*AOF)
    try:
        server = LiveServer(redis_server.url)
    except BaseException:
        redis_server.stop()
        raise
    state = Stack(redis_server, server)
    try:
        yield state
    except BaseException:
        print(state.server.output())  # what the service said, for the failure's report
        raise
    finally:
        state.server.stop()
        state.resume_redis() if state.redis.process.poll() is None else None
        state.redis.stop()


class Load:
    """`workers` client threads, each with its own keep-alive session, calling `work` until finish().
    What a thread raises (an answer that is not what the test expects) is kept and raised by finish(),
    not lost with the thread."""

    def __init__(self, workers: int, work: Callable[[requests.Session], None]):
        self._stop = threading.Event()
        self.errors: list[BaseException] = []
        self._threads = [threading.Thread(target=self._loop, args=(work,), daemon=True) for _ in range(workers)]
        for thread in self._threads:
            thread.start()

    def _loop(self, work: Callable[[requests.Session], None]) -> None:
        with requests.Session() as session:
            # a connection the client could not open never reached the service: try again, as clients
            # do; anything after the request was sent (a reset, no answer) stays a failure (status 0)
            retry = Retry(total=2, connect=2, read=0, redirect=0, status=0, other=0, respect_retry_after_header=False)
            session.mount("http://", HTTPAdapter(max_retries=retry))
            try:
                while not self._stop.is_set():
                    work(session)
            except BaseException as error:
                self.errors.append(error)

    def finish(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)
        if self.errors:
            raise self.errors[0]
