"""Errors in FusionAuth's shape, authentication, permissions, limits and a Redis outage."""

from __future__ import annotations

import time
import uuid

import pytest
import redis

from app import create_app
from tests.api.helpers import KEY, mint, new_application, user
from tests.conftest import RedisServer, free_port, make_settings


@pytest.mark.parametrize("headers", [{}, {"Authorization": "wrong-key-0123456789"}, {"Authorization": "Bearer x.y.z"}])
def test_missing_or_bad_credentials_are_401_with_an_empty_body(client, headers):
    response = client.delete(f"/api/jwt/refresh?userId={uuid.uuid4()}", headers=headers)
    assert response.status_code == 401 and response.data == b""


def test_a_key_without_the_permission_gets_401_and_with_it_works(client):
    created = client.post(
        "/api/api-key",
        json={"apiKey": {"permissions": {"endpoints": {"/api/jwt/refresh": ["GET", "DELETE"]}}}},
        headers=KEY,
    )
    assert created.status_code == 200
    limited = {"Authorization": created.json["apiKey"]["key"]}
    app_id = new_application(client)
    who = user()
    minted = mint(client, who, app_id)
    assert (
        client.post(
            "/api/user/refresh-token", json={"userId": who, "applicationId": app_id}, headers=limited
        ).status_code
        == 401
    )
    assert client.get(f"/api/jwt/refresh?userId={who}", headers=limited).status_code == 200
    assert client.delete(f"/api/jwt/refresh/{minted['refreshTokenId']}", headers=limited).status_code == 200
    assert client.post("/api/api-key", json={"apiKey": {}}, headers=limited).status_code == 401


def test_api_keys_are_stored_hashed_and_the_value_is_shown_once(client, redis_client):
    created = client.post(
        "/api/api-key", json={"apiKey": {"metaData": {"attributes": {"description": "ci"}}}}, headers=KEY
    ).json["apiKey"]
    value = created["key"]
    dump = " ".join(str(redis_client.dump(k)) for k in redis_client.scan_iter())
    assert value not in dump
    shown = client.get(f"/api/api-key/{created['id']}", headers=KEY).json["apiKey"]
    assert "key" not in shown
    assert client.delete(f"/api/api-key/{created['id']}", headers=KEY).status_code == 200
    assert client.get(f"/api/application/{uuid.uuid4()}", headers={"Authorization": value}).status_code == 401


def test_a_tenant_scoped_key_sees_and_touches_only_its_tenant(client):
    tenant = client.post("/api/tenant", json={"tenant": {"name": "acme"}}, headers=KEY).json["tenant"]
    scoped = client.post("/api/api-key", json={"apiKey": {"tenantId": tenant["id"]}}, headers=KEY).json["apiKey"]
    scoped_headers = {"Authorization": scoped["key"]}
    default_app = new_application(client)
    acme_app = client.post(
        "/api/application", json={"application": {"name": "acme-app", "tenantId": tenant["id"]}}, headers=KEY
    ).json["application"]["id"]
    who = user()
    in_default, in_acme = mint(client, who, default_app), mint(client, who, acme_app)
    assert client.get(f"/api/application/{default_app}", headers=scoped_headers).status_code == 404
    assert client.get(f"/api/jwt/refresh/{in_default['refreshTokenId']}", headers=scoped_headers).status_code == 404
    revoked = client.delete(f"/api/jwt/refresh?userId={who}", headers=scoped_headers).json
    assert revoked["refreshTokenIds"] == [in_acme["refreshTokenId"]]
    assert client.post("/api/jwt/refresh", json={"refreshToken": in_default["refreshToken"]}).status_code == 200


def test_unknown_application_in_a_revoke_is_invalid_application_id(client):
    response = client.delete(f"/api/jwt/refresh?applicationId={uuid.uuid4()}", headers=KEY)
    assert response.status_code == 400
    assert response.json["fieldErrors"]["applicationId"][0]["code"] == "[invalid]applicationId"


def test_a_user_without_tokens_revokes_to_zero_counts(client):
    response = client.delete(f"/api/jwt/refresh?userId={uuid.uuid4()}", headers=KEY)
    assert response.status_code == 200
    assert response.json == {
        "invalidatedTokens": 0,
        "previouslyInvalidatedTokens": 0,
        "refreshTokenIds": [],
        "errors": [],
    }


@pytest.mark.parametrize(
    ("body", "content_type", "field"),
    [
        ("{not json", "application/json", None),
        ('{"userId": "12"}', "application/json", "userId"),
        (
            f'{{"userId": "{uuid.uuid4()}", "eventInfo": {{"location": {{"latitude": 91}}}}}}',
            "application/json",
            "eventInfo.location.latitude",
        ),
        (
            '{{"userId": "{}", "eventInfo": {{"deviceName": "{}"}}}}'.format(uuid.uuid4(), "x" * 300),
            "application/json",
            "eventInfo.deviceName",
        ),
        ('{"token": "%s"}' % ("t" * 2000), "application/json", "token"),
    ],
)
def test_bad_input_is_a_400_in_fusionauths_shape(client, body, content_type, field):
    response = client.delete("/api/jwt/refresh", data=body, content_type=content_type, headers=KEY)
    assert response.status_code == 400
    if field is None:
        assert response.json["generalErrors"][0]["code"] == "[invalid]"
    else:
        assert field in response.json["fieldErrors"]
        assert response.json["fieldErrors"][field][0]["code"].endswith("]" + field)


