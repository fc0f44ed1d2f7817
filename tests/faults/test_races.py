"""The races API.md names, over HTTP against the service as the Procfile starts it (two worker
processes) and a real Redis: each round must have exactly one winner and leave no live token."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import requests

from tests.conftest import API_KEY
from tests.faults.conftest import Stack

KEY = {"Authorization": API_KEY}


def together(calls: list[Callable[[requests.Session], Any]]) -> list[Any]:
    """Run the calls at once (a barrier), each on its own connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        with requests.Session() as session:
            barrier.wait(10)
            results[i] = calls[i](session)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def mint(stack: Stack, user_id: str, app_id: str) -> dict[str, Any]:
    response = requests.post(
        f"{stack.base_url}/api/user/refresh-token", json={"userId": user_id, "applicationId": app_id}, headers=KEY
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_sixteen_concurrent_revokes_of_a_users_forty_tokens_count_each_once(stack: Stack) -> None:
    app_id = stack.new_application()
    rounds = 5
    for _ in range(rounds):
        user_id = str(uuid.uuid4())
        for _ in range(40):
            mint(stack, user_id, app_id)

        def revoke(session: requests.Session, user_id: str = user_id) -> dict[str, Any]:
            response = session.delete(f"{stack.base_url}/api/jwt/refresh?userId={user_id}", headers=KEY, timeout=10)
            assert response.status_code == 200, response.text
            return dict(response.json())

        answers = together([revoke] * 16)
        assert sum(a["invalidatedTokens"] for a in answers) == 40
        assert sum(a["invalidatedTokens"] + a["previouslyInvalidatedTokens"] for a in answers) == 16 * 40
    print(f"\n16 revokes x 40 tokens: {rounds} rounds, counts exact in all")


def test_sixteen_concurrent_exchanges_of_a_one_time_value_have_one_winner(stack: Stack) -> None:
    for grace in (0, 30):
        app_id = stack.new_application(
            refreshTokenUsagePolicy="OneTimeUse",
            refreshTokenOneTimeUseConfiguration={"gracePeriodInSeconds": grace},
            refreshTokenRevocationPolicy={"onOneTimeTokenReuse": True},
        )
        rounds, single = 10, 0
        for _ in range(rounds):
            value = mint(stack, str(uuid.uuid4()), app_id)["refreshToken"]

            def exchange(session: requests.Session, value: str = value) -> tuple[int, str | None]:
                response = session.post(f"{stack.base_url}/api/jwt/refresh", json={"refreshToken": value}, timeout=10)
                return response.status_code, (response.json() or {}).get("refreshToken")

            answers = together([exchange] * 16)
            rotated = {token for status, token in answers if status == 200 and token != value}
            single += len(rotated) == 1
            if grace:  # the losers got the winner's value
                assert [status for status, _ in answers] == [200] * 16
            else:  # the losers are replays, and reuse detection revoked the session
                assert sorted(status for status, _ in answers) == [200] + [400] * 15
                winner = rotated.pop()
                assert (
                    requests.post(f"{stack.base_url}/api/jwt/refresh", json={"refreshToken": winner}).status_code == 400
                )
        assert single == rounds
        print(f"\n16 exchanges of one one-time value, grace {grace} s: {single}/{rounds} rounds with one winner")


def test_a_revoke_racing_an_exchange_never_leaves_a_live_token(stack: Stack) -> None:
    app_id = stack.new_application()
    rounds = 30
    for _ in range(rounds):
        token = mint(stack, str(uuid.uuid4()), app_id)

        def exchange(session: requests.Session, value: str = token["refreshToken"]) -> int:
            return session.post(
                f"{stack.base_url}/api/jwt/refresh", json={"refreshToken": value}, timeout=10
            ).status_code

        def revoke(session: requests.Session, token_id: str = token["refreshTokenId"]) -> int:
            return session.delete(f"{stack.base_url}/api/jwt/refresh/{token_id}", headers=KEY, timeout=10).status_code

        statuses = together([exchange, revoke, exchange])
        assert statuses[1] == 200 and set(statuses[::2]) <= {200, 400}
        after = requests.post(f"{stack.base_url}/api/jwt/refresh", json={"refreshToken": token["refreshToken"]})
        assert after.status_code == 400
    print(f"\nrevoke racing exchanges: {rounds} rounds, no live token left")
