"""refreshd benchmark: the service's hot paths beside a bare Flask floor, measured in one run.

    .venv/bin/python bench/run.py                    # or `make bench`; about 2-3 minutes
    DURATION=5 .venv/bin/python bench/run.py         # a quicker look
    .venv/bin/python bench/run.py --server gunicorn  # both apps on gunicorn -w 2 --worker-class sync

Starts its own redis-server, the floor app (bench/floor_app.py) on Granian's WSGI interface (the
peers harness's fast floor) and the service on the Procfile's web line (uvicorn; or both on
gunicorn), seeds the service through its own HTTP API (untimed), measures
each row with wrk, checks that the consuming rows did their work, prints a markdown table and
writes it with the raw numbers to bench/results/<time>.md and .json. Stops everything it started.
See bench/README.md for the rows and how to read them.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import importlib.metadata
import json
import math
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import requests

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from tests import procfile  # noqa: E402  (the Procfile's web line, as the live-server tests run it)

WRK_DIR = BENCH / "wrk"
RESULTS = BENCH / "results"
VENV_BIN = ROOT / ".venv" / "bin" if (ROOT / ".venv" / "bin").is_dir() else Path(sys.executable).parent
IMPORT_BATCH = 1000  # tokens per POST /api/user/refresh-token/import, as the shared harness sends them
PER_USER = 100  # tokens per user for the consuming rows (revoke by token, by id)
LIST_TOKENS = 20  # tokens of the user the list row lists
REVOKED_PER_USER = 1000  # tokens of each user the revoke_user_1000 row revokes at once
EXCHANGE_TOKENS = 1000  # minted Reusable tokens the exchange row cycles through
MINT_USERS = 5000  # distinct user ids the mint row cycles through
RESERVE = 25  # extra tokens per consuming row: smoke test, control of the check, probes
DEVICE = {"device": {"name": "bench", "type": "BROWSER"}}
T0 = time.monotonic()


class BenchError(Exception):
    """The run cannot go on; the message says what failed (for HTTP: the exact request and response)."""


def log(message: str) -> None:
    print(f"[bench +{time.monotonic() - T0:5.1f}s] {message}", file=sys.stderr, flush=True)


# -- settings ------------------------------------------------------------------------------------
def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, not {raw!r}") from None


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--server",
        choices=["procfile", "gunicorn"],
        default=os.environ.get("BENCH_SERVER") or "procfile",
        help="procfile: the service on the Procfile's web line (uvicorn), the floor on Granian; "
        "gunicorn: both on -w 2 sync workers",
    )
    p.add_argument("--duration", type=int, default=env_int("DURATION", 10), help="seconds per wrk row (10)")
    p.add_argument("--threads", type=int, default=env_int("WRK_THREADS", 2), help="wrk threads (2)")
    p.add_argument("--connections", type=int, default=env_int("WRK_CONNS", 32), help="wrk connections (32)")
    p.add_argument(
        "--users",
        type=int,
        default=env_int("USERS_REVOKED", 30),
        help="users of 1,000 tokens revoked serially by revoke_user_1000 (30)",
    )
    p.add_argument("--sample", type=int, default=env_int("SAMPLE", 50), help="tokens checked per revoke row (50)")
    p.add_argument("--warmup", type=int, default=env_int("WARMUP", 2), help="seconds of wrk per server first (2)")
    p.add_argument(
        "--rate-cap",
        type=int,
        default=env_int("RATE_CAP", 0),
        help="distinct tokens seeded per second of a revoke row (0: 1.25 x the floor's req/s)",
    )
    args = p.parse_args()
    if args.duration < 1 or args.threads < 1 or args.connections < args.threads or args.users < 1:
        p.error("need duration >= 1, threads >= 1, connections >= threads, users >= 1")
    return args


# -- processes -----------------------------------------------------------------------------------
def start_time(pid: int) -> str | None:
    """The kernel's start time of pid (to tell our process from a later one with a reused pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, start time) of every process below pid, read from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for kid in parents.get(todo.pop(), []):
            started = start_time(kid)
            if started is not None:
                out.append((kid, started))
                todo.append(kid)
    return out


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_and_switches(pids: list[int]) -> tuple[float, int]:
    """CPU seconds (user + system) and context switches (voluntary + not) of these processes so far,
    all their threads counted; a process gone since counts nothing."""
    seconds, switches = 0.0, 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            seconds += (int(stat[11]) + int(stat[12])) / CLOCK_TICKS
            for task in Path(f"/proc/{pid}/task").iterdir():
                for line in (task / "status").read_text().splitlines():
                    if "ctxt_switches:" in line:
                        switches += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return seconds, switches


