"""Revocation at scale: one application with a million live tokens, revoked in one request.

    .venv/bin/python bench/scale.py                 # 1,000,000 tokens; a few minutes
    TOKENS=200000 .venv/bin/python bench/scale.py   # a quicker look

Starts its own redis-server (noeviction, latency monitor at 1 ms) and the service on the Procfile's
web line, seeds TOKENS tokens of application A straight into Redis with the service's own mint
script (pipelined: seeding is not what is measured) and 1,000 of application B through the API,
then measures, in one run:
  - exchange throughput (wrk, application B's tokens) before the revoke;
  - the latency of DELETE /api/jwt/refresh?applicationId=A, and its counts;
  - that A's tokens are dead at once (a sample must fail exchange) and B's live;
  - the burial by the Procfile's worker: the longest Redis command while it runs (LATENCY LATEST /
    SLOWLOG), how long it takes, and Redis memory before seeding, after seeding, after the burial;
  - exchange throughput again, after, as a ratio of before.
Targets (issue 3): revoke < 20 ms; no Redis stall > 10 ms; exchange within 5 % of before.
"""

from __future__ import annotations

import json
import os
import random
import shlex
import sys
import time
import uuid
from pathlib import Path

import redis

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import run as harness  # noqa: E402  (the hot-path bench: process and HTTP helpers)

from app.store import keys  # noqa: E402
from app.store.lua import Scripts, run_pipelined  # noqa: E402

TOKENS = harness.env_int("TOKENS", 1_000_000)
DURATION = harness.env_int("DURATION", 8)
PER_CALL = 500  # tokens per mint script call when seeding
CALLS_PER_PIPELINE = 20
KEY = "scale-bench-key-0123456789abcdef"
POLICY = f"F:{1440 * 60_000}"


def seed(client: redis.Redis, application_id: str, tenant_id: str, count: int) -> list[str]:
    """count tokens of one application, 10 per user, straight through the mint script; a sample of values."""
    scripts = Scripts.register(client)
    sample: list[str] = []
    calls = []
    made = 0
    event = json.dumps({"id": str(uuid.uuid4()), "type": "jwt.refresh-token.import", "scope": "bench-seed"})
    while made < count:
        bucket = random.randrange(16)
        tag = keys.TAGS[bucket]
        args: list[object] = [tag, 1000, "jwt.refresh-token.import", event, PER_CALL]
        user = ""
        for i in range(PER_CALL):
            if i % 10 == 0:
                user = str(keys.new_token_id(bucket))  # any UUID of that bucket serves as a user id
            token_id = keys.new_token_id(bucket)
            value = keys.new_token_value(token_id)
            if len(sample) < 200 and random.random() < 0.001:
                sample.append(value)
            args += [
                token_id,
                keys.digest(value),
                "0",  # the value names its token: no pointer, as a mint writes none
                user,
                application_id,
                tenant_id,
                "",
                "",
                POLICY,
                "{}",
                "",
                "",
            ]
        calls.append((scripts.mint, [keys.events(tag)], args))
        made += PER_CALL
        if len(calls) == CALLS_PER_PIPELINE:
            run_pipelined(client, calls)
            calls = []
            if made % 100_000 == 0:
                harness.log(f"seeded {made:,} tokens")
    if calls:
        run_pipelined(client, calls)
    return sample


def wrk_exchange(tokens_file: Path, url: str) -> dict:
    argv = [
        harness.tool("wrk", "wrk"),
        "-t2",
        "-c32",
        f"-d{DURATION}s",
        "--latency",
        "-s",
        str(harness.WRK_DIR / "tokens.lua"),
        url,
        "--",
        "POST",
        str(tokens_file),
        "2",
        '{"refreshToken":"%TOKEN%"}',
        "Content-Type: application/json",
    ]
    import subprocess

    out = subprocess.run(argv, capture_output=True, text=True, timeout=DURATION + 60).stdout
    line = next(x for x in out.splitlines() if x.startswith("BENCH_JSON "))
    return dict(json.loads(line[len("BENCH_JSON ") :]))


def memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def main() -> int:
    procs = harness.Processes()
    results = harness.RESULTS / time.strftime("scale-%Y%m%dT%H%M%SZ", time.gmtime())
    results.mkdir(parents=True, exist_ok=True)
    try:
        port = harness.free_port()
        procs.start(
            "redis",
            [
                harness.tool("redis-server", "redis-server"),
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--maxmemory-policy",
                "noeviction",
                "--latency-monitor-threshold",
                "1",
                "--slowlog-log-slower-than",
                "1000",
            ],
            cwd=BENCH,
            env=dict(os.environ),
            log_path=results / "redis.log",
        )
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url, decode_responses=True)
        harness.wait_redis(client)
        env = dict(
            os.environ, REDIS_URL=url, REFRESHD_BOOTSTRAP_API_KEY=KEY, PATH=f"{harness.VENV_BIN}:{os.environ['PATH']}"
        )
        web_port = harness.free_port()
        web = procs.start(
            "web",
            harness.web_command("procfile", "wsgi:app", web_port),
            cwd=harness.ROOT,
            env=env,
            log_path=results / "web.log",
        )
        base = f"http://127.0.0.1:{web_port}"
        harness.wait_http(base + "/api/status", web)
        api = harness.Api(base, KEY)
        app_a = api.must("create A", "POST", "/api/application", {"application": {"name": "A"}})["application"]
        app_b = api.must("create B", "POST", "/api/application", {"application": {"name": "B"}})["application"]
        b_tokens = [
            api.must(
                "mint B", "POST", "/api/user/refresh-token", {"userId": str(uuid.uuid4()), "applicationId": app_b["id"]}
            )["refreshToken"]
            for _ in range(1000)
        ]
        tokens_file = results / "b_tokens.txt"
        tokens_file.write_text("\n".join(b_tokens) + "\n")

        mem_empty = memory(client)
        started = time.monotonic()
        sample = seed(client, app_a["id"], app_a["tenantId"], TOKENS)
        seeded_in = time.monotonic() - started
        mem_seeded = memory(client)
        harness.log(f"seeded {TOKENS:,} tokens in {seeded_in:.1f} s; {mem_seeded - mem_empty:,} bytes")
        live_before = sum(
            api.call("POST", "/api/jwt/refresh", {"refreshToken": v}, key=False).status == 200 for v in sample
        )

        before = wrk_exchange(tokens_file, base + "/api/jwt/refresh")
        harness.log(f"exchange before: {before['rps']:.0f} req/s")

        warm = api.must("create C", "POST", "/api/application", {"application": {"name": "C"}})["application"]
        api.must(
            "mint C", "POST", "/api/user/refresh-token", {"userId": str(uuid.uuid4()), "applicationId": warm["id"]}
        )
        api.must("warm up: revoke C", "DELETE", f"/api/jwt/refresh?applicationId={warm['id']}")  # scripts loaded
        client.execute_command("LATENCY", "RESET")
        client.slowlog_reset()
        t = time.perf_counter()
        reply = api.call("DELETE", f"/api/jwt/refresh?applicationId={app_a['id']}")
        revoke_ms = (time.perf_counter() - t) * 1000
        counts = reply.json() or {}
        dead_after = sum(
            api.call("POST", "/api/jwt/refresh", {"refreshToken": v}, key=False).status == 400 for v in sample
        )
        b_live = sum(
            api.call("POST", "/api/jwt/refresh", {"refreshToken": v}, key=False).status == 200 for v in b_tokens[:50]
        )
        harness.log(f"revoke: HTTP {reply.status} in {revoke_ms:.1f} ms: {counts.get('invalidatedTokens')} invalidated")

        worker_line = next(x for x in (harness.ROOT / "Procfile").read_text().splitlines() if x.startswith("worker:"))
        argv = shlex.split(worker_line[len("worker:") :].strip())
        argv[0] = str(harness.VENV_BIN / argv[0]) if (harness.VENV_BIN / argv[0]).exists() else argv[0]
        started = time.monotonic()
        procs.start("worker", argv, cwd=harness.ROOT, env=env, log_path=results / "worker.log")
        while client.zcard(keys.CLEANUP_JOBS) and time.monotonic() - started < 1800:
            time.sleep(0.2)
        buried_in = time.monotonic() - started
        mem_buried = memory(client)
        latest = client.execute_command("LATENCY", "LATEST")
        worst_ms = max([int(entry[3]) for entry in latest] or [0])
        slow = client.slowlog_get(10)
        slowest_us = max([int(e["duration"]) for e in slow] or [0])
        after = wrk_exchange(tokens_file, base + "/api/jwt/refresh")
        harness.log(f"exchange after: {after['rps']:.0f} req/s")

        rows = [
            ("tokens seeded (application A)", f"{TOKENS:,} in {seeded_in:.1f} s"),
            ("sample of A's tokens live before", f"{live_before}/{len(sample)}"),
            ("revoke A: latency", f"{revoke_ms:.1f} ms (target < 20 ms)"),
            (
                "revoke A: counts",
                f"invalidated {counts.get('invalidatedTokens')}, previously "
                f"{counts.get('previouslyInvalidatedTokens')}",
            ),
            ("sample of A's tokens dead right after", f"{dead_after}/{len(sample)}"),
            ("B's tokens still live", f"{b_live}/50"),
            ("burial by the worker", f"{buried_in:.1f} s"),
            ("worst Redis latency event during the burial", f"{worst_ms} ms (LATENCY LATEST; target <= 10 ms)"),
            ("slowest Redis command during the burial", f"{slowest_us / 1000:.2f} ms (SLOWLOG)"),
            (
                "Redis memory: empty / seeded / after burial",
                f"{mem_empty / 1e6:.1f} / {mem_seeded / 1e6:.1f} / {mem_buried / 1e6:.1f} MB",
            ),
            ("bytes per seeded token (all keys)", f"{(mem_seeded - mem_empty) / TOKENS:.0f}"),
            (
                "exchange before / after (req/s)",
                f"{before['rps']:.0f} / {after['rps']:.0f} = {after['rps'] / before['rps']:.3f} (target >= 0.95)",
            ),
        ]
        table = "| measure | value |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
        print(table)
        (results / "table.md").write_text(table + "\n")
        (results / "raw.json").write_text(
            json.dumps(
                {"before": before, "after": after, "latency": latest, "slowlog": [dict(e) for e in slow]},
                default=str,
                indent=2,
            )
        )
        return 0
    except harness.BenchError as error:
        print(f"scale bench failed: {error}", file=sys.stderr)
        return 1
    finally:
        procs.stop_all()


if __name__ == "__main__":
    sys.exit(main())
