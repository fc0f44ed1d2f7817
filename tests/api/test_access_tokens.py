"""GET /api/jwt/validate, POST /api/jwt/vend, GET /api/jwt/issue; tampered tokens are 401."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from tests.api.helpers import KEY, mint, new_application, user


def validate(client, token: str) -> int:
    return int(client.get("/api/jwt/validate", headers={"Authorization": f"Bearer {token}"}).status_code)


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_valid_access_token_validates_to_its_claims(client):
    app_id = new_application(client)
    who = user()
    minted = mint(client, who, app_id)
    response = client.get("/api/jwt/validate", headers={"Authorization": f"Bearer {minted['token']}"})
    assert response.status_code == 200
    assert response.json["jwt"]["sub"] == who and response.json["jwt"]["sid"] == minted["refreshTokenId"]
    assert client.get("/api/jwt/validate", headers={"Cookie": f"access_token={minted['token']}"}).status_code == 200


def test_revoking_the_session_invalidates_its_access_tokens_at_once(client):
    app_id = new_application(client)
    minted = mint(client, user(), app_id)
    assert validate(client, minted["token"]) == 200
    client.delete(f"/api/jwt/refresh/{minted['refreshTokenId']}", headers=KEY)
    assert validate(client, minted["token"]) == 401


def test_tampered_tokens_are_401(client):
    app_id = new_application(client)
    token = mint(client, user(), app_id)["token"]
    header, payload, signature = _segments(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    forged_payload = _b64({**claims, "sub": str(uuid.uuid4())})
    cases = {
        "changed payload": f"{header}.{forged_payload}.{signature}",
        "alg none": f"{_b64({'alg': 'none', 'kid': jwt.get_unverified_header(token)['kid']})}.{payload}.",
        "garbage": "not.a.jwt",
        "empty": "",
    }
    for name, forged in cases.items():
        assert validate(client, forged) == 401, name


def test_hs_rs_confusion_and_unknown_kids_are_rejected(client):
    key = client.post("/api/key/generate", json={"key": {"algorithm": "RS256"}}, headers=KEY).json["key"]
    app_id = new_application(client, accessTokenKeyId=key["id"])
    token = mint(client, user(), app_id)["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    # the classic confusion: sign with HS256 using the published public key as the secret
    import hashlib
    import hmac

    head = _b64({"alg": "HS256", "kid": key["kid"], "typ": "JWT"})
    body = _b64(claims)
    mac = hmac.new(key["publicKey"].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    confused = f"{head}.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert validate(client, confused) == 401
    stranger = ec.generate_private_key(ec.SECP256R1())
    unknown = jwt.encode(claims, stranger, algorithm="ES256", headers={"kid": str(uuid.uuid4())})
    assert validate(client, unknown) == 401
    wrong_key_same_kid = jwt.encode(claims, stranger, algorithm="ES256", headers={"kid": key["kid"]})
    assert validate(client, wrong_key_same_kid) == 401


def test_expired_and_not_yet_valid_tokens_are_401(client):
    key = client.post("/api/key/generate", json={"key": {"algorithm": "HS256"}}, headers=KEY).json["key"]
    vended = client.post(
        "/api/jwt/vend", json={"claims": {"sub": "x"}, "keyId": key["id"], "timeToLiveInSeconds": 1}, headers=KEY
    ).json["token"]
    assert validate(client, vended) == 200
    time.sleep(2.1)
    assert validate(client, vended) == 401


def test_vend_signs_given_claims_and_ignores_reserved_ones(client):
    response = client.post("/api/jwt/vend", json={"claims": {"role": "admin", "exp": 1, "iat": 1}}, headers=KEY)
    assert response.status_code == 200
    claims = client.get("/api/jwt/validate", headers={"Authorization": f"Bearer {response.json['token']}"}).json["jwt"]
    assert claims["role"] == "admin" and claims["exp"] > time.time()
    bad = client.post("/api/jwt/vend", json={"claims": {}, "keyId": str(uuid.uuid4())}, headers=KEY)
    assert bad.status_code == 400 and "keyId" in bad.json["fieldErrors"]
    assert client.post("/api/jwt/vend", json={"claims": {}}).status_code == 401


def test_issue_gives_a_token_for_another_application_to_the_same_user(client):
    first, second = new_application(client), new_application(client)
    who = user()
    token = mint(client, who, first)["token"]
    response = client.get(f"/api/jwt/issue?applicationId={second}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    claims = jwt.decode(response.json["token"], options={"verify_signature": False})
    assert claims["sub"] == who and claims["aud"] == second
    assert (
        client.get(
            f"/api/jwt/issue?applicationId={uuid.uuid4()}", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 400
    )
    assert client.get(f"/api/jwt/issue?applicationId={second}").status_code == 401


def test_issue_with_a_refresh_token_starts_a_session_there_that_keeps_the_original_start(client):
    first, second = new_application(client), new_application(client)
    who = user()
    minted = mint(client, who, first)
    bearer = {"Authorization": f"Bearer {minted['token']}"}
    answer = client.get(
        f"/api/jwt/issue?applicationId={second}&refreshToken={minted['refreshToken']}", headers=bearer
    ).json
    assert answer["refreshToken"] and answer["refreshToken"] != minted["refreshToken"]
    assert client.post("/api/jwt/refresh", json={"refreshToken": answer["refreshToken"]}).status_code == 200
    listed = {
        t["applicationId"]: t for t in client.get(f"/api/jwt/refresh?userId={who}", headers=KEY).json["refreshTokens"]
    }
    assert listed[second]["startInstant"] == listed[first]["startInstant"]
    stranger = mint(client, user(), first)
    other = client.get(
        f"/api/jwt/issue?applicationId={second}&refreshToken={stranger['refreshToken']}", headers=bearer
    ).json
    assert "refreshToken" not in other  # someone else's refresh token earns nothing
