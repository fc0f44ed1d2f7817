"""Standard client libraries against the live service: Authlib's OAuth 2.0 client refreshes and
revokes; PyJWT's PyJWKClient verifies access tokens from the JWKS, across key rotation."""

from __future__ import annotations

import time
import uuid

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.compat.conftest import Service
from tests.conftest import API_KEY


def oauth_client(service: Service, **jwt_config: object) -> tuple[str, str]:
    response = requests.post(
        service.base_url + "/api/application",
        headers={"Authorization": API_KEY},
        timeout=10,
        json={"application": {"name": "authlib", "jwtConfiguration": {"enabled": True, **jwt_config}}},
    )
    created = response.json()["application"]
    return created["id"], created["oauthConfiguration"]["clientSecret"]


def test_authlib_refreshes_a_one_time_token_and_revokes_it(service: Service) -> None:
    client_id, secret = oauth_client(service, refreshTokenUsagePolicy="OneTimeUse")
    minted = service.mint(str(uuid.uuid4()), client_id)
    session = OAuth2Session(client_id, secret, token_endpoint_auth_method="client_secret_basic")
    token = session.refresh_token(service.base_url + "/oauth2/token", refresh_token=minted["refreshToken"])
    assert token["access_token"] and token["token_type"] == "Bearer"
    assert token["refresh_token"] != minted["refreshToken"]
    again = session.refresh_token(service.base_url + "/oauth2/token", refresh_token=token["refresh_token"])
    revoked = session.revoke_token(
        service.base_url + "/oauth2/revoke", again["refresh_token"], token_type_hint="refresh_token"
    )
    assert revoked.status_code == 200
    service.assert_revoked(again["refresh_token"])


def test_authlib_with_client_secret_post(service: Service) -> None:
    client_id, secret = oauth_client(service)
    minted = service.mint(str(uuid.uuid4()), client_id)
    session = OAuth2Session(client_id, secret, token_endpoint_auth_method="client_secret_post")
    token = session.refresh_token(service.base_url + "/oauth2/token", refresh_token=minted["refreshToken"])
    assert token["refresh_token"] == minted["refreshToken"]  # Reusable: the same value


def test_pyjwkclient_verifies_tokens_before_and_after_key_rotation(service: Service) -> None:
    headers = {"Authorization": API_KEY}
    jwks = PyJWKClientFor(service)
    for algorithm in ("ES256", "RS256", "EdDSA"):
        old = requests.post(
            service.base_url + "/api/key/generate", json={"key": {"algorithm": algorithm}}, headers=headers, timeout=10
        ).json()["key"]
        new = requests.post(
            service.base_url + "/api/key/generate", json={"key": {"algorithm": algorithm}}, headers=headers, timeout=10
        ).json()["key"]
        app_id = service.new_application(accessTokenKeyId=old["id"])
        before = service.mint(str(uuid.uuid4()), app_id)
        requests.patch(
            service.base_url + f"/api/application/{app_id}",
            headers=headers,
            timeout=10,
            json={"application": {"jwtConfiguration": {"accessTokenKeyId": new["id"]}}},
        )
        after = exchange_until_signed_by(service, before["refreshToken"], new["kid"])
        for token, kid in ((before["token"], old["kid"]), (after["token"], new["kid"])):
            key = jwks.fresh().get_signing_key_from_jwt(token)
            assert key.key_id == kid
            claims = jwt.decode(token, key, algorithms=[algorithm], audience=app_id)
            assert claims["sid"] == before["refreshTokenId"]


def exchange_until_signed_by(service: Service, refresh_token: str, kid: str) -> dict:
    """Other worker processes see an application change within REFRESHD_CACHE_SECONDS (2 s)."""
    deadline = time.monotonic() + 3
    while True:
        answer = requests.post(
            service.base_url + "/api/jwt/refresh", json={"refreshToken": refresh_token}, timeout=10
        ).json()
        if jwt.get_unverified_header(answer["token"])["kid"] == kid or time.monotonic() > deadline:
            return dict(answer)
        time.sleep(0.05)


class PyJWKClientFor:
    def __init__(self, service: Service):
        self.url = service.base_url + "/.well-known/jwks.json"

    def fresh(self) -> jwt.PyJWKClient:
        return jwt.PyJWKClient(self.url, cache_keys=False, cache_jwk_set=False)
