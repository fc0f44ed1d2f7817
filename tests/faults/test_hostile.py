"""Requests no fuzzer thinks of, sent as raw bytes to the service as the Procfile starts it: each gets a
4xx (FusionAuth's JSON error shape where the app answers; the server layer's own 4xx for what never
reaches it), never a 5xx or a dropped connection, and nobody else's tokens are touched."""

from __future__ import annotations

import contextlib
import json
import socket
import uuid

import pytest
import requests

from tests.conftest import API_KEY
from tests.faults.conftest import Stack

KEY = f"Authorization: {API_KEY}\r\n".encode()
LUA = "']]) redis.call('FLUSHALL') --"
RESP = "\r\n*1\r\n$8\r\nFLUSHALL\r\n"
SQL = "1' OR '1'='1'; DROP TABLE users; --"


def request(method: str, path: bytes, body: bytes = b"", content_type: bytes = b"application/json",
            extra: bytes = b"") -> bytes:  # fmt: skip
    return (
        method.encode() + b" " + path + b" HTTP/1.1\r\nHost: refreshd\r\n" + KEY + extra
        + b"Content-Type: " + content_type + b"\r\nContent-Length: " + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n" + body
    )  # fmt: skip


def quoted(text: str) -> bytes:
    return requests.utils.quote(text, safe="").encode()


HOSTILE: dict[str, bytes] = {
    "JSON array nested 100,000 deep": request("DELETE", b"/api/jwt/refresh", b"[" * 100_000 + b"]" * 100_000),
    "JSON object nested 100,000 deep": request(
        "POST", b"/api/user/refresh-token", b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    ),
    "an integer of 5,000 digits": request(
        "POST", b"/api/jwt/refresh", b'{"refreshToken":"x","timeToLiveInSeconds":1' + b"0" * 5000 + b"}"
    ),
    "body over the limit": request(
        "POST", b"/api/user/refresh-token/import", b'{"refreshTokens":["' + b"a" * 2_000_000 + b'"]}'
    ),  # noqa: E501
    "invalid UTF-8 in a JSON body": request("DELETE", b"/api/jwt/refresh", b'{"token":"\xff\xfe"}'),
    "invalid UTF-8 in the query": request("DELETE", b"/api/jwt/refresh?userId=\xff\xfe"),
    "invalid UTF-8 in a header": request("GET", b"/api/jwt/refresh?userId=x", extra=b"X-Device: \xff\xfe\r\n"),
    "a JSON body sent as text/plain": request("DELETE", b"/api/jwt/refresh", b'{"token":"x"}', b"text/plain"),
    "XML": request("POST", b"/api/user/refresh-token", b"<user id='1'/>", b"application/xml"),
    "a form where JSON is expected": request(
        "POST", b"/api/user/refresh-token", b"userId=1", b"application/x-www-form-urlencoded"
    ),  # noqa: E501
    "JSON where a form is expected": request("POST", b"/oauth2/token", b'{"grant_type":"refresh_token"}'),
    "a JSON string instead of an object": request("DELETE", b"/api/jwt/refresh", b'"token"'),
    "a NUL in a token": request("DELETE", b"/api/jwt/refresh", b'{"token":"a\\u0000b"}'),
    "a 100 KB query string": request("GET", b"/api/jwt/refresh?userId=" + b"a" * 100_000),
    "a 100 KB header": request("GET", b"/api/jwt/refresh?userId=x", extra=b"X-Big: " + b"a" * 100_000 + b"\r\n"),
    "1,000 headers": request(
        "GET", b"/api/jwt/refresh?userId=x", extra=b"".join(b"X-H%d: v\r\n" % i for i in range(1000))
    ),  # noqa: E501
    "an unknown method": b"BREW /api/jwt/refresh HTTP/1.1\r\nHost: refreshd\r\nConnection: close\r\n\r\n",
    "not HTTP at all": b"\x00\x01\x02\x03 hello\r\n\r\n",
    "a truncated chunked body": (
        b"POST /api/jwt/refresh HTTP/1.1\r\nHost: refreshd\r\nTransfer-Encoding: chunked\r\n"
        b'Content-Type: application/json\r\nConnection: close\r\n\r\n5\r\n{"a":\r\n0\r\n\r\n'
    ),
    "a Lua-looking token id": request("GET", b"/api/jwt/refresh/" + quoted(LUA)),
    "a Lua-looking user id": request("DELETE", b"/api/jwt/refresh?userId=" + quoted(LUA)),
    "a RESP-looking user id": request("DELETE", b"/api/jwt/refresh?userId=" + quoted(RESP)),
    "a RESP-looking token": request("DELETE", b"/api/jwt/refresh", json.dumps({"token": RESP}).encode()),
    "an SQL-looking user id": request("DELETE", b"/api/jwt/refresh", json.dumps({"userId": SQL}).encode()),
    "an SQL-looking application id": request("DELETE", b"/api/jwt/refresh?applicationId=" + quoted(SQL)),
    "a Lua-looking Graph user": request("POST", b"/v1.0/users/" + quoted(LUA) + b"/invalidateAllRefreshTokens"),
    "a RESP-looking API key": b"GET /api/jwt/refresh?userId=x HTTP/1.1\r\nHost: refreshd\r\nAuthorization: "
    + RESP.replace("\r\n", " ").encode()
    + b"\r\nConnection: close\r\n\r\n",
    "an Elasticsearch realm that looks like Lua": request(
        "DELETE", b"/_security/oauth2/token", json.dumps({"realm_name": LUA}).encode()
    ),  # noqa: E501
    "a refresh token of 1 MB": request(
        "POST", b"/api/jwt/refresh", json.dumps({"refreshToken": "a" * 1_000_000}).encode()
    ),  # noqa: E501
    "an event query with a hostile cursor": request("GET", b"/api/event?cursor=" + quoted(LUA)),
    "an event query until the year 3 billion": request("GET", b"/api/event?until=" + b"9" * 20),
    "a lone surrogate in a token": request("DELETE", b"/api/jwt/refresh", b'{"token":"\\udbac"}'),
    "a lone surrogate in an import": request(
        "POST",
        b"/api/user/refresh-token/import",
        b'{"refreshTokens":[{"token":"\\ud800x","userId":"' + str(uuid.uuid4()).encode() + b'",'
        b'"applicationId":"' + str(uuid.uuid4()).encode() + b'","startInstant":1}]}',
    ),  # fmt: skip
    "an import starting in the year 3 billion": request(
        "POST",
        b"/api/user/refresh-token/import",
        b'{"refreshTokens":[{"token":"abcdefghijklmnop","userId":"' + str(uuid.uuid4()).encode() + b'",'
        b'"applicationId":"' + str(uuid.uuid4()).encode() + b'","startInstant":' + b"9" * 20 + b"}]}",
    ),  # fmt: skip
}


