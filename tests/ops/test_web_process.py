"""The web process as the Procfile starts it (uvicorn, two workers, app/asgi.py): hot requests share
one Redis connection a worker, a stop lets the requests in flight finish, and a body over the limit
is refused before it is read."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests

from tests.compat.conftest import LiveServer
from tests.conftest import API_KEY, RedisServer

pytestmark = pytest.mark.slow
KEY = {"Authorization": API_KEY}


@pytest.fixture
def stack():
    redis_server = RedisServer()
    server = LiveServer(redis_server.url)
    yield redis_server, server
    server.stop()
    redis_server.stop()


def application(server: LiveServer) -> str:
    body = {"application": {"name": "web", "jwtConfiguration": {"enabled": True}}}
    answer = requests.post(server.base_url + "/api/application", json=body, headers=KEY, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["application"]["id"])


def mint(session: requests.Session, server: LiveServer, application_id: str) -> str:
    body = {"userId": str(uuid.uuid4()), "applicationId": application_id}
    answer = session.post(server.base_url + "/api/user/refresh-token", json=body, headers=KEY, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["refreshToken"])


def connections_to(port: int) -> int:
    """Established client connections to the server's port (ss -tnH)."""
    listed = subprocess.run(
        ["ss", "-tnH", "state", "established", f"( dport = :{port} )"], capture_output=True, text=True, check=False
    )
    return len(listed.stdout.splitlines())


def test_hot_requests_of_many_clients_share_one_redis_connection_a_worker(stack):
    redis_server, server = stack
    app_id = application(server)
    watcher = redis.Redis.from_url(redis_server.url, decode_responses=True)
    watcher.client_kill_filter(_type="normal", skipme=True)  # the connections the setup used
    time.sleep(0.2)

    def burst(_: int) -> int:
        with requests.Session() as session:
            for _ in range(10):
                token = mint(session, server, app_id)
                exchanged = session.post(server.base_url + "/api/jwt/refresh", json={"refreshToken": token}, timeout=10)
                assert exchanged.status_code == 200, exchanged.text
        return 10

    with ThreadPoolExecutor(24) as pool:
        assert sum(pool.map(burst, range(48))) == 480
    scripts = [c for c in watcher.client_list() if c["cmd"] in ("evalsha", "eval")]
    assert 1 <= len(scripts) <= 2, scripts  # a threaded server opens one a thread, and holds each thread to one request


def test_a_stop_lets_the_requests_in_flight_finish_and_refuses_new_ones(stack):
    redis_server, server = stack
    app_id = application(server)
    tokens = [mint(requests.Session(), server, app_id) for _ in range(6)]
    answers: list[int] = []

    def exchange(token: str) -> None:
        with requests.Session() as session:
            answer = session.post(server.base_url + "/api/jwt/refresh", json={"refreshToken": token}, timeout=15)
            answers.append(answer.status_code)

    os.kill(redis_server.process.pid, signal.SIGSTOP)  # the exchanges now wait on Redis, in flight
    try:
        threads = [threading.Thread(target=exchange, args=(token,)) for token in tokens]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 5
        while connections_to(server.port) < 6:  # every request sent and waiting, in flight
            assert time.monotonic() < deadline, "the exchanges never reached the server"
            time.sleep(0.05)
        time.sleep(0.2)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    for thread in threads:
        thread.join(15)
    assert answers == [200] * 6
    assert server.process.wait(15) is not None
    with pytest.raises(requests.ConnectionError):
        requests.get(server.base_url + "/api/status", timeout=2)


def test_a_body_stated_over_the_limit_is_refused_413_before_it_is_sent(stack):
    _, server = stack
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(
            b"POST /api/jwt/refresh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50000000\r\n\r\n"
        )  # and not one byte of the body
        answer = b""
        while not (b"\r\n\r\n" in answer and answer.rstrip().endswith(b"}")):
            chunk = connection.recv(65536)  # the head and the body may come in two segments
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert b'"generalErrors"' in answer or b'"fieldErrors"' in answer, answer
