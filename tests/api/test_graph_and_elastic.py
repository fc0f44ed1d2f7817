"""Revocation at any scale through the API: Microsoft Graph's invalidate-all, Elasticsearch's counted
invalidation, and application-wide revocation, against a real Redis."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from app import events
from app.store import keys
from app.worker import cleaner_for
from tests.api.helpers import KEY, exchange_status, mint, new_application, user

PREFIXES = ("", "/v1.0", "/beta")
ES = "/_security/oauth2/token"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def validate(client: Any, token: str) -> int:
    return int(client.get("/api/jwt/validate", headers=bearer(token)).status_code)


def alive(client: Any, minted: dict[str, Any]) -> tuple[int, int]:
    """(exchange status of the refresh token, validate status of its access token)."""
    return exchange_status(client, minted["refreshToken"]), validate(client, minted["token"])


def bury(app: Any) -> int:
    services = app.extensions["refreshd"]
    return cleaner_for(services.redis, services.settings).run_once()


def new_tenant(client: Any, name: str) -> str:
    response = client.post("/api/tenant", json={"tenant": {"name": name}}, headers=KEY)
    assert response.status_code == 200, response.json
    return str(response.json["tenant"]["id"])


def new_application_in(client: Any, tenant_id: str) -> str:
    app_id = str(uuid.uuid4())
    body = {"application": {"name": f"app-{app_id[:8]}", "tenantId": tenant_id}}
    response = client.post(f"/api/application/{app_id}", json=body, headers=KEY)
    assert response.status_code == 200, response.json
    return app_id


def invalidate(client: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = client.delete(ES, json=body, headers=KEY)
    return response.status_code, response.json


def counts(invalidated: int, previously: int) -> dict[str, int]:
    return {"invalidated_tokens": invalidated, "previously_invalidated_tokens": previously, "error_count": 0}


# -- Microsoft Graph ------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES, ids=["root", "v1.0", "beta"])
def test_invalidate_all_kills_every_earlier_token_of_the_user_and_later_ones_work(client, prefix):
    app_a, app_b = new_application(client), new_application(client)
    who, neighbour = user(), user()
    earlier = [mint(client, who, app_a), mint(client, who, app_b)]
    theirs = mint(client, neighbour, app_a)

    response = client.post(f"{prefix}/users/{who}/invalidateAllRefreshTokens", headers=KEY)
    later = mint(client, who, app_a)

    assert response.status_code == 204 and response.data == b""
    assert [alive(client, m) for m in earlier] == [(400, 401), (400, 401)]
    assert alive(client, later) == (200, 200)
    assert alive(client, theirs) == (200, 200)
    listed = client.get(f"/api/jwt/refresh?userId={who}", headers=KEY).json["refreshTokens"]
    assert [t["id"] for t in listed] == [later["refreshTokenId"]]


@pytest.mark.parametrize("prefix", PREFIXES, ids=["root", "v1.0", "beta"])
def test_me_invalidates_the_callers_own_tokens_only(client, prefix):
    app_id = new_application(client)
    who, neighbour = user(), user()
    mine, other_session = mint(client, who, app_id), mint(client, who, app_id)
    theirs = mint(client, neighbour, app_id)

    response = client.post(f"{prefix}/me/invalidateAllRefreshTokens", headers=bearer(mine["token"]))

    assert response.status_code == 204
    assert alive(client, mine) == (400, 401) and alive(client, other_session) == (400, 401)
    assert alive(client, theirs) == (200, 200)
    # the token its own reset killed cannot act again
    assert client.post(f"{prefix}/me/invalidateAllRefreshTokens", headers=bearer(mine["token"])).status_code == 401


def test_me_needs_the_users_own_bearer_token(client):
    assert client.post("/me/invalidateAllRefreshTokens").status_code == 401
    assert client.post("/me/invalidateAllRefreshTokens", headers=KEY).status_code == 401
    assert client.post("/me/invalidateAllRefreshTokens", headers=bearer("not.a.jwt")).status_code == 401
    assert client.post("/v1.0/me/revokeSignInSessions").status_code == 401


def test_a_users_bearer_token_cannot_touch_another_user(client):
    app_id = new_application(client)
    who, victim = user(), user()
    mine, theirs = mint(client, who, app_id), mint(client, victim, app_id)

    for path in (
        f"/users/{victim}/invalidateAllRefreshTokens",
        f"/v1.0/users/{victim}/revokeSignInSessions",
        f"/api/user/{victim}/token-validity",
    ):
        method = client.get if path.endswith("token-validity") else client.post
        assert method(path, headers=bearer(mine["token"])).status_code == 401, path
    assert alive(client, theirs) == (200, 200)
    assert alive(client, mine) == (200, 200)
    # its own id in the path is the same as /me
    assert client.post(f"/users/{who}/invalidateAllRefreshTokens", headers=bearer(mine["token"])).status_code == 204
    assert alive(client, mine) == (400, 401)


def test_invalidate_all_needs_an_api_key_and_a_user_id(client):
    who = user()
    assert client.post(f"/users/{who}/invalidateAllRefreshTokens").status_code == 401
    assert client.post(f"/users/{who}/invalidateAllRefreshTokens", headers={"Authorization": "nope"}).status_code == 401
    response = client.post("/users/not-a-uuid/invalidateAllRefreshTokens", headers=KEY)
    assert response.status_code in (400, 404)


@pytest.mark.parametrize("prefix", PREFIXES, ids=["root", "v1.0", "beta"])
def test_revoke_sign_in_sessions_has_the_same_effect_and_answers_value_true(client, prefix):
    app_id = new_application(client)
    who = user()
    by_key, by_self = mint(client, who, app_id), user()
    own = mint(client, by_self, app_id)

    response = client.post(f"{prefix}/users/{who}/revokeSignInSessions", headers=KEY)
    mine = client.post(f"{prefix}/me/revokeSignInSessions", headers=bearer(own["token"]))

    assert (response.status_code, response.json) == (200, {"value": True})
    assert (mine.status_code, mine.json) == (200, {"value": True})
    assert alive(client, by_key) == (400, 401) and alive(client, own) == (400, 401)
    assert alive(client, mint(client, who, app_id)) == (200, 200)


def test_token_validity_is_null_until_a_reset_then_its_instant_in_utc(client):
    who = user()
    path = f"/api/user/{who}/token-validity"
    assert client.get(path, headers=KEY).json == {"refreshTokensValidFromDateTime": None}

    before = datetime.now(UTC)
    client.post(f"/users/{who}/invalidateAllRefreshTokens", headers=KEY)
    stamp = client.get(path, headers=KEY).json["refreshTokensValidFromDateTime"]

    assert stamp.endswith("Z")
    instant = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert instant.tzinfo is not None and instant.utcoffset().total_seconds() == 0
    assert abs((instant - before).total_seconds()) < 5
    # a user may read their own, with their own token
    own = mint(client, who, new_application(client))
    assert client.get(path, headers=bearer(own["token"])).json["refreshTokensValidFromDateTime"] == stamp


def test_invalidate_all_appends_a_user_invalidate_all_event_with_the_count(client, redis_client):
    app_id = new_application(client)
    who = user()
    for _ in range(3):
        mint(client, who, app_id)

    client.post(f"/users/{who}/invalidateAllRefreshTokens", headers=KEY)

    _, fields = redis_client.xrange(keys.events(keys.TAGS[int(who[-1], 16)]))[-1]
    event = events.read(fields)
    assert (event["type"], event["invalidatedTokens"], event["userId"]) == (events.INVALIDATE_ALL, 3, who)
    assert len(event["refreshTokenIds"]) == 3
    assert event["actor"]["type"] == "apiKey"


def test_access_tokens_without_a_session_die_with_their_users_reset(client):
    app_id = new_application(client)
    who = user()
    session = mint(client, who, app_id)
    vended = client.post("/api/jwt/vend", json={"claims": {"sub": who}}, headers=KEY).json["token"]
    issued = client.get(f"/api/jwt/issue?applicationId={app_id}", headers=bearer(session["token"])).json["token"]
    assert validate(client, vended) == 200 and validate(client, issued) == 200

    client.post(f"/users/{who}/invalidateAllRefreshTokens", headers=KEY)

    assert validate(client, vended) == 401 and validate(client, issued) == 401
    time.sleep(1.05)  # an iat has whole seconds: one issued in the reset's second counts as before it
    fresh = client.post("/api/jwt/vend", json={"claims": {"sub": who}}, headers=KEY).json["token"]
    assert validate(client, fresh) == 200


def test_access_tokens_without_a_session_die_with_their_application_or_tenant(client):
    tenant = new_tenant(client, "acme")
    app_a, app_b = new_application_in(client, tenant), new_application_in(client, tenant)

    def vend(**claims: str) -> str:
        return str(client.post("/api/jwt/vend", json={"claims": claims}, headers=KEY).json["token"])

    of_a, of_b, of_tenant = vend(applicationId=app_a), vend(applicationId=app_b), vend(tid=tenant)
    elsewhere = vend(tid=str(uuid.uuid4()))

    client.delete(f"/api/jwt/refresh?applicationId={app_a}", headers=KEY)
    assert (validate(client, of_a), validate(client, of_b), validate(client, of_tenant)) == (401, 200, 200)
    invalidate(client, {"realm_name": tenant})
    assert (validate(client, of_b), validate(client, of_tenant), validate(client, elsewhere)) == (401, 401, 200)


# -- application-wide revocation through the API -------------------------------------------------


def test_revoking_an_application_counts_honestly_and_leaves_other_applications_alone(app, client):
    app_a, app_b = new_application(client), new_application(client)
    people = [user() for _ in range(5)]
    doomed = [mint(client, p, app_a) for p in people for _ in range(2)]
    spared = [mint(client, p, app_b) for p in people]
    client.delete(f"/api/jwt/refresh/{doomed[0]['refreshTokenId']}", headers=KEY)

    first = client.delete(f"/api/jwt/refresh?applicationId={app_a}", headers=KEY)
    later = mint(client, people[0], app_a)
    again = client.delete(f"/api/jwt/refresh?applicationId={app_a}", headers=KEY).json

    assert first.status_code == 200
    assert (first.json["invalidatedTokens"], first.json["previouslyInvalidatedTokens"]) == (9, 1)
    assert sorted(first.json["refreshTokenIds"]) == sorted(m["refreshTokenId"] for m in doomed[1:])
    assert all(alive(client, m) == (400, 401) for m in doomed)
    assert all(alive(client, m) == (200, 200) for m in spared)
    assert (again["invalidatedTokens"], again["previouslyInvalidatedTokens"]) == (1, 10)
    assert alive(client, later) == (400, 401)

    assert bury(app) == 10
    after = client.delete(f"/api/jwt/refresh?applicationId={app_a}", headers=KEY).json
    assert (after["invalidatedTokens"], after["previouslyInvalidatedTokens"]) == (0, 11)  # 10 buried, 1 revoked
    assert alive(client, mint(client, people[0], app_a)) == (200, 200)
    assert all(alive(client, m) == (200, 200) for m in spared)


def test_an_application_revoke_appends_one_event_with_the_totals(client, redis_client):
    app_id = new_application(client)
    people = [user() for _ in range(6)]
    for p in people:
        mint(client, p, app_id)
    before = sum(redis_client.xlen(keys.events(tag)) for tag in keys.TAGS)

    client.delete(f"/api/jwt/refresh?applicationId={app_id}", headers=KEY)

    assert sum(redis_client.xlen(keys.events(tag)) for tag in keys.TAGS) == before + 1
    _, fields = redis_client.xrange(keys.events(keys.TAGS[int(app_id[-1], 16)]))[-1]
    event = events.read(fields)
    assert (event["type"], event["scope"], event["applicationId"]) == (events.REVOKE, "application", app_id)
    assert (event["invalidatedTokens"], event["previouslyInvalidatedTokens"]) == (6, 0)


def test_deleting_an_application_kills_its_tokens(client):
    app_id = new_application(client)
    minted = mint(client, user(), app_id)
    assert client.delete(f"/api/application/{app_id}", headers=KEY).status_code == 200
    assert alive(client, minted) == (400, 401)


# -- Elasticsearch ---------------------------------------------------------------------------------


def test_invalidating_an_access_token_denies_it_and_a_second_time_is_previously(client):
    app_id = new_application(client)
    minted = mint(client, user(), app_id)
    sibling = client.post("/api/jwt/refresh", json={"refreshToken": minted["refreshToken"]}).json["token"]

    assert invalidate(client, {"token": minted["token"]}) == (200, counts(1, 0))
    assert invalidate(client, {"token": minted["token"]}) == (200, counts(0, 1))
    assert validate(client, minted["token"]) == 401
    assert validate(client, sibling) == 200  # the session and its other access tokens live on
    assert exchange_status(client, minted["refreshToken"]) == 200


def test_invalidating_an_access_token_already_dead_is_previously(client):
    app_id = new_application(client)
    minted = mint(client, user(), app_id)
    client.delete(f"/api/jwt/refresh/{minted['refreshTokenId']}", headers=KEY)
    assert invalidate(client, {"token": minted["token"]}) == (200, counts(0, 1))
    assert invalidate(client, {"token": "not.a.jwt"}) == (404, counts(0, 0))


def test_invalidating_a_refresh_token_counts_then_reports_it_previously_then_unknown_is_404(client):
    app_id = new_application(client)
    minted = mint(client, user(), app_id)

    assert invalidate(client, {"refresh_token": minted["refreshToken"]}) == (200, counts(1, 0))
    assert invalidate(client, {"refresh_token": minted["refreshToken"]}) == (200, counts(0, 1))
    assert invalidate(client, {"refresh_token": "x" * 44}) == (404, counts(0, 0))
    assert alive(client, minted) == (400, 401)


def test_invalidating_by_username_counts_the_users_live_tokens(client):
    app_a, app_b = new_application(client), new_application(client)
    who = user()
    tokens = [mint(client, who, app_a), mint(client, who, app_a), mint(client, who, app_b)]
    theirs = mint(client, user(), app_a)
    client.delete(f"/api/jwt/refresh/{tokens[0]['refreshTokenId']}", headers=KEY)

    assert invalidate(client, {"username": who}) == (200, counts(2, 1))
    assert invalidate(client, {"username": who}) == (200, counts(0, 3))
    assert all(alive(client, m) == (400, 401) for m in tokens)
    assert alive(client, theirs) == (200, 200)


def test_invalidating_a_realm_covers_every_application_of_the_tenant_and_none_of_another(app, client):
    acme, other = new_tenant(client, "acme"), new_tenant(client, "other")
    acme_apps = [new_application_in(client, acme), new_application_in(client, acme)]
    other_app = new_application_in(client, other)
    people = [user() for _ in range(3)]
    doomed = [mint(client, p, a) for p in people for a in acme_apps]
    spared = [mint(client, p, other_app) for p in people]

    assert invalidate(client, {"realm_name": acme}) == (200, counts(6, 0))
    assert invalidate(client, {"realm_name": "acme"}) == (200, counts(0, 6))  # by name
    assert all(alive(client, m) == (400, 401) for m in doomed)
    assert all(alive(client, m) == (200, 200) for m in spared)
    later = mint(client, people[0], acme_apps[0])
    assert alive(client, later) == (200, 200)
    bury(app)
    assert invalidate(client, {"realm_name": acme}) == (200, counts(1, 6))


def test_invalidating_a_realm_and_username_covers_only_that_users_tokens_in_that_tenant(client):
    acme, other = new_tenant(client, "acme"), new_tenant(client, "other")
    acme_app, other_app = new_application_in(client, acme), new_application_in(client, other)
    who, neighbour = user(), user()
    doomed = [mint(client, who, acme_app), mint(client, who, acme_app)]
    spared = [mint(client, who, other_app), mint(client, neighbour, acme_app)]

    assert invalidate(client, {"realm_name": acme, "username": who}) == (200, counts(2, 0))
    assert invalidate(client, {"realm_name": "acme", "username": who}) == (200, counts(0, 2))
    assert all(alive(client, m) == (400, 401) for m in doomed)
    assert all(alive(client, m) == (200, 200) for m in spared)


@pytest.mark.parametrize(
    "body",
    [
        {"token": "a.b.c", "username": str(uuid.uuid4())},
        {"refresh_token": "x" * 44, "realm_name": "Default"},
        {"token": "a.b.c", "refresh_token": "x" * 44},
        {},
    ],
    ids=["token and username", "refresh token and realm", "token and refresh token", "nothing"],
)
def test_invalid_combinations_are_400_in_fusionauths_shape(client, body):
    response = client.delete(ES, json=body, headers=KEY)
    assert response.status_code == 400
    assert response.json["generalErrors"][0]["code"] == "[invalid]"


def test_an_unknown_realm_or_a_username_that_is_no_user_id_is_a_field_error(client):
    response = client.delete(ES, json={"realm_name": "nowhere"}, headers=KEY)
    assert (response.status_code, list(response.json["fieldErrors"])) == (400, ["realm_name"])
    response = client.delete(ES, json={"username": "bob"}, headers=KEY)
    assert (response.status_code, list(response.json["fieldErrors"])) == (400, ["username"])


def test_counted_invalidation_needs_an_api_key(client):
    assert client.delete(ES, json={"username": str(uuid.uuid4())}).status_code == 401


def test_invalidating_a_realm_without_applications_counts_nothing(client):
    tenant = client.post("/api/tenant", json={"tenant": {"name": "empty realm"}}, headers=KEY).json["tenant"]
    response = client.delete("/_security/oauth2/token", json={"realm_name": tenant["id"]}, headers=KEY)
    assert response.status_code == 200
    assert response.json["invalidated_tokens"] == 0
