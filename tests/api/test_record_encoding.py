"""A token's record stays a listpack, Redis's compact hash encoding (a value over 64 bytes, Redis's
default hash-max-listpack-value, turns the whole hash into a hashtable: ~1,100 bytes instead of ~450):
a rotated one-time token seals its next value in 58 characters, and metaData over 64 bytes is kept in
pieces that every reader puts back together."""

from __future__ import annotations

import time

import jwt
import pytest

from app.store import keys
from tests.api.helpers import KEY, mint, new_application, user
from tests.api.test_rotation import exchange, one_time_app
from tests.store.store_kit import imported_value

PIECE = 64


def record_key(token_id: str) -> str:
    return keys.record(keys.TAGS[int(token_id[-1], 16)], token_id)


def test_a_rotated_one_time_token_keeps_a_compact_record_and_its_grace_window(client, redis_client):
    app_id = one_time_app(client, grace=30)
    minted = mint(client, user(), app_id)
    values = [minted["refreshToken"]]
    for _ in range(2):
        values.append(exchange(client, values[-1]).json["refreshToken"])
    key = record_key(minted["refreshTokenId"])
    assert len(redis_client.hget(key, "gv")) == 58
    assert redis_client.object("encoding", key) == "listpack"
    assert exchange(client, values[-2]).json["refreshToken"] == values[-1]  # the grace window opens it


# a device name whose two-byte characters straddle the 64-byte piece boundaries
LONG_META = {
    "device": {
        "name": "téléphone de " + "é" * 120,
        "description": "x" * 200,
        "type": "MOBILE",
    },
    "scopes": ["openid", "offline_access", "profile"],
    "data": {"note": "ü" * 50},
}


@pytest.mark.parametrize(
    ("meta", "pieces"),
    [
        ({"device": {"name": "p" * 42}}, None),  # {"device":{"name":"ppp..."}}: exactly 64 bytes, one field
        ({"device": {"name": "p" * 43}}, 2),  # 65 bytes: two pieces
        (LONG_META, "many"),
    ],
    ids=["64-bytes", "65-bytes", "long-multibyte"],
)
def test_metadata_over_a_listpack_entry_is_kept_in_pieces_and_read_whole(client, redis_client, meta, pieces):
    app_id, owner = new_application(client), user()
    minted = mint(client, owner, app_id, metaData=meta)
    key = record_key(minted["refreshTokenId"])
    assert redis_client.object("encoding", key) == "listpack"
    count = redis_client.hget(key, "mn")
    if pieces is None:
        assert count is None
    elif pieces == "many":
        assert int(count) > 5
    else:
        assert int(count) == pieces
    assert all(len(v) <= PIECE for v in redis_client.execute_command("HGETALL", key, NEVER_DECODE=True).values())

    one = client.get(f"/api/jwt/refresh/{minted['refreshTokenId']}", headers=KEY).json["refreshToken"]
    listed = client.get(f"/api/jwt/refresh?userId={owner}", headers=KEY).json["refreshTokens"]
    for shown in (one["metaData"], listed[0]["metaData"]):
        assert shown["device"]["name"] == meta["device"]["name"]
        assert shown.get("scopes") == meta.get("scopes")
        assert shown.get("data") == meta.get("data")

    exchanged = exchange(client, minted["refreshToken"])
    assert exchanged.status_code == 200
    claims = jwt.decode(exchanged.json["token"], options={"verify_signature": False})
    assert claims.get("scope") == (" ".join(meta["scopes"]) if "scopes" in meta else None)


@pytest.mark.parametrize("foreign", [False, True], ids=["pointer-in-users-bucket", "pointer-in-another-bucket"])
def test_an_imported_one_time_token_keeps_a_compact_record_through_its_rotations(client, redis_client, foreign):
    """An imported value names no token: its first rotation seals a whole 65-character value (88
    characters, kept in two fields), the next ones the short form; the grace window opens both."""
    app_id = one_time_app(client, grace=30)
    who = user()
    first = imported_value(who, foreign=foreign)
    now = int(time.time() * 1000)
    row = {"token": first, "userId": who, "applicationId": app_id, "insertInstant": now, "startInstant": now}
    imported = client.post("/api/user/refresh-token/import", headers=KEY, json={"refreshTokens": [row]})
    assert imported.status_code == 200, imported.json
    (session,) = client.get(f"/api/jwt/refresh?userId={who}", headers=KEY).json["refreshTokens"]
    key = record_key(session["id"])
    values = [first]
    for sealed_length in (88, 58):
        values.append(exchange(client, values[-1]).json["refreshToken"])
        stored = redis_client.hget(key, "gv") + redis_client.hget(key, "gw")
        assert len(stored) == sealed_length
        assert redis_client.object("encoding", key) == "listpack"
        assert exchange(client, values[-2]).json["refreshToken"] == values[-1]  # in the grace window
