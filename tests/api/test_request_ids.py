"""Every answer carries X-Request-Id: the caller's (its first 64 characters) or a generated UUID,
and the events a request causes record the same id."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.api.helpers import KEY, mint, new_application, user


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/api/status", {}, 200),
        ("GET", "/api/jwt/refresh?userId=nope", KEY, 400),
        ("GET", "/api/jwt/refresh/nope", KEY, 404),
        ("DELETE", "/api/jwt/refresh?token=abc", {}, 401),
        ("PUT", "/api/jwt/refresh", KEY, 405),
    ],
)
def test_every_answer_carries_a_generated_request_id(
    client: Any, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    first = client.open(path, method=method, headers=headers)
    second = client.open(path, method=method, headers=headers)
    assert first.status_code == status
    ids = [first.headers["X-Request-Id"], second.headers["X-Request-Id"]]
    assert all(str(uuid.UUID(i)) == i and uuid.UUID(i).version == 4 for i in ids) and ids[0] != ids[1]
    assert first.headers.getlist("X-Request-Id") == [ids[0]]


def test_the_callers_request_id_is_answered_and_recorded_in_the_event(client: Any, redis_client: Any) -> None:
    minted = mint(client, user(), new_application(client))
    caller_id = "trace-" + "x" * 70
    revoked = client.delete(f"/api/jwt/refresh/{minted['refreshTokenId']}", headers={**KEY, "X-Request-Id": caller_id})
    assert revoked.status_code == 200 and revoked.headers["X-Request-Id"] == caller_id[:64]
    recorded = [
        json.loads(fields["d"])["requestId"]
        for key in redis_client.scan_iter("ev:*")
        for _, fields in redis_client.xrange(key)
        if fields["t"] == "jwt.refresh-token.revoke"
    ]
    assert recorded == [caller_id[:64]]
