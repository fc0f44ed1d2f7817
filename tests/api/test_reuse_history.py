"""A one-time session's retired values: the last REFRESHD_REUSE_HISTORY stay recognised as reuse (their
pointers, listed in the record's ring h0..), older ones' pointers are deleted, so a session's Redis memory is bounded
however often it rotates; and rotating that many times within the window is refused (429), changing
nothing, since it would push a stolen value's twin out of the history before its holder comes back."""

from __future__ import annotations

import time

import pytest

from app import create_app
from app.store import keys
from tests.api.helpers import KEY, mint, user
from tests.api.test_graph_and_elastic import bury
from tests.api.test_rotation import exchange, one_time_app
from tests.conftest import make_settings
from tests.store.store_kit import hash_fields, imported_value


def session_client(redis_server, **settings):
    return create_app(make_settings(redis_server.url, **settings)).test_client(use_cookies=False)


def pointers_to(redis_client, token_id: str) -> int:
    return sum(redis_client.get(key) == keys.stored_id(token_id) for key in redis_client.scan_iter("dg:*"))


def history(redis_client, token_id: str) -> list[str]:
    """The ring of retired values a one-time session's record keeps (exchange.lua)."""
    record = hash_fields(redis_client, keys.record(keys.TAGS[int(token_id[-1], 16)], token_id))
    return [value for field, value in record.items() if field[0] == "h" and field[1:].isdigit()]


def start(client, app_id: str, *, imported: bool) -> tuple[str, str]:
    """A session's first value and its id: minted here, or imported (found by its pointer)."""
    who = user()
    if not imported:
        minted = mint(client, who, app_id)
        return minted["refreshToken"], minted["refreshTokenId"]
    value, now = imported_value(who, foreign=False), int(time.time() * 1000)
    row = {"token": value, "userId": who, "applicationId": app_id, "insertInstant": now, "startInstant": now}
    assert client.post("/api/user/refresh-token/import", headers=KEY, json={"refreshTokens": [row]}).status_code == 200
    (session,) = client.get(f"/api/jwt/refresh?userId={who}", headers=KEY).json["refreshTokens"]
    return value, session["id"]


@pytest.mark.parametrize("imported", [False, True], ids=["minted", "imported"])
def test_only_the_last_retired_values_are_kept_and_recognised(redis_server, redis_client, imported):
    client = session_client(redis_server, reuse_history=3, reuse_history_window_seconds=0)
    app_id = one_time_app(client)
    first, token_id = start(client, app_id, imported=imported)
    values = [first]
    for _ in range(10):
        response = exchange(client, values[-1])
        assert response.status_code == 200, response.json
        values.append(response.json["refreshToken"])
    record = keys.record(keys.TAGS[int(token_id[-1], 16)], token_id)
    assert len(history(redis_client, token_id)) == 3 and redis_client.hget(record, "hn") == "10"
    assert redis_client.object("encoding", record) == "listpack"
    # the 3 retired values kept, and for an imported session the current value's pointer (its values
    # name an id of the pointer's bucket, not the session's: they are found by their pointers)
    assert pointers_to(redis_client, token_id) == (4 if imported else 3)

    assert exchange(client, values[0]).status_code == 400  # forgotten: unknown, the session lives on
    assert client.get(f"/api/jwt/refresh/{token_id}", headers=KEY).status_code == 200
    assert exchange(client, values[8]).status_code == 400  # kept: reuse, which revokes the session
    assert client.get(f"/api/jwt/refresh/{token_id}", headers=KEY).status_code == 404


def test_rotating_the_whole_history_within_the_window_is_refused_and_changes_nothing(redis_server, redis_client):
    client = session_client(redis_server, reuse_history=3, reuse_history_window_seconds=600)
    app_id = one_time_app(client)
    first, token_id = start(client, app_id, imported=False)
    values = [first]
    for _ in range(3):
        values.append(exchange(client, values[-1]).json["refreshToken"])
    record = keys.record(keys.TAGS[int(token_id[-1], 16)], token_id)
    before = hash_fields(redis_client, record)

    refused = exchange(client, values[-1])
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 600
    assert refused.json["generalErrors"][0]["code"] == "[tooManyRequests]"
    assert hash_fields(redis_client, record) == before  # not rotated, not even its last access
    assert pointers_to(redis_client, token_id) == 3

    # the first retired value is still recognised: its holder's return is reuse, and revokes the session
    assert exchange(client, values[0]).status_code == 400
    assert client.get(f"/api/jwt/refresh/{token_id}", headers=KEY).status_code == 404


def test_reuse_history_settings_are_read_and_checked():
    from app.config import Settings, SettingsError

    settings = Settings.from_env({"REFRESHD_REUSE_HISTORY": "8", "REFRESHD_REUSE_HISTORY_WINDOW_SECONDS": "60"})
    assert (settings.reuse_history, settings.reuse_history_window_seconds) == (8, 60)
    for bad in ({"REFRESHD_REUSE_HISTORY": "0"}, {"REFRESHD_REUSE_HISTORY_WINDOW_SECONDS": "-1"}):
        with pytest.raises(SettingsError):
            Settings.from_env(bad)


@pytest.mark.parametrize("imported", [False, True], ids=["minted", "imported"])
def test_the_burial_of_a_revoked_application_takes_its_sessions_histories(redis_server, redis_client, imported):
    app = create_app(make_settings(redis_server.url))
    client = app.test_client(use_cookies=False)
    app_id = one_time_app(client)
    value, token_id = start(client, app_id, imported=imported)
    for _ in range(4):
        value = exchange(client, value).json["refreshToken"]
    assert len(history(redis_client, token_id)) == 4
    assert client.delete(f"/api/jwt/refresh?applicationId={app_id}", headers=KEY).json["invalidatedTokens"] == 1
    assert bury(app) == 1
    assert pointers_to(redis_client, token_id) == 0
    assert not redis_client.exists(keys.record(keys.TAGS[int(token_id[-1], 16)], token_id))
