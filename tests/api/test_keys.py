"""Signing keys: generation per algorithm, JWKS and public keys, per-application keys, rotation."""

from __future__ import annotations

import uuid

import jwt
import pytest

from tests.api.helpers import KEY, mint, new_application, user

ASYMMETRIC = ["ES256", "ES384", "ES512", "RS256", "EdDSA"]


def generate(client, algorithm: str, key_id: str | None = None) -> dict:
    path = f"/api/key/generate/{key_id}" if key_id else "/api/key/generate"
    response = client.post(path, json={"key": {"algorithm": algorithm, "name": f"k-{algorithm}"}}, headers=KEY)
    assert response.status_code == 200, response.json
    return dict(response.json["key"])


def verify_with_jwks(client, token: str) -> dict:
    jwks = jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").json)
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    return dict(jwt.decode(token, key, algorithms=[key.algorithm_name], options={"verify_aud": False}))


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_an_applications_tokens_are_signed_by_its_key_and_verify_with_the_jwks(client, algorithm):
    key = generate(client, algorithm)
    assert key["algorithm"] == algorithm and "publicKey" in key
    app_id = new_application(client, accessTokenKeyId=key["id"])
    who = user()
    minted = mint(client, who, app_id)
    assert jwt.get_unverified_header(minted["token"]) == {"alg": algorithm, "kid": key["kid"], "typ": "JWT"}
    claims = verify_with_jwks(client, minted["token"])
    assert claims["sub"] == who and claims["aud"] == app_id and claims["sid"] == minted["refreshTokenId"]
    assert {"iss", "iat", "exp", "jti", "tid", "applicationId"} <= set(claims)


def test_hmac_keys_sign_but_are_never_published(client):
    key = generate(client, "HS256")
    assert "publicKey" not in key and "secret" not in key
    app_id = new_application(client, accessTokenKeyId=key["id"])
    minted = mint(client, user(), app_id)
    assert jwt.get_unverified_header(minted["token"])["alg"] == "HS256"
    assert key["kid"] not in [k["kid"] for k in client.get("/.well-known/jwks.json").json["keys"]]
    assert client.get(f"/api/jwt/public-key?kid={key['kid']}").status_code == 404
    assert client.get(f"/api/jwt/public-key?applicationId={app_id}").status_code == 404


def test_public_keys_by_kid_by_application_and_all(client):
    key = generate(client, "RS256")
    app_id = new_application(client, accessTokenKeyId=key["id"])
    assert client.get(f"/api/jwt/public-key?kid={key['kid']}").json == {"publicKey": key["publicKey"]}
    assert client.get(f"/api/jwt/public-key?applicationId={app_id}").json == {"publicKey": key["publicKey"]}
    everything = client.get("/api/jwt/public-key").json["publicKeys"]
    assert everything[key["kid"]] == key["publicKey"] and len(everything) >= 2
    assert client.get(f"/api/jwt/public-key?kid={uuid.uuid4()}").status_code == 404


def test_rotation_new_tokens_carry_the_new_kid_and_old_ones_still_verify(client):
    old, new = generate(client, "ES256"), generate(client, "ES256")
    app_id = new_application(client, accessTokenKeyId=old["id"])
    before = mint(client, user(), app_id)
    patched = client.patch(
        f"/api/application/{app_id}",
        json={"application": {"jwtConfiguration": {"accessTokenKeyId": new["id"]}}},
        headers=KEY,
    )
    assert patched.status_code == 200
    after = client.post("/api/jwt/refresh", json={"refreshToken": before["refreshToken"]}).json
    assert jwt.get_unverified_header(after["token"])["kid"] == new["kid"]
    assert verify_with_jwks(client, before["token"])["sid"] == before["refreshTokenId"]
    assert verify_with_jwks(client, after["token"])["sid"] == before["refreshTokenId"]


def test_keys_in_use_cannot_be_deleted_and_unknown_keys_cannot_be_chosen(client):
    key = generate(client, "ES256")
    app_id = new_application(client, accessTokenKeyId=key["id"])
    response = client.delete(f"/api/key/{key['id']}", headers=KEY)
    assert response.status_code == 400 and response.json["fieldErrors"]["keyId"][0]["code"] == "[inUse]keyId"
    client.put(f"/api/application/{app_id}", json={"application": {"name": "x"}}, headers=KEY)
    assert client.delete(f"/api/key/{key['id']}", headers=KEY).status_code == 200
    assert client.get(f"/api/key/{key['id']}", headers=KEY).status_code == 404
    bad = client.post(
        "/api/application",
        json={
            "application": {
                "name": "y",
                "jwtConfiguration": {"enabled": True, "accessTokenKeyId": str(uuid.uuid4())},
            }
        },
        headers=KEY,
    )
    assert "application.jwtConfiguration.accessTokenKeyId" in bad.json["fieldErrors"]


def test_key_listing_and_validation(client):
    key = generate(client, "EdDSA", str(uuid.uuid4()))
    listed = client.get("/api/key", headers=KEY).json["keys"]
    assert key["id"] in [k["id"] for k in listed]
    assert all("secret" not in k and "privateKey" not in k for k in listed)
    bad = client.post("/api/key/generate", json={"key": {"algorithm": "none"}}, headers=KEY)
    assert bad.status_code == 400 and "key.algorithm" in bad.json["fieldErrors"]
    assert client.post(f"/api/key/generate/{key['id']}", json={"key": {}}, headers=KEY).status_code == 400
    assert client.get("/api/key").status_code == 401


def test_signing_keys_are_sealed_at_rest_with_a_master_key(redis_server, redis_client):
    from app import create_app
    from tests.conftest import make_settings

    client = create_app(make_settings(redis_server.url, master_key="m" * 32)).test_client()
    key = generate(client, "HS256")
    stored = redis_client.get(f"cfg:sk:{key['id']}")
    assert '"sealed"' in stored and '"plain"' not in stored
    app_id = new_application(client, accessTokenKeyId=key["id"])
    assert mint(client, user(), app_id)["token"]
