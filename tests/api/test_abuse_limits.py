"""Abuse limits (app/throttle.py): failed API-key authentications and exchanges of unknown refresh
tokens, per client address, counted in Redis on the failure path only; 429 with Retry-After."""

from __future__ import annotations

import re
import time
from typing import Any

from app import create_app
from tests.api.helpers import KEY, mint, new_application, user
from tests.conftest import RedisServer, make_settings

BAD = {"Authorization": "not-a-key-of-this-service-0123456789"}


def client_from(app: Any, address: str) -> Any:
    client = app.test_client(use_cookies=False)
    client.environ_base["REMOTE_ADDR"] = address
    return client


def limited_app(redis_server: RedisServer, **overrides: Any) -> Any:
    settings = {"failed_auth_limit": 5, "unknown_token_limit": 5, "rate_limit_window_seconds": 60, **overrides}
    return create_app(make_settings(redis_server.url, **settings))


def lookup(client: Any, headers: dict[str, str]) -> Any:
    return client.get(f"/api/jwt/refresh?userId={user()}", headers=headers)


def test_failed_api_key_authentications_are_limited_per_address(redis_server, redis_client):
    app = limited_app(redis_server)
    attacker, neighbour = client_from(app, "203.0.113.7"), client_from(app, "203.0.113.8")

    assert [lookup(attacker, BAD).status_code for _ in range(5)] == [401] * 5
    refused = lookup(attacker, BAD)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.json["generalErrors"][0]["code"] == "[tooManyRequests]"
    assert lookup(attacker, KEY).status_code == 200  # a valid key is never throttled
    assert lookup(neighbour, BAD).status_code == 401  # another address has its own count


def test_a_good_request_costs_no_count_and_a_blocked_address_is_not_counted_again(redis_server, redis_client):
    app = limited_app(redis_server)
    client = client_from(app, "203.0.113.9")
    for _ in range(20):
        assert lookup(client, KEY).status_code == 200
    assert redis_client.keys("fail:*") == []
    for _ in range(6):
        lookup(client, BAD)
    calls = int(redis_client.info("commandstats")["cmdstat_incrby"]["calls"])
    assert [lookup(client, BAD).status_code for _ in range(10)] == [429] * 10
    assert int(redis_client.info("commandstats")["cmdstat_incrby"]["calls"]) == calls  # refused without counting


def test_another_process_refuses_from_its_own_next_failure(redis_server, redis_client):
    first, second = limited_app(redis_server), limited_app(redis_server)
    for _ in range(6):
        lookup(client_from(first, "198.51.100.4"), BAD)
    assert lookup(client_from(second, "198.51.100.4"), BAD).status_code == 429


def test_the_limit_ends_with_its_window(redis_server, redis_client):
    app = limited_app(redis_server, rate_limit_window_seconds=1)
    client = client_from(app, "198.51.100.5")
    assert [lookup(client, BAD).status_code for _ in range(6)] == [401] * 5 + [429]
    time.sleep(1.1)
    assert lookup(client, BAD).status_code == 401


def test_exchanges_of_unknown_tokens_are_limited_and_known_ones_are_not(redis_server, redis_client):
    app = limited_app(redis_server)
    admin = app.test_client(use_cookies=False)
    app_id = new_application(admin, timeToLiveInSeconds=600, refreshTokenTimeToLiveInMinutes=60)
    live, revoked = mint(admin, user(), app_id), mint(admin, user(), app_id)
    admin.delete(f"/api/jwt/refresh?token={revoked['refreshToken']}", headers=KEY)
    guesser = client_from(app, "192.0.2.66")

    def exchange(token: str, headers: dict[str, str] | None = None) -> int:
        return int(guesser.post("/api/jwt/refresh", json={"refreshToken": token}, headers=headers or {}).status_code)

    assert [exchange(revoked["refreshToken"]) for _ in range(10)] == [400] * 10  # known: not a guess
    assert [exchange(f"guess-{i}") for i in range(6)] == [400] * 5 + [429]
    assert exchange(live["refreshToken"]) == 429  # the address is refused for now
    assert exchange(live["refreshToken"], KEY) == 200  # a login server's key is never throttled
    assert exchange("guess-with-key", KEY) == 400


def test_trusted_networks_and_a_zero_limit_turn_the_limits_off(redis_server, redis_client):
    trusted = limited_app(redis_server, rate_limit_trusted_networks="10.0.0.0/8, ::1/128")
    off = limited_app(redis_server, failed_auth_limit=0, unknown_token_limit=0)
    for app, address in ((trusted, "10.1.2.3"), (off, "192.0.2.99")):
        client = client_from(app, address)
        assert {lookup(client, BAD).status_code for _ in range(10)} == {401}
        statuses = {client.post("/api/jwt/refresh", json={"refreshToken": f"g{i}"}).status_code for i in range(10)}
        assert statuses == {400}


def test_a_bad_limit_setting_stops_start_up() -> None:
    import pytest

    from app.config import Settings, SettingsError

    with pytest.raises(SettingsError, match="TRUSTED_NETWORKS"):
        Settings(rate_limit_trusted_networks="10.0.0.0/8,not-a-network")
    with pytest.raises(SettingsError, match="LIMIT"):
        Settings(failed_auth_limit=-1)


def test_the_admin_consoles_sign_in_counts_towards_the_same_limit(redis_server, redis_client):
    app = limited_app(redis_server)
    browser = app.test_client()  # with cookies: the console's session carries its CSRF token
    browser.environ_base["REMOTE_ADDR"] = "192.0.2.77"
    csrf = re.search(r'name="csrfToken" value="([^"]+)"', browser.get("/admin/login").get_data(as_text=True))
    assert csrf
    form = {"csrfToken": csrf.group(1)}
    statuses = [browser.post("/admin/login", data={**form, "apiKey": f"wrong-{i}"}).status_code for i in range(6)]
    assert statuses == [401] * 5 + [429]
    assert lookup(browser, BAD).status_code == 429  # the same address, the same count
