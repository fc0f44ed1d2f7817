"""FusionAuth's official Python client manages webhooks on a live refreshd exactly as on FusionAuth."""

from __future__ import annotations

import uuid

from fusionauth.fusionauth_client import FusionAuthClient


def test_the_client_creates_retrieves_updates_and_deletes_a_webhook(client: FusionAuthClient) -> None:
    webhook_id = str(uuid.uuid4())
    request = {
        "webhook": {
            "url": "https://hooks.example.com/fusionauth",
            "eventsEnabled": {"jwt.refresh-token.revoke": True, "user.create": True},
            "connectTimeout": 1000,
            "readTimeout": 2000,
            "global": True,
            "headers": {},
            "signatureConfiguration": {"enabled": False},
        }
    }

    created = client.create_webhook(request, webhook_id)
    assert created.was_successful(), created.error_response
    assert created.success_response["webhook"]["id"] == webhook_id
    fetched = client.retrieve_webhook(webhook_id).success_response["webhook"]
    assert fetched["eventsEnabled"] == request["webhook"]["eventsEnabled"] and "secret" not in fetched
    assert webhook_id in [w["id"] for w in client.retrieve_webhooks().success_response["webhooks"]]

    request["webhook"]["url"] = "https://hooks.example.com/v2"
    assert client.update_webhook(webhook_id, request).success_response["webhook"]["url"].endswith("/v2")
    refused = client.create_webhook({"webhook": {**request["webhook"], "url": "ftp://x"}})
    assert refused.status == 400 and "webhook.url" in refused.error_response["fieldErrors"]

    assert client.delete_webhook(webhook_id).was_successful()
    assert client.retrieve_webhook(webhook_id).status == 404
