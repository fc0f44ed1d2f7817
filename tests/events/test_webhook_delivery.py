"""Webhook delivery against a real receiver on 127.0.0.1: what arrives, signed how, and what survives
a receiver outage, a slow receiver, and failures up to the dead-letter list."""

from __future__ import annotations

from typing import Any

import jwt

from app import create_app
from tests.api.helpers import KEY, mint, new_application, user
from tests.conftest import make_settings
from tests.events.conftest import Receiver, wait_until
from tests.events.helpers import (
    REVOKE,
    create_webhook,
    lag,
    revoke_token,
    verify_hmac,
    verify_signature_jwt,
    wait_until_delivered,
)


def test_a_webhook_receives_exactly_its_enabled_events_signed_both_ways(
    client: Any, receiver: Receiver, run_delivery: Any
) -> None:
    application = new_application(client)
    hook = create_webhook(client, receiver.url, REVOKE, **{"eventsEnabled": {REVOKE: True, "jwt.refresh": False}})
    run_delivery()
    owner = user()
    kept, revoked = mint(client, owner, application), mint(client, owner, application)
    assert client.post("/api/jwt/refresh", json={"refreshToken": kept["refreshToken"]}).status_code == 200

    revoke_token(client, revoked["refreshToken"])

    receiver.wait_for(1)
    wait_until_delivered(client)
    (delivery,) = receiver.received
    event = delivery.event
    assert (event["type"], event["refreshTokenIds"], event["userId"]) == (REVOKE, [revoked["refreshTokenId"]], owner)
    assert event["applicationId"] == application and event["applicationTimeToLiveInSeconds"] == {application: 3600}
    assert delivery.headers["Content-Type"] == "application/json"
    assert delivery.headers["Idempotency-Key"] == event["id"]
    verify_signature_jwt(client, delivery)
    verify_hmac(hook["secret"], delivery)
    assert revoked["refreshToken"] not in delivery.body.decode() and hook["secret"] not in delivery.body.decode()


def test_a_tenant_webhook_receives_only_its_tenants_events(client: Any, receiver: Receiver, run_delivery: Any) -> None:
    tenant = client.post("/api/tenant", json={"tenant": {"name": "other"}}, headers=KEY).json["tenant"]["id"]
    ours = client.post("/api/application", json={"application": {"name": "t", "tenantId": tenant}}, headers=KEY).json[
        "application"
    ]["id"]
    theirs = new_application(client)
    create_webhook(client, receiver.url, REVOKE, tenantIds=[tenant])
    run_delivery()
    tokens = [mint(client, user(), a) for a in (theirs, ours, theirs)]

    for token in tokens:
        revoke_token(client, token["refreshToken"])

    wait_until_delivered(client)
    assert [e["refreshTokenIds"] for e in receiver.events()] == [[tokens[1]["refreshTokenId"]]]
    assert receiver.events()[0]["tenantId"] == tenant


def test_events_revoked_while_the_receiver_is_down_all_arrive_when_it_is_back(
    client: Any, receiver: Receiver, run_delivery: Any
) -> None:
    application = new_application(client)
    create_webhook(client, receiver.url, REVOKE, maximumAttempts=100)
    run_delivery()
    tokens = [mint(client, user(), application) for _ in range(100)]
    receiver.stop()

    for token in tokens:
        revoke_token(client, token["refreshToken"])
    wait_until(lambda: lag(client)["queuedDeliveries"] == 100)  # all failing and backing off
    receiver.start()

    events = receiver.wait_for(100, timeout=20)
    assert {i for e in events for i in e["refreshTokenIds"]} == {t["refreshTokenId"] for t in tokens}
    by_id: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_id.setdefault(event["id"], []).append(event)
    assert all(len({str(e) for e in same}) == 1 for same in by_id.values()), "a duplicate must be the same event"
    wait_until_delivered(client)


def test_a_slow_receiver_does_not_hold_up_another(client: Any, receiver: Receiver, run_delivery: Any) -> None:
    slow = Receiver()
    try:
        slow.delay = 0.5
        application = new_application(client)
        create_webhook(client, slow.url, REVOKE, readTimeout=5000)
        create_webhook(client, receiver.url, REVOKE)
        run_delivery()
        tokens = [mint(client, user(), application) for _ in range(10)]

        for token in tokens:
            revoke_token(client, token["refreshToken"])

        receiver.wait_for(10, timeout=3)
        assert len(slow.received) <= 2, "the fast receiver got everything while the slow one answered twice"
        slow.wait_for(1)
    finally:
        slow.stop()


