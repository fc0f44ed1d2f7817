"""Request ids: the caller's X-Request-Id (its first 64 characters) or a random UUID, put in the WSGI
environ for the code (auth puts it in the Caller, so events carry it) and answered in X-Request-Id.

A WSGI middleware rather than a before/after_request pair writing `g`: those hooks, the proxies and a
header object cost about 60 us of instructions a request, this a few."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.ids import random_uuid

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ENVIRON_KEY = "refreshd.request_id"


class RequestIds:
    def __init__(self, wsgi_app: WSGIApplication):
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        request_id = (environ.get("HTTP_X_REQUEST_ID") or "")[:64] or random_uuid()
        environ[ENVIRON_KEY] = request_id

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers.append(("X-Request-Id", request_id))
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


def request_id(environ: WSGIEnvironment) -> str:
    """The id of the request this environ belongs to ("" outside the middleware, as in a bare test context)."""
    return str(environ.get(ENVIRON_KEY, ""))
