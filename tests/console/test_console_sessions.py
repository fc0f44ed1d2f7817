"""A user's sessions and an application's page through the console: listing, paging, revoking, and
the same permissions, tenant scope, CSRF and audit events as the API."""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime

from tests.api.helpers import KEY, exchange_status, mint, new_application, user
from tests.console.helpers import flashes, new_key, rows

CREATED = re.compile(r'<td data-label="Created"><time datetime="([^"]+)"')


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_revoke_removes_the_session_and_its_token_stops_working(client, console):
    app_id, who = new_application(client), user()
    first, second = mint(client, who, app_id), mint(client, who, app_id)
    console.sign_in()
    page = console.get(f"/admin/users/{who}")
    assert sorted(rows(page)) == sorted([second["refreshTokenId"], first["refreshTokenId"]])
    done = console.follow(console.post(f"/admin/users/{who}/sessions/{first['refreshTokenId']}/revoke"))
    assert rows(done) == [second["refreshTokenId"]]
    assert ("ok", "Session revoked: invalidatedTokens 1, previouslyInvalidatedTokens 0.") in flashes(done)
    assert exchange_status(client, first["refreshToken"]) == 400
    assert exchange_status(client, second["refreshToken"]) == 200


def test_a_form_without_the_csrf_token_changes_nothing(client, console, app):
    app_id, who = new_application(client), user()
    minted = mint(client, who, app_id)
    console.sign_in()
    console.get(f"/admin/users/{who}")
    revoke = f"/admin/users/{who}/sessions/{minted['refreshTokenId']}/revoke"
    assert console.post(revoke, csrf=False).status_code == 400
    assert console.post(revoke, {"csrfToken": "forged"}, csrf=False).status_code == 400
    assert console.post(f"/admin/users/{who}/revoke", csrf=False).status_code == 400
    assert exchange_status(client, minted["refreshToken"]) == 200


def test_pages_are_newest_first_and_follow_on_without_repeats(client, console):
    app_id, who, now = new_application(client), user(), int(time.time() * 1000)
    imported = [
        {"token": secrets.token_urlsafe(32), "userId": who, "applicationId": app_id, "startInstant": now - age,
         "insertInstant": now - age}
        for age in (50_000, 10_000, 40_000, 20_000, 30_000)
    ]  # fmt: skip
    assert (
        client.post("/api/user/refresh-token/import", json={"refreshTokens": imported}, headers=KEY).status_code == 200
    )
    console.sign_in()
    pages: list[list[str]] = []
    page = console.get(f"/admin/users/{who}?limit=2")
    while True:
        pages.append(CREATED.findall(page.get_data(as_text=True)))
        found = re.search(r'rel="next" href="([^"]+)"', page.get_data(as_text=True))
        if not found:
            break
        page = console.get(found.group(1).replace("&amp;", "&"))
    expected = [iso(now - age) for age in (10_000, 20_000, 30_000, 40_000, 50_000)]
    assert pages == [expected[0:2], expected[2:4], expected[4:]]


def test_revoke_all_for_the_user_and_for_one_application_show_the_counts(client, console):
    shop, blog, who = new_application(client), new_application(client), user()
    in_shop, in_blog = [mint(client, who, shop) for _ in range(2)], mint(client, who, blog)
    console.sign_in()
    console.get(f"/admin/users/{who}")
    done = console.follow(console.post(f"/admin/users/{who}/revoke", {"applicationId": shop}))
    assert (
        "ok",
        "All of the user's sessions for that application revoked: invalidatedTokens 2, previouslyInvalidatedTokens 0.",
    ) in flashes(done)
    assert rows(done) == [in_blog["refreshTokenId"]]
    done = console.follow(console.post(f"/admin/users/{who}/revoke"))
    assert "invalidatedTokens 1," in flashes(done)[0][1] and rows(done) == []
    assert [exchange_status(client, t["refreshToken"]) for t in [*in_shop, in_blog]] == [400, 400, 400]


def test_invalidate_all_sets_the_valid_from_shown_on_the_page(client, console):
    app_id, who = new_application(client), user()
    minted = mint(client, who, app_id)
    console.sign_in()
    assert "never reset" in console.get(f"/admin/users/{who}").get_data(as_text=True)
    done = console.follow(console.post(f"/admin/users/{who}/invalidate-all"))
    valid_from = client.get(f"/api/user/{who}/token-validity", headers=KEY).json["refreshTokensValidFromDateTime"]
    assert valid_from and valid_from in done.get_data(as_text=True)
    assert exchange_status(client, minted["refreshToken"]) == 400


