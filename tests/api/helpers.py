"""Small helpers for API tests: make applications and sessions through the API itself."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import API_KEY

KEY = {"Authorization": API_KEY}


def new_application(client: Any, **jwt: Any) -> str:
    app_id = str(uuid.uuid4())
    config = {"enabled": True, **jwt} if jwt else {"enabled": False}
    response = client.post(
        f"/api/application/{app_id}",
        json={"application": {"name": f"app-{app_id[:8]}", "jwtConfiguration": config}},
        headers=KEY,
    )
    assert response.status_code == 200, response.json
    return app_id


def mint(client: Any, user_id: str, app_id: str, **extra: Any) -> dict[str, Any]:
    body = {
        "userId": user_id,
        "applicationId": app_id,
        "metaData": {"device": {"name": "phone", "type": "MOBILE"}},
        **extra,
    }
    response = client.post("/api/user/refresh-token", json=body, headers=KEY)
    assert response.status_code == 200, response.json
    return dict(response.json)


def exchange_status(client: Any, refresh_token: str) -> int:
    return int(client.post("/api/jwt/refresh", json={"refreshToken": refresh_token}).status_code)


def user() -> str:
    return str(uuid.uuid4())
