"""With no REDIS_URL the service runs on the embedded in-process store, scripts included."""

from __future__ import annotations

import logging
import time

from app import create_app
from tests.api.helpers import KEY, exchange_status, mint, new_application, user
from tests.conftest import make_settings


def test_the_embedded_store_serves_the_whole_lifecycle_and_says_it_is_not_durable(caplog):
    with caplog.at_level(logging.WARNING):
        client = create_app(make_settings(None)).test_client()
    assert "EMBEDDED IN-PROCESS STORE" in caplog.text and "Nothing is durable" in caplog.text
    app_id = new_application(client)
    who = user()
    minted = mint(client, who, app_id)
    assert exchange_status(client, minted["refreshToken"]) == 200
    assert (
        client.get(f"/api/jwt/refresh?userId={who}", headers=KEY).json["refreshTokens"][0]["id"]
        == minted["refreshTokenId"]
    )
    assert client.delete(f"/api/jwt/refresh?userId={who}", headers=KEY).json["invalidatedTokens"] == 1
    assert exchange_status(client, minted["refreshToken"]) == 400


def test_the_embedded_store_buries_a_revoked_users_tokens_in_its_own_thread():
    app = create_app(make_settings(None))
    client = app.test_client()
    app_id, who = new_application(client), user()
    tokens = [mint(client, who, app_id)["refreshToken"] for _ in range(3)]
    assert client.delete(f"/api/jwt/refresh?userId={who}", headers=KEY).json["invalidatedTokens"] == 3
    redis = app.extensions["refreshd"].redis

    deadline = time.monotonic() + 10  # the cleaner thread looks every half second
    while list(redis.scan_iter("kq:*")) and time.monotonic() < deadline:
        time.sleep(0.05)

    assert list(redis.scan_iter("kq:*")) == [] and list(redis.scan_iter("uk:*")) == []
    assert sum(redis.zcard(key) for key in redis.scan_iter("ud:*")) == 3  # tombstones now
    assert all(exchange_status(client, t) == 400 for t in tokens)
