"""FusionAuth's Python client for access tokens and keys: validate, issue, vend, JWKS, public keys,
the Key API and logout, against the live service."""

from __future__ import annotations

import time
import uuid

import jwt
from fusionauth.fusionauth_client import FusionAuthClient

from tests.compat.conftest import Service


def anonymous(service: Service) -> FusionAuthClient:
    return FusionAuthClient(None, service.base_url)


def test_validate_jwt_answers_the_claims_and_401_once_the_session_is_revoked(service: Service) -> None:
    app_id = service.new_application()
    who = str(uuid.uuid4())
    minted = service.mint(who, app_id)
    valid = anonymous(service).validate_jwt(minted["token"])
    assert valid.status == 200 and valid.success_response["jwt"]["sub"] == who
    assert service.client.revoke_refresh_token_by_id(minted["refreshTokenId"]).status == 200
    assert anonymous(service).validate_jwt(minted["token"]).status == 401
    assert anonymous(service).validate_jwt("not-a-jwt").status == 401


def test_issue_jwt_for_another_application(service: Service) -> None:
    first, second = service.new_application(), service.new_application()
    who = str(uuid.uuid4())
    minted = service.mint(who, first)
    issued = anonymous(service).issue_jwt(second, minted["token"], minted["refreshToken"])
    assert issued.status == 200
    claims = jwt.decode(issued.success_response["token"], options={"verify_signature": False})
    assert claims["sub"] == who and claims["aud"] == second
    service.assert_live(issued.success_response["refreshToken"])


def test_vend_jwt_with_a_chosen_key_and_ttl(service: Service) -> None:
    key = service.client.generate_key({"key": {"algorithm": "RS256", "name": "vend"}}).success_response["key"]
    vended = service.client.vend_jwt({"claims": {"role": "robot"}, "keyId": key["id"], "timeToLiveInSeconds": 60})
    assert vended.status == 200
    token = vended.success_response["token"]
    assert jwt.get_unverified_header(token)["kid"] == key["kid"]
    assert anonymous(service).validate_jwt(token).success_response["jwt"]["role"] == "robot"
    unknown = service.client.vend_jwt({"claims": {}, "keyId": str(uuid.uuid4())})
    assert unknown.status == 400 and "keyId" in unknown.error_response["fieldErrors"]


def test_jwks_and_public_keys(service: Service) -> None:
    key = service.client.generate_key({"key": {"algorithm": "ES256", "name": "pk"}}).success_response["key"]
    app_id = service.new_application(accessTokenKeyId=key["id"])
    jwks = anonymous(service).retrieve_json_web_key_set()
    assert jwks.status == 200 and key["kid"] in [k["kid"] for k in jwks.success_response["keys"]]
    one = anonymous(service).retrieve_jwt_public_key(key["kid"])
    assert one.status == 200 and one.success_response["publicKey"] == key["publicKey"]
    by_app = anonymous(service).retrieve_jwt_public_key_by_application_id(app_id)
    assert by_app.success_response["publicKey"] == key["publicKey"]
    every = anonymous(service).retrieve_jwt_public_keys()
    assert every.success_response["publicKeys"][key["kid"]] == key["publicKey"]
    assert anonymous(service).retrieve_jwt_public_key(str(uuid.uuid4())).status == 404


def test_key_api_generate_retrieve_and_delete(service: Service) -> None:
    key_id = str(uuid.uuid4())
    made = service.client.generate_key({"key": {"algorithm": "EdDSA", "name": "k"}}, key_id)
    assert made.status == 200 and made.success_response["key"]["id"] == key_id
    assert key_id in [k["id"] for k in service.client.retrieve_keys().success_response["keys"]]
    assert service.client.retrieve_key(key_id).success_response["key"]["algorithm"] == "EdDSA"
    deleted_at = time.monotonic()
    assert service.client.delete_key(key_id).status == 200
    # every worker process forgets it within REFRESHD_CACHE_SECONDS (2 s)
    time.sleep(max(0.0, deleted_at + 2.1 - time.monotonic()))
    assert {service.client.retrieve_key(key_id).status for _ in range(6)} == {404}


def test_logout_with_request_revokes_the_token_and_clears_cookies(service: Service) -> None:
    app_id = service.new_application()
    minted = service.mint(str(uuid.uuid4()), app_id)
    response = anonymous(service).logout_with_request({"global": False, "refreshToken": minted["refreshToken"]})
    assert response.status == 200
    service.assert_revoked(minted["refreshToken"])
