"""The FusionAuth refresh API through Flask's test client, against a real Redis."""

from __future__ import annotations

import json
import uuid

from app.store import keys
from tests.api.helpers import KEY, exchange_status, mint, new_application, user


def test_minting_returns_a_refresh_token_its_id_and_an_access_jwt(client):
    app_id = new_application(client)
    minted = mint(client, user(), app_id)
    assert set(minted) == {"token", "tokenExpirationInstant", "refreshToken", "refreshTokenId"}
    assert len(minted["refreshToken"]) >= 43
    assert exchange_status(client, minted["refreshToken"]) == 200


def test_exchange_returns_a_new_access_token_with_the_session_id_and_cookies(client):
    app_id = new_application(client)
    minted = mint(client, user(), app_id)
    response = client.post("/api/jwt/refresh", json={"refreshToken": minted["refreshToken"]})
    assert response.status_code == 200
    assert response.json["refreshTokenId"] == minted["refreshTokenId"]
    assert response.json["refreshToken"] == minted["refreshToken"]
    assert response.headers["Cache-Control"] == "no-store"
    cookies = " ".join(response.headers.getlist("Set-Cookie"))
    assert "access_token=" in cookies and "refresh_token=" in cookies and "HttpOnly" in cookies


def test_the_refresh_token_cookie_wins_over_the_body(client):
    app_id = new_application(client)
    minted = mint(client, user(), app_id)
    response = client.post(
        "/api/jwt/refresh",
        json={"refreshToken": "not-a-token"},
        headers={"Cookie": f"refresh_token={minted['refreshToken']}"},
    )
    assert response.status_code == 200


