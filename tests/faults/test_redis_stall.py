"""A stalled Redis (SIGSTOP) and a stopped one, while clients call every kind of endpoint: each answer
is a success or a 503 JSON with Retry-After within 2 s, and the service serves again by itself."""

from __future__ import annotations

import functools
import random
import time
import uuid
from collections.abc import Callable

import requests

from tests.faults.conftest import Answer, Load, Stack

BOUND = 2.0  # API.md: a 503 within 2 seconds
RECOVERY_BOUND = 3.0  # REFRESHD_STORE_DOWN_SECONDS (1 s) after each process's last failure, and slack


def mixed_load(stack: Stack, answers: list[Answer]) -> Callable[[requests.Session], None]:
    app_id = stack.new_application()
    users = [str(uuid.uuid4()) for _ in range(4)]
    with requests.Session() as session:
        minted = [stack.call(session, "POST", "/api/user/refresh-token", json={"userId": u, "applicationId": app_id})
                  for u in users]  # fmt: skip
    tokens = [body for answer, body in minted if answer.status == 200]
    assert len(tokens) == len(users)

    def work(session: requests.Session) -> None:
        token = random.choice(tokens)
        user = random.choice(users)
        kind = random.randrange(6)
        if kind == 0:
            answer, _ = stack.call(session, "POST", "/api/jwt/refresh", json={"refreshToken": token["refreshToken"]})
        elif kind == 1:
            bearer = {"Authorization": f"Bearer {token['token']}"}
            answer, _ = stack.call(session, "GET", "/api/jwt/validate", headers=bearer)
        elif kind == 2:
            body = {"userId": user, "applicationId": app_id}
            answer, _ = stack.call(session, "POST", "/api/user/refresh-token", json=body)
        elif kind == 3:
            answer, _ = stack.call(session, "GET", f"/api/jwt/refresh?userId={user}")
        elif kind == 4:
            answer, _ = stack.call(session, "DELETE", f"/api/jwt/refresh?userId={uuid.uuid4()}")
        else:
            answer, _ = stack.call(session, "GET", "/api/status")
        answers.append(answer)

    return work


def check_outage(answers: list[Answer], start: float, end: float) -> dict[str, object]:
    during = [a for a in answers if start <= a.started < end]
    assert during, "no request was made during the outage"
    statuses = sorted({a.status for a in during})
    assert set(statuses) <= {200, 503}, [a for a in during if a.status not in (200, 503)]
    for answer in during:
        if answer.status == 503:
            assert answer.json_error == "[unavailable]store" and answer.retry_after
    longest = max(a.seconds for a in answers)
    assert longest < BOUND, f"an answer took {longest:.2f} s"
    return {"requests": len(during), "statuses": statuses, "longest_s": round(longest, 3),
            "served_503": sum(a.status == 503 for a in during)}  # fmt: skip


def outage_under_load(stack: Stack, down: Callable[[], None], up: Callable[[], None], seconds: float) -> str:
    """Clients call every kind of endpoint while Redis is down for `seconds`: every answer in the
    outage is a 200 or a 503 JSON within the bound, and after it every answer is a 200 again."""
    answers: list[Answer] = []
    load = Load(8, mixed_load(stack, answers))
    time.sleep(1)
    broken = time.monotonic()
    down()
    time.sleep(seconds)
    up()
    mended = time.monotonic()
    stack.wait_until_serving()
    time.sleep(2)
    load.finish()

    figures = check_outage(answers, broken, mended)
    # recovered: every process of the service answers again (each reopens after its own last failure)
    failed_after = [a.started + a.seconds for a in answers if a.started >= mended and a.status != 200]
    recovery = max(failed_after, default=mended) - mended
    assert recovery < RECOVERY_BOUND, f"answers other than 200 until {recovery:.2f} s after Redis was back"
    return f"{figures}, every answer a 200 again {recovery:.2f} s after Redis was back"


def test_a_stalled_redis_gives_fast_503s_and_the_service_serves_again_after_it(stack: Stack) -> None:
    print("\nSIGSTOP 3 s:", outage_under_load(stack, stack.pause_redis, stack.resume_redis, 3))


def test_a_stopped_redis_gives_fast_503s_and_the_service_serves_again_once_it_starts(stack: Stack) -> None:
    stop = functools.partial(stack.redis.stop, keep_data=True)
    print("\nstop/start:", outage_under_load(stack, stop, stack.start_redis_again, 2))
