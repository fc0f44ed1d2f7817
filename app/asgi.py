"""The web process: the Procfile's `web:` line runs this ASGI application on uvicorn, one event loop a
worker process.

It serves the WSGI application (`wsgi.py`'s, unchanged: Telemetry, the fast path, Flask) in two ways.
A request for one of the fast path's routes (the hot ones: exchange, mint, revoke, validate, list)
runs in a greenlet on the worker's event loop, its Redis round trips bridged onto the worker's one
pipelined connection (app/store/bridge.py): while a command is out, the loop serves the other
requests, so a worker neither sleeps on Redis nor hands a request from thread to thread (against
the same code on Granian, bench/README.md: 1.14x the exchanges, 1.22x the mints, 1.38x the revokes,
0.91x the validations on 2 cores). Any other request
(the admin routes, the console, the docs, the import), and every request when the client cannot be
bridged (the embedded store, TLS, Sentinel, Cluster), runs in a small thread pool, as on a threaded
WSGI server.

A body is read whole before the application runs, up to REFRESHD_MAX_BODY_BYTES: a longer one is
not read further and is answered 413 (by Flask, as on any WSGI server). uvicorn gives the rest:
keep-alive, graceful shutdown (SIGTERM: no new connections, the requests in flight finish), a
worker that dies replaced, a cap on concurrent connections.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app import metrics, web_application
from app.errors import failure_answer
from app.store import bridge
from app.store.connection import ThreadConnectionRedis

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

THREADS = 4  # the pool's threads a worker, for the requests not run on the loop

flask_app = web_application()
services = flask_app.extensions["refreshd"]
fast_path = flask_app.extensions.get("refreshd_fast_path")
_client = services.redis
_bridge: bridge.Bridge | None = None
if fast_path is not None and isinstance(_client, ThreadConnectionRedis) and bridge.supported(_client):
    _client.bridged = True
    _bridge = bridge.Bridge(_client)
_pool = ThreadPoolExecutor(THREADS, thread_name_prefix="wsgi")
_limit = services.settings.max_body_bytes


class _Disconnected(Exception):
    """The client went away before its request's body was whole."""


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        await _http(scope, receive, send)
    elif scope["type"] == "lifespan":
        await _lifespan(receive, send)


async def _http(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    environ = _environ(scope)
    try:
        environ["wsgi.input"] = io.BytesIO(await _body(receive, environ.get("CONTENT_LENGTH")))
    except _Disconnected:
        return
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    if _bridge is not None and fast_path.serves(method, path):  # type: ignore[union-attr]
        status, headers, body = await _bridge.drive(_run, environ)
    else:
        status, headers, body = await asyncio.get_running_loop().run_in_executor(_pool, _run, environ)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers],
        }
    )
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


def _run(environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """The WSGI application's answer to one request: status, headers, body."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [int(status[:3]), headers]

    try:
        result: Iterable[bytes] = flask_app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    except Exception as error:  # never expected: Telemetry and Flask answer every failure themselves
        answer = failure_answer(error, services.breaker)
        return answer.status, answer.header_lines(), answer.body
    return started[0], started[1], body


async def _body(receive: Receive, declared: str | None) -> bytes:
    """The request's body; past the limit only as much as shows it is over (Flask then answers 413:
    for a stated length over the limit, without reading any of it)."""
    if declared and declared.isdigit() and int(declared) > _limit:
        return b""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > _limit or not message.get("more_body"):
            return b"".join(chunks)


def _environ(scope: dict[str, Any]) -> dict[str, Any]:
    """The WSGI environ of an ASGI request, as Granian and gunicorn build one (PEP 3333)."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode("utf-8").decode("latin-1"),
        "PATH_INFO": scope["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": "HTTP/" + scope.get("http_version", "1.1"),
        "REMOTE_ADDR": client[0],
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").upper().replace("-", "_"), raw_value.decode("latin-1")
        if name not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = "HTTP_" + name
        environ[name] = environ[name] + "," + value if name in environ else value
    return environ


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if _bridge is not None:
                _bridge.close()
            _pool.shutdown(wait=True)
            # uvicorn ends a worker by its signal after this, running no atexit hook: write the last
            # second's counts now
            metrics.instruments().tally.flush()
            await send({"type": "lifespan.shutdown.complete"})
            return
