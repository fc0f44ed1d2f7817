"""Structured logs: one JSON object a line on stderr, for the service's own log records and for the
access log (one line per request, written by app/telemetry.py).

The level is REFRESHD_LOG_LEVEL (access lines are `info`); REFRESHD_ACCESS_LOG turns them off. No line
ever carries a token, an API key or a secret: log calls here pass ids and type names, never values,
and the access line holds the route's template (`/api/jwt/refresh/<token_id>`), never the path as
sent nor its query string (a query may carry a token: `DELETE /api/jwt/refresh?token=...`).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import IO, Any

from app import jsontext

LOGGERS = ("app", "refreshd")  # every logger of the service is named below one of these


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message"} and, for an exception, its type (the traceback goes
    into "trace": it holds code, not request data)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = record.exc_info[0].__name__
            line["trace"] = self.formatException(record.exc_info)
        return jsontext.dumps(line).decode()


class _JsonHandler(logging.StreamHandler):
    """Writes to the given stream, else to whatever sys.stderr is when a record comes (a test runner
    swaps it); its class marks the handler `configure` installed, so a second call replaces it."""

    def __init__(self, stream: IO[str] | None = None):
        logging.Handler.__init__(self)
        self._fixed = stream

    @property
    def stream(self) -> IO[str]:
        return self._fixed or sys.stderr

    @stream.setter
    def stream(self, value: IO[str] | None) -> None:
        self._fixed = value


def configure(level: str, stream: IO[str] | None = None) -> None:
    """Send the service's loggers to `stream` (stderr) as JSON lines at `level`; idempotent."""
    handler = _JsonHandler(stream)
    handler.setFormatter(JsonFormatter())
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if isinstance(h, _JsonHandler)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level.upper())


_second = -1
_second_text = ""


def timestamp(epoch: float) -> str:
    """ISO-8601 UTC with milliseconds; the date-time part is formatted once a second."""
    global _second, _second_text
    second = int(epoch)
    if second != _second:
        _second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second = second
    return f"{_second_text}.{int((epoch - second) * 1000):03d}Z"


class AccessLog:
    """Writes one request's line: built from a few values and written straight to the stream, which
    costs about 2 us where a logging.LogRecord and its formatter cost several times that."""

    def __init__(self, stream: IO[str] | None = None):
        self._stream = stream

    def write(self, fields: dict[str, Any]) -> None:
        """`fields` as one line, after the time, level and logger that open every line."""
        line = {"time": timestamp(time.time()), "level": "info", "logger": "refreshd.access", **fields}
        (self._stream or sys.stderr).write(jsontext.dumps(line).decode() + "\n")


def access_log(level: str, enabled: bool) -> AccessLog | None:
    """The access log, when it is on and the level lets info lines through."""
    if not enabled or logging.getLevelName(level.upper()) > logging.INFO:
        return None
    return AccessLog()
