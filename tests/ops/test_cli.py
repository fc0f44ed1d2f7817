"""The `refreshd` command against a real redis-server: each command in-process through app.cli.main
(REDIS_URL from the environment, as an operator runs it), and the installed console script itself."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from app import cli
from tests.api.helpers import KEY, exchange_status, mint, new_application, user
from tests.conftest import RedisServer, free_port

SCRIPT = Path(sys.executable).parent / "refreshd"


@pytest.fixture
def run(redis_client, redis_server, monkeypatch, capsys):
    """refreshd ARGS... in-process: (exit status, stdout, stderr)."""
    monkeypatch.setenv("REDIS_URL", redis_server.url)

    def invoke(*args: str) -> tuple[int, str, str]:
        status = cli.main(list(args))
        out = capsys.readouterr()
        return status, out.out, out.err

    return invoke


def test_create_api_key_prints_a_working_key_once(run, client):
    status, out, err = run("create-api-key", "--description", "first key")
    assert status == 0
    key = out.strip()
    assert len(key) >= 32 and key not in err
    assert "created API key" in err
    assert (
        client.post("/api/application", json={"application": {"name": "x"}}, headers={"Authorization": key}).status_code
        == 200
    )
    key_id = re.search(r"created API key (\S+)", err).group(1)
    listed = client.get(f"/api/api-key/{key_id}", headers=KEY).json["apiKey"]
    assert "key" not in listed and listed["metaData"]["attributes"]["description"] == "first key"


def test_revoke_user_revokes_every_session_and_prints_the_counts(run, client):
    app_id, other_app, who = new_application(client), new_application(client), user()
    tokens = [mint(client, who, app_id)["refreshToken"] for _ in range(2)]
    elsewhere = mint(client, who, other_app)["refreshToken"]
    status, out, _ = run("revoke-user", who, "--application-id", app_id)
    assert status == 0 and "invalidated 2 tokens (0 were already invalidated)" in out
    assert [exchange_status(client, t) for t in tokens] == [400, 400]
    assert exchange_status(client, elsewhere) == 200
    status, out, _ = run("revoke-user", who)
    assert status == 0 and "invalidated 1 tokens" in out
    assert exchange_status(client, elsewhere) == 400


def test_revoke_user_events_name_the_cli_as_actor(run, client):
    app_id, who = new_application(client), user()
    mint(client, who, app_id)
    run("revoke-user", who)
    events = client.get(f"/api/event?userId={who}&type=jwt.refresh-token.revoke", headers=KEY).json["events"]
    assert events[0]["actor"]["type"] == "cli" and events[0]["invalidatedTokens"] == 1


def test_revoke_application_prints_the_counts(run, client):
    app_id = new_application(client)
    live = [mint(client, user(), app_id)["refreshToken"] for _ in range(3)]
    status, out, _ = run("revoke-application", app_id)
    assert status == 0 and "invalidated 3 tokens" in out
    assert {exchange_status(client, t) for t in live} == {400}


def test_a_refused_command_says_why_and_exits_non_zero(run):
    status, _, err = run("revoke-application", str(uuid.uuid4()))
    assert status == 1 and "No application exists" in err
    with pytest.raises(SystemExit):
        run("revoke-user", "not-a-uuid")


def _line(app_id: str, token: str, **extra) -> str:
    item = {"token": token, "userId": user(), "applicationId": app_id, "startInstant": int(time.time() * 1000)}
    return json.dumps({**item, **extra})


def test_import_takes_the_good_lines_and_reports_each_bad_one_by_number(run, client, tmp_path):
    app_id = new_application(client)
    existing = mint(client, user(), app_id)["refreshToken"]
    good = [f"imported-token-{i:04d}-{uuid.uuid4().hex}" for i in range(5)]
    lines = [
        _line(app_id, good[0]),
        "{not json",
        _line(app_id, good[1]),
        _line(str(uuid.uuid4()), "token-of-an-unknown-application-" + uuid.uuid4().hex),
        _line(app_id, good[2]),
        "",
        _line(app_id, existing),
        _line(app_id, good[3]),
        _line(app_id, good[3]),
        json.dumps({"token": "no-user-" + uuid.uuid4().hex, "applicationId": app_id, "startInstant": 0}),
        _line(app_id, good[4], startInstant=0),  # long expired
    ]
    path = tmp_path / "tokens.jsonl"
    path.write_text("\n".join(lines) + "\n")
    status, out, err = run("import", str(path), "--batch", "4", "--progress")
    assert status == 1
    assert "imported 4 tokens; rejected 6 lines" in out
    rejected = {int(line.split()[1].rstrip(":")) for line in err.splitlines() if line.startswith("line ")}
    assert rejected == {2, 4, 7, 9, 10, 11}
    assert "importing [" in err and "11/11 lines" in err
    assert [exchange_status(client, t) for t in good[:4]] == [200, 200, 200, 200]
    assert exchange_status(client, good[4]) == 400
    for secret in [*good, existing]:
        assert secret not in out and secret not in err


def test_import_of_a_missing_file_fails_plainly(run, tmp_path):
    status, _, err = run("import", str(tmp_path / "nothing.jsonl"))
    assert status == 1 and "cannot read" in err


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REFRESHD_", "PROMETHEUS_"))}
    env["REDIS_URL"] = url
    return env


def test_tail_events_prints_new_events_as_json_lines(client, redis_server):
    app_id = new_application(client)
    tail = subprocess.Popen(
        [str(SCRIPT), "tail-events", "--limit", "2"],
        env=_env(redis_server.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert tail.stderr is not None
        for line in tail.stderr:  # it follows from the newest event on: wait until it has looked
            if "following the event streams" in line:
                break
        who = user()
        minted = mint(client, who, app_id)
        client.delete(f"/api/jwt/refresh/{minted['refreshTokenId']}", headers=KEY)
        out, err = tail.communicate(timeout=20)
    finally:
        tail.kill()
    assert tail.returncode == 0, err
    printed = [json.loads(line) for line in out.splitlines()]
    assert [e["type"] for e in printed] == ["jwt.refresh-token.create", "jwt.refresh-token.revoke"]
    assert {e["userId"] for e in printed} == {who}
    assert minted["refreshToken"] not in out


def test_tail_events_from_the_start_prints_what_is_retained(run, client):
    app_id = new_application(client)
    mint(client, user(), app_id)
    status, out, _ = run("tail-events", "--from-start", "--limit", "1")
    assert status == 0 and json.loads(out)["type"] == "jwt.refresh-token.create"


def test_doctor_passes_a_redis_configured_for_revocations():
    server = RedisServer("--appendonly", "yes", "--appendfsync", "always")
    try:
        done = subprocess.run([str(SCRIPT), "doctor"], env=_env(server.url), capture_output=True, text=True, timeout=30)
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "maxmemory-policy is noeviction" in done.stdout and "doctor: no problems found" in done.stdout


def test_doctor_names_an_evicting_redis_without_persistence(run, redis_server):
    server = RedisServer("--maxmemory-policy", "allkeys-lru")
    try:
        os.environ["REDIS_URL"] = server.url  # monkeypatched by `run`: restored after the test
        status, out, _ = run("doctor")
    finally:
        server.stop()
    assert status == 1
    assert "PROBLEM maxmemory-policy is allkeys-lru" in out and "revoked tokens will work again" in out
    assert "PROBLEM appendonly is no" in out
    assert "doctor: 2 problems found" in out


def test_doctor_says_when_redis_cannot_be_reached(run, monkeypatch):
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    status, out, _ = run("doctor")
    assert status == 1 and "cannot reach Redis" in out


def test_commands_need_redis_url(run, monkeypatch):
    monkeypatch.delenv("REDIS_URL")
    status, _, err = run("revoke-user", user())
    assert status == 1 and "REDIS_URL is not set" in err