def measured_wrk(
    cmd: list[str], seconds: int, server_pids: list[int], redis_pid: int
) -> tuple[dict[str, Any] | None, subprocess.CompletedProcess[str]]:
    """Run wrk (cmd, a script of wrk/ printing BENCH_JSON); its result, with the CPU a request the web
    server (server_pids: its processes, all their threads counted), Redis and wrk took while it ran
    ("cpu_us") and the server's context switches a request ("server_switches"); None when wrk printed
    no result. Also wrk's output."""
    watched = {"server": server_pids, "redis": [redis_pid]}
    before = {part: cpu_and_switches(pids) for part, pids in watched.items()}
    wrk_before = os.times()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    wrk_after = os.times()
    after = {part: cpu_and_switches(pids) for part, pids in watched.items()}
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict[str, Any] = json.loads(line[len("BENCH_JSON ") :])
            n = max(1, result["requests"])
            wrk_cpu = (wrk_after.children_user - wrk_before.children_user) + (
                wrk_after.children_system - wrk_before.children_system
            )
            result["cpu_us"] = {part: (after[part][0] - before[part][0]) / n * 1e6 for part in watched}
            result["cpu_us"]["wrk"] = wrk_cpu / n * 1e6
            result["server_switches"] = (after["server"][1] - before["server"][1]) / n
            return result, out
    return None, out


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    kids: list[tuple[int, str]] = field(default_factory=list)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Processes:
    """Every process this run starts, stopped by pid (workers too) when the run ends, however it ends."""

    def __init__(self) -> None:
        self.procs: list[Proc] = []

    def start(self, name: str, argv: list[str], *, cwd: Path, env: dict[str, str], log_path: Path) -> Proc:
        with open(log_path, "wb") as out:
            popen = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        log(f"started {name} (pid {popen.pid}): {shlex.join(argv)}")
        return proc

    def note_workers(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is None:
                proc.kids = descendants(proc.popen.pid)

    def stop_all(self) -> None:
        for proc in self.procs:  # workers started since note_workers() too
            if proc.popen.poll() is None:
                known = {pid for pid, _ in proc.kids}
                proc.kids += [k for k in descendants(proc.popen.pid) if k[0] not in known]
        for proc in reversed(self.procs):
            if proc.popen.poll() is None:
                proc.popen.terminate()
        deadline = time.monotonic() + 10
        for proc in reversed(self.procs):
            try:
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{proc.name} (pid {proc.popen.pid}) ignored SIGTERM: SIGKILL")
                proc.popen.kill()
                proc.popen.wait(5)
        time.sleep(0.2)
        left = 0
        for proc in self.procs:
            for pid, started in proc.kids:
                if start_time(pid) == started:  # still that very worker
                    left += 1
                    os.kill(pid, signal.SIGKILL)
        workers = sum(len(p.kids) for p in self.procs)
        log(f"stopped {len(self.procs)} processes we started (+{workers} workers{f', {left} killed' if left else ''})")
        self.procs.clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_redis(client: Any, seconds: float = 30) -> None:
    """Until a redis-server just started answers PING (redis-py's client: a ConnectionError until then)."""
    from redis import ConnectionError as NotYet

    deadline = time.monotonic() + seconds
    while True:
        try:
            client.ping()
            return
        except NotYet:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def tool(name: str, package: str) -> str:
    """The path of a system tool; installed with apt-get when missing and we are root."""
    found = shutil.which(name)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BenchError(f"{name} is not installed: apt-get install -y {package}")
    log(f"installing {package} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
    subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env, check=True, stdout=subprocess.DEVNULL)
    found = shutil.which(name)
    if not found:
        raise BenchError(f"{name} is still missing after apt-get install {package}")
    return found


def venv_tool(name: str) -> str:
    path = VENV_BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        raise BenchError(f"{name} is not installed in {VENV_BIN} (make install)")
    return found


GRANIAN_FLOOR = "granian --interface wsgi --host 127.0.0.1 --port $PORT --workers 2 --blocking-threads 2 wsgi:app"


def web_command(server: str, target: str, port: int) -> list[str]:
    """The web server command for target (module:app) on 127.0.0.1:port, 2 workers: the service
    (wsgi:app) as the Procfile's web line runs it (uvicorn, app.asgi:app), the floor app on Granian's
    WSGI interface (the peers harness's fast floor), or either on gunicorn's sync workers."""
    if server == "gunicorn":
        return [
            venv_tool("gunicorn"),
            "-w",
            "2",
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            target,
        ]
    try:
        line = procfile.web_line(ROOT) if target == "wsgi:app" else GRANIAN_FLOOR
        words = procfile.web_words(line, port, 2, VENV_BIN)
    except ValueError as error:
        raise BenchError(str(error)) from None
    if target != "wsgi:app":
        words[words.index("wsgi:app")] = target
    words[0] = venv_tool(words[0])
    return words


# -- HTTP ----------------------------------------------------------------------------------------
@dataclass
class Reply:
    method: str
    url: str
    body: Any
    headers: dict[str, str]
    status: int
    text: str

    def json(self) -> Any:
        try:
            return json.loads(self.text) if self.text else None
        except ValueError:
            return None

    def describe(self, limit: int = 600) -> str:
        sent = f"{self.method} {self.url}"
        if self.headers:
            sent += "  " + "  ".join(f"{k}: {v}" for k, v in self.headers.items())
        if self.body is not None:
            sent += "  body " + json.dumps(self.body)[:limit]
        text = self.text if len(self.text) <= limit else self.text[:limit] + "..."
        return f"request:  {sent}\nresponse: HTTP {self.status} {text or '(empty body)'}"


def new_session() -> requests.Session:
    """A keep-alive session that never stores cookies: the exchange answers with a refresh_token cookie
    that the service reads before the body, so a stored one would be sent in place of the token meant."""
    s = requests.Session()
    s.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return s


class Api:
    """The service's HTTP API through requests, one keep-alive session per thread."""

    def __init__(self, base: str, key: str):
        self.base, self.key = base, key
        self._local = threading.local()

    def session(self) -> requests.Session:
        s: requests.Session | None = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = new_session()
        return s

    def call(self, method: str, path: str, body: Any = None, *, key: bool = True, bearer: str = "") -> Reply:
        headers = {"Authorization": f"Bearer {bearer}" if bearer else self.key} if key or bearer else {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        url = self.base + path
        data = json.dumps(body) if body is not None else None
        r = self.session().request(method, url, data=data, headers=headers, timeout=30)
        return Reply(method, url, body, headers, r.status_code, r.text)

    def must(self, what: str, method: str, path: str, body: Any = None, *, key: bool = True) -> Any:
        reply = self.call(method, path, body, key=key)
        if reply.status != 200:
            raise BenchError(f"{what} failed\n{reply.describe()}")
        return reply.json()


def wait_http(url: str, proc: Proc, want_ok: bool = True, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    last = ""
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise BenchError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        try:
            r = requests.get(url, timeout=2)
            if r.status_code == 200 or not want_ok:
                return
            last = f"HTTP {r.status_code} {r.text[:300]}"
        except requests.RequestException as err:
            last = str(err)
        time.sleep(0.1)
    raise BenchError(f"{url} did not answer 200 within {seconds:.0f} s (last: {last})\n{proc.log_tail()}")


# -- seeding (untimed, through the service's own API) ----------------------------------------------
def write_lines(path: Path, lines: Iterable[str]) -> int:
    items = list(lines)
    path.write_text("\n".join(items) + "\n")
    return len(items)


class Seeder:
    def __init__(self, api: Api):
        self.api = api

    def application(self) -> str:
        app_id = str(uuid.uuid4())
        self.api.must(
            "create the Reusable application",
            "POST",
            f"/api/application/{app_id}",
            {
                "application": {
                    "name": f"bench-{app_id[:8]}",
                    "jwtConfiguration": {
                        "enabled": True,
                        "refreshTokenTimeToLiveInMinutes": 1440,
                        "refreshTokenUsagePolicy": "Reusable",
                    },
                }
            },
        )
        return app_id

    def mint(self, app_id: str, user: str) -> dict[str, Any]:
        body = {"userId": user, "applicationId": app_id, "metaData": DEVICE}
        out: dict[str, Any] = self.api.must("mint", "POST", "/api/user/refresh-token", body)
        return out

    def mint_many(self, app_id: str, users: list[str]) -> list[dict[str, Any]]:
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda u: self.mint(app_id, u), users))

    def import_tokens(self, app_id: str, users: list[str], per_user: int) -> dict[str, list[str]]:
        """per_user fresh tokens for each user by the bulk import, IMPORT_BATCH a request."""
        now = int(time.time() * 1000)
        made = {u: [secrets.token_urlsafe(32) for _ in range(per_user)] for u in users}
        rows = [
            {
                "token": t,
                "userId": u,
                "applicationId": app_id,
                "startInstant": now,
                "insertInstant": now,
                "metaData": DEVICE,
            }
            for u, toks in made.items()
            for t in toks
        ]
        batches = [rows[i : i + IMPORT_BATCH] for i in range(0, len(rows), IMPORT_BATCH)]

        def send(batch: list[dict[str, Any]]) -> None:
            self.api.must(
                "import",
                "POST",
                "/api/user/refresh-token/import",
                {"refreshTokens": batch, "validateDbConstraints": False},
            )

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(send, batches))
        return made

    def ids(self, users: list[str], per_user: int) -> list[str]:
        def of(user: str) -> list[str]:
            body = self.api.must("list for ids", "GET", f"/api/jwt/refresh?userId={user}")
            ids = [t["id"] for t in body["refreshTokens"]]
            if len(ids) != per_user:
                raise BenchError(
                    f"GET /api/jwt/refresh?userId={user} listed {len(ids)} tokens, {per_user} were imported"
                )
            return ids

        with ThreadPoolExecutor(4) as pool:
            return [i for ids in pool.map(of, users) for i in ids]


