"""The hot paths on a 3-master Redis Cluster beside one node, in one run, reported as ratios.

    .venv/bin/python bench/cluster.py                 # about a minute
    ROUNDS=3 REQUESTS=1000 .venv/bin/python bench/cluster.py

Starts its own redis-server (one node) and a 3-master Cluster with a replica each (the test suite's
LocalCluster: redis-cli --cluster create), builds the service on each (create_app, in this process),
seeds it through its own API, and measures each row as the time per request of a sequential loop
through the WSGI app (Python and Redis round trips; no HTTP server, so the ratio isolates what the
store costs on each deployment). Rounds alternate the deployments; each row keeps its median round.

Rows: exchange (POST /api/jwt/refresh), validate (GET /api/jwt/validate, Bearer access token),
revoke by token (DELETE /api/jwt/refresh?token=), each on one node, on the Cluster with the
replica wait off, and on the Cluster with it on (REFRESHD_REVOKE_WAIT_REPLICAS=auto, the default:
the Cluster has replicas, so each revoke waits for one; one node has none). And revoke by user with
1,000 tokens: its latency and its round trips counted on the wire (1 on both).
Writes the table to bench/results/cluster-<time>.md.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis.connection import AbstractConnection  # noqa: E402

from app import create_app  # noqa: E402
from tests.cluster.conftest import LocalCluster  # noqa: E402
from tests.conftest import API_KEY, RedisServer, make_settings  # noqa: E402

KEY = {"Authorization": API_KEY}
ROUNDS = int(os.environ.get("ROUNDS", "5"))
REQUESTS = int(os.environ.get("REQUESTS", "600"))


class Deployment:
    def __init__(self, name: str, url: str, **settings: Any) -> None:
        self.name = name
        self.app = create_app(make_settings(url, cache_seconds=2.0, **settings))  # production caching
        self.client = self.app.test_client()
        response = self.client.post(
            f"/api/application/{uuid.uuid4()}",
            json={"application": {"name": f"bench-{name}", "jwtConfiguration": {"enabled": True}}},
            headers=KEY,
        )
        assert response.status_code == 200, response.json
        self.application = response.json["application"]["id"]
        self.exchange_values = [self.mint()["refreshToken"] for _ in range(200)]
        self.access = self.mint()["token"]

    def mint(self, user: str | None = None) -> dict[str, Any]:
        body = {"userId": user or str(uuid.uuid4()), "applicationId": self.application}
        response = self.client.post("/api/user/refresh-token", json=body, headers=KEY)
        assert response.status_code == 200, response.json
        return dict(response.json)

    def fresh(self, n: int) -> list[str]:
        return [self.mint()["refreshToken"] for _ in range(n)]


def per_request_us(run: Callable[[int], int], n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        status = run(i)
        assert status == 200, status
    return (time.perf_counter() - started) / n * 1e6


def exchange(d: Deployment) -> float:
    values = d.exchange_values
    return per_request_us(
        lambda i: d.client.post("/api/jwt/refresh", json={"refreshToken": values[i % len(values)]}).status_code,
        REQUESTS,
    )


def validate(d: Deployment) -> float:
    headers = {"Authorization": f"Bearer {d.access}"}
    return per_request_us(lambda i: d.client.get("/api/jwt/validate", headers=headers).status_code, REQUESTS)


def revoke_by_token(d: Deployment) -> float:
    values = d.fresh(REQUESTS // 2)  # untimed
    return per_request_us(
        lambda i: d.client.delete(f"/api/jwt/refresh?token={values[i]}", headers=KEY).status_code, len(values)
    )


class Wire:
    """Packets of commands this thread sends (one per round trip to one node)."""

    def __init__(self) -> None:
        self.sends = 0
        self.thread = threading.get_ident()
        original = AbstractConnection.send_packed_command

        def counted(connection: Any, command: Any, check_health: bool = True) -> None:
            if threading.get_ident() == self.thread:
                self.sends += 1
            original(connection, command, check_health)

        AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]


def revoke_user_1000(d: Deployment, wire: Wire) -> tuple[float, int, int]:
    user, now = str(uuid.uuid4()), int(time.time() * 1000)
    tokens = [
        {"token": f"bench-{uuid.uuid4()}", "userId": user, "applicationId": d.application, "startInstant": now,
         "insertInstant": now}
        for _ in range(1000)
    ]  # fmt: skip
    response = d.client.post("/api/user/refresh-token/import", json={"refreshTokens": tokens}, headers=KEY)
    assert response.status_code == 200, response.status_code
    d.client.delete(f"/api/jwt/refresh?userId={uuid.uuid4()}", headers=KEY)  # warm: the script is loaded
    wire.sends = 0
    started = time.perf_counter()
    response = d.client.delete(f"/api/jwt/refresh?userId={user}", headers=KEY)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200 and response.json["invalidatedTokens"] == 1000, response.status_code
    return elapsed, wire.sends, int(response.json["invalidatedTokens"])


def main() -> int:
    node, cluster = RedisServer(), LocalCluster()
    try:
        deployments = [
            Deployment("one node", node.url),
            Deployment("cluster, wait off", cluster.url, revoke_wait_replicas="off"),
            Deployment("cluster, wait auto", cluster.url),
        ]
        rows: dict[str, Callable[[Deployment], float]] = {
            "exchange": exchange,
            "validate": validate,
            "revoke by token": revoke_by_token,
        }
        results: dict[tuple[str, str], list[float]] = {}
        for measure in rows.values():
            for d in deployments:
                measure(d)  # warm
        for round_ in range(ROUNDS):
            for row, measure in rows.items():
                for d in deployments if round_ % 2 == 0 else reversed(deployments):
                    results.setdefault((row, d.name), []).append(measure(d))
            print(f"round {round_ + 1}/{ROUNDS} done", file=sys.stderr)
        wire = Wire()
        bulk = {d.name: revoke_user_1000(d, wire) for d in deployments}
    finally:
        cluster.stop()
        node.stop()

    base = deployments[0].name
    lines = [
        f"# refreshd on a 3-master Cluster beside one node ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Per request, sequential through the WSGI app, median of {ROUNDS} rounds of {REQUESTS} "
        "(revoke by token: half as many); ratio = Cluster / one node.",
        "",
        "| row | " + " | ".join(d.name for d in deployments) + " | ratio, wait off | ratio, wait auto |",
        "|---|" + "---:|" * (len(deployments) + 2),
    ]
    for row in rows:
        medians = [statistics.median(results[(row, d.name)]) for d in deployments]
        lines.append(
            f"| {row} | "
            + " | ".join(f"{m:.0f} us" for m in medians)
            + f" | {medians[1] / medians[0]:.2f} | {medians[2] / medians[0]:.2f} |"
        )
    lines += ["", "Revoke by user, 1,000 tokens (one request):", "", "| deployment | latency | round trips | revoked |"]
    lines.append("|---|---:|---:|---:|")
    for name, (ms, sends, revoked) in bulk.items():
        lines.append(f"| {name} | {ms:.1f} ms | {sends} | {revoked} |")
    del base
    text = "\n".join(lines) + "\n"
    print(text)
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    (results_dir / f"cluster-{datetime.now(UTC):%Y%m%d-%H%M%S}.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
