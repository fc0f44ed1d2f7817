"""Signing in to the console: the key is checked, kept out of the cookie, and re-checked each request."""

from __future__ import annotations

import base64
import json
import uuid

from app import create_app
from tests.api.helpers import KEY
from tests.conftest import API_KEY, free_port, make_settings
from tests.console.helpers import Console, flashes, new_key


def test_a_page_asks_for_sign_in_and_comes_back_to_it_afterwards(console):
    user_page = f"/admin/users/{uuid.uuid4()}"
    response = console.get(user_page)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/login?next={user_page}"
    console.get(response.headers["Location"])
    signed_in = console.post("/admin/login", {"apiKey": API_KEY, "next": user_page})
    assert signed_in.headers["Location"] == user_page
    assert console.follow(signed_in).status_code == 200


def test_a_bad_key_is_refused_and_nothing_opens(console):
    console.get("/admin/login")
    response = console.post("/admin/login", {"apiKey": "not-a-key-0123456789"})
    assert response.status_code == 401
    assert "That API key is not valid." in response.get_data(as_text=True)
    assert console.get("/admin/").status_code == 303  # still signed out


def test_after_sign_in_the_next_page_is_never_another_site(app):
    for target in ("//evil.example/admin/", "https://evil.example/", "/api/status", "/admin\\..\\x"):
        console = Console(app)
        console.get("/admin/login")
        response = console.post("/admin/login", {"apiKey": API_KEY, "next": target})
        assert response.headers["Location"] == "/admin/", target


def test_the_cookie_is_httponly_strict_and_never_holds_the_key(console):
    console.get("/admin/login")
    response = console.post("/admin/login", {"apiKey": API_KEY})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    payload = cookie.split("=", 1)[1].split(".")[0]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert set(data) == {"csrf", "keyId"}
    assert API_KEY not in cookie


def test_a_deleted_key_signs_its_operator_out(client, console):
    key = new_key(client)
    assert console.follow(console.sign_in(key["key"])).status_code == 200
    assert client.delete(f"/api/api-key/{key['id']}", headers=KEY).status_code == 200
    response = console.get("/admin/")
    assert response.status_code == 303 and response.headers["Location"].startswith("/admin/login")
    assert ("error", "Your API key no longer exists: sign in again.") in flashes(console.get("/admin/login"))


def test_signing_out_ends_the_session(console):
    console.follow(console.sign_in())
    assert console.post("/admin/logout").status_code == 303
    assert console.get("/admin/").status_code == 303


def test_every_process_signs_cookies_with_the_same_secret(redis_server, redis_client):
    """Two apps on one Redis stand for two worker processes: a sign-in on one is good on the other,
    with and without a master key."""
    for master_key in (None, "a-master-key-for-tests"):
        first, second = (create_app(make_settings(redis_server.url, master_key=master_key)) for _ in range(2))
        console = Console(first)
        console.sign_in()
        cookie = console.http.get_cookie("refreshd_console", path="/admin")
        other = second.test_client()
        other.set_cookie("refreshd_console", cookie.value, path="/admin")
        assert other.get("/admin/").status_code == 200


def test_api_requests_get_no_session_cookie(client):
    response = client.get("/api/status")
    assert "Set-Cookie" not in response.headers


def test_a_redis_outage_is_a_readable_503_page(redis_client):
    app = create_app(make_settings(f"redis://127.0.0.1:{free_port()}/0"))
    response = app.test_client().get("/admin/login")
    assert response.status_code == 503
    assert response.mimetype == "text/html" and response.headers["Retry-After"] == "1"
    text = response.get_data(as_text=True)
    assert "Service unavailable" in text and "Traceback" not in text
