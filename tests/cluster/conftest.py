"""Real Redis Cluster and Sentinel deployments on free local ports, started from redis-server processes
of the tests' own and stopped by pid (never the machine's shared Redis).

- `cluster`: 3 masters with one replica each, made with `redis-cli --cluster create`, for the whole
  session (flushed before each test). The fixtures `redis_client`, `app`, `store` and `kit` are the
  cluster-backed twins of the one-node fixtures, so the store and API tests imported into this package
  run against it unchanged.
- `LocalCluster()` / `LocalSentinel()` build a fresh deployment for a test that kills a node.

Node timeouts are small (cluster-node-timeout 1000 ms, sentinel down-after 500 ms) so a failover
takes a couple of seconds.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from app import create_app
from app.config import Settings
from app.store.connection import connect
from app.store.tokens import RefreshTokenStore
from tests.conftest import RedisServer, free_port, make_settings
from tests.store.store_kit import Kit, make_store

NODE_TIMEOUT_MS = 1000
CLUSTER_OPTIONS = (
    "--cluster-enabled", "yes",
    "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
    "--cluster-replica-validity-factor", "0",  # a replica may always take over (its data is fresh here)
    "--cluster-require-full-coverage", "yes",
    "--repl-diskless-sync-delay", "0",  # a replica syncs at once, not after 5 s
)  # fmt: skip


def wait_until(condition: Callable[[], bool], timeout: float = 15.0, message: str = "") -> float:
    """Poll until the condition holds; returns the seconds it took."""
    started = time.monotonic()
    while True:
        try:
            if condition():
                return time.monotonic() - started
        except redis.RedisError:
            pass
        assert time.monotonic() - started < timeout, message or "condition not met in time"
        time.sleep(0.05)


def kill_hard(server: RedisServer) -> None:
    """kill -9 by pid: no shutdown, no last write to the replica."""
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(5)


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too and exists."""
    while True:
        port = random.randint(20000, 50000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port


class LocalCluster:
    """3 masters, one replica each."""

    def __init__(self, masters: int = 3) -> None:
        self.servers: list[RedisServer] = []
        for _ in range(masters * 2):
            self.servers.append(RedisServer(*CLUSTER_OPTIONS, port=cluster_port()))
        try:
            addresses = [f"127.0.0.1:{s.port}" for s in self.servers]
            subprocess.run(
                ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "1", "--cluster-yes"],
                check=True,
                capture_output=True,
                timeout=60,
            )
            wait_until(self._healthy, 30, "the cluster did not become healthy")
        except BaseException:
            self.stop()
            raise
        self.url = "redis+cluster://" + ",".join(addresses[:2])

    def node(self, server: RedisServer) -> redis.Redis:
        return redis.Redis(port=server.port, decode_responses=True, socket_timeout=2)

    def _healthy(self) -> bool:
        for server in self.alive():
            client = self.node(server)
            try:
                if client.cluster("info")["cluster_state"] != "ok":
                    return False
                info = client.info("replication")
                if info["role"] == "slave" and info.get("master_link_status") != "up":
                    return False
            finally:
                client.close()
        return True

    def alive(self) -> list[RedisServer]:
        return [s for s in self.servers if s.process.poll() is None]

    def masters(self) -> list[RedisServer]:
        out = []
        for server in self.alive():
            client = self.node(server)
            try:
                if client.info("replication")["role"] == "master":
                    out.append(server)
            finally:
                client.close()
        return out

    def master_of(self, key: str) -> RedisServer:
        slot = redis.Redis(port=self.alive()[0].port).cluster("keyslot", key)
        for server in self.masters():
            client = self.node(server)
            try:
                if client.cluster("countkeysinslot", slot) is not None and _owns(client, int(slot)):
                    return server
            finally:
                client.close()
        raise AssertionError(f"no master owns slot {slot}")

    def client(self, **settings: object) -> redis.Redis:
        return connect(Settings(redis_url=self.url, **settings))  # type: ignore[arg-type]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def _owns(client: redis.Redis, slot: int) -> bool:
    myself = client.cluster("myid")
    for start, end, master, *_ in client.execute_command("CLUSTER SLOTS"):
        if start <= slot <= end:
            return bool(master[2] == myself)
    return False


