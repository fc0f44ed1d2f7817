"""One-time tokens: rotation keeps the session id, reuse revokes the session, the grace window,
concurrent exchanges, and session limits."""

from __future__ import annotations

import threading
import time

import pytest

from app import create_app
from app.store import keys
from tests.api.helpers import KEY, exchange_status, mint, new_application, user
from tests.conftest import make_settings
from tests.store.store_kit import imported_value


def exchange(client, value: str):
    return client.post("/api/jwt/refresh", json={"refreshToken": value})


def one_time_app(client, grace: int = 0, revoke_on_reuse: bool = True, **extra) -> str:
    return new_application(
        client,
        refreshTokenUsagePolicy="OneTimeUse",
        refreshTokenOneTimeUseConfiguration={"gracePeriodInSeconds": grace},
        refreshTokenRevocationPolicy={"onOneTimeTokenReuse": revoke_on_reuse},
        **extra,
    )


def test_each_exchange_rotates_the_value_and_keeps_the_session_id(client):
    app_id = one_time_app(client)
    minted = mint(client, user(), app_id)
    values = [minted["refreshToken"]]
    for _ in range(4):
        answer = exchange(client, values[-1]).json
        assert answer["refreshTokenId"] == minted["refreshTokenId"]
        assert answer["refreshToken"] not in values
        assert keys.named_id(answer["refreshToken"]) == minted["refreshTokenId"]  # the value names its session
        values.append(answer["refreshToken"])
    assert exchange_status(client, values[-1]) == 200


