"""Request ids: the caller's X-Request-Id (its first 64 characters) or a random UUID, put in the WSGI
environ by the request middleware (app/telemetry.py) for the code (auth puts it in the Caller, so events
carry it; the access log line carries it too) and answered in X-Request-Id."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

ENVIRON_KEY = "refreshd.request_id"


def request_id(environ: WSGIEnvironment) -> str:
    """The id of the request this environ belongs to ("" outside the middleware, as in a bare test context)."""
    return str(environ.get(ENVIRON_KEY, ""))
