"""Structured logs in-process: the access line's fields, REFRESHD_LOG_LEVEL and REFRESHD_ACCESS_LOG."""

from __future__ import annotations

import io
import json
import logging

import pytest

from app import create_app, logs
from app.config import Settings, SettingsError
from tests.api.helpers import KEY, mint, new_application, user
from tests.conftest import make_settings


def access_lines(err: str) -> list[dict]:
    return [json.loads(line) for line in err.splitlines() if '"refreshd.access"' in line]


@pytest.fixture
def build(redis_client, redis_server):
    def make(**overrides):
        return create_app(make_settings(redis_server.url, **overrides)).test_client(use_cookies=False)

    return make


def test_one_access_line_per_request_with_the_request_id_and_the_key_id(build, capsys):
    client = build()
    app_id = new_application(client)
    token_id = mint(client, user(), app_id)["refreshTokenId"]
    capsys.readouterr()
    response = client.get(f"/api/jwt/refresh/{token_id}?x=secret-query", headers={**KEY, "X-Request-Id": "req-42"})
    assert response.headers["X-Request-Id"] == "req-42"
    (line,) = access_lines(capsys.readouterr().err)
    assert line["requestId"] == "req-42" and line["route"] == "/api/jwt/refresh/<token_id>"
    assert line["method"] == "GET" and line["status"] == 200 and line["apiKeyId"]
    assert set(line) == {
        "time",
        "level",
        "logger",
        "requestId",
        "method",
        "route",
        "status",
        "durationMs",
        "address",
        "pid",
        "apiKeyId",
    }
    assert token_id not in json.dumps(line) and "secret-query" not in json.dumps(line)


def test_a_request_without_an_id_gets_one_in_the_answer_and_the_line(build, capsys):
    client = build()
    capsys.readouterr()
    response = client.get("/api/status")
    (line,) = access_lines(capsys.readouterr().err)
    assert line["requestId"] == response.headers["X-Request-Id"] and len(line["requestId"]) == 36
    assert "apiKeyId" not in line


def test_the_log_level_above_info_and_the_access_log_setting_silence_access_lines(build, capsys):
    for client in (build(log_level="warning"), build(access_log=False)):
        capsys.readouterr()
        assert client.get("/api/status").status_code == 200
        assert access_lines(capsys.readouterr().err) == []


def test_service_log_records_are_json_lines_at_the_configured_level():
    stream = io.StringIO()
    logs.configure("warning", stream)
    try:
        log = logging.getLogger("app.something")
        log.info("not shown")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("failed %s", "here")
        (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
        assert line["level"] == "error" and line["message"] == "failed here" and line["error"] == "RuntimeError"
        assert line["logger"] == "app.something" and "Traceback" in line["trace"]
    finally:
        logs.configure("info")


def test_settings_read_the_log_level_and_access_log_from_the_environment():
    settings = Settings.from_env({"REFRESHD_LOG_LEVEL": "debug", "REFRESHD_ACCESS_LOG": "off"})
    assert settings.log_level == "debug" and settings.access_log is False
    assert Settings.from_env({"PROMETHEUS_MULTIPROC_DIR": "/tmp/x"}).metrics_dir == "/tmp/x"
    with pytest.raises(SettingsError):
        Settings.from_env({"REFRESHD_LOG_LEVEL": "loud"})
