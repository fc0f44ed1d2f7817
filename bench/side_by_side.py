"""Two or more versions of the service measured side by side, rows interleaved, on one Redis.

    VARIANTS='now=.;before=/tmp/old' .venv/bin/python bench/side_by_side.py
    VARIANTS='granian=.;one-thread=.|granian --interface wsgi --port $PORT --blocking-threads 1 wsgi:app' \\
        ROWS=exchange,mint ROUNDS=5 .venv/bin/python bench/side_by_side.py

Each variant is `name=DIRECTORY` (a checkout with its own .venv: `git worktree add /tmp/old <commit>`
and `ln -s $PWD/.venv /tmp/old/.venv` when its dependencies are the same), optionally `|WEB LINE`
(default: that checkout's Procfile `web:` line; $PORT and ${WEB_CONCURRENCY:-2} filled in, 2 workers).
Every variant gets its own Redis database on one redis-server of its own, an application and the same
seeding through its own API; then each round runs every row on every variant in turn (the order
reversed every other round), so the machine's drift hits them alike. A variant's rows are wrk
-t2 -c32 as in bench/run.py; each is reported with the CPU its server (all processes and threads), Redis
and wrk took a request and the server's context switches a request. The summary gives medians (req/s,
wrk's p50 and p99, CPU, switches) and each variant's ratio to the first. Rows: exchange (Reusable
tokens, repeated), mint, validate, list, and revoke (DELETE ?token= of distinct imported tokens,
REVOKE_RATE (8,000) a second of each round's run seeded per variant, so none is revoked twice).
ROUNDS (3), DURATION (6 s a row), ROWS (exchange,mint,validate).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import run  # noqa: E402  (bench/run.py: processes, seeding, wrk)

from tests import procfile  # noqa: E402  (bench/run.py put the project root on the path)

ROWS = ("exchange", "mint", "validate", "list", "revoke")
JSON_HEADER = "Content-Type: application/json"


class Variant:
    def __init__(self, spec: str):
        name, _, rest = spec.partition("=")
        directory, _, line = rest.partition("|")
        self.name, self.dir = name.strip(), Path(directory.strip() or ".").resolve()
        self.line = line.strip() or procfile.web_line(self.dir)
        if not (self.dir / ".venv" / "bin").is_dir():
            raise run.BenchError(f"{self.dir} has no .venv (make install, or link this checkout's)")
        self.data: dict[str, Any] = {}

    def command(self, port: int) -> list[str]:
        return procfile.web_words(self.line, port, 2, self.dir / ".venv" / "bin")


def request(variant: Variant, row: str, round_number: int = 0) -> tuple[str, str, list[str]]:
    """(url, wrk script, its arguments) for one row of a variant (and round: revoke's tokens are its own)."""
    d, url = variant.data, variant.data["url"]
    if row == "revoke":
        revoked = str(d["revoke"][round_number])
        return (
            url + "/api/jwt/refresh?token=TOKEN_HERE",
            "tokens.lua",
            ["DELETE", revoked, "2", "", f"Authorization: {d['key']}"],
        )
    if row == "exchange":
        body = '{"refreshToken":"%TOKEN%"}'
        return url + "/api/jwt/refresh", "tokens.lua", ["POST", str(d["exchange"]), "2", body, JSON_HEADER]
    if row == "mint":
        body = '{"userId":"%TOKEN%","applicationId":"' + d["app"] + '","metaData":' + json.dumps(run.DEVICE) + "}"
        return (
            url + "/api/user/refresh-token",
            "tokens.lua",
            ["POST", str(d["mint"]), "2", body, JSON_HEADER, f"Authorization: {d['key']}"],
        )
    if row == "validate":
        return url + "/api/jwt/validate", "static.lua", ["GET", f"Authorization: Bearer {d['access']}"]
    return url + f"/api/jwt/refresh?userId={d['list_user']}", "static.lua", ["GET", f"Authorization: {d['key']}"]


def main() -> int:
    specs = [s for s in os.environ.get("VARIANTS", "").split(";") if s.strip()]
    if len(specs) < 2:
        print(__doc__)
        return 2
    variants = [Variant(s) for s in specs]
    rows = [r for r in os.environ.get("ROWS", "exchange,mint,validate").split(",") if r]
    unknown = set(rows) - set(ROWS)
    if unknown:
        raise run.BenchError(f"unknown rows {sorted(unknown)}; rows: {', '.join(ROWS)}")
    rounds, seconds = int(os.environ.get("ROUNDS", "3")), int(os.environ.get("DURATION", "6"))
    procs = run.Processes()
    data = Path(tempfile.mkdtemp(prefix="refreshd-side-"))
    wrk_bin = run.tool("wrk", "wrk")
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    try:
        redis_port = run.free_port()
        redis = procs.start(
            "redis-server",
            [run.tool("redis-server", "redis-server"), "--port", str(redis_port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(data)],
            cwd=data,
            env=dict(os.environ),
            log_path=data / "redis.log",
        )
        run.wait_redis(redis_client(redis_port))
        for number, variant in enumerate(variants, start=1):
            port, key = run.free_port(), "bench-" + secrets.token_hex(16)
            env = dict(
                os.environ,
                PATH=f"{variant.dir / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
                WEB_CONCURRENCY="2",
                PORT=str(port),
                REDIS_URL=f"redis://127.0.0.1:{redis_port}/{number}",
                REFRESHD_BOOTSTRAP_API_KEY=key,
            )
            log = data / f"{variant.name}.log"
            server = procs.start(variant.name, variant.command(port), cwd=variant.dir, env=env, log_path=log)
            url = f"http://127.0.0.1:{port}"
            run.wait_http(url + "/api/status", server)
            seeder = run.Seeder(run.Api(url, key))
            app = seeder.application()
            list_user = str(uuid.uuid4())
            seeder.mint_many(app, [list_user] * run.LIST_TOKENS)
            minted = seeder.mint_many(app, [str(uuid.uuid4()) for _ in range(200)] * 5)
            exchange, mint = data / f"{variant.name}-exchange.txt", data / f"{variant.name}-mint.txt"
            run.write_lines(exchange, (m["refreshToken"] for m in minted))
            run.write_lines(mint, (str(uuid.uuid4()) for _ in range(run.MINT_USERS)))
            variant.data = dict(url=url, key=key, app=app, list_user=list_user, access=minted[0]["token"])
            variant.data.update(exchange=exchange, mint=mint, server=server, revoke=[])
            if "revoke" in rows:
                per_round = int(os.environ.get("REVOKE_RATE", "8000")) * seconds
                for round_number in range(rounds):
                    made = seeder.import_tokens(app, [str(uuid.uuid4()) for _ in range(per_round // 100 + 1)], 100)
                    path = data / f"{variant.name}-revoke-{round_number}.txt"
                    run.write_lines(path, (t for tokens in made.values() for t in tokens))
                    variant.data["revoke"].append(path)
        time.sleep(1)  # every worker up
        for variant in variants:  # warm-up, untimed
            url, script, arguments = request(variant, "validate")
            run_wrk(wrk_bin, url, script, arguments, 2, [], redis.popen.pid)
        for round_number in range(rounds):
            for row in rows:
                for variant in variants if round_number % 2 == 0 else variants[::-1]:
                    server = variant.data["server"]
                    server_pids = [server.popen.pid, *(pid for pid, _ in run.descendants(server.popen.pid))]
                    out = run_wrk(wrk_bin, *request(variant, row, round_number), seconds, server_pids, redis.popen.pid)
                    cpu = out["cpu_us"]
                    measured = {
                        "rps": out["rps"],
                        "non2xx": out["non2xx"],
                        "p50": out["p50_ms"],
                        "p99": out["p99_ms"],
                        "server_us": cpu["server"],
                        "redis_us": cpu["redis"],
                        "wrk_us": cpu["wrk"],
                        "switches": out["server_switches"],
                    }
                    results.setdefault((row, variant.name), []).append(measured)
                    run.log(
                        f"{row} {variant.name}: {out['rps']:.0f} req/s, CPU us a request: server "
                        f"{measured['server_us']:.0f}, Redis {measured['redis_us']:.0f}, wrk "
                        f"{measured['wrk_us']:.0f}; {measured['switches']:.1f} switches; non2xx {out['non2xx']}"
                    )
    finally:
        procs.stop_all()
        shutil.rmtree(data, ignore_errors=True)
    print(
        "\n| row | variant | req/s (median) | x first | runs | p50 ms | p99 ms "
        "| server CPU us | Redis us | switches | non2xx |"
    )
    print("|---|---|--:|--:|---|--:|--:|--:|--:|--:|--:|")
    for row in rows:
        first = 0.0
        for variant in variants:
            got = results.get((row, variant.name), [])
            if not got:
                continue
            rps = statistics.median(m["rps"] for m in got)
            first = first or rps
            runs = ", ".join(f"{m['rps']:.0f}" for m in got)
            print(
                f"| {row} | {variant.name} | {rps:.0f} | {rps / first:.3f} | {runs} | "
                f"{statistics.median(m['p50'] for m in got):.2f} | {statistics.median(m['p99'] for m in got):.2f} | "
                f"{statistics.median(m['server_us'] for m in got):.0f} | "
                f"{statistics.median(m['redis_us'] for m in got):.0f} | "
                f"{statistics.median(m['switches'] for m in got):.1f} | {sum(int(m['non2xx']) for m in got)} |"
            )
    return 0


def run_wrk(
    wrk_bin: str, url: str, script: str, arguments: list[str], seconds: int, server_pids: list[int], redis_pid: int
) -> dict[str, Any]:
    """wrk -t2 -c32 as bench/run.py runs it, with run.measured_wrk's CPU split."""
    command = [wrk_bin, "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", str(run.WRK_DIR / script), url]
    result, out = run.measured_wrk([*command, "--", *arguments], seconds, server_pids, redis_pid)
    if result is None:
        raise run.BenchError(f"wrk gave no result for {url}:\n{out.stdout}\n{out.stderr}")
    return result


def redis_client(port: int) -> Any:
    import redis

    return redis.Redis(host="127.0.0.1", port=port)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except run.BenchError as error:
        run.log(f"FAILED: {error}")
        sys.exit(1)
