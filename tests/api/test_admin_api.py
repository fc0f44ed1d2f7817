"""Tenants, applications and API keys in FusionAuth's shapes; bootstrap."""

from __future__ import annotations

import uuid

from app import create_app
from tests.api.helpers import KEY, exchange_status, mint, new_application, user
from tests.conftest import make_settings


def test_application_crud_in_fusionauths_shape(client):
    app_id = str(uuid.uuid4())
    created = client.post(
        f"/api/application/{app_id}",
        json={
            "application": {
                "name": "web",
                "jwtConfiguration": {
                    "enabled": True,
                    "refreshTokenTimeToLiveInMinutes": 60,
                    "refreshTokenUsagePolicy": "OneTimeUse",
                },
            }
        },
        headers=KEY,
    )
    assert created.status_code == 200
    application = created.json["application"]
    assert application["id"] == app_id and application["tenantId"]
    assert application["oauthConfiguration"]["clientSecret"]
    fetched = client.get(f"/api/application/{app_id}", headers=KEY).json["application"]
    assert fetched["jwtConfiguration"]["refreshTokenUsagePolicy"] == "OneTimeUse"
    assert "clientSecret" not in fetched["oauthConfiguration"]
    patched = client.patch(f"/api/application/{app_id}", json={"application": {"name": "web2"}}, headers=KEY)
    assert patched.json["application"]["name"] == "web2"
    assert patched.json["application"]["jwtConfiguration"]["refreshTokenTimeToLiveInMinutes"] == 60
    replaced = client.put(f"/api/application/{app_id}", json={"application": {"name": "web3"}}, headers=KEY)
    assert replaced.json["application"]["jwtConfiguration"] == {"enabled": False}
    listed = client.get("/api/application", headers=KEY).json["applications"]
    assert app_id in [a["id"] for a in listed]
    assert (
        client.post(f"/api/application/{app_id}", json={"application": {"name": "dup"}}, headers=KEY).status_code == 400
    )


def test_application_validation_errors(client):
    response = client.post(
        "/api/application",
        json={"application": {"name": "x", "jwtConfiguration": {"refreshTokenUsagePolicy": "Sometimes"}}},
        headers=KEY,
    )
    assert response.status_code == 400
    assert "application.jwtConfiguration.refreshTokenUsagePolicy" in response.json["fieldErrors"]
    response = client.post("/api/application", json={"application": {}}, headers=KEY)
    assert response.json["fieldErrors"]["application.name"][0]["code"] == "[blank]application.name"
    assert client.get("/api/application/not-a-uuid", headers=KEY).status_code == 404


def test_the_applications_lifetime_applies_to_new_tokens(client):
    app_id = new_application(client, refreshTokenTimeToLiveInMinutes=5)
    minted = mint(client, user(), app_id)
    token = client.get(f"/api/jwt/refresh/{minted['refreshTokenId']}", headers=KEY).json["refreshToken"]
    assert token["expirationInstant"] - token["startInstant"] == 5 * 60_000


def test_deleting_an_application_revokes_all_its_tokens(client):
    app_id, other = new_application(client), new_application(client)
    tokens = [mint(client, user(), app_id) for _ in range(5)]
    survivor = mint(client, user(), other)
    assert client.delete(f"/api/application/{app_id}", headers=KEY).status_code == 200
    assert client.get(f"/api/application/{app_id}", headers=KEY).status_code == 404
    assert all(exchange_status(client, t["refreshToken"]) == 400 for t in tokens)
    assert exchange_status(client, survivor["refreshToken"]) == 200


def test_an_inactive_application_mints_and_exchanges_nothing(client):
    app_id = new_application(client)
    minted = mint(client, user(), app_id)
    client.patch(f"/api/application/{app_id}", json={"application": {"active": False}}, headers=KEY)
    assert exchange_status(client, minted["refreshToken"]) == 400
    response = client.post("/api/user/refresh-token", json={"userId": user(), "applicationId": app_id}, headers=KEY)
    assert response.status_code == 400


def test_tenants_have_a_default_and_can_be_created(client):
    tenants = client.get("/api/tenant", headers=KEY).json["tenants"]
    assert [t["name"] for t in tenants] == ["Default"]
    created = client.post("/api/tenant", json={"tenant": {"name": "acme"}}, headers=KEY).json["tenant"]
    assert client.get(f"/api/tenant/{created['id']}", headers=KEY).json["tenant"]["name"] == "acme"
    assert client.delete(f"/api/tenant/{tenants[0]['id']}", headers=KEY).status_code == 400
    assert client.delete(f"/api/tenant/{created['id']}", headers=KEY).status_code == 200


def test_the_bootstrap_key_is_created_once_across_processes(redis_server, redis_client):
    first = create_app(make_settings(redis_server.url)).test_client()
    second = create_app(make_settings(redis_server.url)).test_client()
    assert first.get("/api/application", headers=KEY).status_code == 200
    assert second.get("/api/application", headers=KEY).status_code == 200
    assert len(redis_client.smembers("cfg:keys")) == 1
    assert len(redis_client.smembers("cfg:tenants")) == 1


def test_access_token_lifetime_comes_from_the_application_then_the_tenant_then_the_default(client):
    import jwt as pyjwt

    tenant = client.post(
        "/api/tenant", json={"tenant": {"name": "short", "jwtConfiguration": {"timeToLiveInSeconds": 120}}}, headers=KEY
    ).json["tenant"]

    def ttl(app_body: dict) -> int:
        app_id = client.post("/api/application", json={"application": {"name": "t", **app_body}}, headers=KEY).json[
            "application"
        ]["id"]
        claims = pyjwt.decode(mint(client, user(), app_id)["token"], options={"verify_signature": False})
        return int(claims["exp"] - claims["iat"])

    assert ttl({}) == 3600
    assert ttl({"tenantId": tenant["id"]}) == 120
    assert ttl({"tenantId": tenant["id"], "jwtConfiguration": {"enabled": True, "timeToLiveInSeconds": 60}}) == 60
    assert ttl({"tenantId": tenant["id"], "jwtConfiguration": {"enabled": False, "timeToLiveInSeconds": 60}}) == 120
