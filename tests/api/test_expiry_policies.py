"""Expiry arithmetic for every expiration policy, at the boundaries, for both usage policies: a token
is imported with chosen insert/start instants, then exchanged, and its expiry is read back."""

from __future__ import annotations

import time
import uuid

import pytest

from app.applications import RefreshPolicy
from tests.api.helpers import KEY, new_application, user

MINUTE = 60_000
TTL, MAX = 10, 30  # minutes
SLACK = 5_000  # ms: the test's clock and Redis's clock read a few ms apart


def now_ms() -> int:
    return int(time.time() * 1000)


def imported(client, app_id: str, insert_ago: int, start_ago: int) -> tuple[str, int]:
    """A token imported with insert/start instants that many ms ago; its value and the import status."""
    value = f"imported-{uuid.uuid4().hex}"
    now = now_ms()
    row = {
        "token": value,
        "userId": user(),
        "applicationId": app_id,
        "startInstant": now - start_ago,
        "insertInstant": now - insert_ago,
    }
    response = client.post("/api/user/refresh-token/import", json={"refreshTokens": [row]}, headers=KEY)
    return value, response.status_code


def expiry_after_exchange(client, value: str) -> int | None:
    response = client.post("/api/jwt/refresh", json={"refreshToken": value})
    if response.status_code != 200:
        return None
    found = client.get(f"/api/jwt/refresh/{response.json['refreshTokenId']}", headers=KEY).json["refreshToken"]
    return int(found["expirationInstant"])


CASES = [
    # policy, insert ago (min), start ago (min), expected expiry after an exchange, relative to now (min)
    ("Fixed", 9, 9, 1),
    ("Fixed", 29, 9, 1),
    ("SlidingWindow", 9, 9, TTL),
    ("SlidingWindow", 100, 9, TTL),
    ("SlidingWindowWithMaximumLifetime", 9, 9, TTL),
    ("SlidingWindowWithMaximumLifetime", 25, 5, 5),  # capped: insert + 30 min is 5 min away
    ("SlidingWindowWithMaximumLifetime", 29.5, 1, 0.5),
]


@pytest.mark.parametrize("usage", ["Reusable", "OneTimeUse"])
@pytest.mark.parametrize(("policy", "insert_ago", "start_ago", "expected"), CASES)
def test_expiry_after_an_exchange(client, usage, policy, insert_ago, start_ago, expected):
    app_id = new_application(
        client,
        refreshTokenTimeToLiveInMinutes=TTL,
        refreshTokenExpirationPolicy=policy,
        refreshTokenUsagePolicy=usage,
        refreshTokenSlidingWindowConfiguration={"maximumTimeToLiveInMinutes": MAX},
    )
    value, status = imported(client, app_id, int(insert_ago * MINUTE), int(start_ago * MINUTE))
    assert status == 200
    expiry = expiry_after_exchange(client, value)
    assert expiry is not None
    assert abs(expiry - (now_ms() + expected * MINUTE)) < SLACK


@pytest.mark.parametrize(
    ("policy", "insert_ago", "start_ago"),
    [
        ("Fixed", 11, 11),
        ("SlidingWindow", 11, 11),
        ("SlidingWindowWithMaximumLifetime", 31, 1),  # within its window, past its maximum lifetime
    ],
)
def test_a_token_past_its_lifetime_cannot_be_imported(client, policy, insert_ago, start_ago):
    app_id = new_application(
        client,
        refreshTokenTimeToLiveInMinutes=TTL,
        refreshTokenExpirationPolicy=policy,
        refreshTokenSlidingWindowConfiguration={"maximumTimeToLiveInMinutes": MAX},
    )
    _, status = imported(client, app_id, insert_ago * MINUTE, start_ago * MINUTE)
    assert status == 400


def test_a_token_expires_the_moment_its_lifetime_ends(client, redis_client):
    app_id = new_application(client, refreshTokenTimeToLiveInMinutes=TTL)
    value, status = imported(client, app_id, TTL * MINUTE - 1500, TTL * MINUTE - 1500)
    assert status == 200 and expiry_after_exchange(client, value) is not None
    time.sleep(1.6)
    assert expiry_after_exchange(client, value) is None


@pytest.mark.parametrize(
    ("usage", "grace", "reuse", "code"),
    [
        ("Reusable", 0, True, ""),
        ("OneTimeUse", 0, True, "0:1"),
        ("OneTimeUse", 30, False, "30000:0"),
    ],
)
def test_usage_policy_codes(usage, grace, reuse, code):
    policy = RefreshPolicy(3600, TTL, usage, "Fixed", MAX, grace_seconds=grace, revoke_on_reuse=reuse)
    assert policy.one_time_code == code


@pytest.mark.parametrize(
    ("expiration", "code", "expiry"),
    [
        ("Fixed", f"F:{TTL * MINUTE}", 100 + TTL * MINUTE),
        ("SlidingWindow", f"S:{TTL * MINUTE}", 100 + TTL * MINUTE),
        ("SlidingWindowWithMaximumLifetime", f"M:{TTL * MINUTE}:{MAX * MINUTE}", 100 + TTL * MINUTE),
    ],
)
def test_expiration_policy_codes_and_fresh_expiry(expiration, code, expiry):
    policy = RefreshPolicy(3600, TTL, "Reusable", expiration, MAX)
    assert policy.code == code
    assert policy.expiry(100, 100) == expiry
    if expiration == "SlidingWindowWithMaximumLifetime":
        assert policy.expiry(0, (MAX - 1) * MINUTE) == MAX * MINUTE