def test_a_token_may_come_as_a_form_field(client):
    app_id = new_application(client)
    minted = mint(client, user(), app_id)
    response = client.delete("/api/jwt/refresh", data={"token": minted["refreshToken"]}, headers=KEY)
    assert response.status_code == 200 and response.json["invalidatedTokens"] == 1


def test_a_body_over_the_limit_is_413_json(redis_server, redis_client):
    app = create_app(make_settings(redis_server.url, max_body_bytes=2048))
    response = app.test_client().delete(
        "/api/jwt/refresh", data="{" + " " * 4096 + "}", content_type="application/json", headers=KEY
    )
    assert response.status_code == 413
    assert response.json["generalErrors"][0]["code"] == "[tooLarge]"


def test_unknown_paths_and_methods_are_4xx_never_500(client):
    assert client.get("/api/nothing-here").status_code == 404
    assert client.put("/api/jwt/refresh", headers=KEY).status_code == 405


def test_redis_down_is_a_fast_503_json_and_the_service_recovers_by_itself():
    server = RedisServer("--appendonly", "yes", "--appendfsync", "always")
    try:
        client = create_app(make_settings(server.url)).test_client()
        app_id = new_application(client)
        minted = mint(client, user(), app_id)
        server.stop(keep_data=True)
        started = time.monotonic()
        response = client.delete(f"/api/jwt/refresh?token={minted['refreshToken']}", headers=KEY)
        assert time.monotonic() - started < 2
        assert response.status_code == 503
        assert response.json["generalErrors"][0]["code"] == "[unavailable]store"
        assert response.headers["Retry-After"]
        assert client.get("/api/status").status_code == 503
        server = RedisServer("--appendonly", "yes", "--appendfsync", "always", port=server.port, directory=server.dir)
        # for REFRESHD_STORE_DOWN_SECONDS (1 s) after the failure the process answers 503 at once, then serves
        back = time.monotonic()
        while client.get("/api/status").status_code != 200:
            assert time.monotonic() - back < 2
            time.sleep(0.05)
        response = client.delete(f"/api/jwt/refresh?token={minted['refreshToken']}", headers=KEY)
        assert response.status_code == 200 and response.json["invalidatedTokens"] == 1
    finally:
        server.stop()


def test_a_service_started_while_redis_is_down_serves_once_it_is_up():
    port = free_port()
    client = create_app(make_settings(f"redis://127.0.0.1:{port}/0")).test_client()
    assert client.get(f"/api/jwt/refresh?userId={uuid.uuid4()}", headers=KEY).status_code == 503
    server = RedisServer(port=port)
    try:
        time.sleep(1)  # REFRESHD_STORE_DOWN_SECONDS: 503 at once for this long after a failure
        assert client.get(f"/api/jwt/refresh?userId={uuid.uuid4()}", headers=KEY).status_code == 200
    finally:
        server.stop()


def test_redis_refusing_writes_is_a_503_and_opens_no_breaker():
    server = RedisServer()
    try:
        client = create_app(make_settings(server.url)).test_client()
        app_id = new_application(client)
        admin = redis.Redis.from_url(server.url)
        admin.config_set("maxmemory", 1)  # noeviction and over the limit: Redis refuses writes (OOM)
        try:
            response = client.post(
                "/api/user/refresh-token", json={"userId": user(), "applicationId": app_id}, headers=KEY
            )
            assert response.status_code == 503 and response.headers["Retry-After"]
            assert response.json["generalErrors"][0]["code"] == "[unavailable]store"
        finally:
            admin.config_set("maxmemory", 0)
        # Redis answered throughout: no breaker, the very next request is served
        assert mint(client, user(), app_id)["refreshToken"]
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (redis.exceptions.ReadOnlyError("You can't write against a read only replica."), 503),  # a failover
        (redis.ResponseError("ERR wrong number of arguments"), 500),  # our bug
    ],
)
def test_the_api_and_the_console_read_a_redis_error_alike(app, monkeypatch, error, status):
    from tests.console.helpers import Console

    client = app.test_client(use_cookies=False)
    console = Console(app)
    assert console.sign_in().status_code == 303

    def refuse(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(app.extensions["refreshd"].tokens, "list_tokens", refuse)
    response = client.get(f"/api/jwt/refresh?userId={user()}", headers=KEY)
    page = console.get(f"/admin/users/{user()}")

    assert response.status_code == status and response.is_json
    assert page.status_code == status and page.mimetype == "text/html"
