"""Request arguments on the hot paths, as strict as their schemas at a fraction of the cost.

flask-smorest parses `@blp.arguments(schema, location=...)` with webargs and marshmallow, which costs
tens to a hundred microseconds a request. `Blueprint` here parses with `FastParser`, which first tries
a loader compiled once from the same schema. That loader accepts a value only where the schema
certainly would, and returns what the schema's `load` would return (the same types, keys and key
order). Whatever it is not sure of (a wrong type, a failing validator, a field kind it does not know,
a body that is not plain JSON) goes to webargs and marshmallow unchanged, so every error body is the
one the schema gives. The routes and the OpenAPI document do not change. `lean` marks a hot view: it
answers an Answer (app/answers.py), Flask runs it with one wrapper instead of the decorators' four,
and the fast path (app/api/fast.py) runs it without Flask.
"""

from __future__ import annotations

import functools
import inspect
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import flask
import flask_smorest
from marshmallow import EXCLUDE, RAISE, Schema, fields
from marshmallow.utils import missing
from webargs.core import _UNKNOWN_DEFAULT_PARAM, is_json
from webargs.flaskparser import FlaskParser
from werkzeug.wrappers import Request

from app import jsontext
from app.answers import Answer, to_response
from app.api.common import Call

Loader = Callable[[Any], Any]


class Slow(Exception):
    """The compiled loader is not sure: let marshmallow decide (and word any error)."""


class FastParser(FlaskParser):
    """webargs' Flask parser, trying a schema's compiled loader before the schema itself."""

    def __init__(self) -> None:
        super().__init__()
        self._loaders: dict[tuple[int, str, Any], tuple[Schema, Loader | None]] = {}

    def parse(self, argmap: Any, req: Any = None, *, location: str | None = None, **kwargs: Any) -> Any:
        location = location or self.location
        if isinstance(argmap, Schema) and not kwargs.get("validate"):
            loader = self._loader(argmap, location, kwargs.get("unknown", _UNKNOWN_DEFAULT_PARAM))
            if loader is not None:
                try:
                    return loader(location_data(req or flask.request, location))
                except Slow:
                    pass
        return super().parse(argmap, req, location=location, **kwargs)

    def compiled(self, schema: Schema, location: str) -> Loader | None:
        """The loader compiled for this schema where parse() would use one (None: parse() alone)."""
        return self._loader(schema, location, _UNKNOWN_DEFAULT_PARAM)

    def _loader(self, schema: Schema, location: str, unknown: Any) -> Loader | None:
        key = (id(schema), location, unknown)
        if key not in self._loaders:
            # webargs' rule: the call's `unknown`, else the parser's, else its default by location, else the schema's
            if unknown is _UNKNOWN_DEFAULT_PARAM:
                unknown = self.unknown
            if unknown is _UNKNOWN_DEFAULT_PARAM:
                unknown = self.DEFAULT_UNKNOWN_BY_LOCATION.get(location)
            unknown = unknown or schema.unknown
            # the schema is kept with its loader, so its id cannot be reused by another object
            self._loaders[key] = (schema, compile_schema(schema, unknown, query=location == "query"))
        return self._loaders[key][1]

    def _raw_load_json(self, req: flask.Request) -> Any:
        """The body as jsontext reads it. What the standard library cannot read without raising
        something other than JSONDecodeError (JSON nested 100,000 deep, an integer of 5,000 digits)
        becomes a JSONDecodeError, which webargs answers as unreadable JSON (400), not a 500."""
        if not is_json(req.mimetype):
            return missing
        body = req.get_data(cache=True)
        try:
            return jsontext.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise
        except ValueError as error:
            raise json.JSONDecodeError(str(error), "-", 0) from None


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = FastParser()


@dataclass(frozen=True)
class LeanView:
    """A @lean view as the fast path (app/api/fast.py) runs it: the view itself, and the arguments
    it declares, outermost first."""

    function: Callable[..., Answer]
    declared: list[tuple[Schema, str]]


def lean(view: Callable[..., Any]) -> Callable[..., flask.Response]:
    """Run a view documented by flask-smorest's decorators with one wrapper instead of theirs, and let
    the fast path (app/api/fast.py) run it without Flask.

    `@blp.arguments`, `@blp.response` and `@blp.alt_response` each wrap the view, and each layer
    costs a few microseconds a request (webargs' and flask-smorest's wrappers, Flask's ensure_sync).
    A lean view takes a `Call` (the services and its request) before the arguments its decorators
    declare, and returns an `Answer` (app/answers.py). When Flask runs it, this wrapper parses the
    declared arguments as their decorators would (FastParser, the outermost declaration first, each
    appended to the positional arguments) and turns the Answer into a Response. The decorators stay,
    for the OpenAPI document: it is read from `_apidoc`, which is kept. Put it above them; it takes
    no webargs options (as_kwargs, validate, ...).
    """
    function = inspect.unwrap(view)
    parameters = view.__dict__.get("_apidoc", {}).get("arguments", {}).get("parameters", [])
    declared = [(p["schema"], p["in"]) for p in reversed(parameters)]  # decorators append inner first
    parse = Blueprint.ARGUMENTS_PARSER.parse

    @functools.wraps(view)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> flask.Response:
        call = Call(flask.current_app.extensions["refreshd"], flask.request._get_current_object())  # type: ignore[attr-defined]
        parsed = [parse(schema, location=location) for schema, location in declared]
        answer = function(self, call, *args, *parsed, **kwargs)
        if not isinstance(answer, Answer):
            raise TypeError(f"{function.__qualname__} must return an Answer to be @lean")
        return to_response(answer)

    wrapper.__dict__["lean"] = LeanView(function, declared)
    return wrapper