@pytest.mark.parametrize("rotations", [1, 2, 5])
def test_reusing_any_retired_value_revokes_the_whole_session(client, redis_client, rotations):
    app_id = one_time_app(client)
    who = user()
    minted = mint(client, who, app_id)
    values = [minted["refreshToken"]]
    for _ in range(rotations):
        values.append(exchange(client, values[-1]).json["refreshToken"])
    stolen = values[0] if rotations == 1 else values[rotations // 2]
    response = exchange(client, stolen)
    assert response.status_code == 400
    assert response.json["fieldErrors"]["refreshToken"][0]["code"] == "[invalid]refreshToken"
    assert exchange_status(client, values[-1]) == 400  # the live value died with the session
    assert client.get(f"/api/jwt/refresh/{minted['refreshTokenId']}", headers=KEY).status_code == 404
    stream = redis_client.xrange(f"ev:{keys.TAGS[int(who[-1], 16)]}")
    reuse = [e for _, e in stream if e["t"] == "jwt.refresh-token.reuse"]
    assert len(reuse) == 1 and reuse[0]["n"] == "1" and reuse[0]["u"] == who


def test_without_revoke_on_reuse_a_retired_value_is_refused_but_the_session_lives(client):
    app_id = one_time_app(client, revoke_on_reuse=False)
    minted = mint(client, user(), app_id)
    current = exchange(client, minted["refreshToken"]).json["refreshToken"]
    assert exchange_status(client, minted["refreshToken"]) == 400
    assert exchange_status(client, current) == 200


def test_within_the_grace_period_the_previous_value_gets_the_current_one(client):
    app_id = one_time_app(client, grace=30)
    minted = mint(client, user(), app_id)
    current = exchange(client, minted["refreshToken"]).json["refreshToken"]
    retry = exchange(client, minted["refreshToken"])
    assert retry.status_code == 200 and retry.json["refreshToken"] == current
    assert exchange_status(client, current) == 200  # it rotates on: `current` is now retired
    assert exchange_status(client, minted["refreshToken"]) == 400  # two rotations back: reuse


def test_the_grace_period_ends(client, redis_client):
    app_id = one_time_app(client, grace=1)
    minted = mint(client, user(), app_id)
    exchange(client, minted["refreshToken"])
    record = keys.record(keys.TAGS[int(minted["refreshTokenId"][-1], 16)], minted["refreshTokenId"])
    redis_client.hincrby(record, "ra", -2000)  # as if the rotation happened two seconds ago
    assert exchange_status(client, minted["refreshToken"]) == 400


def test_a_grace_period_never_stores_a_refresh_token_in_plain_text(client, redis_client):
    app_id = one_time_app(client, grace=60)
    minted = mint(client, user(), app_id)
    current = exchange(client, minted["refreshToken"]).json["refreshToken"]
    dump = " ".join(str(redis_client.dump(k)) for k in redis_client.scan_iter())
    assert current not in dump and minted["refreshToken"] not in dump


@pytest.mark.parametrize("grace", [0, 30])
def test_sixteen_concurrent_exchanges_of_one_value_have_exactly_one_winner(redis_server, redis_client, grace):
    app = create_app(make_settings(redis_server.url))
    app_id = one_time_app(app.test_client(use_cookies=False), grace=grace)
    minted = mint(app.test_client(use_cookies=False), user(), app_id)
    barrier = threading.Barrier(16)
    answers: list[tuple[int, str | None]] = []

    def go() -> None:
        client = app.test_client(use_cookies=False)
        barrier.wait()
        response = exchange(client, minted["refreshToken"])
        answers.append((response.status_code, (response.json or {}).get("refreshToken")))

    threads = [threading.Thread(target=go) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rotated = {value for status, value in answers if status == 200 and value != minted["refreshToken"]}
    assert len(rotated) == 1
    client = app.test_client(use_cookies=False)
    if grace:
        # losers within the grace period get the winner's value; the session lives on
        assert all(status == 200 for status, _ in answers)
        assert exchange_status(client, rotated.pop()) == 200
    else:
        # losers are replays: refused, and the session (the winner's value included) is revoked
        assert sum(status == 200 for status, _ in answers) == 1
        assert exchange_status(client, rotated.pop()) == 400


def _mint_a_millisecond_apart(client, who, app_id):
    # "oldest" is by insert instant (ms): sessions minted in one millisecond are equally old, and an
    # eviction may take either (instants are never moved apart: a watermark compares them)
    time.sleep(0.002)
    return mint(client, who, app_id)


def test_a_session_limit_evicts_the_oldest_session(client):
    app_id = new_application(client, refreshTokenSessionLimit={"maximumSessions": 2, "policy": "EvictOldest"})
    who = user()
    first, second, third = (_mint_a_millisecond_apart(client, who, app_id) for _ in range(3))
    assert exchange_status(client, first["refreshToken"]) == 400
    assert exchange_status(client, second["refreshToken"]) == 200
    assert exchange_status(client, third["refreshToken"]) == 200
    other_app = new_application(client)
    assert exchange_status(client, mint(client, who, other_app)["refreshToken"]) == 200
    assert (
        len(client.get(f"/api/jwt/refresh?userId={who}&applicationId={app_id}", headers=KEY).json["refreshTokens"]) == 2
    )


def test_a_session_limit_can_reject_new_sessions_instead(client):
    app_id = new_application(client, refreshTokenSessionLimit={"maximumSessions": 1, "policy": "RejectNew"})
    who = user()
    elsewhere = mint(client, who, new_application(client))  # another application's session counts not
    first = mint(client, who, app_id)
    refused = client.post("/api/user/refresh-token", json={"userId": who, "applicationId": app_id}, headers=KEY)
    assert refused.status_code == 400
    assert refused.json["generalErrors"][0]["code"] == "[SessionLimitReached]"
    assert exchange_status(client, first["refreshToken"]) == 200
    assert exchange_status(client, elsewhere["refreshToken"]) == 200
    client.delete(f"/api/jwt/refresh/{first['refreshTokenId']}", headers=KEY)
    assert (
        client.post("/api/user/refresh-token", json={"userId": who, "applicationId": app_id}, headers=KEY).status_code
        == 200
    )


def named_elsewhere(who: str, *, foreign: bool, steady: bool = False) -> str:
    """A value of the form refreshd mints (naming a token id) minted by another refreshd: the id it names
    is not its record here, and lies in the user's bucket or another."""
    bucket = int(who[-1], 16)
    return keys.new_token_value(keys.new_token_id((bucket + 1) % 16 if foreign else bucket), steady=steady)


@pytest.mark.parametrize(
    "named",
    [None, "any", "steady"],
    ids=["any-value", "value-naming-a-token-elsewhere", "value-naming-a-token-elsewhere-marked-steady"],
)
@pytest.mark.parametrize("foreign", [False, True], ids=["pointer-in-users-bucket", "pointer-in-another-bucket"])
def test_an_imported_value_rotates_and_its_retired_values_are_recognised(client, foreign, named):
    """A value imported from elsewhere may point from another bucket than its record's; its rotations
    are found by value as the first was, and a retired one is still reuse. One marked steady (as this
    service marks a Reusable token's) is exchanged first without a next value, and rotates all the same."""
    app_id = one_time_app(client, grace=30)
    who = user()
    if named:
        first = named_elsewhere(who, foreign=foreign, steady=named == "steady")
        assert keys.presented(first).steady is (named == "steady")
    else:
        first = imported_value(who, foreign=foreign)
    now = int(time.time() * 1000)
    row = {"token": first, "userId": who, "applicationId": app_id, "insertInstant": now, "startInstant": now}
    answer = client.post("/api/user/refresh-token/import", headers=KEY, json={"refreshTokens": [row]})
    assert answer.status_code == 200, answer.json
    values = [first]
    for _ in range(3):
        response = exchange(client, values[-1])
        assert response.status_code == 200, response.json
        values.append(response.json["refreshToken"])
    assert exchange(client, values[-2]).json["refreshToken"] == values[-1]  # in the grace period
    session = client.get(f"/api/jwt/refresh?userId={who}", headers=KEY).json["refreshTokens"]
    assert len(session) == 1
    assert exchange_status(client, values[0]) == 400  # retired long ago: reuse, the session dies
    assert exchange_status(client, values[-1]) == 400
    assert client.get(f"/api/jwt/refresh/{session[0]['id']}", headers=KEY).status_code == 404


def test_a_value_made_up_to_name_a_session_is_unknown_not_reuse(client):
    """A value names its session's id, which is no secret: one made up around a known id must not pass
    for a retired value (reuse would revoke the session of whoever holds it)."""
    app_id = one_time_app(client)
    minted = mint(client, user(), app_id)
    rotated = exchange(client, minted["refreshToken"]).json["refreshToken"]
    for made_up in (minted["refreshToken"][:22] + "A" * 43, rotated[:22] + rotated[22:][::-1]):
        assert keys.named_id(made_up) == minted["refreshTokenId"]
        assert exchange_status(client, made_up) == 400
    assert exchange_status(client, rotated) == 200
    assert exchange_status(client, minted["refreshToken"]) == 400  # the retired value is reuse
    assert client.get(f"/api/jwt/refresh/{minted['refreshTokenId']}", headers=KEY).status_code == 404


def test_only_a_reusable_tokens_value_is_marked_steady_and_its_exchanges_make_no_next_value(client, monkeypatch):
    """An exchange prepares a one-time token's next value before its script says which kind the token
    is; a value minted for a Reusable token says so (keys.new_token_value), and its exchange skips that."""
    reusable = mint(client, user(), new_application(client))["refreshToken"]
    one_time = mint(client, user(), one_time_app(client))["refreshToken"]
    assert keys.presented(reusable).steady and not keys.presented(one_time).steady
    assert len(reusable) == len(one_time) == keys.VALUE_LENGTH
    made = []
    real = keys.new_token_value
    monkeypatch.setattr(keys, "new_token_value", lambda *a, **k: made.append(a) or real(*a, **k))
    for _ in range(3):
        answer = exchange(client, reusable)
        assert answer.status_code == 200 and answer.json["refreshToken"] == reusable
    assert made == []
    rotated = exchange(client, one_time).json["refreshToken"]
    assert len(made) == 1 and rotated != one_time and not keys.presented(rotated).steady
