"""The service as it runs in production (the Procfile's `web:` line: granian, two worker processes)
against its own redis-server: /metrics sums every worker's counts, and a whole mint/exchange/revoke
cycle leaves JSON log lines that never hold a refresh token, access token, API key or client secret."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.parser import text_string_to_metric_families

from app.affinity import cpu_quota
from app.metrics import FLUSH_SECONDS
from tests.compat.conftest import LiveServer, serving
from tests.conftest import API_KEY

pytestmark = pytest.mark.slow
KEY = {"Authorization": API_KEY}


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    with serving() as server:  # its own: the tests read its whole log
        yield server


def log_lines(server: LiveServer) -> list[dict[str, Any]]:
    """Every line the service wrote so far; each must be one JSON object."""
    text = Path(server.log_path).read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def call(method: str, url: str, **kwargs: Any) -> requests.Response:
    """One request on a connection of its own, so successive calls spread over the workers."""
    with requests.Session() as session:
        return session.request(method, url, timeout=10, **kwargs)


def revocations(server: LiveServer) -> tuple[float, int]:
    """refreshd_revocations_total{scope="user"} as one scrape reports it, and the pid that answered."""
    response = call("GET", server.base_url + "/metrics", headers={"X-Request-Id": "scrape-" + uuid.uuid4().hex})
    assert response.status_code == 200
    total = 0.0
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "refreshd_revocations_total" and sample.labels == {"scope": "user"}:
                total = sample.value
    request_id = response.headers["X-Request-Id"]
    (line,) = [line for line in log_lines(server) if line.get("requestId") == request_id]
    return total, line["pid"]


def new_application(server: LiveServer, **jwt: Any) -> dict[str, Any]:
    body = {"application": {"name": "live", "jwtConfiguration": {"enabled": True, **jwt}}}
    response = call("POST", server.base_url + "/api/application", json=body, headers=KEY)
    assert response.status_code == 200, response.text
    return dict(response.json()["application"])


def mint(server: LiveServer, application_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    body = {"userId": str(uuid.uuid4()), "applicationId": application_id}
    response = call("POST", server.base_url + "/api/user/refresh-token", json=body, headers=headers or KEY)
    assert response.status_code == 200, response.text
    return {**response.json(), "userId": body["userId"]}


def test_every_worker_reports_the_revocations_any_worker_served(live):
    application_id = new_application(live)["id"]
    before, _ = revocations(live)

    def revoke_one(_: int) -> str:
        who = mint(live, application_id)["userId"]
        request_id = "revoke-" + uuid.uuid4().hex
        response = call(
            "DELETE", f"{live.base_url}/api/jwt/refresh?userId={who}", headers={**KEY, "X-Request-Id": request_id}
        )
        assert response.json()["invalidatedTokens"] == 1
        return request_id

    served_by: set[int] = set()
    revoked = 0
    with ThreadPoolExecutor(16) as pool:  # concurrent connections: a lone one may always reach the same worker
        while len(served_by) < 2:
            assert revoked < 320, "the two workers never both served a revoke"
            request_ids = set(pool.map(revoke_one, range(32)))
            revoked += len(request_ids)
            served_by |= {line["pid"] for line in log_lines(live) if line.get("requestId") in request_ids}
    time.sleep(FLUSH_SECONDS + 0.5)  # a worker writes its counts for the others' scrapes once a second
    scrapes = [revocations(live) for _ in range(12)]
    assert {total - before for total, _ in scrapes} == {revoked}
    assert len(served_by) == 2  # so whichever worker answered a scrape counted the other's revokes too


def cpus_of_threads(pid: int) -> set[str]:
    """The CPUs each thread of a process may run on (Cpus_allowed_list), as the distinct lists."""
    lists = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        status = (task / "status").read_text()
        lists.add(
            next(line.split(":")[1].strip() for line in status.splitlines() if line.startswith("Cpus_allowed_list"))
        )
    return lists


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity")
    or len(os.sched_getaffinity(0)) < 2
    or cpu_quota(Path("/proc/self/cgroup").read_text()),
    reason="REFRESHD_PIN_WORKERS=auto pins only on Linux, with 2 CPUs allowed and no CPU quota",
)
def test_each_worker_runs_on_a_cpu_of_its_own_once_it_has_served(live):
    served_by: set[int] = set()
    for _ in range(20):  # a connection each: the kernel spreads them over both workers' accepts
        if len(served_by) == 2:
            break
        request_ids = {"pin-" + uuid.uuid4().hex for _ in range(16)}
        with ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda rid: call("GET", live.base_url + "/api/status", headers={"X-Request-Id": rid}), request_ids
                )
            )
        served_by |= {line["pid"] for line in log_lines(live) if line.get("requestId") in request_ids}
    assert len(served_by) == 2, "the two workers never both served a request"
    pinned = [cpus_of_threads(pid) for pid in sorted(served_by)]
    assert all(len(cpus) == 1 for cpus in pinned), pinned  # every thread of a worker on one and the same CPU
    first, second = (next(iter(cpus)) for cpus in pinned)
    assert first != second and "," not in first and "-" not in first  # one CPU each, not the same one
    assert any("pinned to CPU" in line.get("message", "") for line in log_lines(live))


def test_a_whole_session_cycle_logs_json_lines_without_any_secret(live):
    base = live.base_url
    created_key = call("POST", base + "/api/api-key", json={"apiKey": {}}, headers=KEY).json()["apiKey"]["key"]
    other_key = {"Authorization": created_key}
    application = new_application(live)
    client_secret = application["oauthConfiguration"]["clientSecret"]
    minted = mint(live, application["id"], headers=other_key)
    exchanged = call("POST", base + "/api/jwt/refresh", json={"refreshToken": minted["refreshToken"]}).json()
    assert call("GET", base + "/api/jwt/validate", headers={"Authorization": "Bearer " + exchanged["token"]}).ok
    form = {
        "grant_type": "refresh_token",
        "refresh_token": minted["refreshToken"],
        "client_id": application["id"],
        "client_secret": client_secret,
    }
    granted = call("POST", base + "/oauth2/token", data=form).json()
    request_id = "cycle-" + uuid.uuid4().hex
    revoke = call(
        "DELETE",
        base + "/api/jwt/refresh?token=" + minted["refreshToken"],  # a token in the query string
        headers={**other_key, "X-Request-Id": request_id},
    )
    assert revoke.json()["invalidatedTokens"] == 1
    assert call("POST", base + "/api/jwt/refresh", json={"refreshToken": minted["refreshToken"]}).status_code == 400

    secrets = {
        "bootstrap API key": API_KEY,
        "created API key": created_key,
        "client secret": client_secret,
        "refresh token": minted["refreshToken"],
        "minted access token": minted["token"],
        "exchanged access token": exchanged["token"],
        "OAuth access token": granted["access_token"],
    }
    text = Path(live.log_path).read_text()
    for name, secret in secrets.items():
        assert secret not in text, f"the {name} is in the service's log"
        assert secret[:16] not in text, f"a prefix of the {name} is in the service's log"
    lines = log_lines(live)
    (line,) = [line for line in lines if line.get("requestId") == request_id]
    assert line["route"] == "/api/jwt/refresh" and line["method"] == "DELETE" and line["status"] == 200
    assert line["level"] == "info" and line["durationMs"] >= 0 and line["time"].endswith("Z")
    assert line["apiKeyId"] and line["apiKeyId"] != created_key
    routes = {(entry.get("method"), entry.get("route")) for entry in lines}
    assert {("POST", "/api/user/refresh-token"), ("POST", "/oauth2/token"), ("GET", "/api/jwt/validate")} <= routes
    events = call("GET", base + "/api/event?type=jwt.refresh-token.revoke", headers=KEY).json()["events"]
    assert request_id in {event["requestId"] for event in events}


def test_a_worker_stopping_keeps_the_counts_it_recorded_last(monkeypatch, tmp_path):
    """A worker adds its counts up in memory and writes them once a second; a Granian worker ends
    without running atexit hooks, so a stop must still write the last second's counts."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with serving() as server:
        for _ in range(20):
            who = str(uuid.uuid4())
            assert call("DELETE", f"{server.base_url}/api/jwt/refresh?userId={who}", headers=KEY).ok
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(tmp_path))
    counted = [
        sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == "refreshd_revocations_total" and sample.labels == {"scope": "user"}
    ]
    assert counted == [20.0]