def test_exchange_updates_last_accessed_instant_and_address(client):
    app_id = new_application(client)
    who = user()
    minted = mint(client, who, app_id)
    client.post(
        "/api/jwt/refresh",
        json={"refreshToken": minted["refreshToken"]},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    found = client.get(f"/api/jwt/refresh/{minted['refreshTokenId']}", headers=KEY).json["refreshToken"]
    assert found["metaData"]["device"]["lastAccessedAddress"] == "203.0.113.9"
    assert found["metaData"]["device"]["lastAccessedInstant"] >= found["insertInstant"]


def test_unknown_or_missing_refresh_token_is_fusionauths_400(client):
    response = client.post("/api/jwt/refresh", json={"refreshToken": "nope"})
    assert response.status_code == 400
    assert response.json["fieldErrors"]["refreshToken"][0]["code"] == "[invalid]refreshToken"
    response = client.post("/api/jwt/refresh", json={})
    assert response.json["fieldErrors"]["refreshToken"][0]["code"] == "[missing]refreshToken"


def test_revoke_by_token_kills_exactly_that_token(client):
    app_id = new_application(client)
    who = user()
    first, second = mint(client, who, app_id), mint(client, who, app_id)
    response = client.delete(f"/api/jwt/refresh?token={first['refreshToken']}", headers=KEY)
    assert response.status_code == 200
    assert response.json == {
        "invalidatedTokens": 1,
        "previouslyInvalidatedTokens": 0,
        "refreshTokenIds": [first["refreshTokenId"]],
        "errors": [],
    }
    assert exchange_status(client, first["refreshToken"]) == 400
    assert exchange_status(client, second["refreshToken"]) == 200


def test_revoking_a_dead_or_unknown_token_is_404_with_an_empty_body(client):
    app_id = new_application(client)
    minted = mint(client, user(), app_id)
    assert client.delete(f"/api/jwt/refresh?token={minted['refreshToken']}", headers=KEY).status_code == 200
    again = client.delete(f"/api/jwt/refresh?token={minted['refreshToken']}", headers=KEY)
    assert again.status_code == 404 and again.data == b""
    assert client.delete(f"/api/jwt/refresh/{uuid.uuid4()}", headers=KEY).status_code == 404
    assert client.delete("/api/jwt/refresh/not-a-uuid", headers=KEY).status_code == 404


def test_token_wins_over_user_and_application_and_must_belong_to_that_user(client):
    app_id = new_application(client)
    who, other = user(), user()
    minted = mint(client, who, app_id)
    also = mint(client, who, app_id)
    wrong_owner = client.delete(f"/api/jwt/refresh?token={minted['refreshToken']}&userId={other}", headers=KEY)
    assert wrong_owner.status_code == 404
    response = client.delete(
        f"/api/jwt/refresh?token={minted['refreshToken']}&userId={who}&applicationId={app_id}", headers=KEY
    )
    assert response.json["invalidatedTokens"] == 1
    assert exchange_status(client, also["refreshToken"]) == 200


def test_revoke_by_user_covers_all_applications_and_no_one_else(client):
    app_a, app_b = new_application(client), new_application(client)
    who, bystander = user(), user()
    mine = [mint(client, who, app_a), mint(client, who, app_b), mint(client, who, app_b)]
    theirs = mint(client, bystander, app_a)
    response = client.delete(f"/api/jwt/refresh?userId={who}", headers=KEY)
    assert response.json["invalidatedTokens"] == 3
    assert sorted(response.json["refreshTokenIds"]) == sorted(m["refreshTokenId"] for m in mine)
    assert all(exchange_status(client, m["refreshToken"]) == 400 for m in mine)
    assert exchange_status(client, theirs["refreshToken"]) == 200
    later = mint(client, who, app_a)
    assert exchange_status(client, later["refreshToken"]) == 200


def test_revoke_by_user_for_application_leaves_the_users_other_applications(client):
    app_a, app_b = new_application(client), new_application(client)
    who = user()
    in_a, in_b = mint(client, who, app_a), mint(client, who, app_b)
    response = client.delete(f"/api/jwt/refresh?userId={who}&applicationId={app_a}", headers=KEY)
    assert response.json["invalidatedTokens"] == 1
    assert exchange_status(client, in_a["refreshToken"]) == 400
    assert exchange_status(client, in_b["refreshToken"]) == 200


def test_revoke_by_application_leaves_other_applications(client):
    app_a, app_b = new_application(client), new_application(client)
    users = [user() for _ in range(20)]
    in_a = [mint(client, u, app_a) for u in users]
    in_b = mint(client, users[0], app_b)
    response = client.delete(f"/api/jwt/refresh?applicationId={app_a}", headers=KEY)
    assert response.json["invalidatedTokens"] == 20
    assert all(exchange_status(client, m["refreshToken"]) == 400 for m in in_a)
    assert exchange_status(client, in_b["refreshToken"]) == 200


def test_a_repeated_scope_revoke_reports_what_was_already_invalidated(client):
    app_id = new_application(client)
    who = user()
    for _ in range(3):
        mint(client, who, app_id)
    assert client.delete(f"/api/jwt/refresh?userId={who}", headers=KEY).json["invalidatedTokens"] == 3
    again = client.delete(f"/api/jwt/refresh?userId={who}", headers=KEY).json
    assert again["invalidatedTokens"] == 0 and again["previouslyInvalidatedTokens"] == 3


def test_revoke_with_a_json_body_and_event_info_records_the_event(client, redis_client):
    app_id = new_application(client)
    who = user()
    mint(client, who, app_id)
    info = {
        "deviceName": "laptop",
        "ipAddress": "198.51.100.7",
        "location": {"city": "Denver", "latitude": 39.7, "longitude": -104.9},
    }
    response = client.delete("/api/jwt/refresh", json={"userId": who, "eventInfo": info}, headers=KEY)
    assert response.status_code == 200 and response.json["invalidatedTokens"] == 1
    tag = f"{{b{who[-1]}}}"
    entries = redis_client.xrange(f"ev:{tag}")
    revokes = [e for _, e in entries if e["t"] == "jwt.refresh-token.revoke"]
    assert len(revokes) == 1
    event = json.loads(revokes[0]["d"])
    assert event["info"] == info
    assert event["userId"] == who and event["actor"]["type"] == "apiKey"
    assert revokes[0]["n"] == "1"


def test_an_event_without_event_info_records_the_callers_address_and_agent(client, redis_client):
    app_id = new_application(client)
    who = user()
    mint(client, who, app_id)
    client.delete(
        f"/api/jwt/refresh?userId={who}",
        headers={**KEY, "User-Agent": "audit-test/1"},
        environ_base={"REMOTE_ADDR": "192.0.2.4"},
    )
    entries = redis_client.xrange(f"ev:{{b{who[-1]}}}")
    event = json.loads([e for _, e in entries if e["t"] == "jwt.refresh-token.revoke"][0]["d"])
    assert event["info"] == {"ipAddress": "192.0.2.4", "userAgent": "audit-test/1"}


def test_revoke_by_id_and_retrieve_by_id(client):
    app_id = new_application(client)
    minted = mint(client, user(), app_id)
    token_id = minted["refreshTokenId"]
    found = client.get(f"/api/jwt/refresh/{token_id}", headers=KEY)
    assert found.status_code == 200 and found.json["refreshToken"]["id"] == token_id
    assert "token" not in found.json["refreshToken"]
    assert client.delete(f"/api/jwt/refresh/{token_id}", headers=KEY).json["invalidatedTokens"] == 1
    assert client.get(f"/api/jwt/refresh/{token_id}", headers=KEY).status_code == 404
    assert exchange_status(client, minted["refreshToken"]) == 400


def test_a_user_revokes_their_own_token_with_their_access_token_but_no_one_elses(client):
    app_id = new_application(client)
    who, other = user(), user()
    mine, spare = mint(client, who, app_id), mint(client, who, app_id)
    theirs = mint(client, other, app_id)
    bearer = {"Authorization": f"Bearer {mine['token']}"}
    assert client.delete(f"/api/jwt/refresh/{theirs['refreshTokenId']}", headers=bearer).status_code == 404
    assert client.delete(f"/api/jwt/refresh?token={theirs['refreshToken']}", headers=bearer).status_code == 404
    assert client.delete(f"/api/jwt/refresh?userId={who}", headers=bearer).status_code == 401
    assert client.delete(f"/api/jwt/refresh/{spare['refreshTokenId']}", headers=bearer).status_code == 200
    assert client.delete(f"/api/jwt/refresh?token={mine['refreshToken']}", headers=bearer).status_code == 200
    assert exchange_status(client, theirs["refreshToken"]) == 200


def test_listing_is_newest_first_without_values_revoked_or_other_users(client):
    app_id = new_application(client)
    who = user()
    minted = [mint(client, who, app_id) for _ in range(4)]
    mint(client, user(), app_id)
    client.delete(f"/api/jwt/refresh/{minted[1]['refreshTokenId']}", headers=KEY)
    listed = client.get(f"/api/jwt/refresh?userId={who}", headers=KEY).json["refreshTokens"]
    ids = [t["id"] for t in listed]
    assert set(ids) == {minted[i]["refreshTokenId"] for i in (0, 2, 3)}
    instants = [t["insertInstant"] for t in listed]
    assert instants == sorted(instants, reverse=True)
    assert all("token" not in t for t in listed)
    assert listed[0]["metaData"]["device"]["name"] == "phone"


def test_listing_pages_with_a_cursor(client):
    app_id = new_application(client)
    who = user()
    ids = {mint(client, who, app_id)["refreshTokenId"] for _ in range(7)}
    seen: list[str] = []
    cursor = ""
    while True:
        page = client.get(f"/api/jwt/refresh?userId={who}&limit=3{cursor}", headers=KEY).json
        seen += [t["id"] for t in page["refreshTokens"]]
        if "nextCursor" not in page:
            break
        cursor = f"&cursor={page['nextCursor']}"
    assert len(seen) == 7 and set(seen) == ids


def test_listing_needs_a_user_id(client):
    response = client.get("/api/jwt/refresh", headers=KEY)
    assert response.json["fieldErrors"]["userId"][0]["code"] == "[missing]userId"


def test_logout_revokes_one_token_or_with_global_all_of_the_users(client):
    app_id = new_application(client)
    who = user()
    a, b, c = (mint(client, who, app_id) for _ in range(3))
    other = mint(client, user(), app_id)
    assert client.post(f"/api/logout?refreshToken={a['refreshToken']}").status_code == 200
    assert exchange_status(client, a["refreshToken"]) == 400
    assert exchange_status(client, b["refreshToken"]) == 200
    assert client.post("/api/logout", json={"global": True, "refreshToken": b["refreshToken"]}).status_code == 200
    assert exchange_status(client, c["refreshToken"]) == 400
    assert exchange_status(client, other["refreshToken"]) == 200
    assert client.post("/api/logout?refreshToken=unknown").status_code == 200


def test_import_stores_digests_only_and_imported_values_work(client, redis_client):
    import time

    app_id = new_application(client)
    who = user()
    now = int(time.time() * 1000)
    values = [f"imported-{uuid.uuid4().hex}" for _ in range(50)]
    body = {
        "refreshTokens": [{"token": v, "userId": who, "applicationId": app_id, "startInstant": now} for v in values],
        "validateDbConstraints": False,
    }
    response = client.post("/api/user/refresh-token/import", json=body, headers=KEY)
    assert response.status_code == 200
    assert all(exchange_status(client, v) == 200 for v in values[:10])
    dump = " ".join(str(redis_client.dump(k)) for k in redis_client.scan_iter())
    assert not any(v in dump for v in values)
    again = client.post(
        "/api/user/refresh-token/import", json={"refreshTokens": body["refreshTokens"][:1]}, headers=KEY
    )
    assert again.status_code == 400
    assert again.json["fieldErrors"]["refreshTokens[0].token"][0]["code"] == "[duplicate]refreshTokens[0].token"


def test_import_rejects_an_unknown_application_and_nothing_is_written(client):
    import time

    app_id = new_application(client)
    now = int(time.time() * 1000)
    rows = [
        {"token": "good-value-1", "userId": user(), "applicationId": app_id, "startInstant": now},
        {"token": "bad-value-2", "userId": user(), "applicationId": str(uuid.uuid4()), "startInstant": now},
    ]
    response = client.post("/api/user/refresh-token/import", json={"refreshTokens": rows}, headers=KEY)
    assert response.status_code == 400
    assert "refreshTokens[1].applicationId" in response.json["fieldErrors"]
    assert exchange_status(client, "good-value-1") == 400


def test_a_revoke_by_token_event_names_the_tokens_user_application_and_tenant(client, redis_client):
    from app import events

    app_id = new_application(client)
    who = user()
    minted = mint(client, who, app_id)
    client.delete(f"/api/jwt/refresh?token={minted['refreshToken']}", headers=KEY)
    entries = redis_client.xrange(f"ev:{keys.TAGS[int(who[-1], 16)]}")
    revoke = [events.read(e) for _, e in entries if e["t"] == "jwt.refresh-token.revoke"][0]
    assert revoke["userId"] == who and revoke["applicationId"] == app_id and revoke["tenantId"]
    assert revoke["refreshTokenIds"] == [minted["refreshTokenId"]] and revoke["invalidatedTokens"] == 1
    assert minted["refreshToken"] not in json.dumps(revoke)