def test_a_failing_delivery_is_dead_lettered_after_its_attempts_and_replayed_on_request(
    client: Any, receiver: Receiver, run_delivery: Any
) -> None:
    application = new_application(client)
    hook = create_webhook(client, receiver.url, REVOKE, maximumAttempts=3)
    run_delivery()
    token = mint(client, user(), application)
    receiver.status = 503

    revoke_token(client, token["refreshToken"])

    letters_path = f"/api/webhook/{hook['id']}/dead-letters"
    wait_until(lambda: client.get(letters_path, headers=KEY).json["total"] == 1)
    letters = client.get(letters_path, headers=KEY).json
    (letter,) = letters["deadLetters"]
    assert (letter["attempts"], letter["lastError"]) == (3, "HTTP 503")
    assert letter["event"]["refreshTokenIds"] == [token["refreshTokenId"]]
    wait_until_delivered(client)  # a dead letter settles its event: nothing is left pending
    assert receiver.received == []

    receiver.status = 200
    replay = client.post(f"{letters_path}/replay", json={}, headers=KEY)

    assert replay.status_code == 200 and replay.json == {"replayed": 1}
    (event,) = receiver.wait_for(1)
    assert event == letter["event"]
    assert client.get(letters_path, headers=KEY).json == {"deadLetters": [], "total": 0}


def test_a_receiver_refusing_an_event_dead_letters_it_at_once(
    client: Any, receiver: Receiver, run_delivery: Any
) -> None:
    application = new_application(client)
    hook = create_webhook(client, receiver.url, REVOKE, maximumAttempts=50)
    run_delivery()
    receiver.status = 400

    revoke_token(client, mint(client, user(), application)["refreshToken"])

    letters_path = f"/api/webhook/{hook['id']}/dead-letters"
    wait_until(lambda: client.get(letters_path, headers=KEY).json["total"] == 1)
    assert client.get(letters_path, headers=KEY).json["deadLetters"][0]["attempts"] == 1


def test_deleting_a_webhook_settles_what_it_still_owed(client: Any, receiver: Receiver, run_delivery: Any) -> None:
    application = new_application(client)
    hook = create_webhook(client, receiver.url, REVOKE, maximumAttempts=100)
    run_delivery()
    receiver.stop()
    revoke_token(client, mint(client, user(), application)["refreshToken"])
    wait_until(lambda: client.get(f"/api/webhook/{hook['id']}", headers=KEY).json["webhook"]["delivery"]["queued"])

    assert client.delete(f"/api/webhook/{hook['id']}", headers=KEY).status_code == 200

    wait_until_delivered(client)


def test_a_security_event_token_receiver_gets_revocations_as_signed_caep_session_revoked_sets(
    client: Any, receiver: Receiver, run_delivery: Any
) -> None:
    application = new_application(client)
    create_webhook(client, receiver.url, REVOKE, "jwt.refresh-token.create", securityEventTokens=True)
    run_delivery()
    owner = user()
    token = mint(client, owner, application)
    revoke_token(client, token["refreshToken"])
    wait_until(lambda: len(receiver.received) == 1)
    wait_until_delivered(client)

    (delivery,) = receiver.received  # the create event has no SET form: it is not sent
    assert delivery.headers["Content-Type"] == "application/secevent+jwt"
    header = jwt.get_unverified_header(delivery.body.decode())
    jwks = client.get("/.well-known/jwks.json").json["keys"]
    key = jwt.PyJWK(next(k for k in jwks if k["kid"] == header["kid"]))
    claims = jwt.decode(delivery.body, key.key, algorithms=[header["alg"]], audience=receiver.url)
    assert header["typ"] == "secevent+jwt" and claims["jti"] == delivery.headers["Idempotency-Key"]
    session_revoked = claims["events"]["https://schemas.openid.net/secevent/caep/event-type/session-revoked"]
    assert session_revoked["initiating_entity"] == "admin"
    assert claims["sub_id"] == {
        "format": "complex",
        "user": {"format": "iss_sub", "iss": "http://localhost", "sub": owner},
        "session": {"format": "opaque", "id": token["refreshTokenId"]},
    }


def test_on_the_embedded_store_the_web_process_delivers_webhooks_itself(receiver: Receiver) -> None:
    client = create_app(make_settings(None)).test_client()
    create_webhook(client, receiver.url, REVOKE)
    token = mint(client, user(), new_application(client))

    revoke_token(client, token["refreshToken"])

    (event,) = receiver.wait_for(1)
    assert event["refreshTokenIds"] == [token["refreshTokenId"]]
