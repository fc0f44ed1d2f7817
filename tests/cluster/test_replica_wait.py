"""REFRESHD_REVOKE_WAIT_REPLICAS: a revoke is acknowledged only once a replica has it. With the replica
frozen (SIGSTOP: connected, but confirming nothing) a revoke answers 503 (outcome unknown) on one node
with a replica and on the Cluster; with the setting off it is acknowledged at once; reads never wait."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis

from app import create_app
from app.store import keys
from tests.api.helpers import KEY, exchange_status, new_application
from tests.cluster.conftest import LocalCluster, wait_until
from tests.conftest import RedisServer, make_settings


@contextmanager
def frozen(server: RedisServer) -> Iterator[None]:
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


@pytest.fixture(scope="module")
def primary_and_replica() -> Iterator[tuple[RedisServer, RedisServer]]:
    primary = RedisServer("--repl-diskless-sync-delay", "0")
    replica = RedisServer("--replicaof", "127.0.0.1", str(primary.port))
    node = redis.Redis(port=replica.port, decode_responses=True)
    wait_until(lambda: node.info("replication").get("master_link_status") == "up", 15)
    yield primary, replica
    replica.stop()
    primary.stop()


def mint(client: Any, application: str, user: str | None = None) -> str:
    body = {"userId": user or str(uuid.uuid4()), "applicationId": application}
    return str(client.post("/api/user/refresh-token", json=body, headers=KEY).json["refreshToken"])


def revoke(client: Any, value: str) -> int:
    return int(client.delete(f"/api/jwt/refresh?token={value}", headers=KEY).status_code)


@pytest.mark.parametrize("mode", ["auto", "on"])
def test_a_revoke_no_replica_confirms_is_a_503_and_one_it_confirms_is_acknowledged(
    primary_and_replica: tuple[RedisServer, RedisServer], mode: str
) -> None:
    primary, replica = primary_and_replica
    app = create_app(make_settings(primary.url, revoke_wait_replicas=mode, revoke_wait_timeout_ms=200))
    client = app.test_client()
    application = new_application(client)
    first, second, user = mint(client, application), mint(client, application), str(uuid.uuid4())
    mint(client, application, user)

    with frozen(replica):
        assert revoke(client, first) == 503
        assert client.delete(f"/api/jwt/refresh?userId={user}", headers=KEY).status_code == 503
        assert client.delete(f"/api/jwt/refresh?applicationId={application}", headers=KEY).status_code == 503
        assert exchange_status(client, second) == 400  # the application revoke above did land (outcome unknown)
    wait_until(lambda: revoke(client, mint(client, application)) == 200, 10)  # the replica is back: confirmed


def test_with_the_setting_off_a_revoke_is_acknowledged_without_a_replica(
    primary_and_replica: tuple[RedisServer, RedisServer],
) -> None:
    primary, replica = primary_and_replica
    app = create_app(make_settings(primary.url, revoke_wait_replicas="off", revoke_wait_timeout_ms=200))
    client = app.test_client()
    application = new_application(client)
    value, live = mint(client, application), mint(client, application)
    with frozen(replica):
        assert revoke(client, value) == 200
        assert exchange_status(client, live) == 200  # reads and exchanges never wait for a replica


def test_auto_does_not_wait_where_there_is_no_replica() -> None:
    alone = RedisServer()
    try:
        app = create_app(make_settings(alone.url, revoke_wait_replicas="auto"))
        client = app.test_client()
        assert revoke(client, mint(client, new_application(client))) == 200
        replica_wait = app.extensions["refreshd"].tokens._store._wait
        assert replica_wait is not None and replica_wait._replicas == {"": (replica_wait._replicas[""][0], False)}
    finally:
        alone.stop()


def test_on_a_cluster_a_revoke_waits_for_the_replica_of_the_master_owning_its_slot(cluster: LocalCluster) -> None:
    app = create_app(make_settings(cluster.url, revoke_wait_timeout_ms=200))
    client = app.test_client()
    application = new_application(client)
    user = str(keys.new_token_id(0))  # bucket {b0}
    value, elsewhere = mint(client, application, user), mint(client, application, str(keys.new_token_id(1)))
    master = cluster.master_of(f"x:{keys.TAGS[0]}")
    replica = next(
        s for s in cluster.alive()
        if cluster.node(s).info("replication").get("master_port") == master.port
    )  # fmt: skip
    other_master = cluster.master_of(f"x:{keys.TAGS[1]}") is not master
    with frozen(replica):
        assert revoke(client, value) == 503
        if other_master:
            assert revoke(client, elsewhere) == 200  # another master's replica confirms
    wait_until(lambda: revoke(client, mint(client, application, user)) == 200, 10)
