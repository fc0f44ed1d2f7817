"""The fast path: the hot views (@lean, app/api/parsing.py) served without Flask's per-request machinery.

Flask costs about 50 us of CPU a request before a view runs and after it returns (contexts, URL
adapter, hooks, signals, a Response and its Headers), a third of a cheap request. This WSGI layer,
in front of Flask, runs the very same view functions for the same routes: it matches the method and
path in a dict, checks the breaker and readiness as Flask's before_request does, parses the view's
declared arguments with their compiled loaders (the ones Flask's path tries first), calls the view
with a plain werkzeug Request, and hands its Answer (app/answers.py) to the server. Errors are
answered by the function Flask's handlers use (app.errors.failure_answer).

Whatever it is not sure of goes to Flask untouched, before anything has been done: another route or
method (HEAD, OPTIONS, a trailing slash), a body Flask would refuse or read differently (chunked, a
length that is no number or over the size limit, a form, not JSON), a path that is not plain ASCII, or arguments a
compiled loader is not sure of (Slow: then webargs and marshmallow word the error). So every answer
is the one Flask would give; tests/api/test_fast_path.py sends the same requests both ways.
REFRESHD_FAST_PATH=false turns it off.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING, Any

from flask import Flask
from webargs.core import is_json
from werkzeug.wrappers import Request

from app.answers import JSON, Answer, status_line
from app.api.common import Call
from app.api.parsing import Blueprint, Loader, Slow, json_body, location_data
from app.errors import failure_answer
from app.telemetry import ROUTE_KEY

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from app import Services


@dataclass(frozen=True)
class Route:
    template: str  # the rule, as metrics and the access log name it
    view: Any  # the view function: (self, call, *arguments, **path) -> Answer
    instance: Any  # the MethodView it belongs to (lean views do not keep state on it)
    loaders: tuple[tuple[Loader, str], ...]
    path_argument: str | None = None  # the one `<name>` of a rule ending in a variable segment


class FastPath:
    def __init__(self, app: Flask, services: Services, flask_app: WSGIApplication):
        self.flask_app = flask_app
        self.services = services
        self.max_body = services.settings.max_body_bytes
        self.exact: dict[tuple[str, str], Route] = {}
        self.prefixed: dict[tuple[str, str], Route] = {}  # (method, "/api/jwt/refresh/") for `/<token_id>`
        for method, rule, route in _lean_routes(app):
            if route.path_argument:
                self.prefixed[(method, rule[: rule.rindex("<")])] = route
            else:
                self.exact[(method, rule)] = route

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        kwargs: dict[str, str] = {}
        route = self.exact.get((method, path))
        if route is None and self.prefixed:
            cut = path.rfind("/") + 1
            route = self.prefixed.get((method, path[:cut]))
            if route is not None and route.path_argument:
                if cut == len(path) or not path.isascii():
                    return self.flask_app(environ, start_response)
                kwargs[route.path_argument] = path[cut:]
        length = self._plain_body(environ) if route is not None else None
        if route is None or length is None:
            return self.flask_app(environ, start_response)
        body, raw = None, b""
        if length:  # kept, for Flask to read again if it must
            raw = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = body = BytesIO(raw)
        request = Request(environ)
        services = self.services
        try:
            services.before_request()
            arguments = [load(_data(request, location, raw)) for load, location in route.loaders]
        except Slow:
            if body is not None:
                body.seek(0)
            return self.flask_app(environ, start_response)
        except Exception as error:
            environ[ROUTE_KEY] = route.template
            return self._answer(failure_answer(error, services.breaker), start_response)
        environ[ROUTE_KEY] = route.template
        try:
            answer = route.view(route.instance, Call(services, request), *arguments, **kwargs)
        except Exception as error:
            answer = failure_answer(error, services.breaker)
        return self._answer(answer, start_response)

    def serves(self, method: str, path: str) -> bool:
        """Whether method and path name one of its routes (the web process runs those on its event
        loop, app/asgi.py)."""
        if (method, path) in self.exact:
            return True
        cut = path.rfind("/") + 1
        return cut < len(path) and (method, path[:cut]) in self.prefixed

    def _plain_body(self, environ: WSGIEnvironment) -> int | None:
        """The length of a body read as Flask reads it (none, or JSON of a stated length within the
        limit); None for any other."""
        if environ.get("HTTP_TRANSFER_ENCODING"):
            return None
        length = environ.get("CONTENT_LENGTH") or "0"
        if not (length.isascii() and length.isdigit() and int(length) <= self.max_body):
            return None
        content_type = environ.get("CONTENT_TYPE")
        if content_type and not is_json(content_type.split(";", 1)[0].strip().lower()):
            return None
        return int(length)

    @staticmethod
    def _answer(answer: Answer, start_response: StartResponse) -> list[bytes]:
        start_response(status_line(answer.status), answer.header_lines())
        return [answer.body]


def _data(request: Request, location: str, raw: bytes) -> Any:
    """location_data, from the body already read when it is plainly JSON (`application/json`, with
    or without parameters: then werkzeug's mimetype says JSON too), or none at all without a content
    type (no mimetype: never JSON), without werkzeug's content-type parsing and stream wrapping (~15
    us a request)."""
    if location == "query":
        return _query(request.environ.get("QUERY_STRING", "")) or location_data(request, location)
    if location != "json":
        return location_data(request, location)
    content_type = request.environ.get("CONTENT_TYPE")
    if not content_type:  # no mimetype: not JSON to werkzeug, whatever the body
        return {}
    if content_type.split(";", 1)[0].strip().lower() == JSON:
        return json_body(raw)
    return location_data(request, location)


def _query(query: str) -> dict[str, str] | None:
    """A plain query string's arguments, each name with its first value, as werkzeug's `request.args`
    (a MultiDict: its get() is the first value) gives them, in a fifth of its time; None (ask
    werkzeug) for one that needs decoding (`%`, `+`), is not ASCII, or is empty."""
    if not query or "%" in query or "+" in query or not query.isascii():
        return None
    out: dict[str, str] = {}
    for segment in query.split("&"):
        if segment:
            name, _, value = segment.partition("=")
            out.setdefault(name, value)
    return out


def _lean_routes(app: Flask) -> Iterable[tuple[str, str, Route]]:
    """(method, rule, route) for every @lean view method whose arguments all have compiled loaders,
    on a rule of fixed segments, perhaps ending in one `<name>` of the default converter."""
    parser = Blueprint.ARGUMENTS_PARSER
    for rule in app.url_map.iter_rules():
        view_class = getattr(app.view_functions[rule.endpoint], "view_class", None)
        if view_class is None or rule.defaults or rule.host or rule.subdomain:
            continue
        path_argument = _final_variable(rule.rule, rule._converters)
        if path_argument is None and "<" in rule.rule:
            continue
        for method in sorted(rule.methods or ()):
            lean = getattr(getattr(view_class, method.lower(), None), "lean", None)
            if lean is None:
                continue
            loaders = [(parser.compiled(schema, location), location) for schema, location in lean.declared]
            if any(load is None for load, _ in loaders):
                continue
            compiled = tuple((load, location) for load, location in loaders if load is not None)
            yield method, rule.rule, Route(rule.rule, lean.function, view_class(), compiled, path_argument)


def _final_variable(rule: str, converters: dict[str, Any]) -> str | None:
    """`token_id` for `/api/jwt/refresh/<token_id>`: one variable, the last segment, default converter."""
    head, _, last = rule.rpartition("/")
    if "<" in head or not (last.startswith("<") and last.endswith(">")) or len(converters) != 1:
        return None
    name = last[1:-1]
    if ":" in name or type(converters.get(name)).__name__ != "UnicodeConverter":
        return None
    return name
