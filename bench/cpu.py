"""CPU per request of the hot routes, in-process: the WSGI callable with a real Redis, no HTTP server.

    .venv/bin/python bench/cpu.py                       # every row, 3,000 requests each
    ROWS=exchange,validate N=5000 .venv/bin/python bench/cpu.py
    ROWS=exchange PROFILE=1 .venv/bin/python bench/cpu.py   # cProfile of the first row, by own time
    ROWS=revoke_user STATS=1 .venv/bin/python bench/cpu.py  # and Redis's commands of each row, by time

Counts process CPU time (user + system: a Redis round trip's socket calls are system time), so the
numbers move much less than wall-clock ones on a shared machine; Redis's own CPU is not in them, but
the next columns are Redis's own account: its process CPU a request (INFO cpu: commands, network,
event loop) and the microseconds its scripts took (INFO commandstats' EVALSHA, which includes the
commands a script calls; STATS=1 lists those commands, a script's own included, by their time).
revoke_user is the peers harness's row of that name: users holding 1,000 tokens, each revoked whole
(N/100 of them; its columns are a revoke's).
The last rows are the floors on the same Redis: a bare Flask endpoint doing one round trip (what
bench/run.py and ../shared/peers divide by), the same as a bare WSGI function, and the round trip
alone. Starts its own redis-server on a free port and stops it.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.dirname(BENCH))

import redis  # noqa: E402
import run as harness  # noqa: E402  (process helpers)
from flask import Flask  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

KEY = "bench-key-" + secrets.token_hex(16)
DEVICE = {"device": {"name": "bench", "type": "BROWSER"}}
Environ = tuple[dict[str, Any], bytes]


def environ(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Environ:
    built = EnvironBuilder(
        path=path,
        method=method,
        data=json.dumps(body) if body is not None else None,
        content_type="application/json" if body is not None else None,
        headers=headers or {},
    ).get_environ()
    built["REMOTE_ADDR"] = "127.0.0.1"
    return built, built["wsgi.input"].read()


def cpu_per_call(app: Callable[..., Iterable[bytes]], environs: list[Environ]) -> float:
    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        if not status.startswith("200"):
            raise SystemExit(f"a request answered {status}")

    started = time.process_time()
    for base, body in environs:
        env = dict(base)
        env["wsgi.input"] = io.BytesIO(body)
        b"".join(app(env, start_response))
    return (time.process_time() - started) / len(environs) * 1e6


def main() -> None:
    port, n = harness.free_port(), int(os.environ.get("N", "3000"))
    directory = tempfile.mkdtemp()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", directory],
        stdout=subprocess.DEVNULL,
    )
    try:
        store = redis.Redis(port=port)
        harness.wait_redis(store)
        os.environ.update(REDIS_URL=f"redis://127.0.0.1:{port}/1", REFRESHD_BOOTSTRAP_API_KEY=KEY)
        os.environ.setdefault("REFRESHD_ACCESS_LOG", "false")
        measure(store, n)
    finally:
        server.terminate()


def measure(store: redis.Redis, n: int) -> None:
    from app import create_app

    app = create_app()
    client = app.test_client()
    auth = {"Authorization": KEY}

    def call(method: str, path: str, body: Any = None) -> Any:
        response = client.open(path, method=method, json=body, headers=auth)
        assert response.status_code == 200, (path, response.status_code, response.data)
        return response.get_json()

    def application(policy: str) -> str:
        app_id = str(uuid.uuid4())
        config = {"enabled": True, "timeToLiveInSeconds": 3600, "refreshTokenUsagePolicy": policy}
        call("POST", f"/api/application/{app_id}", {"application": {"name": app_id[:8], "jwtConfiguration": config}})
        return app_id

    def imported(app_id: str, count: int = n, per_user: int = 100) -> tuple[list[str], list[str]]:
        """count distinct tokens by the bulk import, as ../shared/peers seeds its revoke rows (100 a user):
        their users and their values."""
        values, now = [secrets.token_urlsafe(32) for _ in range(count)], int(time.time() * 1000)
        users = [str(uuid.uuid4()) for _ in range(-(-count // per_user))]
        rows = [
            {
                "token": v,
                "userId": users[i // per_user],
                "applicationId": app_id,
                "startInstant": now,
                "metaData": DEVICE,
            }
            for i, v in enumerate(values)
        ]
        for i in range(0, count, 1000):
            call("POST", "/api/user/refresh-token/import", {"refreshTokens": rows[i : i + 1000]})
        return users, values

    reusable, one_time = application("Reusable"), application("OneTimeUse")
    lister = str(uuid.uuid4())
    minted = [
        call("POST", "/api/user/refresh-token", {"userId": lister, "applicationId": reusable, "metaData": DEVICE})
        for _ in range(20)
    ]
    rows: dict[str, Callable[[], list[Environ]]] = {
        "validate": lambda: [
            environ("GET", "/api/jwt/validate", headers={"Authorization": "Bearer " + minted[i % 20]["token"]})
            for i in range(n)
        ],
        "exchange": lambda: [
            environ("POST", "/api/jwt/refresh", {"refreshToken": minted[i % 20]["refreshToken"]}) for i in range(n)
        ],
        "exchange_onetime": lambda: [
            environ("POST", "/api/jwt/refresh", {"refreshToken": v}) for v in imported(one_time)[1]
        ],
        "list": lambda: [environ("GET", f"/api/jwt/refresh?userId={lister}", headers=auth) for _ in range(n)],
        "revoke_token": lambda: [
            environ("DELETE", f"/api/jwt/refresh?token={v}", headers=auth) for v in imported(reusable)[1]
        ],
        # the peers harness's revoke_user row: users holding 1,000 tokens each, each revoked whole
        "revoke_user": lambda: [
            environ("DELETE", f"/api/jwt/refresh?userId={user}", headers=auth)
            for user in imported(reusable, max(1, n // 100) * 1000, 1000)[0]
        ],
        "revoke_id": lambda: [
            environ("DELETE", "/api/jwt/refresh/" + minted_id, headers=auth)
            for minted_id in (
                call("POST", "/api/user/refresh-token", {"userId": str(uuid.uuid4()), "applicationId": reusable})[
                    "refreshTokenId"
                ]
                for _ in range(n)
            )
        ],
        "mint": lambda: [
            environ(
                "POST",
                "/api/user/refresh-token",
                {"userId": str(uuid.uuid4()), "applicationId": reusable, "metaData": DEVICE},
                headers=auth,
            )
            for _ in range(n)
        ],
    }
    chosen = [r for r in os.environ.get("ROWS", ",".join(rows)).split(",") if r]
    if os.environ.get("PROFILE"):
        environs = rows[chosen[0]]()
        profile = cProfile.Profile(time.process_time)  # CPU, as the table counts: not waits for Redis
        profile.runcall(cpu_per_call, app, environs)
        pstats.Stats(profile).sort_stats(os.environ.get("SORT", "tottime")).print_stats(
            int(os.environ.get("LINES", "30"))
        )
        return
    print(f"| row | CPU us a request (n={n}) | Redis us a request | of it EVALSHA |\n|---|--:|--:|--:|")
    for name in chosen:
        environs = rows[name]()
        store.config_resetstat()
        redis_before = redis_usec(store)[0]
        cpu = cpu_per_call(app, environs)
        redis_after, scripts = redis_usec(store)
        calls = len(environs)
        print(f"| {name} | {cpu:.1f} | {(redis_after - redis_before) / calls:.1f} | {scripts / calls:.1f} |")
        if os.environ.get("STATS"):  # Redis's commands of the row, scripts' own included, by time
            stats = sorted(store.info("commandstats").items(), key=lambda kv: -kv[1]["usec"])
            for command, stat in stats[:12]:
                print(f"|   {command[8:]} | {stat['calls'] / calls:.1f} calls | {stat['usec'] / calls:.1f} us |")

    floor = Flask("floor")

    @floor.get("/redis")
    def one_round_trip() -> dict[str, bool]:
        store.delete("floor:nothing")
        return {"ok": True}

    def bare(env: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        store.delete("floor:nothing")
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "12")])
        return [b'{"ok":true}\n']

    floor_environs = [environ("GET", "/redis") for _ in range(n)]
    print(f"| floor: Flask + one round trip | {cpu_per_call(floor, floor_environs):.1f} |")
    print(f"| floor: bare WSGI + one round trip | {cpu_per_call(bare, floor_environs):.1f} |")
    started = time.process_time()
    for _ in range(n):
        store.delete("floor:nothing")
    print(f"| one redis-py round trip alone | {(time.process_time() - started) / n * 1e6:.1f} |")


def redis_usec(store: redis.Redis) -> tuple[float, int]:
    """Redis's process CPU so far (us), and the us its scripts took since the last CONFIG RESETSTAT."""
    cpu = store.info("cpu")
    scripts = store.info("commandstats").get("cmdstat_evalsha", {})
    return (float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])) * 1e6, int(scripts.get("usec", 0))


if __name__ == "__main__":
    main()
