"""Store fixtures: a RefreshTokenStore on the session's real redis-server, and the same over both
backends (the real server and the embedded store) for the behaviours refreshd relies on in either."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from app.store.tokens import RefreshTokenStore
from tests.store.store_kit import Kit, embedded_client, make_store


@pytest.fixture
def store(redis_client: redis.Redis) -> RefreshTokenStore:
    return make_store(redis_client)


@pytest.fixture
def kit(redis_client: redis.Redis, store: RefreshTokenStore) -> Kit:
    return Kit(redis_client, store)


@pytest.fixture(params=["redis", "embedded"])
def any_client(request: pytest.FixtureRequest) -> Iterator[redis.Redis]:
    """The real redis-server, then the embedded store (fakeredis with Lua), as refreshd runs on either."""
    if request.param == "redis":
        yield request.getfixturevalue("redis_client")
        return
    client = embedded_client()
    yield client
    client.close()


@pytest.fixture
def any_kit(any_client: redis.Redis) -> Kit:
    return Kit(any_client, make_store(any_client))
