"""A live refreshd, started as the Procfile's `web:` line says, against a redis-server of its own.

The compatibility tests drive it over HTTP with FusionAuth's official Python client, so they see
exactly what a FusionAuth integration would see: real sockets, granian, two worker processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from fusionauth.fusionauth_client import FusionAuthClient

from tests import procfile
from tests.conftest import API_KEY, RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0


def procfile_command(port: int, workers: int) -> list[str]:
    """The Procfile's `web:` command (tests/procfile.py), its program from this interpreter's
    environment (the venv's granian)."""
    return procfile.web_words(procfile.web_line(ROOT), port, workers, Path(sys.executable).parent)


class LiveServer:
    """refreshd as a subprocess (its own process group, so its workers stop with it)."""

    def __init__(self, redis_url: str):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        log_fd, self.log_path = tempfile.mkstemp(prefix="refreshd-live-", suffix=".log")
        env = dict(os.environ)
        env.update(
            REDIS_URL=redis_url,
            REFRESHD_BOOTSTRAP_API_KEY=API_KEY,
            PORT=str(self.port),
            WEB_CONCURRENCY="2",
            PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        )
        self.process = subprocess.Popen(
            procfile_command(self.port, 2),
            cwd=ROOT,
            env=env,
            stdout=log_fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        os.close(log_fd)
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                output = self.output()
                self.stop()
                raise RuntimeError(f"refreshd exited with {self.process.returncode}:\n{output}")
            try:
                if requests.get(self.base_url + "/api/status", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                output = self.output()
                self.stop()
                raise RuntimeError(f"refreshd did not answer /api/status within {START_TIMEOUT} s:\n{output}")
            time.sleep(0.1)

    def output(self) -> str:
        return Path(self.log_path).read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # its own group: the server and its workers
                self.process.wait(5)
        Path(self.log_path).unlink(missing_ok=True)


@dataclass(frozen=True)
class Service:
    """The live service, and what the tests do with it besides the client's own methods."""

    base_url: str
    client: FusionAuthClient

    def new_application(self, application_id: str | None = None, **jwt: Any) -> str:
        """A fresh application issuing refresh tokens; returns its id."""
        configuration = {
            "enabled": True,
            "timeToLiveInSeconds": 600,
            "refreshTokenTimeToLiveInMinutes": 60,
            **jwt,
        }
        response = self.client.create_application(
            {"application": {"name": f"compat-{uuid.uuid4()}", "jwtConfiguration": configuration}},
            application_id,
        )
        assert response.status == 200, response.error_response
        return str(response.success_response["application"]["id"])

    def mint(self, user_id: str, application_id: str, device: str = "laptop") -> dict[str, Any]:
        """A session minted the way a login server does (the client has no method for it)."""
        response = requests.post(
            self.base_url + "/api/user/refresh-token",
            json={
                "userId": user_id,
                "applicationId": application_id,
                "metaData": {"device": {"name": device, "type": "BROWSER"}},
            },
            headers={"Authorization": API_KEY},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def exchange_status(self, refresh_token: str) -> int:
        """The status of exchanging a refresh token for an access token."""
        return int(self.client.exchange_refresh_token_for_jwt({"refreshToken": refresh_token}).status)

    def assert_live(self, *refresh_tokens: str) -> None:
        statuses = [self.exchange_status(t) for t in refresh_tokens]
        assert statuses == [200] * len(refresh_tokens)

    def assert_revoked(self, *refresh_tokens: str) -> None:
        for token in refresh_tokens:
            response = self.client.exchange_refresh_token_for_jwt({"refreshToken": token})
            assert response.status == 400
            assert response.error_response["fieldErrors"]["refreshToken"][0]["code"] == "[invalid]refreshToken"


@contextmanager
def serving(redis_url: str | None = None) -> Iterator[LiveServer]:
    """The live service, on `redis_url` or on a redis-server of its own, stopped afterwards."""
    if redis_url:
        server = LiveServer(redis_url)
        try:
            yield server
        finally:
            server.stop()
        return
    redis_server = RedisServer()
    try:
        with serving(redis_server.url) as server:
            yield server
    finally:
        redis_server.stop()


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    # REFRESHD_COMPAT_REDIS_URL: a Redis started elsewhere (redis+cluster://... runs these on a Cluster)
    with serving(os.environ.get("REFRESHD_COMPAT_REDIS_URL")) as server:
        yield server


@pytest.fixture
def service(live_server: LiveServer) -> Service:
    return Service(live_server.base_url, FusionAuthClient(API_KEY, live_server.base_url))


@pytest.fixture
def client(service: Service) -> FusionAuthClient:
    return service.client