def test_the_application_page_counts_live_sessions_and_revokes_them_all(client, console):
    app_id = new_application(client)
    minted = [mint(client, user(), app_id) for _ in range(3)]
    console.sign_in()
    assert 'data-live-sessions="3"' in console.get(f"/admin/applications/{app_id}").get_data(as_text=True)
    done = console.follow(console.post(f"/admin/applications/{app_id}/revoke"))
    assert (
        "ok",
        "Every session of the application revoked: invalidatedTokens 3, previouslyInvalidatedTokens 0.",
    ) in flashes(done)
    assert 'data-live-sessions="0"' in done.get_data(as_text=True)
    assert {exchange_status(client, t["refreshToken"]) for t in minted} == {400}


def test_a_console_revoke_is_audited_like_the_api_with_the_key_as_actor(client, console):
    app_id, who = new_application(client), user()
    minted = mint(client, who, app_id)
    key = new_key(client, permissions={"endpoints": {"/api/jwt/refresh": ["GET", "DELETE"]}})
    console.sign_in(key["key"])
    console.get(f"/admin/users/{who}")
    console.post(f"/admin/users/{who}/sessions/{minted['refreshTokenId']}/revoke")
    found = client.get(f"/api/event?userId={who}&type=jwt.refresh-token.revoke", headers=KEY).json["events"]
    assert [e["refreshTokenIds"] for e in found] == [[minted["refreshTokenId"]]]
    assert found[0]["actor"]["type"] == "apiKey" and found[0]["actor"]["id"] == key["id"]
    page = console.get(f"/admin/events?userId={who}&type=jwt.refresh-token.revoke")
    assert page.status_code == 403  # the key may not read events (GET /api/event)


def test_the_key_permissions_of_the_equivalent_api_endpoint_apply(client, console):
    app_id, who = new_application(client), user()
    minted = mint(client, who, app_id)
    reader = new_key(client, permissions={"endpoints": {"/api/jwt/refresh": ["GET"]}})
    console.sign_in(reader["key"])
    page = console.get(f"/admin/users/{who}")
    assert rows(page) == [minted["refreshTokenId"]] and ">Revoke</button>" not in page.get_data(as_text=True)
    refused = console.post(f"/admin/users/{who}/sessions/{minted['refreshTokenId']}/revoke")
    assert refused.status_code == 403 and "DELETE /api/jwt/refresh/" in refused.get_data(as_text=True)
    assert console.post(f"/admin/users/{who}/revoke").status_code == 403
    assert console.post(f"/admin/users/{who}/invalidate-all").status_code == 403
    assert console.get(f"/admin/applications/{app_id}").status_code == 403
    assert exchange_status(client, minted["refreshToken"]) == 200


def test_a_tenant_scoped_key_sees_and_revokes_only_its_tenant(client, console):
    tenant = client.post("/api/tenant", json={"tenant": {"name": "acme"}}, headers=KEY).json["tenant"]
    acme_app = client.post(
        "/api/application", json={"application": {"name": "acme-app", "tenantId": tenant["id"]}}, headers=KEY
    ).json["application"]["id"]
    other_app, who = new_application(client), user()
    in_acme, elsewhere = mint(client, who, acme_app), mint(client, who, other_app)
    console.sign_in(new_key(client, tenantId=tenant["id"])["key"])
    assert rows(console.get(f"/admin/users/{who}")) == [in_acme["refreshTokenId"]]
    done = console.follow(console.post(f"/admin/users/{who}/sessions/{elsewhere['refreshTokenId']}/revoke"))
    assert ("error", "That session was no longer live: nothing was revoked (404).") in flashes(done)
    assert console.get(f"/admin/applications/{other_app}").status_code == 404
    assert console.get(f"/admin/applications/{acme_app}").status_code == 200
    assert exchange_status(client, elsewhere["refreshToken"]) == 200


def test_the_event_log_filters_by_type_and_refuses_bad_ids(client, console):
    app_id, who = new_application(client), user()
    minted = mint(client, who, app_id)
    client.delete(f"/api/jwt/refresh/{minted['refreshTokenId']}", headers=KEY)
    console.sign_in()
    page = console.get(f"/admin/events?userId={who}&type=jwt.refresh-token.revoke").get_data(as_text=True)
    assert page.count('<td data-label="Type">jwt.refresh-token.revoke</td>') == 1
    assert "jwt.refresh-token.create</td>" not in page
    assert console.get("/admin/events?userId=nope").status_code == 400
    assert console.get("/admin/events?since=yesterday").status_code == 400
