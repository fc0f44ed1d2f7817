"""The fast path (app/api/fast.py) answers exactly as Flask does, and really is the path taken.

Every request is sent to two apps on the same Redis: one with the fast path (the default) and one
with REFRESHD_FAST_PATH=false, where Flask runs the same views. Status, headers and body must be the
same, once the parts that differ on every call (ids, tokens, instants, the request id) are masked.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from io import BytesIO
from typing import Any

import pytest

from app import create_app
from tests.api.helpers import KEY, mint, new_application, user
from tests.api.test_hot_path_errors import CASES
from tests.conftest import RedisServer, make_settings

Request = tuple[str, str, dict[str, Any]]  # method, path, test-client keyword arguments

_MASKS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"), "<jwt>"),
    (re.compile(r'("refreshToken":")[^"]+'), r"\1<token>"),
    (re.compile(r"(refresh_token=)[^;]+"), r"\1<token>"),
    (re.compile(r"Expires=[^;]+"), "Expires=<date>"),
    (re.compile(r"\b[0-9]{10,}\b"), "<instant>"),
    (re.compile(r"Max-Age=[0-9]+"), "Max-Age=<n>"),
]


def _masked(text: str) -> str:
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


def answer(client: Any, request: Request) -> tuple[int, list[tuple[str, str]], str]:
    method, path, kwargs = request
    response = client.open(path, method=method, **kwargs)
    headers = sorted((name, _masked(value)) for name, value in response.headers if name != "X-Request-Id")
    return response.status_code, headers, _masked(response.get_data(as_text=True))


@pytest.fixture
def both(redis_client: Any, redis_server: Any) -> Iterator[tuple[Any, Any, list[str]]]:
    """(fast app's client, Flask-only app's client, the requests the fast app handed to Flask)."""
    fast = create_app(make_settings(redis_server.url))
    slow = create_app(make_settings(redis_server.url, fast_path=False))
    handed: list[str] = []
    path = fast.wsgi_app.wsgi_app  # Telemetry -> FastPath -> Flask
    flask_app = path.flask_app

    def to_flask(environ: dict[str, Any], start_response: Any) -> Any:
        handed.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
        return flask_app(environ, start_response)

    path.flask_app = to_flask
    yield fast.test_client(use_cookies=False), slow.test_client(use_cookies=False), handed


APP_ID = "0b6c1f7e-2a3d-4e5f-8a9b-1c2d3e4f5a6b"  # the application tests/api/test_hot_path_errors.py names


@pytest.mark.parametrize(("name", "method", "path", "kwargs"), CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_answered_alike(both: Any, name: str, method: str, path: str, kwargs: dict[str, Any]) -> None:
    fast, slow, _ = both
    assert fast.post(f"/api/application/{APP_ID}", json={"application": {"name": "x"}}, headers=KEY).status_code == 200
    assert answer(fast, (method, path, kwargs)) == answer(slow, (method, path, kwargs))


def _session(client: Any, policy: str = "Reusable") -> dict[str, Any]:
    app_id = new_application(client, refreshTokenUsagePolicy=policy, timeToLiveInSeconds=600)
    owner = user()
    return {**mint(client, owner, app_id), "applicationId": app_id, "userId": owner}


# Each makes its own state with the client it is given, so both apps meet the same situation.
SUCCESSES: dict[str, Callable[[Any], Request]] = {
    "validate bearer": lambda c: (
        "GET",
        "/api/jwt/validate",
        {"headers": {"Authorization": f"Bearer {_session(c)['token']}"}},
    ),
    "validate cookie": lambda c: (
        "GET",
        "/api/jwt/validate",
        {"headers": {"Cookie": f"access_token={_session(c)['token']}"}},
    ),
    "exchange": lambda c: ("POST", "/api/jwt/refresh", {"json": {"refreshToken": _session(c)["refreshToken"]}}),
    "exchange one-time": lambda c: (
        "POST",
        "/api/jwt/refresh",
        {"json": {"refreshToken": _session(c, "OneTimeUse")["refreshToken"], "eventInfo": {"ipAddress": "1.2.3.4"}}},
    ),
    "exchange cookie": lambda c: (
        "POST",
        "/api/jwt/refresh",
        {"headers": {"Cookie": f"refresh_token={_session(c)['refreshToken']}"}},
    ),
    "exchange with key": lambda c: (
        "POST",
        "/api/jwt/refresh",
        {"json": {"refreshToken": _session(c)["refreshToken"]}, "headers": KEY},
    ),
    "list": lambda c: ("GET", f"/api/jwt/refresh?userId={_session(c)['userId']}", {"headers": KEY}),
    "list by app": lambda c: (
        "GET",
        "/api/jwt/refresh?userId={userId}&applicationId={applicationId}&limit=1".format(**_session(c)),
        {"headers": KEY},
    ),
    "get by id": lambda c: ("GET", f"/api/jwt/refresh/{_session(c)['refreshTokenId']}", {"headers": KEY}),
    "revoke by token": lambda c: ("DELETE", f"/api/jwt/refresh?token={_session(c)['refreshToken']}", {"headers": KEY}),
    "revoke by token in body": lambda c: (
        "DELETE",
        "/api/jwt/refresh",
        {"json": {"token": _session(c)["refreshToken"], "eventInfo": {"deviceName": "x"}}, "headers": KEY},
    ),
    "revoke by user": lambda c: ("DELETE", f"/api/jwt/refresh?userId={_session(c)['userId']}", {"headers": KEY}),
    "revoke by id": lambda c: ("DELETE", f"/api/jwt/refresh/{_session(c)['refreshTokenId']}", {"headers": KEY}),
    "revoke own by id": lambda c: (
        "DELETE",
        "/api/jwt/refresh/{refreshTokenId}".format(**(s := _session(c))),
        {"headers": {"Authorization": f"Bearer {s['token']}"}},
    ),
    "mint": lambda c: (
        "POST",
        "/api/user/refresh-token",
        {"json": {"userId": user(), "applicationId": _session(c)["applicationId"]}, "headers": KEY},
    ),
    "unknown id": lambda c: ("GET", f"/api/jwt/refresh/{user()}", {"headers": KEY}),
    "not a uuid": lambda c: ("DELETE", "/api/jwt/refresh/nope", {"headers": KEY}),
    "no key": lambda c: ("GET", f"/api/jwt/refresh?userId={user()}", {}),
    "wrong key": lambda c: ("GET", f"/api/jwt/refresh?userId={user()}", {"headers": {"Authorization": "x" * 40}}),
    "bad tenant header": lambda c: (
        "GET",
        f"/api/jwt/refresh?userId={user()}",
        {"headers": {**KEY, "X-FusionAuth-TenantId": "nope"}},
    ),
    "revoked token exchange": lambda c: (
        "POST",
        "/api/jwt/refresh",
        {"json": {"refreshToken": _revoked(c)}},
    ),
}


def _revoked(client: Any) -> str:
    session = _session(client)
    assert client.delete(f"/api/jwt/refresh/{session['refreshTokenId']}", headers=KEY).status_code == 200
    return str(session["refreshToken"])


@pytest.mark.parametrize("name", list(SUCCESSES))
def test_requests_are_answered_alike_without_flask(both: Any, name: str) -> None:
    fast, slow, handed = both
    request = SUCCESSES[name](fast)
    handed.clear()
    got = answer(fast, request)
    assert handed == [], "the fast path handed a common request to Flask"
    assert got == answer(slow, SUCCESSES[name](slow))


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("HEAD", "/api/jwt/validate", {}),
        ("GET", "/api/jwt/validate/", {}),
        ("GET", "/api//jwt/validate", {}),
        ("OPTIONS", "/api/jwt/refresh", {}),
        ("POST", "/api/jwt/refresh", {"data": b"refreshToken=x", "content_type": "application/x-www-form-urlencoded"}),
        ("POST", "/api/jwt/refresh", {"data": b'{"refreshToken": "x"}', "content_type": "text/plain"}),
        ("POST", "/api/jwt/refresh", {"json": {"refreshToken": "x" * 2_000_000}}),
        ("POST", "/api/jwt/refresh", {"json": {"refreshToken": 5}}),
        ("DELETE", "/api/jwt/refresh/", {"headers": KEY}),
        ("DELETE", "/api/jwt/refresh/\u00e9t\u00e9", {"headers": KEY}),
        ("GET", "/api/jwt/refresh", {"headers": KEY}),
    ],
)
def test_what_it_is_not_sure_of_goes_to_flask(both: Any, method: str, path: str, kwargs: dict[str, Any]) -> None:
    fast, slow, handed = both
    got = answer(fast, (method, path, kwargs))
    assert handed, "Flask should have answered"
    assert got == answer(slow, (method, path, kwargs))


def test_a_chunked_body_goes_to_flask(both: Any) -> None:
    fast, slow, handed = both
    refresh = _session(fast)["refreshToken"]
    body = f'{{"refreshToken": "{refresh}"}}'.encode()
    environ = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}
    handed.clear()
    response = fast.post(
        "/api/jwt/refresh", input_stream=BytesIO(body), content_type="application/json", environ_base=environ
    )
    assert handed == ["POST /api/jwt/refresh"]
    assert response.status_code == 200 and response.json["refreshToken"] == refresh


@pytest.mark.parametrize(("length", "fast"), [("", True), ("0", True), ("x", False), ("-1", False), ("\u0664", False)])
def test_odd_content_lengths(both: Any, length: str, fast: bool) -> None:
    from werkzeug.test import EnvironBuilder

    client, slow, handed = both
    answers = []
    for app in (client.application, slow.application):
        environ = EnvironBuilder(path="/api/jwt/validate", headers={"Authorization": "Bearer x"}).get_environ()
        environ["CONTENT_LENGTH"] = length
        statuses: list[str] = []

        def start_response(status: str, headers: Any, exc_info: Any = None, seen: list[str] = statuses) -> None:
            seen.append(status)

        body = b"".join(app(environ, start_response))
        answers.append((statuses, body))
    assert answers[0] == answers[1]
    assert handed == ([] if fast else ["GET /api/jwt/validate"])


def test_store_outage_is_the_same_503() -> None:
    aof = ("--appendonly", "yes", "--appendfsync", "always")
    server = RedisServer(*aof)
    try:
        fast = create_app(make_settings(server.url)).test_client(use_cookies=False)
        slow = create_app(make_settings(server.url, fast_path=False)).test_client(use_cookies=False)
        session = _session(fast)
        request: Request = ("POST", "/api/jwt/refresh", {"json": {"refreshToken": session["refreshToken"]}})
        server.stop(keep_data=True)
        got, expected = answer(fast, request), answer(slow, request)
        assert got[0] == 503 and dict(got[1])["Retry-After"] == "1"
        assert got == expected
        assert answer(fast, request) == expected  # the breaker is open: 503 at once, the same answer
        server = RedisServer(*aof, port=server.port, directory=server.dir)
        time.sleep(1.1)  # the breaker's window
        assert answer(fast, request)[0] == 200
    finally:
        server.stop()


def test_an_unexpected_failure_is_a_logged_500(both: Any, caplog: Any, monkeypatch: Any) -> None:
    fast, slow, _ = both
    session = _session(fast)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    for client in (fast, slow):
        monkeypatch.setattr(client.application.extensions["refreshd"].access, "validate", broken)
    request: Request = ("GET", "/api/jwt/validate", {"headers": {"Authorization": f"Bearer {session['token']}"}})
    with caplog.at_level(logging.ERROR):
        got = answer(fast, request)
    assert got[0] == 500 and "secret" not in got[2]
    assert any(record.exc_info for record in caplog.records if record.getMessage() == "unhandled error")
    assert got == answer(slow, request)


def test_metrics_and_access_log_name_the_route(both: Any) -> None:
    fast, _, handed = both
    session = _session(fast)
    handed.clear()
    response = fast.get(f"/api/jwt/refresh/{session['refreshTokenId']}", headers=KEY)
    assert response.status_code == 200 and response.headers["X-Request-Id"]
    assert handed == []
    scraped = fast.get("/metrics").get_data(as_text=True)
    assert 'route="/api/jwt/refresh/<token_id>"' in scraped


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("application/json; charset=utf-8", None),
        ("APPLICATION/JSON", None),
        ("application/json ; x=1", None),
        ("application/vnd.api+json", None),  # JSON to werkzeug, not taken from the bytes read
        (None, None),  # no content type: the body is not read at all
        ("application/json", b""),
        ("application/json", b"{not json"),
        ("application/json", b'{"refreshToken": "\xff"}'),
        ("application/json", b"[1, 2]"),
    ],
)
def test_a_json_body_is_read_alike_whatever_its_content_type_says(
    both: Any, content_type: str | None, data: bytes | None
) -> None:
    fast, slow, _ = both

    def request(client: Any) -> tuple[str, str, dict[str, Any]]:
        body = data if data is not None else f'{{"refreshToken": "{_session(client)["refreshToken"]}"}}'.encode()
        return "POST", "/api/jwt/refresh", {"data": body, "content_type": content_type}

    assert answer(fast, request(fast)) == answer(slow, request(slow))
