"""OAuth 2.0: the refresh_token grant, RFC 7009 revocation, RFC 7662 introspection, discovery."""

from __future__ import annotations

import base64
import uuid

import pytest

from tests.api.helpers import KEY, exchange_status, mint, user


def client_app(client, **jwt) -> tuple[str, str]:
    config = {"enabled": True, **jwt} if jwt else {"enabled": False}
    created = client.post(
        "/api/application", json={"application": {"name": "oauth", "jwtConfiguration": config}}, headers=KEY
    ).json["application"]
    return created["id"], created["oauthConfiguration"]["clientSecret"]


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def token(client, data: dict, headers: dict | None = None):
    return client.post("/oauth2/token", data=data, headers=headers or {})


def test_the_refresh_grant_with_form_credentials_and_with_basic(client):
    app_id, secret = client_app(client)
    minted = mint(client, user(), app_id)
    form = {"grant_type": "refresh_token", "refresh_token": minted["refreshToken"]}
    answer = token(client, {**form, "client_id": app_id, "client_secret": secret})
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert answer.json["token_type"] == "Bearer" and answer.json["expires_in"] == 3600
    assert answer.json["refresh_token"] == minted["refreshToken"]
    assert answer.json["refresh_token_id"] == minted["refreshTokenId"]
    assert token(client, form, basic(app_id, secret)).status_code == 200


def test_a_one_time_token_rotates_through_the_grant(client):
    app_id, secret = client_app(client, refreshTokenUsagePolicy="OneTimeUse")
    minted = mint(client, user(), app_id)
    form = {"grant_type": "refresh_token", "client_id": app_id, "client_secret": secret}
    first = token(client, {**form, "refresh_token": minted["refreshToken"]}).json
    assert first["refresh_token"] != minted["refreshToken"]
    assert token(client, {**form, "refresh_token": first["refresh_token"]}).status_code == 200


@pytest.mark.parametrize(
    ("case", "status", "error"),
    [
        ("wrong secret", 401, "invalid_client"),
        ("unknown client", 401, "invalid_client"),
        ("no grant type", 400, "invalid_request"),
        ("password grant", 400, "unsupported_grant_type"),
        ("no refresh token", 400, "invalid_request"),
        ("unknown refresh token", 400, "invalid_grant"),
        ("another client's token", 400, "invalid_grant"),
        ("json body", 400, "invalid_request"),
    ],
)
def test_grant_errors_in_rfc_6749_form(client, case, status, error):
    app_id, secret = client_app(client)
    other_id, _ = client_app(client)
    theirs = mint(client, user(), other_id)
    form = {
        "grant_type": "refresh_token",
        "refresh_token": mint(client, user(), app_id)["refreshToken"],
        "client_id": app_id,
        "client_secret": secret,
    }
    changes = {
        "wrong secret": {"client_secret": "nope"},
        "unknown client": {"client_id": str(uuid.uuid4())},
        "no grant type": {"grant_type": None},
        "password grant": {"grant_type": "password"},
        "no refresh token": {"refresh_token": None},
        "unknown refresh token": {"refresh_token": "nope"},
        "another client's token": {"refresh_token": theirs["refreshToken"]},
    }.get(case, {})
    data = {k: v for k, v in {**form, **changes}.items() if v is not None}
    if case == "json body":
        response = client.post("/oauth2/token", json=data)
    else:
        response = token(client, data)
    assert response.status_code == status and response.json["error"] == error
    assert "error_description" in response.json
    if case == "wrong secret":
        assert exchange_status(client, form["refresh_token"]) == 200
    if case == "another client's token":
        assert exchange_status(client, theirs["refreshToken"]) == 200  # untouched


LONG_DEVICE = {"description": "a device described at length " * 6}


@pytest.mark.parametrize("device", [None, LONG_DEVICE], ids=["short-metadata", "metadata-in-pieces"])
def test_a_narrower_scope_is_granted_and_a_wider_one_refused_without_rotating(client, device):
    app_id, secret = client_app(client, refreshTokenUsagePolicy="OneTimeUse")
    meta = {"scopes": ["read", "write"], **({"device": device} if device else {})}  # the store reads them whole
    minted = client.post(
        "/api/user/refresh-token", json={"userId": user(), "applicationId": app_id, "metaData": meta}, headers=KEY
    ).json
    form = {
        "grant_type": "refresh_token",
        "client_id": app_id,
        "client_secret": secret,
        "refresh_token": minted["refreshToken"],
    }
    refused = token(client, {**form, "scope": "read admin"})
    assert refused.status_code == 400 and refused.json["error"] == "invalid_scope"
    narrowed = token(client, {**form, "scope": "read"})
    assert narrowed.status_code == 200 and narrowed.json["scope"] == "read"


