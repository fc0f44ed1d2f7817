"""One WSGI middleware for everything a request leaves behind: its request id (app/request_ids.py), the
request metrics (count and latency by route template, method and status: app/metrics.py) and the JSON
access-log line (app/logs.py); and `GET /metrics` itself (app/scrape.py), answered here, outside
Flask and outside /api, so it works while Redis is down and never appears in the OpenAPI document.

Flask hooks would cost tens of microseconds a request; this costs about 5 (measured in the notes of
this change: request metrics ~2.5 us, access line ~2 us). The route's template reaches the environ from
the Request class below, at the moment Flask matches the URL.
"""

from __future__ import annotations

import os
from time import perf_counter
from typing import TYPE_CHECKING, Any

from flask import Request
from werkzeug.routing import Rule

from app import metrics
from app.config import Settings
from app.ids import random_uuid
from app.logs import AccessLog
from app.request_ids import ENVIRON_KEY
from app.scrape import Scraper, may_scrape

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ROUTE_KEY = "refreshd.route"
API_KEY_ID = "refreshd.api_key_id"  # set by app/auth.py: the id, never the key
UNMATCHED = "<unmatched>"  # one label for every path no route matched (a 404): no unbounded labels
_pid = [os.getpid()]  # this process's, for its access lines (os.getpid is a system call each time)
os.register_at_fork(after_in_child=lambda: _pid.__setitem__(0, os.getpid()))


class RoutedRequest(Request):
    """Flask's Request, recording the template of the rule that matched (`/api/jwt/refresh/<token_id>`)."""

    _rule: Rule | None = None

    @property
    def url_rule(self) -> Rule | None:
        return self._rule

    @url_rule.setter
    def url_rule(self, rule: Rule | None) -> None:
        self._rule = rule
        if rule is not None:
            self.environ[ROUTE_KEY] = rule.rule


class Telemetry:
    def __init__(self, wsgi_app: WSGIApplication, scraper: Scraper, access_log: AccessLog | None, settings: Settings):
        self.wsgi_app = wsgi_app
        self.scraper = scraper
        self.access_log = access_log
        self.settings = settings
        self.instruments = metrics.instruments()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        started = perf_counter()
        request_id = (environ.get("HTTP_X_REQUEST_ID") or "")[:64] or random_uuid()
        environ[ENVIRON_KEY] = request_id
        status = ["500"]

        def start(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = code[:3]
            headers.append(("X-Request-Id", request_id))
            return start_response(code, headers, exc_info)

        try:
            if environ.get("PATH_INFO") == "/metrics":
                environ[ROUTE_KEY] = "/metrics"
                return self._metrics(environ, start)
            return self.wsgi_app(environ, start)
        finally:
            self._record(environ, status[0], request_id, perf_counter() - started)

    def _record(self, environ: WSGIEnvironment, status: str, request_id: str, seconds: float) -> None:
        route = environ.get(ROUTE_KEY) or UNMATCHED
        method = environ.get("REQUEST_METHOD", "")
        self.instruments.request(route, method, status, seconds)
        if self.access_log is not None:
            line = {
                "requestId": request_id,
                "method": method,
                "route": route,
                "status": int(status),
                "durationMs": round(seconds * 1000, 3),
                "address": environ.get("REMOTE_ADDR") or "",
                "pid": _pid[0],
            }
            key_id = environ.get(API_KEY_ID)
            if key_id:
                line["apiKeyId"] = key_id
            self.access_log.write(line)

    def _metrics(self, environ: WSGIEnvironment, start: StartResponse) -> list[bytes]:
        status = may_scrape(self.settings, environ) if environ.get("REQUEST_METHOD") in ("GET", "HEAD") else 405
        if status != 200:
            reason = {401: "401 UNAUTHORIZED", 404: "404 NOT FOUND", 405: "405 METHOD NOT ALLOWED"}[status]
            start(reason, [("Content-Length", "0")])
            return []
        body, content_type = self.scraper.render()
        start("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body] if environ["REQUEST_METHOD"] == "GET" else []