def send(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """The status, headers and body of the one answer to `raw`; status 0 when none came."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        # the server may answer and close before reading everything: then read what it said
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.sendall(raw)
        data = b""
        try:
            while chunk := conn.recv(65536):
                data += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 "):
        return 0, {}, data
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


@pytest.fixture
def bystander(stack: Stack) -> tuple[str, list[str]]:
    """A user with two live sessions, whom no hostile request may touch."""
    app_id = stack.new_application()
    user = str(uuid.uuid4())
    tokens = []
    for _ in range(2):
        response = requests.post(
            f"{stack.base_url}/api/user/refresh-token",
            json={"userId": user, "applicationId": app_id},
            headers={"Authorization": API_KEY},
            timeout=10,
        )
        tokens.append(response.json()["refreshToken"])
    return user, tokens


def test_hostile_requests_get_4xx_answers_and_touch_nobody(stack: Stack, bystander: tuple[str, list[str]]) -> None:
    answers = {name: send(stack.server.port, raw) for name, raw in HOSTILE.items()}

    wrong = {name: status for name, (status, _, _) in answers.items() if not 400 <= status < 500}
    assert wrong == {}
    for name, (_, headers, body) in answers.items():
        if headers.get("content-type", "").startswith("application/json"):
            parsed = json.loads(body)
            oauth = HOSTILE[name].startswith(b"POST /oauth2/")  # RFC 6749's error shape there
            shape = {"error", "error_description", "error_reason"} if oauth else {"fieldErrors", "generalErrors"}
            assert parsed and set(parsed) <= shape, name
        else:
            assert body == b"", f"{name}: a non-JSON body {body[:80]!r}"
    user, tokens = bystander
    listed = requests.get(f"{stack.base_url}/api/jwt/refresh?userId={user}", headers={"Authorization": API_KEY})
    assert len(listed.json()["refreshTokens"]) == 2
    for token in tokens:
        assert requests.post(f"{stack.base_url}/api/jwt/refresh", json={"refreshToken": token}).status_code == 200
    print(f"\nhostile requests: {len(answers)} sent, statuses {sorted({s for s, _, _ in answers.values()})}, 0 5xx")