def test_revocation_of_refresh_tokens_per_rfc_7009(client):
    app_id, secret = client_app(client)
    other_id, _ = client_app(client)
    mine, theirs = mint(client, user(), app_id), mint(client, user(), other_id)
    creds = {"client_id": app_id, "client_secret": secret}
    assert client.post("/oauth2/revoke", data={"token": mine["refreshToken"], **creds}).status_code == 200
    assert exchange_status(client, mine["refreshToken"]) == 400
    assert client.post("/oauth2/revoke", data={"token": mine["refreshToken"], **creds}).status_code == 200
    assert client.post("/oauth2/revoke", data={"token": "never-issued", **creds}).status_code == 200
    refused = client.post("/oauth2/revoke", data={"token": theirs["refreshToken"], **creds})
    assert refused.status_code == 400 and refused.json["error"] == "unauthorized_client"
    assert exchange_status(client, theirs["refreshToken"]) == 200
    assert client.post("/oauth2/revoke", data={"token": mine["refreshToken"]}).status_code == 401


def test_revoking_an_access_token_ends_its_session(client):
    app_id, secret = client_app(client)
    minted = mint(client, user(), app_id)
    response = client.post(
        "/oauth2/revoke",
        data={"token": minted["token"], "token_type_hint": "access_token"},
        headers=basic(app_id, secret),
    )
    assert response.status_code == 200
    assert exchange_status(client, minted["refreshToken"]) == 400
    assert client.get("/api/jwt/validate", headers={"Authorization": f"Bearer {minted['token']}"}).status_code == 401


def test_introspection_of_access_and_refresh_tokens(client):
    app_id, secret = client_app(client)
    other_id, _ = client_app(client)
    who = user()
    minted = mint(client, who, app_id)
    creds = basic(app_id, secret)
    access = client.post("/oauth2/introspect", data={"token": minted["token"]}, headers=creds).json
    assert access["active"] is True and access["sub"] == who and access["client_id"] == app_id
    refresh = client.post(
        "/oauth2/introspect", data={"token": minted["refreshToken"], "token_type_hint": "refresh_token"}, headers=creds
    ).json
    assert refresh["active"] is True and refresh["token_type"] == "refresh_token" and refresh["sub"] == who
    assert "refreshToken" not in str(refresh) and minted["refreshToken"] not in str(refresh)
    theirs = mint(client, user(), other_id)
    assert client.post("/oauth2/introspect", data={"token": theirs["refreshToken"]}, headers=creds).json == {
        "active": False
    }
    client.delete(f"/api/jwt/refresh/{minted['refreshTokenId']}", headers=KEY)
    for value in (minted["token"], minted["refreshToken"], "junk"):
        assert client.post("/oauth2/introspect", data={"token": value}, headers=creds).json == {"active": False}
    assert client.post("/oauth2/introspect", data={"token": "junk"}).status_code == 401


def test_discovery_names_the_endpoints(client):
    doc = client.get("/.well-known/openid-configuration").json
    for key in ("issuer", "jwks_uri", "token_endpoint", "revocation_endpoint", "introspection_endpoint"):
        assert key in doc
    assert doc["token_endpoint"].endswith("/oauth2/token") and "refresh_token" in doc["grant_types_supported"]


def test_a_token_its_application_no_longer_refreshes_is_an_rfc_6749_invalid_grant(client):
    app_id, secret = client_app(client)
    minted = mint(client, user(), app_id)
    client.patch(
        f"/api/application/{app_id}",
        json={"application": {"loginConfiguration": {"allowTokenRefresh": False}}},
        headers=KEY,
    )
    form = {
        "grant_type": "refresh_token",
        "refresh_token": minted["refreshToken"],
        "client_id": app_id,
        "client_secret": secret,
    }
    response = token(client, form)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"
