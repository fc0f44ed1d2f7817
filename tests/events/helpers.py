"""Helpers for event tests: webhooks and revocations through the API, signature checks as a receiver
would make them, and waiting until delivery has caught up."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import jwt

from tests.api.helpers import KEY
from tests.events.conftest import Received, wait_until

REVOKE = "jwt.refresh-token.revoke"


def create_webhook(client: Any, url: str, *types: str, **extra: Any) -> dict[str, Any]:
    body = {"url": url, "eventsEnabled": {t: True for t in types or (REVOKE,)}, **extra}
    response = client.post("/api/webhook", json={"webhook": body}, headers=KEY)
    assert response.status_code == 200, response.json
    return dict(response.json["webhook"])


def revoke_token(client: Any, refresh_token: str, **body: Any) -> None:
    response = client.delete("/api/jwt/refresh", json={"token": refresh_token, **body}, headers=KEY)
    assert response.status_code == 200, response.json


def lag(client: Any) -> dict[str, Any]:
    response = client.get("/api/status", headers=KEY)
    assert response.status_code == 200
    return dict(response.json["webhookDelivery"])


def wait_until_delivered(client: Any, timeout: float = 10.0) -> None:
    """Until the worker has read every event and no delivery is pending or queued."""

    def caught_up() -> bool:
        now = lag(client)
        return now["unreadEvents"] == now["pendingEvents"] == now["queuedDeliveries"] == 0

    wait_until(caught_up, timeout, f"delivery did not catch up: {lag(client)}")


def verify_signature_jwt(client: Any, received: Received) -> dict[str, Any]:
    """What a FusionAuth receiver does: the JWT's key from the JWKS by kid, then the body's hash."""
    token = received.headers["X-FusionAuth-Signature-JWT"]
    kid = jwt.get_unverified_header(token)["kid"]
    jwks = client.get("/.well-known/jwks.json").json["keys"]
    jwk = jwt.PyJWK(next(k for k in jwks if k["kid"] == kid))
    claims = jwt.decode(token, jwk.key, algorithms=[jwk.algorithm_name], options={"require": ["exp", "iat"]})
    assert claims["request_body_sha256"] == base64.b64encode(hashlib.sha256(received.body).digest()).decode()
    return dict(claims)


def verify_hmac(secret: str, received: Received, tolerance_seconds: int = 300) -> None:
    """What a receiver without JOSE does: recompute the HMAC, refuse an old timestamp."""
    parts = dict(p.split("=", 1) for p in received.headers["X-Refreshd-Signature"].split(","))
    assert abs(time.time() - int(parts["t"])) <= tolerance_seconds
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"])