def location_data(request: Request, location: str) -> Any:
    """The raw mapping webargs would hand the schema, for the locations compiled loaders take."""
    if location == "query":
        return request.args
    if location != "json":
        raise Slow()
    if not is_json(request.mimetype):
        return {}
    return json_body(request.get_data(cache=True))


def json_body(body: bytes) -> Any:
    """A JSON body as webargs reads it ({} when empty); Slow for one it cannot read (not UTF-8 or not
    JSON), so that webargs words the error."""
    if not body:
        return {}
    try:
        return jsontext.loads(body)
    except ValueError:
        raise Slow() from None


# -- compiling a schema into a loader ----------------------------------------------------------------
def compile_schema(schema: Schema, unknown: str, *, query: bool = False) -> Loader | None:
    """A loader equivalent to `schema.load(data, unknown=unknown)` wherever it does not raise Slow;
    None when the schema uses something this module does not reproduce."""
    if schema.many or schema.partial or any(schema._hooks.values()) or unknown not in (EXCLUDE, RAISE):
        return None
    plan = []
    for name, field in schema.load_fields.items():
        if query and isinstance(field, fields.List | fields.Tuple):
            return None  # webargs reads these with getlist
        key = field.data_key if field.data_key is not None else name
        attribute = field.attribute or name
        if "." in attribute:
            return None
        plan.append((key, attribute, _field_loader(field), field.required, field.load_default))
    known = frozenset(key for key, *_ in plan)

    def load(data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):  # a query's MultiDict is one; its get() is the first value, as in webargs
            raise Slow()
        if unknown == RAISE and not known.issuperset(data):
            raise Slow()
        out: dict[str, Any] = {}
        for key, attribute, field_load, required, default in plan:
            value = data.get(key, missing)
            if value is missing:
                if required:
                    raise Slow()
                if default is not missing:
                    out[attribute] = default() if callable(default) else default
                continue
            out[attribute] = field_load(value)
        return out

    return load


def _field_loader(field: fields.Field) -> Loader:
    """One field: None where allowed, then conversion, then the field's validators."""
    convert = _converter(field)
    if convert is None or field.pre_load or field.post_load:
        return _always_slow
    validators = tuple(field.validators)
    allow_none = field.allow_none

    def load(value: Any) -> Any:
        if value is None:
            if allow_none:
                return None
            raise Slow()
        output = convert(value)
        for validator in validators:
            try:
                valid = validator(output)
            except Exception:
                raise Slow() from None
            if valid is False:
                raise Slow()
        return output

    return load


def _always_slow(value: Any) -> Any:
    raise Slow()


def _converter(field: fields.Field) -> Loader | None:
    """Field._deserialize for the exact field kinds the wire schemas use, where the value is plain."""
    kind = type(field)  # exact kinds only: a subclass (Email, Pluck, ...) may add its own rules
    if kind is fields.String:
        return _string
    if kind is fields.UUID:
        return _uuid
    if kind is fields.Integer and isinstance(field, fields.Integer):
        return _strict_integer if field.strict else _integer
    if kind is fields.Boolean:
        return _boolean
    if kind is fields.Dict and isinstance(field, fields.Dict) and field.key_field is None and field.value_field is None:
        return _dict
    if kind is fields.List and isinstance(field, fields.List):
        return _list(_field_loader(field.inner))
    if kind is fields.Nested and isinstance(field, fields.Nested):
        if field.many or field.unknown is not None or field.only or field.exclude:
            return None
        nested = field.schema
        loader = compile_schema(nested, nested.unknown)
        return _nested(loader) if loader is not None else None
    return None


def _string(value: Any) -> str:
    if type(value) is not str:
        raise Slow()
    return value


def _uuid(value: Any) -> uuid.UUID:
    if type(value) is not str:
        raise Slow()
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Slow() from None


def _strict_integer(value: Any) -> int:
    if type(value) is not int:
        raise Slow()
    return value


def _integer(value: Any) -> int:
    """Integers, and strings of ASCII digits (a query's `limit=10`): int() reads both as marshmallow does."""
    if type(value) is int:
        return value
    if type(value) is str and value.isascii() and value.isdigit():
        return int(value)
    raise Slow()


def _boolean(value: Any) -> bool:
    if type(value) is not bool:
        raise Slow()
    return value


def _dict(value: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise Slow()
    return dict(value)


def _list(inner: Loader) -> Loader:
    def load(value: Any) -> list[Any]:
        if type(value) is not list:
            raise Slow()
        return [inner(item) for item in value]

    return load


def _nested(loader: Loader) -> Loader:
    def load(value: Any) -> Any:
        if type(value) is not dict:
            raise Slow()
        return loader(value)

    return load