class Sentinel:
    """One `redis-server --sentinel` process with a generated configuration."""

    def __init__(self, master_port: int, name: str, down_after_ms: int) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="refreshd-sentinel-")
        config = os.path.join(self.dir, "sentinel.conf")
        with open(config, "w") as handle:
            handle.write(
                f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
                f"sentinel monitor {name} 127.0.0.1 {master_port} 2\n"
                f"sentinel down-after-milliseconds {name} {down_after_ms}\n"
                f"sentinel failover-timeout {name} 3000\n"
                f"sentinel parallel-syncs {name} 1\n"
            )
        binary = shutil.which("redis-server") or "redis-server"
        self.process = subprocess.Popen(
            [binary, config, "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(lambda: bool(redis.Redis(port=self.port, socket_timeout=1).ping()), 10, "sentinel did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class LocalSentinel:
    """One master, one replica, three sentinels watching them as `refreshd`."""

    NAME = "refreshd"

    def __init__(self, down_after_ms: int = 500) -> None:
        self.master = RedisServer("--repl-diskless-sync-delay", "0")
        self.replica = RedisServer("--repl-diskless-sync-delay", "0", "--replicaof", "127.0.0.1", str(self.master.port))
        self.sentinels: list[Sentinel] = []
        try:
            wait_until(lambda: self.node(self.replica).info("replication").get("master_link_status") == "up", 15)
            self.sentinels = [Sentinel(self.master.port, self.NAME, down_after_ms) for _ in range(3)]
            wait_until(self._watched, 15, "the sentinels did not find the replica and each other")
        except BaseException:
            self.stop()
            raise
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        self.url = f"redis+sentinel://{hosts}/{self.NAME}/0"

    def node(self, server: RedisServer) -> redis.Redis:
        return redis.Redis(port=server.port, decode_responses=True, socket_timeout=2)

    def _watched(self) -> bool:
        for sentinel in self.sentinels:
            info = redis.Redis(port=sentinel.port, decode_responses=True).sentinel_master(self.NAME)
            if int(info["num-slaves"]) < 1 or int(info["num-other-sentinels"]) < 2:
                return False
        return True

    def master_port(self) -> int:
        client = redis.Redis(port=self.sentinels[0].port, decode_responses=True)
        return int(client.sentinel_get_master_addr_by_name(self.NAME)[1])

    def client(self, **settings: object) -> redis.Redis:
        return connect(Settings(redis_url=self.url, **settings))  # type: ignore[arg-type]

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        self.replica.stop()
        self.master.stop()


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    deployment = LocalCluster()
    yield deployment
    deployment.stop()


@pytest.fixture
def redis_server(cluster: LocalCluster) -> LocalCluster:
    """For tests that build their own app from `redis_server.url`: the Cluster's URL."""
    return cluster


@pytest.fixture
def redis_client(cluster: LocalCluster) -> Iterator[redis.Redis]:
    """The cluster through the service's own client (app/store/connection.py), emptied first."""
    client = cluster.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def app(redis_client: redis.Redis, cluster: LocalCluster):  # type: ignore[no-untyped-def]
    return create_app(make_settings(cluster.url))


@pytest.fixture
def store(redis_client: redis.Redis) -> RefreshTokenStore:
    return make_store(redis_client)


@pytest.fixture
def kit(redis_client: redis.Redis, store: RefreshTokenStore) -> Kit:
    return Kit(redis_client, store)


@pytest.fixture
def any_kit(kit: Kit) -> Kit:
    """The store tests written for either backend (tests/store/test_embedded_store.py), on the Cluster."""
    return kit
