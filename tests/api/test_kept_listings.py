"""A user's listing is kept in Redis (lk:, list.lua) and given again until something it shows
changes. Whatever changes, the next listing must be exactly the one read afresh from the records."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from app.store import keys
from tests.api.helpers import KEY, exchange_status, mint, new_application, user


def _listing(client: Any, who: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/jwt/refresh?userId={who}", headers=KEY)
    assert response.status_code == 200
    return list(response.json["refreshTokens"])


def _kept(who: str) -> str:
    return keys.kept_listing(keys.TAGS[int(who[-1], 16)], who)


class Scene:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.who = user()
        self.app = new_application(client)
        self.other = new_application(client)
        self.once = new_application(client, refreshTokenUsagePolicy="OneTimeUse")
        self.capped = new_application(client, refreshTokenSessionLimit={"maximumSessions": 1, "policy": "EvictOldest"})
        self.tokens = [mint(client, self.who, a) for a in (self.app, self.app, self.other, self.once, self.capped)]


def _tenant_of(s: Scene) -> str:
    return str(_listing(s.client, s.who)[0]["tenantId"])


def _now() -> dict[str, int]:
    now = int(time.time() * 1000)
    return {"insertInstant": now, "startInstant": now}


CHANGES: dict[str, Callable[[Scene], Any]] = {
    "mint": lambda s: mint(s.client, s.who, s.app),
    "exchange": lambda s: s.client.post(
        "/api/jwt/refresh",
        json={"refreshToken": s.tokens[0]["refreshToken"]},
        environ_base={"REMOTE_ADDR": "192.0.2.4"},
    ),
    "one-time rotation": lambda s: exchange_status(s.client, s.tokens[3]["refreshToken"]),
    "one-time reuse": lambda s: [exchange_status(s.client, s.tokens[3]["refreshToken"]) for _ in range(2)],
    "revoke by value": lambda s: s.client.delete(f"/api/jwt/refresh?token={s.tokens[1]['refreshToken']}", headers=KEY),
    "revoke by id": lambda s: s.client.delete(f"/api/jwt/refresh/{s.tokens[2]['refreshTokenId']}", headers=KEY),
    "revoke the user": lambda s: s.client.delete(f"/api/jwt/refresh?userId={s.who}", headers=KEY),
    "revoke the user for an application": lambda s: s.client.delete(
        f"/api/jwt/refresh?userId={s.who}&applicationId={s.app}", headers=KEY
    ),
    "revoke an application": lambda s: s.client.delete(f"/api/jwt/refresh?applicationId={s.other}", headers=KEY),
    "revoke the tenant": lambda s: s.client.delete(
        "/_security/oauth2/token", json={"realm_name": _tenant_of(s)}, headers=KEY
    ),
    "invalidate all (Graph)": lambda s: s.client.post(f"/v1.0/users/{s.who}/invalidateAllRefreshTokens", headers=KEY),
    "a session limit evicts": lambda s: (time.sleep(0.002), mint(s.client, s.who, s.capped)),
    "import": lambda s: s.client.post(
        "/api/user/refresh-token/import",
        json={"refreshTokens": [{"token": "imported-" + user(), "userId": s.who, "applicationId": s.app, **_now()}]},
        headers=KEY,
    ),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_after_any_change_a_listing_is_the_one_read_afresh(client: Any, redis_client: Any, change: str) -> None:
    scene = Scene(client)
    before = _listing(client, scene.who)
    assert redis_client.exists(_kept(scene.who)), "the listing was not kept"
    assert _listing(client, scene.who) == before  # given again, unchanged

    answer = CHANGES[change](scene)
    if hasattr(answer, "status_code"):
        assert answer.status_code in (200, 204), answer.get_json()
    after = _listing(client, scene.who)
    redis_client.delete(_kept(scene.who))
    assert after == _listing(client, scene.who)  # read afresh from the records
    assert after != before, "the change changed nothing a listing shows: the test would prove nothing"
