"""GET /api/event: newest first across the 16 bucket streams, stable cursor paging, filters with a
bounded scan, permissions and tenant scope."""

from __future__ import annotations

from typing import Any

import redis

from app import create_app, events
from app.store import keys
from tests.api.helpers import KEY, mint, new_application, user
from tests.conftest import RedisServer, make_settings
from tests.store.store_kit import user_in

CREATE, REVOKE = events.CREATE, events.REVOKE


def _all_pages(
    client: Any, query: str, headers: dict[str, str] = KEY, cursor: str = ""
) -> tuple[list[dict[str, Any]], int]:
    found: list[dict[str, Any]] = []
    for pages in range(1, 100):
        response = client.get(f"/api/event?{query}{'&cursor=' + cursor if cursor else ''}", headers=headers)
        assert response.status_code == 200, response.json
        found += response.json["events"]
        cursor = response.json.get("nextCursor", "")
        if not cursor:
            return found, pages
    raise AssertionError("paging did not end")


def _stream_order(redis_client: redis.Redis) -> list[str]:
    """Every event id, in the documented order: stream id, then bucket, newest first."""
    entries = [
        (tuple(int(p) for p in entry_id.split("-")), bucket, events.read(fields)["id"])
        for bucket, tag in enumerate(keys.TAGS)
        for entry_id, fields in redis_client.xrange(keys.events(tag))
    ]
    return [event_id for *_, event_id in sorted(entries, reverse=True)]


def test_pages_walk_every_bucket_newest_first_without_gaps_or_repeats(client: Any, redis_client: redis.Redis) -> None:
    application = new_application(client)
    for bucket in range(16):
        mint(client, user_in(bucket), application)
        mint(client, user_in(15 - bucket), application)
    expected = _stream_order(redis_client)
    first = client.get("/api/event?limit=7", headers=KEY).json
    for _ in range(5):  # events recorded while paging sort before the first page: never in a later one
        mint(client, user(), application)

    rest, pages = _all_pages(client, "limit=7", cursor=first["nextCursor"])

    assert [e["id"] for e in first["events"] + rest] == expected
    assert len(expected) == 32 and pages == 4
    assert all(e["type"] == CREATE and e["schemaVersion"] == 1 for e in first["events"])


def _redis_ms(redis_client: redis.Redis) -> int:
    seconds, micros = redis_client.time()
    return int(seconds) * 1000 + int(micros) // 1000


def _next_ms(redis_client: redis.Redis) -> int:
    """Redis's clock once it has moved past the millisecond it is in (events are stamped by it)."""
    recorded = _redis_ms(redis_client)
    while _redis_ms(redis_client) <= recorded:
        pass
    return _redis_ms(redis_client)


def test_filters_by_user_application_type_and_time(client: Any, redis_client: redis.Redis) -> None:
    one, other = new_application(client), new_application(client)
    alice, bob = user(), user()
    tokens = [mint(client, alice, one)]
    _next_ms(redis_client)  # newest first: two events of one millisecond in two buckets go by bucket
    tokens.append(mint(client, bob, one))
    middle = _next_ms(redis_client)  # `since`/`until` compare Redis's clock
    tokens.append(mint(client, alice, other))
    client.delete(f"/api/jwt/refresh?userId={alice}", headers=KEY)

    by_alice, _ = _all_pages(client, f"userId={alice}")
    revokes, _ = _all_pages(client, f"type={REVOKE}")
    of_one, _ = _all_pages(client, f"applicationId={one}&type={CREATE}")
    both_types, _ = _all_pages(client, f"type={REVOKE}&type={CREATE}")
    before, _ = _all_pages(client, f"until={middle}")

    assert [e["type"] for e in by_alice] == [REVOKE, CREATE, CREATE]
    assert sorted(revokes[0]["refreshTokenIds"]) == sorted([tokens[0]["refreshTokenId"], tokens[2]["refreshTokenId"]])
    assert {e["refreshTokenIds"][0] for e in of_one} == {tokens[0]["refreshTokenId"], tokens[1]["refreshTokenId"]}
    assert len(both_types) == 4
    assert [e["refreshTokenIds"] for e in before] == [[tokens[1]["refreshTokenId"]], [tokens[0]["refreshTokenId"]]]
    after, _ = _all_pages(client, f"since={middle}")
    assert len(after) == 2  # the third mint, recorded at `middle`, and the revoke


def test_a_filtered_query_scans_a_bounded_number_of_events_and_resumes_with_its_cursor(
    redis_client: redis.Redis, redis_server: RedisServer
) -> None:
    client = create_app(make_settings(redis_server.url, event_query_scan_limit=100)).test_client()
    application = new_application(client)
    wanted = user_in(3)
    mint(client, wanted, application)
    for _ in range(150):  # one crowded bucket, newer than the event looked for
        mint(client, user_in(3), application)

    first = client.get(f"/api/event?userId={wanted}", headers=KEY).json
    found, pages = _all_pages(client, f"userId={wanted}")

    assert first["events"] == [] and first["nextCursor"]
    assert [e["userId"] for e in found] == [wanted] and pages >= 2


def test_a_tenant_scoped_key_sees_only_its_tenants_events(client: Any) -> None:
    tenant = client.post("/api/tenant", json={"tenant": {"name": "t2"}}, headers=KEY).json["tenant"]["id"]
    theirs = client.post("/api/application", json={"application": {"name": "a", "tenantId": tenant}}, headers=KEY)
    mint(client, user(), new_application(client))
    minted = mint(client, user(), theirs.json["application"]["id"])
    scoped = client.post("/api/api-key", json={"apiKey": {"tenantId": tenant}}, headers=KEY).json["apiKey"]["key"]

    seen, _ = _all_pages(client, "", headers={"Authorization": scoped})
    elsewhere = client.get(f"/api/event?tenantId={user()}", headers={"Authorization": scoped})

    assert [e["refreshTokenIds"] for e in seen] == [[minted["refreshTokenId"]]]
    assert elsewhere.status_code == 200 and elsewhere.json == {"events": []}
    assert len(_all_pages(client, "")[0]) == 2


def test_reading_events_needs_a_key_with_the_permission(client: Any) -> None:
    limited = client.post(
        "/api/api-key", json={"apiKey": {"permissions": {"endpoints": {"/api/jwt/refresh": ["GET"]}}}}, headers=KEY
    ).json["apiKey"]["key"]
    allowed = client.post(
        "/api/api-key", json={"apiKey": {"permissions": {"endpoints": {"/api/event": ["GET"]}}}}, headers=KEY
    ).json["apiKey"]["key"]

    assert client.get("/api/event").status_code == 401
    assert client.get("/api/event", headers={"Authorization": limited}).status_code == 401
    assert client.get("/api/event", headers={"Authorization": allowed}).status_code == 200


def test_bad_query_parameters_are_400_in_fusionauths_shape(client: Any) -> None:
    for query, field in (("cursor=nope", "cursor"), ("type=user.create", "type.0"), ("limit=0", "limit")):
        response = client.get(f"/api/event?{query}", headers=KEY)
        assert response.status_code == 400, query
        assert list(response.json["fieldErrors"]) == [field], response.json