# -- measuring -----------------------------------------------------------------------------------
@dataclass
class Row:
    name: str
    request: str
    result: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    check: str = ""
    serial: bool = False


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, math.ceil(q / 100 * len(sorted_values)) - 1)]


def sent_indices(used: list[int], n_lines: int, margin: int) -> list[int]:
    """Line indices (0-based) certainly sent by a tokens.lua run: thread k built lines k, k+T, ...
    (used[k] of them); its first (wrk's unsent check request for thread 0) and its last `margin`
    (possibly still in flight when wrk stopped) are left out."""
    threads = len(used)
    out = []
    for k, count in enumerate(used):
        for j in range(1, count - margin):
            idx = k + j * threads
            if idx >= n_lines:
                break
            out.append(idx)
    return sorted(out)


def spread(items: list[Any], n: int) -> list[Any]:
    """n items evenly spread over the list (all of them when it is short)."""
    if len(items) <= n:
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.logs = RESULTS / f"{self.stamp}-logs"
        self.data = Path(tempfile.mkdtemp(prefix="refreshd-bench-"))
        self.procs = Processes()
        self.rows: list[Row] = []
        self.meta: dict[str, Any] = {}
        self.key = "bench-" + secrets.token_hex(16)
        self.floor_rps = 0.0
        self.floor_serial_p50 = 0.0
        self.aborted = ""

    # -- servers ---------------------------------------------------------------------------------
    def start(self) -> None:
        self.wrk_bin = tool("wrk", "wrk")
        redis_bin = tool("redis-server", "redis-server")
        RESULTS.mkdir(exist_ok=True)
        self.logs.mkdir()
        rport, self.fport, self.sport = free_port(), free_port(), free_port()
        redis_dir = self.data / "redis"
        redis_dir.mkdir()
        self.redis = redis = self.procs.start(
            "redis-server",
            [
                redis_bin,
                "--port",
                str(rport),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(redis_dir),
                "--maxmemory-policy",
                "noeviction",
            ],
            cwd=redis_dir,
            env=dict(os.environ),
            log_path=self.logs / "redis.log",
        )
        self.wait_redis(rport, redis)
        env = dict(
            os.environ,
            PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            WEB_CONCURRENCY="2",
            PYTHONUNBUFFERED="1",
        )
        floor_cmd = web_command(self.args.server, "floor_app:app", self.fport)
        svc_cmd = web_command(self.args.server, "wsgi:app", self.sport)
        self.floor = floor = self.procs.start(
            "floor app",
            floor_cmd,
            cwd=BENCH,
            log_path=self.logs / "floor.log",
            env=dict(env, PORT=str(self.fport), REDIS_URL=f"redis://127.0.0.1:{rport}/0"),
        )
        self.service = self.procs.start(
            "service",
            svc_cmd,
            cwd=ROOT,
            log_path=self.logs / "service.log",
            env=dict(
                env,
                PORT=str(self.sport),
                REDIS_URL=f"redis://127.0.0.1:{rport}/1",
                REFRESHD_BOOTSTRAP_API_KEY=self.key,
            ),
        )
        self.floor_url = f"http://127.0.0.1:{self.fport}"
        self.svc_url = f"http://127.0.0.1:{self.sport}"
        wait_http(self.floor_url + "/redis", floor)
        wait_http(self.svc_url + "/api/status", self.service)
        time.sleep(1)  # the second worker of each server
        self.procs.note_workers()
        self.api = Api(self.svc_url, self.key)
        self.meta.update(
            floor_command=shlex.join(floor_cmd),
            service_command=shlex.join(svc_cmd),
            redis_port=rport,
            redis_server=re.sub(r".*\bv=(\S+).*", r"\1", self.version([redis_bin, "--version"])),
        )

    def wait_redis(self, port: int, proc: Proc) -> None:
        import redis

        client = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                client.close()
                return
            except redis.ConnectionError:
                if proc.popen.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(f"redis-server did not start:\n{proc.log_tail()}") from None
                time.sleep(0.05)

    @staticmethod
    def version(argv: list[str]) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        except OSError:
            return "?"
        return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else "?"

    # -- wrk -------------------------------------------------------------------------------------
    def wrk(self, name: str, url: str, script: str, script_args: list[str], seconds: int) -> dict[str, Any]:
        a = self.args
        cmd = [
            self.wrk_bin,
            f"-t{a.threads}",
            f"-c{a.connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(WRK_DIR / script),
            url,
            "--",
            *script_args,
        ]
        server = self.service if url.startswith(self.svc_url) else self.floor
        server_pids = [server.popen.pid, *(pid for pid, _ in descendants(server.popen.pid))]
        result, out = measured_wrk(cmd, seconds, server_pids, self.redis.popen.pid)
        (self.logs / f"wrk-{name}.txt").write_text(f"$ {shlex.join(cmd)}\n\n{out.stdout}\n{out.stderr}")
        if result is not None:
            return result
        raise BenchError(f"wrk gave no result for {name} (exit {out.returncode}):\n{out.stdout}\n{out.stderr}")

    def tokens_args(self, method: str, path: Path, body: str, *headers: str) -> list[str]:
        return [method, str(path), str(self.args.threads), body, *headers]

    # -- seeding ---------------------------------------------------------------------------------
    def seed(self) -> None:
        seeder = Seeder(self.api)
        self.seeder = seeder
        t = time.monotonic()
        self.app_id = seeder.application()
        self.list_user = str(uuid.uuid4())
        seeder.mint_many(self.app_id, [self.list_user] * LIST_TOKENS)
        users = [str(uuid.uuid4()) for _ in range(EXCHANGE_TOKENS // 5)]
        minted = seeder.mint_many(self.app_id, users * 5)
        self.access_token = minted[0]["token"]
        self.exchange_file = self.data / "exchange.txt"
        write_lines(self.exchange_file, (m["refreshToken"] for m in minted))
        self.mint_file = self.data / "mint_users.txt"
        write_lines(self.mint_file, (str(uuid.uuid4()) for _ in range(MINT_USERS)))
        self.revoked_users = [str(uuid.uuid4()) for _ in range(self.args.users)]
        self.revoked_made = seeder.import_tokens(self.app_id, self.revoked_users, REVOKED_PER_USER)
        log(
            f"seeded: application {self.app_id}, {LIST_TOKENS} tokens for the list user, {EXCHANGE_TOKENS} "
            f"minted for exchange, {self.args.users} users x {REVOKED_PER_USER} imported "
            f"({time.monotonic() - t:.1f} s, untimed)"
        )

    def seed_consumed(self, per_second: int) -> None:
        """Distinct tokens for the revoke rows: per_second x DURATION each, PER_USER a user."""
        t = time.monotonic()
        n = per_second * self.args.duration + RESERVE
        users = max(1, math.ceil(n / PER_USER))
        made = self.seeder.import_tokens(self.app_id, [str(uuid.uuid4()) for _ in range(users)], PER_USER)
        values = [tok for toks in made.values() for tok in toks]
        self.revoke_reserve, values = values[:RESERVE], values[RESERVE:]
        self.revoke_file = self.data / "revoke_token.txt"
        self.revoke_count = write_lines(self.revoke_file, values)
        id_users = [str(uuid.uuid4()) for _ in range(users)]
        self.seeder.import_tokens(self.app_id, id_users, PER_USER)
        ids = self.seeder.ids(id_users, PER_USER)
        self.id_reserve, ids = ids[:RESERVE], ids[RESERVE:]
        self.id_file = self.data / "revoke_id.txt"
        self.id_count = write_lines(self.id_file, ids)
        log(
            f"seeded {self.revoke_count} tokens and {self.id_count} ids for the revoke rows "
            f"({per_second}/s x {self.args.duration} s; {time.monotonic() - t:.1f} s, untimed)"
        )

    # -- rows ------------------------------------------------------------------------------------
    def measure(
        self,
        row: Row,
        url: str,
        script: str,
        script_args: list[str],
        smoke: Callable[[], Reply | None] | None = None,
    ) -> Row:
        """Smoke-test one request of the row (untimed), then the wrk run; probe again on errors."""
        if smoke:
            bad = smoke()
            if bad is not None:
                row.flags.append(f"smoke HTTP {bad.status}")
                row.problems.append(f"{row.name}: a single request before the run failed\n{bad.describe()}")
        log(f"{row.name}: wrk {self.args.duration} s  {row.request}")
        row.result = self.wrk(row.name, url, script, script_args, self.args.duration)
        r = row.result
        socket_errors = r["connect_err"] + r["read_err"] + r["write_err"] + r["timeouts"]
        if socket_errors:
            row.flags.append(
                f"socket errors {r['connect_err']}/{r['read_err']}/{r['write_err']}/{r['timeouts']}"
                " (connect/read/write/timeout)"
            )
        if r["non2xx"] and smoke:
            for _ in range(10):
                bad = smoke()
                if bad is not None:
                    row.problems.append(
                        f"{row.name}: {r['non2xx']} of {r['requests']} responses were errors; "
                        f"one request sent again, serially, failed too\n{bad.describe()}"
                    )
                    break
            else:
                row.problems.append(
                    f"{row.name}: {r['non2xx']} of {r['requests']} responses were errors under "
                    "load; 10 more sent serially all succeeded (see the service log)"
                )
        log(
            f"{row.name}: {r['rps']:.0f} req/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  "
            f"non2xx {r['non2xx']}"
        )
        self.rows.append(row)
        return row

    def warm_up(self) -> None:
        s = self.args.warmup
        if s <= 0:
            return
        log(f"warm-up: {s} s of wrk on each server (untimed)")
        self.wrk("warmup-floor", self.floor_url + "/redis", "static.lua", ["GET"], s)
        self.wrk(
            "warmup-service",
            f"{self.svc_url}/api/jwt/refresh?userId={self.list_user}",
            "static.lua",
            ["GET", f"Authorization: {self.key}"],
            s,
        )
        self.procs.note_workers()

    def floor_row(self) -> None:
        def smoke() -> Reply | None:
            r = requests.get(self.floor_url + "/redis", timeout=10)
            return None if r.status_code == 200 else Reply("GET", r.url, None, {}, r.status_code, r.text)

        row = self.measure(
            Row("floor", "floor app GET /redis (Flask + 1 redis-py DEL)"),
            self.floor_url + "/redis",
            "static.lua",
            ["GET"],
            smoke,
        )
        self.floor_rps = row.result["rps"]

    def revoke_token_row(self) -> None:
        reserve = iter(self.revoke_reserve[1:])

        def smoke() -> Reply | None:
            tok = next(reserve, None)
            if tok is None:
                return None
            r = self.api.call("DELETE", f"/api/jwt/refresh?token={tok}")
            body = r.json()
            ok = r.status == 200 and isinstance(body, dict) and body.get("invalidatedTokens") == 1
            return None if ok else r

        row = Row("revoke_token", "DELETE /api/jwt/refresh?token=<distinct token>")
        self.measure(
            row,
            f"{self.svc_url}/api/jwt/refresh?token=TOKEN_HERE",
            "tokens.lua",
            self.tokens_args("DELETE", self.revoke_file, "", f"Authorization: {self.key}"),
            smoke,
        )
        self.flag_wraps(row, self.revoke_count)
        tokens = self.revoke_file.read_text().split()
        picks = [tokens[i] for i in spread(self.sent(row), self.args.sample)]
        control = self.api.call("POST", "/api/jwt/refresh", {"refreshToken": self.revoke_reserve[0]}, key=False)
        if control.status != 200:
            row.problems.append(
                f"revoke_token check: a live (never revoked) token did not exchange, so the "
                f"check below proves little\n{control.describe()}"
            )
        bad = [
            r
            for r in (self.api.call("POST", "/api/jwt/refresh", {"refreshToken": t}, key=False) for t in picks)
            if r.status != 400
        ]
        self.record_check(row, len(picks) - len(bad), len(picks), bad, "exchange of a revoked token: want 400")

    def revoke_id_row(self) -> None:
        reserve = iter(self.id_reserve[1:])

        def smoke() -> Reply | None:
            ident = next(reserve, None)
            if ident is None:
                return None
            r = self.api.call("DELETE", f"/api/jwt/refresh/{ident}")
            body = r.json()
            ok = r.status == 200 and isinstance(body, dict) and body.get("invalidatedTokens") == 1
            return None if ok else r

        row = Row("revoke_id", "DELETE /api/jwt/refresh/<distinct id>")
        self.measure(
            row,
            f"{self.svc_url}/api/jwt/refresh/TOKEN_HERE",
            "tokens.lua",
            self.tokens_args("DELETE", self.id_file, "", f"Authorization: {self.key}"),
            smoke,
        )
        self.flag_wraps(row, self.id_count)
        ids = self.id_file.read_text().split()
        picks = [ids[i] for i in spread(self.sent(row), self.args.sample)]
        control = self.api.call("GET", f"/api/jwt/refresh/{self.id_reserve[0]}")
        if control.status != 200:
            row.problems.append(
                f"revoke_id check: a live (never revoked) id did not answer 200, so the check "
                f"below proves little\n{control.describe()}"
            )
        bad = [r for r in (self.api.call("GET", f"/api/jwt/refresh/{i}") for i in picks) if r.status != 404]
        self.record_check(row, len(picks) - len(bad), len(picks), bad, "GET of a revoked id: want 404")

    def sent(self, row: Row) -> list[int]:
        n = self.revoke_count if row.name == "revoke_token" else self.id_count
        margin = self.args.connections // self.args.threads + 2
        return sent_indices(row.result["used"], n, margin)

    def flag_wraps(self, row: Row, count: int) -> None:
        if row.result["wraps"]:
            row.flags.append(f"wrapped x{row.result['wraps']}: {count} tokens were too few, raise RATE_CAP")

    def record_check(self, row: Row, good: int, total: int, bad: list[Reply], what: str) -> None:
        row.check = f"{good}/{total}"
        if total and good == total:
            row.flags.append(f"revoked {good}/{total} ok")
            return
        row.flags.append(f"REVOKED ONLY {good}/{total}")
        if bad:
            row.problems.append(
                f"{row.name} check ({what}): {total - good} of {total} sampled failed; the first:\n{bad[0].describe()}"
            )
        else:
            row.problems.append(f"{row.name} check: nothing to sample (no token certainly sent)")

    def list_row(self) -> None:
        path = f"/api/jwt/refresh?userId={self.list_user}"

        def smoke() -> Reply | None:
            r = self.api.call("GET", path)
            body = r.json()
            ok = r.status == 200 and isinstance(body, dict) and len(body.get("refreshTokens", [])) == LIST_TOKENS
            return None if ok else r

        self.measure(
            Row("list", f"GET /api/jwt/refresh?userId=<user with {LIST_TOKENS} tokens>"),
            self.svc_url + path,
            "static.lua",
            ["GET", f"Authorization: {self.key}"],
            smoke,
        )

    def exchange_row(self) -> None:
        tokens = self.exchange_file.read_text().split()
        pick = iter(tokens)

        def smoke() -> Reply | None:
            r = self.api.call("POST", "/api/jwt/refresh", {"refreshToken": next(pick)}, key=False)
            body = r.json()
            ok = r.status == 200 and isinstance(body, dict) and bool(body.get("token"))
            return None if ok else r

        self.measure(
            Row("exchange", 'POST /api/jwt/refresh {"refreshToken"} (Reusable, repeated tokens)'),
            self.svc_url + "/api/jwt/refresh",
            "tokens.lua",
            self.tokens_args(
                "POST", self.exchange_file, '{"refreshToken":"%TOKEN%"}', "Content-Type: application/json"
            ),
            smoke,
        )

    def validate_row(self) -> None:
        def smoke() -> Reply | None:
            r = self.api.call("GET", "/api/jwt/validate", bearer=self.access_token)
            body = r.json()
            ok = r.status == 200 and isinstance(body, dict) and bool((body.get("jwt") or {}).get("sid"))
            return None if ok else r

        self.measure(
            Row("validate", "GET /api/jwt/validate, Bearer access JWT (ES256, repeated, its session checked)"),
            self.svc_url + "/api/jwt/validate",
            "static.lua",
            ["GET", f"Authorization: Bearer {self.access_token}"],
            smoke,
        )

    def mint_row(self) -> None:
        def smoke() -> Reply | None:
            body = {"userId": str(uuid.uuid4()), "applicationId": self.app_id, "metaData": DEVICE}
            r = self.api.call("POST", "/api/user/refresh-token", body)
            out = r.json()
            ok = r.status == 200 and isinstance(out, dict) and bool(out.get("refreshToken"))
            return None if ok else r

        template = json.dumps(
            {"userId": "%TOKEN%", "applicationId": self.app_id, "metaData": DEVICE}, separators=(",", ":")
        )
        self.measure(
            Row("mint", "POST /api/user/refresh-token (distinct users)"),
            self.svc_url + "/api/user/refresh-token",
            "tokens.lua",
            self.tokens_args(
                "POST",
                self.mint_file,
                template,
                f"Authorization: {self.key}",
                "Content-Type: application/json",
            ),
            smoke,
        )

    def floor_serial(self, n: int = 300) -> None:
        """GET /redis on the floor, serially on one keep-alive connection: revoke_user_1000's yardstick."""
        times = []
        with new_session() as s:
            for _ in range(20):
                s.get(self.floor_url + "/redis", timeout=10)
            for _ in range(n):
                t = time.perf_counter()
                s.get(self.floor_url + "/redis", timeout=10)
                times.append((time.perf_counter() - t) * 1000)
        times.sort()
        self.floor_serial_p50 = statistics.median(times)
        self.meta["floor_serial"] = {
            "requests": n,
            "p50_ms": round(self.floor_serial_p50, 3),
            "p99_ms": round(percentile(times, 99), 3),
        }

    def revoke_user_row(self) -> None:
        row = Row(
            "revoke_user_1000",
            f"DELETE /api/jwt/refresh?userId=<user with {REVOKED_PER_USER} tokens>, serial, 1 keep-alive connection",
            serial=True,
        )
        self.floor_serial()
        log(f"{row.name}: {len(self.revoked_users)} users, serially")
        times, wrong = [], []
        with new_session() as s:
            headers = {"Authorization": self.key}
            s.get(self.svc_url + "/api/status", timeout=10)  # connect before timing
            t0 = time.perf_counter()
            for user in self.revoked_users:
                url = f"{self.svc_url}/api/jwt/refresh?userId={user}"
                t = time.perf_counter()
                r = s.delete(url, headers=headers, timeout=30)
                times.append((time.perf_counter() - t) * 1000)
                reply = Reply("DELETE", url, None, headers, r.status_code, r.text)
                body = reply.json()
                if (
                    r.status_code != 200
                    or not isinstance(body, dict)
                    or body.get("invalidatedTokens") != REVOKED_PER_USER
                ):
                    wrong.append(reply)
            secs = time.perf_counter() - t0
        times.sort()
        non2xx = sum(1 for w in wrong if not 200 <= w.status < 300)
        row.result = {
            "requests": len(times),
            "seconds": round(secs, 3),
            "rps": len(times) / secs,
            "p50_ms": statistics.median(times),
            "p99_ms": percentile(times, 99),
            "max_ms": times[-1],
            "non2xx": non2xx,
            "wrong_count": len(wrong),
            "times_ms": [round(x, 3) for x in times],
        }
        if wrong:
            row.flags.append(f"COUNT WRONG {len(wrong)}/{len(times)}")
            row.problems.append(
                f"{row.name}: {len(wrong)} of {len(times)} answers were not 200 with "
                f"invalidatedTokens == {REVOKED_PER_USER}; the first:\n{wrong[0].describe(300)}"
            )
        else:
            row.flags.append(f"invalidatedTokens=={REVOKED_PER_USER} {len(times)}/{len(times)} ok")
        picks = spread([self.revoked_made[u][-1] for u in self.revoked_users], self.args.sample)
        bad = [
            r
            for r in (self.api.call("POST", "/api/jwt/refresh", {"refreshToken": t}, key=False) for t in picks)
            if r.status != 400
        ]
        self.record_check(row, len(picks) - len(bad), len(picks), bad, "exchange of a revoked token: want 400")
        r = row.result
        log(f"{row.name}: p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  ({r['rps']:.1f} req/s serial)")
        self.rows.append(row)

    # -- the run ---------------------------------------------------------------------------------
    def run(self) -> None:
        a = self.args
        self.meta.update(
            started=datetime.now(UTC).isoformat(timespec="seconds"),
            server=a.server,
            duration_s=a.duration,
            wrk_threads=a.threads,
            wrk_connections=a.connections,
            cores=os.cpu_count(),
            git=self.git(),
            versions=self.versions(),
            refreshd_env={k: v for k, v in os.environ.items() if k.startswith("REFRESHD_") and "KEY" not in k},
        )
        self.start()
        self.meta["wrk"] = self.version([self.wrk_bin, "-v"])
        self.seed()
        self.warm_up()
        self.floor_row()
        per_second = a.rate_cap or math.ceil(max(self.floor_rps, 400) * 1.25)
        self.meta["tokens_per_second_seeded"] = per_second
        self.seed_consumed(per_second)
        self.revoke_token_row()
        self.revoke_id_row()
        self.list_row()
        self.exchange_row()
        self.validate_row()
        self.mint_row()
        self.revoke_user_row()

    def git(self) -> dict[str, Any]:
        def out(*argv: str) -> str:
            try:
                return subprocess.run(
                    ["git", "-C", str(ROOT), *argv], capture_output=True, text=True, timeout=10
                ).stdout.strip()
            except OSError:
                return ""

        changed = out("status", "--porcelain", "--", "app", "wsgi.py", "Procfile", "pyproject.toml")
        return {"commit": out("rev-parse", "--short", "HEAD"), "changed_files": len(changed.splitlines())}

    @staticmethod
    def versions() -> dict[str, str]:
        out = {"python": sys.version.split()[0]}
        for name in ("flask", "flask-smorest", "granian", "uvicorn", "gunicorn", "redis", "hiredis", "marshmallow"):
            try:
                out[name] = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                out[name] = "-"
        return out

    # -- report ----------------------------------------------------------------------------------
    def ratio(self, row: Row) -> str:
        if row.serial:
            if not self.floor_serial_p50:
                return "-"
            return f"p50 {row.result['p50_ms'] / self.floor_serial_p50:.1f}x serial floor"
        if not self.floor_rps:
            return "-"
        return f"{row.result['rps'] / self.floor_rps:.2f}"

    def service_log_problems(self) -> list[str]:
        try:
            text = (self.logs / "service.log").read_text(errors="replace")
        except OSError:
            return []
        count = text.count("Traceback (most recent call last)")
        if not count:
            return []
        first = text[text.index("Traceback (most recent call last)") :].splitlines()[:40]
        return [f"service log: {count} tracebacks ({self.logs / 'service.log'}); the first:\n" + "\n".join(first)]

    def report(self) -> None:
        v, m = self.meta.get("versions", {}), self.meta
        git = m.get("git", {})
        dirty = f" + uncommitted changes in {git['changed_files']} service files" if git.get("changed_files") else ""
        lines = [
            f"refreshd bench, {m.get('started', '?')}, {m.get('cores')} cores, load {self.load()}; "
            f"commit {git.get('commit', '?')}{dirty}",
            f"server: {m.get('server')} (`{m.get('service_command', '?')}`)",
            f"wrk -t{self.args.threads} -c{self.args.connections} -d{self.args.duration}s; "
            f"redis {m.get('redis_server', '?')}; python {v.get('python')}, "
            f"flask {v.get('flask')}, flask-smorest {v.get('flask-smorest')}, granian {v.get('granian')}, "
            f"uvicorn {v.get('uvicorn')}, "
            f"gunicorn {v.get('gunicorn')}, redis-py {v.get('redis')}",
        ]
        if m.get("refreshd_env"):
            lines.append(f"service settings from the environment: {m['refreshd_env']}")
        if self.aborted:
            lines.append(f"ABORTED: {self.aborted.splitlines()[0]}")
        lines += [
            "",
            "| row | req/s | p50 ms | p99 ms | non2xx | x floor | CPU us a request: server / Redis / wrk "
            "| switches | notes |",
            "|---|--:|--:|--:|--:|--:|--:|--:|---|",
        ]
        for row in self.rows:
            r = row.result
            rps = f"{r['rps']:.1f}" if row.serial else f"{r['rps']:.0f}"
            notes = "; ".join(row.flags)
            cpu = r.get("cpu_us")
            split = f"{cpu['server']:.0f} / {cpu['redis']:.0f} / {cpu['wrk']:.0f}" if cpu else "-"
            switches = f"{r['server_switches']:.1f}" if cpu else "-"
            lines.append(
                f"| {row.name} | {rps} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['non2xx']} | "
                f"{self.ratio(row)} | {split} | {switches} | {notes} |"
            )
        if self.floor_serial_p50:
            fs = m["floor_serial"]
            lines += [
                "",
                f"revoke_user_1000 runs serially on one connection, so its req/s is 1/latency and its "
                f"ratio is of p50s: the floor's GET /redis, serially, has p50 {fs['p50_ms']:.2f} ms, "
                f"p99 {fs['p99_ms']:.2f} ms.",
            ]
        problems = [p for row in self.rows for p in row.problems] + self.service_log_problems()
        if self.aborted:
            problems.insert(0, "the run stopped early: " + self.aborted)
        if problems:
            lines += ["", "## Problems", ""]
            for p in problems:
                lines += ["```", p, "```"]
        text = "\n".join(lines) + "\n"
        print("\n" + text)
        if not self.logs.parent.is_dir():
            return
        (RESULTS / f"{self.stamp}.md").write_text(text)
        raw = {
            "meta": self.meta,
            "aborted": self.aborted,
            "floor_rps": self.floor_rps,
            "problems": problems,
            "rows": [
                {
                    "row": row.name,
                    "request": row.request,
                    "serial": row.serial,
                    "flags": row.flags,
                    "check": row.check,
                    "x_floor": self.ratio(row),
                    **row.result,
                }
                for row in self.rows
            ],
        }
        (RESULTS / f"{self.stamp}.json").write_text(json.dumps(raw, indent=2) + "\n")
        log(f"wrote bench/results/{self.stamp}.md and .json (server and wrk output: bench/results/{self.stamp}-logs/)")

    @staticmethod
    def load() -> str:
        try:
            return " ".join(Path("/proc/loadavg").read_text().split()[:3])
        except OSError:
            return "?"


def on_sigterm(signum: int, frame: object) -> NoReturn:
    raise SystemExit(128 + signum)


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    bench = Bench(args)
    code = 0
    try:
        bench.run()
    except BenchError as err:
        bench.aborted = str(err)
        log(f"FAILED: {err}")
        code = 1
    except KeyboardInterrupt:
        bench.aborted = "interrupted"
        code = 130
    except SystemExit as stop:  # SIGTERM (on_sigterm)
        bench.aborted = "terminated"
        code = stop.code if isinstance(stop.code, int) else 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        bench.procs.stop_all()
        shutil.rmtree(bench.data, ignore_errors=True)
    if bench.rows or bench.aborted:
        bench.report()
    return code


if __name__ == "__main__":
    sys.exit(main())
