"""With no REDIS_URL the service runs on the embedded in-process store, scripts included."""

from __future__ import annotations

import logging

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
