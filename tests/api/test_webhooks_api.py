"""The webhook API in FusionAuth's shape: create, read, replace, delete; URL validation in FusionAuth's
400 shape; the secret shown once and stored sealed; tenant-scoped keys; signing keys in use."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import redis

from app import create_app
from tests.api.helpers import KEY
from tests.conftest import RedisServer, make_settings

URL = "https://hooks.example.com/refreshd?source=test"


def _webhook(**fields: Any) -> dict[str, Any]:
    return {"webhook": {"url": URL, "eventsEnabled": {"jwt.refresh-token.revoke": True}, **fields}}


def test_a_webhook_is_created_read_replaced_and_deleted_in_fusionauths_shape(client: Any) -> None:
    ident = str(uuid.uuid4())
    created = client.post(f"/api/webhook/{ident}", json=_webhook(description="audit"), headers=KEY)

    assert created.status_code == 200, created.json
    hook = created.json["webhook"]
    assert hook["id"] == ident and hook["url"] == URL and hook["global"] is True and hook["tenantIds"] == []
    assert (hook["connectTimeout"], hook["readTimeout"], hook["maximumAttempts"]) == (1000, 2000, 4)
    assert hook["signatureConfiguration"] == {"enabled": True, "signingKeyId": None}
    assert len(hook["secret"]) >= 32 and hook["delivery"] == {"queued": 0, "deadLetters": 0}

    fetched = client.get(f"/api/webhook/{ident}", headers=KEY).json["webhook"]
    assert "secret" not in fetched and fetched["description"] == "audit"
    assert [w["id"] for w in client.get("/api/webhook", headers=KEY).json["webhooks"]] == [ident]

    replaced = client.put(f"/api/webhook/{ident}", json=_webhook(eventsEnabled={"jwt.refresh": True}), headers=KEY)
    assert replaced.status_code == 200 and replaced.json["webhook"]["eventsEnabled"] == {"jwt.refresh": True}
    assert "secret" not in replaced.json["webhook"] and replaced.json["webhook"]["description"] == ""
    new_secret = _webhook(secret="a-new-secret-0123456789")
    assert "secret" not in client.put(f"/api/webhook/{ident}", json=new_secret, headers=KEY).json["webhook"]

    assert client.delete(f"/api/webhook/{ident}", headers=KEY).status_code == 200
    assert client.get(f"/api/webhook/{ident}", headers=KEY).status_code == 404
    assert client.post(f"/api/webhook/{ident}", json=_webhook(), headers=KEY).status_code == 200


def test_the_secret_is_stored_sealed_and_never_shown_again(
    redis_client: redis.Redis, redis_server: RedisServer
) -> None:
    client = create_app(make_settings(redis_server.url, master_key="m" * 32)).test_client()
    secret = "a-receivers-shared-secret-0123456789"
    hook = client.post("/api/webhook", json=_webhook(secret=secret), headers=KEY).json["webhook"]

    assert hook["secret"] == secret
    stored = "".join(str(redis_client.get(k)) for k in redis_client.scan_iter("cfg:webhook:*"))
    assert secret not in stored and '"sealed"' in stored
    assert secret not in str(client.get(f"/api/webhook/{hook['id']}", headers=KEY).json)
    assert secret not in str(client.get("/api/webhook", headers=KEY).json)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        (None, "[blank]webhook.url"),
        ("  ", "[blank]webhook.url"),
        ("ftp://hooks.example.com/x", "[invalid]webhook.url"),
        ("javascript:alert(1)", "[invalid]webhook.url"),
        ("https://user:pass@hooks.example.com/x", "[invalid]webhook.url"),
        ("https://token@hooks.example.com/x", "[invalid]webhook.url"),
        ("https:///nohost", "[invalid]webhook.url"),
        ("https://hooks.example.com:99999/x", "[invalid]webhook.url"),
        ("https://hooks.example.com/a b", "[invalid]webhook.url"),
        ("https://hooks.example.com/" + "x" * 2048, "[tooLong]webhook.url"),
    ],
)
def test_a_bad_url_is_a_400_in_fusionauths_shape(client: Any, url: Any, code: str) -> None:
    body = _webhook(url=url)
    if url is None:
        del body["webhook"]["url"]

    response = client.post("/api/webhook", json=body, headers=KEY)

    assert response.status_code == 400
    assert [e["code"] for e in response.json["fieldErrors"]["webhook.url"]] == [code]
    assert client.get("/api/webhook", headers=KEY).json["webhooks"] == []


def test_other_bad_fields_are_400_naming_the_field(client: Any) -> None:
    cases = {
        "webhook.connectTimeout": _webhook(connectTimeout=0),
        "webhook.secret": _webhook(secret="short"),
        "webhook.tenantIds.0": _webhook(tenantIds=["not-a-uuid"]),
        "webhook.signatureConfiguration.signingKeyId": _webhook(
            signatureConfiguration={"enabled": True, "signingKeyId": str(uuid.uuid4())}
        ),
    }
    for field, body in cases.items():
        response = client.post("/api/webhook", json=body, headers=KEY)
        assert response.status_code == 400, field
        assert field in response.json["fieldErrors"], response.json


def test_a_signing_key_a_webhook_uses_cannot_be_deleted_and_hmac_keys_are_refused(client: Any) -> None:
    key = client.post("/api/key/generate", json={"key": {"algorithm": "ES256"}}, headers=KEY).json["key"]
    hmac_key = client.post("/api/key/generate", json={"key": {"algorithm": "HS256"}}, headers=KEY).json["key"]
    signed = _webhook(signatureConfiguration={"enabled": True, "signingKeyId": key["id"]})
    refused = _webhook(signatureConfiguration={"enabled": True, "signingKeyId": hmac_key["id"]})

    assert client.post("/api/webhook", json=signed, headers=KEY).status_code == 200
    assert client.post("/api/webhook", json=refused, headers=KEY).status_code == 400
    assert client.delete(f"/api/key/{key['id']}", headers=KEY).status_code == 400


def test_a_tenant_scoped_key_manages_only_its_tenants_webhooks(client: Any) -> None:
    tenant = client.post("/api/tenant", json={"tenant": {"name": "t2"}}, headers=KEY).json["tenant"]["id"]
    scoped = {
        "Authorization": client.post("/api/api-key", json={"apiKey": {"tenantId": tenant}}, headers=KEY).json["apiKey"][
            "key"
        ]
    }
    global_hook = client.post("/api/webhook", json=_webhook(), headers=KEY).json["webhook"]

    own = client.post("/api/webhook", json=_webhook(), headers=scoped)
    assert own.status_code == 200 and (own.json["webhook"]["tenantIds"], own.json["webhook"]["global"]) == (
        [tenant],
        False,
    )
    assert client.post("/api/webhook", json=_webhook(**{"global": True}), headers=scoped).status_code == 400
    assert [w["id"] for w in client.get("/api/webhook", headers=scoped).json["webhooks"]] == [own.json["webhook"]["id"]]
    assert client.get(f"/api/webhook/{global_hook['id']}", headers=scoped).status_code == 404
    assert client.delete(f"/api/webhook/{global_hook['id']}", headers=scoped).status_code == 404
    assert len(client.get("/api/webhook", headers=KEY).json["webhooks"]) == 2


def test_webhooks_need_an_api_key_and_unknown_ids_are_404(client: Any) -> None:
    assert client.get("/api/webhook").status_code == 401
    assert client.post("/api/webhook", json=_webhook()).status_code == 401
    assert client.get(f"/api/webhook/{uuid.uuid4()}", headers=KEY).status_code == 404
    assert client.get(f"/api/webhook/{uuid.uuid4()}/dead-letters", headers=KEY).status_code == 404
    assert client.post(f"/api/webhook/{uuid.uuid4()}/dead-letters/replay", headers=KEY).status_code == 404
    assert client.put(f"/api/webhook/{uuid.uuid4()}", json=_webhook(), headers=KEY).status_code == 404
