"""The bytes of a listing (GET /api/jwt/refresh?userId=) and of a token by id, from what its record
holds: instants, last access, and metaData with only the keys FusionAuth's RefreshToken declares."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.store import keys
from tests.api.helpers import KEY, mint, new_application, user
from tests.store.store_kit import hash_fields


def _record(redis_client: Any, token_id: str) -> dict[str, str]:
    tag = keys.TAGS[int(token_id[-1], 16)]
    record = hash_fields(redis_client, keys.record(tag, token_id))
    record["a"] = redis_client.hget(keys.app_codes(tag), record["c"]).split()[0]  # by its code in the bucket
    record.setdefault("tn", redis_client.hget(keys.app_tenants(tag), record["a"]))  # left out: the bucket's map has it
    return record


def _as_flask_writes(body: Any) -> bytes:
    return (json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n").encode()


def _wire(token_id: str, record: dict[str, str], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": token_id,
        "applicationId": record["a"],
        "userId": record["u"],
        "tenantId": record["tn"],
        "insertInstant": int(record["ii"]),
        "startInstant": int(record.get("si", record["ii"])),  # absent: the insert instant
        "expirationInstant": int(record["x"]),
        "metaData": meta,
    }


def test_a_listing_renders_each_token_from_its_record_with_and_without_a_last_access(client, redis_client):
    app_id, owner = new_application(client), user()
    device = {"name": "Zo\u00eb\u2019s phone", "type": "MOBILE", "description": None}
    data = {"f": 1.5e-07, "n": None, "nested": [1, {"z": True}]}
    used = mint(client, owner, app_id, metaData={"device": device, "scopes": ["openid"], "data": data})
    fresh = mint(client, owner, app_id, metaData={"device": {"name": "tablet"}})
    exchanged = client.post(
        "/api/jwt/refresh", json={"refreshToken": used["refreshToken"]}, environ_base={"REMOTE_ADDR": "203.0.113.9"}
    )
    assert exchanged.status_code == 200

    listed = client.get(f"/api/jwt/refresh?userId={owner}", headers=KEY)

    used_id, fresh_id = used["refreshTokenId"], fresh["refreshTokenId"]
    used_record, fresh_record = _record(redis_client, used_id), _record(redis_client, fresh_id)
    used_device = {**device, "lastAccessedInstant": int(used_record["la"]), "lastAccessedAddress": "203.0.113.9"}
    tokens = {
        used_id: _wire(used_id, used_record, {"device": used_device, "scopes": ["openid"], "data": data}),
        fresh_id: _wire(
            fresh_id, fresh_record, {"device": {"name": "tablet", "lastAccessedInstant": int(fresh_record["ii"])}}
        ),
    }
    newest_first = sorted(tokens, key=lambda i: (tokens[i]["insertInstant"], keys.stored_id(i)), reverse=True)
    assert listed.status_code == 200
    assert listed.get_data() == _as_flask_writes({"refreshTokens": [tokens[i] for i in newest_first]})
    assert b"1.5e-07" in listed.get_data()
    one = client.get(f"/api/jwt/refresh/{used_id}", headers=KEY)
    assert one.get_data() == _as_flask_writes({"refreshToken": tokens[used_id]})


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (
            {"device": {"name": "x", "type": "T", "extra": 1, "lastAccessedInstant": 5}, "other": [1], "scopes": ["s"]},
            {"device": {"name": "x", "type": "T"}, "scopes": ["s"]},
        ),
        ({}, {"device": {}}),
        ({"device": None, "scopes": None, "data": None}, {"device": {}, "scopes": None, "data": None}),
        ({"data": {"f": 1e16, "big": 2**70}, "zzz": {"a": 1}}, {"data": {"f": 1e16, "big": 2**70}, "device": {}}),
        (
            {"device": {"lastAccessedAddress": "192.0.2.1", "weird": True}},
            {"device": {"lastAccessedAddress": "192.0.2.1"}},
        ),
    ],
    ids=["extra-keys", "empty", "nulls", "only-data", "stored-address"],
)
def test_a_listing_shows_only_the_metadata_keys_the_schema_declares(client, redis_client, stored, shown):
    # the API stores only declared keys; a record written otherwise (an older version, a migration) may hold more
    app_id, owner = new_application(client), user()
    token_id = mint(client, owner, app_id)["refreshTokenId"]
    record_key = keys.record(keys.TAGS[int(token_id[-1], 16)], token_id)
    redis_client.hset(record_key, "m", json.dumps(stored))

    listed = client.get(f"/api/jwt/refresh?userId={owner}", headers=KEY)
    one = client.get(f"/api/jwt/refresh/{token_id}", headers=KEY)

    record = _record(redis_client, token_id)
    never_used = {"lastAccessedInstant": int(record["ii"])}  # a token never used: its insert instant
    expected = _wire(token_id, record, {**shown, "device": {**shown["device"], **never_used}})
    assert listed.get_data() == _as_flask_writes({"refreshTokens": [expected]})
    assert one.get_data() == _as_flask_writes({"refreshToken": expected})


def test_a_session_used_between_two_listings_shows_its_new_last_access(client, redis_client):
    # what a process keeps of listed tokens (app/api/common.py, app/store/tokens.py) must never hide a change
    app_id, owner = new_application(client), user()
    token = mint(client, owner, app_id)
    first = client.get(f"/api/jwt/refresh?userId={owner}", headers=KEY).get_json()["refreshTokens"][0]
    assert "lastAccessedAddress" not in first["metaData"]["device"]

    used = client.post(
        "/api/jwt/refresh", json={"refreshToken": token["refreshToken"]}, environ_base={"REMOTE_ADDR": "203.0.113.7"}
    )
    assert used.status_code == 200
    second = client.get(f"/api/jwt/refresh?userId={owner}", headers=KEY).get_json()["refreshTokens"][0]

    record = _record(redis_client, token["refreshTokenId"])
    assert second["metaData"]["device"] == {
        **first["metaData"]["device"],
        "lastAccessedInstant": int(record["la"]),
        "lastAccessedAddress": "203.0.113.7",
    }
