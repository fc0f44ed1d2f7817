"""The hot endpoints render plain dicts with orjson: the bytes are what jsonify of the schema's dump gave."""

from __future__ import annotations

import json
import re
import time
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from flask import jsonify

from app import create_app
from app.answers import json_answer, to_response
from app.schemas import tokens as s
from tests.api.helpers import KEY, mint, new_application, user
from tests.conftest import make_settings


def as_jsonify_wrote(schema: Any, body: Any) -> bytes:
    """The body the routes sent before: the response schema's dump, through Flask's jsonify."""
    return (json.dumps(schema.dump(body), sort_keys=True, separators=(",", ":")) + "\n").encode()


@pytest.mark.parametrize(
    ("body", "caller_json"),
    [
        ({"b": 1, "a": [1, 2, {"z": None, "y": True}], "c": "x"}, False),
        ({"name": "Zoë’s phone ☎", "n": 2}, False),
        ({"big": 2**70, "small": -(2**63)}, False),
        ({"data": {"f": 1e16, "g": 1.5e-07, "h": 0.1, "nan": float("nan"), "inf": float("-inf")}}, True),
    ],
)
def test_json_answer_writes_what_jsonify_writes(app: Any, body: Any, caller_json: bool) -> None:
    with app.app_context():
        expected = jsonify(body)
        got = to_response(json_answer(body, caller_json=caller_json))
    assert got.get_data() == expected.get_data()
    assert got.headers["Content-Type"] == expected.headers["Content-Type"] == "application/json"
    assert got.status_code == 200


@pytest.mark.parametrize(
    ("meta", "marker"),
    [
        ({"device": {"name": "phone", "type": "MOBILE"}, "scopes": ["a b"], "data": {"f": 1.5e-07}}, b"1.5e-07"),
        ({"device": {"name": "Zo\u00eb\u2019s phone", "description": None}}, b"Zo\\u00eb\\u2019s"),
    ],
    ids=["caller-json", "non-ascii"],
)
def test_listing_and_retrieving_render_exactly_the_schemas_dump(client: Any, meta: Any, marker: bytes) -> None:
    app_id, owner = new_application(client), user()
    minted = mint(client, owner, app_id, metaData=meta)
    mint(client, owner, app_id)
    listed = client.get(f"/api/jwt/refresh?userId={owner}", headers=KEY)
    assert listed.status_code == 200
    assert listed.get_data() == as_jsonify_wrote(s.RefreshTokens(), listed.json)
    assert marker in listed.get_data()
    one = client.get(f"/api/jwt/refresh/{minted['refreshTokenId']}", headers=KEY)
    assert one.get_data() == as_jsonify_wrote(s.RefreshTokenResponse(), one.json)
    assert marker in one.get_data()


def test_token_answers_keep_their_headers_and_bodies(client: Any) -> None:
    app_id, owner = new_application(client), user()
    minted = client.post("/api/user/refresh-token", json={"userId": owner, "applicationId": app_id}, headers=KEY)
    assert minted.headers["Cache-Control"] == "no-store" and "Pragma" not in minted.headers
    assert minted.get_data() == as_jsonify_wrote(s.MintResponse(), minted.json)
    exchanged = client.post("/api/jwt/refresh", json={"refreshToken": minted.json["refreshToken"]})
    assert exchanged.headers["Cache-Control"] == "no-store" and exchanged.headers["Pragma"] == "no-cache"
    assert sorted(c.split("=")[0] for c in exchanged.headers.getlist("Set-Cookie")) == ["access_token", "refresh_token"]
    assert exchanged.get_data() == as_jsonify_wrote(s.RefreshResponse(), exchanged.json)
    validated = client.get("/api/jwt/validate", headers={"Authorization": f"Bearer {exchanged.json['token']}"})
    assert validated.get_data() == as_jsonify_wrote(s.ValidateResponse(), validated.json)
    revoked = client.delete(f"/api/jwt/refresh/{minted.json['refreshTokenId']}", headers=KEY)
    assert revoked.get_data() == as_jsonify_wrote(s.RevokeResult(), revoked.json)
    assert revoked.json["refreshTokenIds"] == [minted.json["refreshTokenId"]]


def _without_expires(lines: list[str]) -> list[str]:
    return [re.sub(r"; Expires=[^;]+", "", line) for line in lines]


@pytest.mark.parametrize("secure", [False, True])
@pytest.mark.parametrize("value", ["imported-plain-token_1.2~3", "imported, with a space; and semicolons"])
def test_token_cookies_are_written_as_werkzeug_writes_them(redis_server, redis_client, secure, value):
    from werkzeug.wrappers import Response

    client = create_app(make_settings(redis_server.url, cookie_secure=secure)).test_client(use_cookies=False)
    app_id = new_application(client, timeToLiveInSeconds=600, refreshTokenTimeToLiveInMinutes=60)
    plain = value.startswith("imported-plain")
    imported = {"userId": user(), "applicationId": app_id, "token": value, "startInstant": int(time.time() * 1000)}
    assert (
        client.post("/api/user/refresh-token/import", json={"refreshTokens": [imported]}, headers=KEY).status_code
        == 200
    )
    response = client.post("/api/jwt/refresh", json={"refreshToken": value})
    assert response.status_code == 200
    got = response.headers.getlist("Set-Cookie")

    expected = Response()
    max_age = int(re.search(r"Max-Age=(\d+)", got[1]).group(1))
    expected.set_cookie("access_token", response.json["token"], httponly=True, samesite="Lax", secure=secure)
    expected.set_cookie("refresh_token", value, httponly=True, samesite="Lax", secure=secure, max_age=max_age)
    assert _without_expires(got) == _without_expires(expected.headers.getlist("Set-Cookie"))
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", got[1]).group(1)).timestamp()
    assert abs(expires - (time.time() + max_age)) < 2
    assert ('"' in got[1]) != plain  # a value with separators is quoted (werkzeug's path)
