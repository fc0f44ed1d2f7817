"""FusionAuth's official Python client against a live refreshd: what an integration sees on the wire.

Every test makes its own applications and users (fresh UUIDs), so the tests share one server and one
Redis without depending on each other.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from fusionauth.fusionauth_client import FusionAuthClient
from fusionauth.rest_client import ClientResponse

from tests.compat.conftest import Service
from tests.conftest import API_KEY

EVENT_INFO = {
    "deviceName": "x",
    "ipAddress": "10.0.0.1",
    "location": {"city": "Denver", "latitude": 39.7, "longitude": -104.9},
}


def new_id() -> str:
    return str(uuid.uuid4())


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Session:
    """One minted refresh token, with the access token minted alongside it."""

    user_id: str
    application_id: str
    refresh_token: str
    refresh_token_id: str
    access_token: str


def login(service: Service, user_id: str, application_id: str, device: str = "laptop") -> Session:
    minted = service.mint(user_id, application_id, device)
    return Session(user_id, application_id, minted["refreshToken"], minted["refreshTokenId"], minted["token"])


@dataclass(frozen=True)
class World:
    """Two applications and three users: alice holds two tokens for app1 and one for app2, bob one
    for each, and carol one for app1; so every revoke scope has tokens just outside it."""

    app1: str
    app2: str
    alice: str
    bob: str
    carol: str
    sessions: tuple[Session, ...]

    def select(self, user_id: str | None = None, application_id: str | None = None) -> list[Session]:
        return [
            s
            for s in self.sessions
            if (user_id is None or s.user_id == user_id)
            and (application_id is None or s.application_id == application_id)
        ]

    def others(self, chosen: Iterable[Session]) -> list[Session]:
        excluded = {s.refresh_token_id for s in chosen}
        return [s for s in self.sessions if s.refresh_token_id not in excluded]


@pytest.fixture
def world(service: Service) -> World:
    app1, app2 = service.new_application(), service.new_application()
    alice, bob, carol = new_id(), new_id(), new_id()
    plan = [(alice, app1), (alice, app1), (alice, app2), (bob, app1), (bob, app2), (carol, app1)]
    return World(
        app1,
        app2,
        alice,
        bob,
        carol,
        tuple(login(service, user, app, f"device-{i}") for i, (user, app) in enumerate(plan)),
    )


def assert_revoked_exactly(service: Service, response: ClientResponse, world: World, revoked: list[Session]) -> None:
    """200 naming exactly the revoked tokens; they no longer exchange, everything else still does."""
    assert response.status == 200, response.error_response
    body = response.success_response
    assert body["invalidatedTokens"] == len(revoked)
    assert body["previouslyInvalidatedTokens"] == 0
    assert sorted(body["refreshTokenIds"]) == sorted(s.refresh_token_id for s in revoked)
    service.assert_revoked(*(s.refresh_token for s in revoked))
    service.assert_live(*(s.refresh_token for s in world.others(revoked)))


def assert_new_sessions_work(service: Service, *scopes: tuple[str, str]) -> None:
    """Tokens minted after a revoke, in the revoked scope, exchange."""
    service.assert_live(*(login(service, user, app).refresh_token for user, app in scopes))


def raw(method: str, service: Service, path: str, authorization: str, **kwargs: Any) -> requests.Response:
    return requests.request(
        method, service.base_url + path, headers={"Authorization": authorization}, timeout=10, **kwargs
    )


# -- applications and API keys ------------------------------------------------------------------
def test_create_application_answers_the_application_with_its_jwt_configuration(
    client: FusionAuthClient,
) -> None:
    name = f"compat-{new_id()}"
    response = client.create_application(
        {
            "application": {
                "name": name,
                "jwtConfiguration": {
                    "enabled": True,
                    "timeToLiveInSeconds": 300,
                    "refreshTokenTimeToLiveInMinutes": 120,
                    "refreshTokenExpirationPolicy": "SlidingWindow",
                    "refreshTokenUsagePolicy": "Reusable",
                },
            }
        }
    )

    assert response.status == 200, response.error_response
    application = response.success_response["application"]
    uuid.UUID(application["id"])
    assert application["name"] == name
    assert application["active"] is True
    assert application["jwtConfiguration"]["enabled"] is True
    assert application["jwtConfiguration"]["timeToLiveInSeconds"] == 300
    assert application["jwtConfiguration"]["refreshTokenTimeToLiveInMinutes"] == 120
    assert application["jwtConfiguration"]["refreshTokenExpirationPolicy"] == "SlidingWindow"


def test_create_application_with_a_given_id_keeps_that_id(service: Service) -> None:
    wanted = new_id()

    assert service.new_application(wanted) == wanted

    user = new_id()
    session = login(service, user, wanted)
    assert session.application_id == wanted
    service.assert_live(session.refresh_token)


def test_api_key_limited_to_refresh_endpoints_works_there_and_is_refused_elsewhere(
    service: Service, world: World
) -> None:
    created = service.client.create_api_key(
        {
            "apiKey": {
                "permissions": {"endpoints": {"/api/jwt/refresh": ["GET", "DELETE"]}},
                "metaData": {"attributes": {"description": "compat: refresh only"}},
            }
        }
    )
    assert created.status == 200, created.error_response
    key = created.success_response["apiKey"]["key"]
    limited = FusionAuthClient(key, service.base_url)
    target = world.select(world.bob, world.app1)[0]

    assert limited.retrieve_refresh_tokens(world.bob).status == 200
    assert limited.retrieve_refresh_token_by_id(target.refresh_token_id).status == 200
    assert_revoked_exactly(service, limited.revoke_refresh_token_by_id(target.refresh_token_id), world, [target])

    minting = raw(
        "POST",
        service,
        "/api/user/refresh-token",
        key,
        json={"userId": world.bob, "applicationId": world.app1},
    )
    assert minting.status_code == 401
    assert limited.create_application({"application": {"name": "not allowed"}}).status == 401


# -- minting and exchanging ---------------------------------------------------------------------
def test_minting_answers_an_access_token_and_a_refresh_token_with_its_id(service: Service) -> None:
    application = service.new_application()
    before = now_ms()

    minted = service.mint(new_id(), application, "phone")

    assert set(minted) >= {"token", "tokenExpirationInstant", "refreshToken", "refreshTokenId"}
    assert minted["token"].count(".") == 2
    assert minted["refreshToken"]
    uuid.UUID(minted["refreshTokenId"])
    assert before + 590_000 <= minted["tokenExpirationInstant"] <= now_ms() + 601_000


def test_exchanging_a_live_refresh_token_answers_a_new_access_token(service: Service) -> None:
    session = login(service, new_id(), service.new_application())

    response = service.client.exchange_refresh_token_for_jwt({"refreshToken": session.refresh_token})

    assert response.status == 200, response.error_response
    body = response.success_response
    assert body["token"].count(".") == 2
    assert body["refreshToken"] == session.refresh_token
    assert body["refreshTokenId"] == session.refresh_token_id


def test_exchanging_an_unknown_refresh_token_answers_400_invalid_refresh_token(service: Service) -> None:
    service.assert_revoked(secrets.token_urlsafe(32), "0" + secrets.token_urlsafe(32))


# -- retrieving ---------------------------------------------------------------------------------
def test_retrieve_refresh_tokens_lists_newest_first_without_token_values(service: Service) -> None:
    application, user = service.new_application(), new_id()
    sessions = []
    for device in ("first", "second", "third"):
        sessions.append(login(service, user, application, device))
        time.sleep(0.005)  # distinct insert instants, so "newest first" has one answer

    response = service.client.retrieve_refresh_tokens(user)

    assert response.status == 200, response.error_response
    listed = response.success_response["refreshTokens"]
    assert [t["id"] for t in listed] == [s.refresh_token_id for s in reversed(sessions)]
    assert [t["metaData"]["device"]["name"] for t in listed] == ["third", "second", "first"]
    assert all("token" not in t for t in listed)
    assert all(t["userId"] == user and t["applicationId"] == application for t in listed)


def test_retrieve_refresh_tokens_leaves_out_revoked_tokens(service: Service, world: World) -> None:
    revoked = world.select(world.alice, world.app1)[0]
    assert service.client.revoke_refresh_token_by_id(revoked.refresh_token_id).status == 200

    response = service.client.retrieve_refresh_tokens(world.alice)

    assert response.status == 200
    listed = {t["id"] for t in response.success_response["refreshTokens"]}
    expected = {s.refresh_token_id for s in world.select(world.alice)} - {revoked.refresh_token_id}
    assert listed == expected


def test_retrieve_refresh_token_by_id_answers_the_token_without_its_value(service: Service) -> None:
    application, user = service.new_application(), new_id()
    before = now_ms()
    session = login(service, user, application, "kitchen tablet")

    response = service.client.retrieve_refresh_token_by_id(session.refresh_token_id)

    assert response.status == 200, response.error_response
    token = response.success_response["refreshToken"]
    assert token["id"] == session.refresh_token_id
    assert token["userId"] == user
    assert token["applicationId"] == application
    assert before <= token["insertInstant"] <= now_ms()
    assert before <= token["startInstant"] <= now_ms()
    assert token["metaData"]["device"]["name"] == "kitchen tablet"
    assert token["metaData"]["device"]["type"] == "BROWSER"
    assert "token" not in token


def test_retrieve_refresh_token_by_id_answers_404_once_revoked(service: Service) -> None:
    session = login(service, new_id(), service.new_application())
    assert service.client.revoke_refresh_token_by_id(session.refresh_token_id).status == 200

    response = service.client.retrieve_refresh_token_by_id(session.refresh_token_id)

    assert response.status == 404
    assert response.error_response is None


# -- revoking: every scope is exact ---------------------------------------------------------------
def test_revoke_refresh_token_with_a_token_revokes_only_that_token(service: Service, world: World) -> None:
    target = world.select(world.alice, world.app1)[1]

    response = service.client.revoke_refresh_token(token=target.refresh_token)

    assert_revoked_exactly(service, response, world, [target])
    assert_new_sessions_work(service, (world.alice, world.app1))


def test_revoke_refresh_token_with_a_user_id_revokes_all_of_that_users_tokens(service: Service, world: World) -> None:
    response = service.client.revoke_refresh_token(None, world.alice)

    assert_revoked_exactly(service, response, world, world.select(world.alice))
    assert_new_sessions_work(service, (world.alice, world.app1), (world.alice, world.app2))


def test_revoke_refresh_token_with_user_and_application_revokes_only_that_users_tokens_there(
    service: Service, world: World
) -> None:
    response = service.client.revoke_refresh_token(None, world.alice, world.app1)

    assert_revoked_exactly(service, response, world, world.select(world.alice, world.app1))
    assert_new_sessions_work(service, (world.alice, world.app1))


def test_revoke_refresh_token_with_an_application_id_revokes_every_token_of_that_application(
    service: Service, world: World
) -> None:
    response = service.client.revoke_refresh_token(None, None, world.app1)

    assert_revoked_exactly(service, response, world, world.select(application_id=world.app1))
    assert_new_sessions_work(service, (world.alice, world.app1), (world.carol, world.app1))


def test_revoke_refresh_token_by_id_revokes_only_that_token(service: Service, world: World) -> None:
    target = world.select(world.bob, world.app2)[0]

    response = service.client.revoke_refresh_token_by_id(target.refresh_token_id)

    assert_revoked_exactly(service, response, world, [target])
    assert_new_sessions_work(service, (world.bob, world.app2))


def test_revoke_refresh_token_by_token_revokes_only_that_token(service: Service, world: World) -> None:
    target = world.select(world.alice, world.app2)[0]

    response = service.client.revoke_refresh_token_by_token(target.refresh_token)

    assert_revoked_exactly(service, response, world, [target])
    assert_new_sessions_work(service, (world.alice, world.app2))


def test_revoke_refresh_tokens_by_user_id_revokes_all_of_that_users_tokens(service: Service, world: World) -> None:
    response = service.client.revoke_refresh_tokens_by_user_id(world.bob)

    assert_revoked_exactly(service, response, world, world.select(world.bob))
    assert_new_sessions_work(service, (world.bob, world.app1), (world.bob, world.app2))


def test_revoke_refresh_tokens_by_application_id_revokes_every_token_of_that_application(
    service: Service, world: World
) -> None:
    response = service.client.revoke_refresh_tokens_by_application_id(world.app2)

    assert_revoked_exactly(service, response, world, world.select(application_id=world.app2))
    assert_new_sessions_work(service, (world.alice, world.app2), (world.bob, world.app2))


def test_revoke_refresh_tokens_by_user_id_for_application_revokes_only_that_pair(
    service: Service, world: World
) -> None:
    response = service.client.revoke_refresh_tokens_by_user_id_for_application(world.bob, world.app1)

    assert_revoked_exactly(service, response, world, world.select(world.bob, world.app1))
    assert_new_sessions_work(service, (world.bob, world.app1))


def test_revoke_refresh_tokens_with_request_body_and_event_info_revokes_that_users_tokens_there(
    service: Service, world: World
) -> None:
    response = service.client.revoke_refresh_tokens_with_request(
        {"userId": world.alice, "applicationId": world.app1, "eventInfo": EVENT_INFO}
    )

    assert_revoked_exactly(service, response, world, world.select(world.alice, world.app1))
    assert_new_sessions_work(service, (world.alice, world.app1))


# -- revoking: not found, repeated, invalid -------------------------------------------------------
def test_revoking_an_unknown_token_answers_404(client: FusionAuthClient) -> None:
    response = client.revoke_refresh_token_by_token(secrets.token_urlsafe(32))

    assert response.status == 404
    assert response.error_response is None


def test_revoking_an_unknown_token_id_answers_404(client: FusionAuthClient) -> None:
    response = client.revoke_refresh_token_by_id(new_id())

    assert response.status == 404
    assert response.error_response is None


def test_revoking_a_token_twice_answers_404_the_second_time(service: Service) -> None:
    session = login(service, new_id(), service.new_application())

    assert service.client.revoke_refresh_token_by_token(session.refresh_token).status == 200
    again = service.client.revoke_refresh_token_by_token(session.refresh_token)

    assert again.status == 404
    service.assert_revoked(session.refresh_token)


def test_revoking_a_users_tokens_twice_reports_them_as_previously_invalidated(service: Service, world: World) -> None:
    first = service.client.revoke_refresh_tokens_by_user_id(world.alice)
    assert first.status == 200
    assert first.success_response["invalidatedTokens"] == 3

    second = service.client.revoke_refresh_tokens_by_user_id(world.alice)

    assert second.status == 200, second.error_response
    assert second.success_response["invalidatedTokens"] == 0
    assert second.success_response["previouslyInvalidatedTokens"] == 3
    assert second.success_response["refreshTokenIds"] == []


def test_revoking_an_applications_tokens_twice_reports_them_as_previously_invalidated(
    service: Service, world: World
) -> None:
    first = service.client.revoke_refresh_tokens_by_application_id(world.app1)
    assert first.status == 200
    assert first.success_response["invalidatedTokens"] == 4

    second = service.client.revoke_refresh_tokens_by_application_id(world.app1)

    assert second.status == 200, second.error_response
    assert second.success_response["invalidatedTokens"] == 0
    assert second.success_response["previouslyInvalidatedTokens"] == 4
    assert second.success_response["refreshTokenIds"] == []


def test_revoking_for_an_unknown_application_answers_400_invalid_application_id(service: Service, world: World) -> None:
    unknown = new_id()

    for response in (
        service.client.revoke_refresh_tokens_by_application_id(unknown),
        service.client.revoke_refresh_tokens_by_user_id_for_application(world.alice, unknown),
    ):
        assert response.status == 400
        codes = [e["code"] for e in response.error_response["fieldErrors"]["applicationId"]]
        assert codes == ["[invalid]applicationId"]
    service.assert_live(*(s.refresh_token for s in world.sessions))


def test_revoking_without_token_user_or_application_answers_400_with_general_errors(
    client: FusionAuthClient,
) -> None:
    response = client.revoke_refresh_tokens_with_request({})

    assert response.status == 400
    assert response.error_response["generalErrors"]
    assert all(e["code"] and e["message"] for e in response.error_response["generalErrors"])


def test_a_wrong_api_key_answers_401(service: Service, world: World) -> None:
    wrong = FusionAuthClient("not-" + API_KEY, service.base_url)

    for response in (
        wrong.retrieve_refresh_tokens(world.alice),
        wrong.revoke_refresh_tokens_by_user_id(world.alice),
        wrong.revoke_refresh_token_by_id(world.sessions[0].refresh_token_id),
    ):
        assert response.status == 401
        assert response.response.content == b""  # FusionAuth answers 401 with an empty body
    service.assert_live(*(s.refresh_token for s in world.sessions))


# -- logout -------------------------------------------------------------------------------------
def test_global_logout_revokes_all_of_that_users_tokens_and_no_one_elses(service: Service, world: World) -> None:
    response = service.client.logout(True, world.select(world.alice, world.app2)[0].refresh_token)

    assert response.status == 200
    service.assert_revoked(*(s.refresh_token for s in world.select(world.alice)))
    service.assert_live(*(s.refresh_token for s in world.others(world.select(world.alice))))


def test_logout_revokes_just_the_given_token(service: Service, world: World) -> None:
    target = world.select(world.alice, world.app1)[0]

    response = service.client.logout(False, target.refresh_token)

    assert response.status == 200
    service.assert_revoked(target.refresh_token)
    service.assert_live(*(s.refresh_token for s in world.others([target])))


def test_logout_with_an_unknown_token_answers_200(client: FusionAuthClient) -> None:
    assert client.logout(False, secrets.token_urlsafe(32)).status == 200
    assert client.logout(True, secrets.token_urlsafe(32)).status == 200


# -- import -------------------------------------------------------------------------------------
@pytest.fixture
def imported(service: Service) -> tuple[str, list[dict[str, Any]]]:
    """1,000 tokens of 10 users minted elsewhere (arbitrary values), imported into a new application."""
    application, users = service.new_application(), [new_id() for _ in range(10)]
    start = now_ms()
    tokens = [
        {
            "token": secrets.token_urlsafe(32),
            "userId": users[i % 10],
            "applicationId": application,
            "startInstant": start,
            "metaData": {"device": {"name": f"legacy-{i}", "type": "BROWSER"}},
        }
        for i in range(1000)
    ]
    response = service.client.import_refresh_tokens({"refreshTokens": tokens, "validateDbConstraints": False})
    assert response.status == 200, response.error_response
    return application, tokens


def test_imported_refresh_tokens_exchange_and_are_listed(
    service: Service, imported: tuple[str, list[dict[str, Any]]]
) -> None:
    application, tokens = imported

    service.assert_live(*(t["token"] for t in tokens))

    for user in {t["userId"] for t in tokens}:
        listed = service.client.retrieve_refresh_tokens(user)
        assert listed.status == 200
        assert len(listed.success_response["refreshTokens"]) == 100
        assert all(t["applicationId"] == application for t in listed.success_response["refreshTokens"])


def test_imported_refresh_token_can_be_revoked_by_its_value(
    service: Service, imported: tuple[str, list[dict[str, Any]]]
) -> None:
    _, tokens = imported

    response = service.client.revoke_refresh_token_by_token(tokens[7]["token"])

    assert response.status == 200
    assert response.success_response["invalidatedTokens"] == 1
    service.assert_revoked(tokens[7]["token"])
    service.assert_live(tokens[6]["token"], tokens[17]["token"])


def test_reimporting_an_existing_token_answers_400_duplicate(
    service: Service, imported: tuple[str, list[dict[str, Any]]]
) -> None:
    _, tokens = imported

    response = service.client.import_refresh_tokens({"refreshTokens": [tokens[3]], "validateDbConstraints": False})

    assert response.status == 400
    errors = response.error_response["fieldErrors"]
    [field] = [name for name in errors if "refreshTokens[0].token" in name]
    assert any("[duplicate]" in e["code"] for e in errors[field])
    service.assert_live(tokens[3]["token"])


# -- a user revoking their own session with their access token ------------------------------------
def test_user_revokes_their_own_token_by_id_with_their_access_token(service: Service, world: World) -> None:
    target = world.select(world.alice, world.app1)[0]

    response = raw("DELETE", service, f"/api/jwt/refresh/{target.refresh_token_id}", f"Bearer {target.access_token}")

    assert response.status_code == 200, response.text
    service.assert_revoked(target.refresh_token)
    service.assert_live(*(s.refresh_token for s in world.others([target])))


def test_user_access_token_cannot_revoke_another_users_token(service: Service, world: World) -> None:
    alice = world.select(world.alice, world.app1)[0]
    bobs = world.select(world.bob, world.app1)[0]

    response = raw("DELETE", service, f"/api/jwt/refresh/{bobs.refresh_token_id}", f"Bearer {alice.access_token}")

    assert response.status_code == 404
    service.assert_live(*(s.refresh_token for s in world.sessions))


def test_user_access_token_cannot_revoke_by_user_id(service: Service, world: World) -> None:
    alice = world.select(world.alice, world.app1)[0]

    response = raw(
        "DELETE", service, "/api/jwt/refresh", f"Bearer {alice.access_token}", params={"userId": world.alice}
    )

    assert response.status_code == 401
    service.assert_live(*(s.refresh_token for s in world.sessions))
