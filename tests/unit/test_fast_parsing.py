"""The compiled loaders (app/api/parsing.py) accept exactly what their schemas accept, and load it the same.

For any input a compiled loader either gives up (Slow: marshmallow then decides) or returns what
`schema.load` returns, with the same types and key order; it never accepts what the schema refuses.
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from marshmallow import EXCLUDE, ValidationError, fields
from werkzeug.datastructures import MultiDict

from app import jsontext
from app.api.parsing import Slow, compile_schema
from app.schemas import tokens as s

BODIES = [
    s.RefreshRequest(),
    s.RefreshDeleteRequest(),
    s.TokenIdDeleteRequest(),
    s.MintRequest(),
    s.LogoutRequest(),
    s.VendRequest(),
]
QUERIES = [s.RefreshListArgs(), s.RefreshDeleteArgs(), s.LogoutArgs(), s.IssueArgs()]

NAMES = [
    "token", "refreshToken", "userId", "applicationId", "eventInfo", "metaData", "device", "scopes", "data",
    "name", "type", "description", "lastAccessedInstant", "lastAccessedAddress", "location", "latitude",
    "longitude", "city", "ipAddress", "userAgent", "deviceName", "timeToLiveInSeconds", "limit", "cursor",
    "global", "claims", "keyId", "os", "zipcode", "other",
]  # fmt: skip
TEXT = st.one_of(
    st.sampled_from(["", "a", "x" * 70, "y" * 256, "z" * 1025, "5", "+3", "0", "10001", " 7", "2.5", "\u0663"]),
    st.builds(lambda u: str(u), st.uuids()),
    st.builds(lambda u: u.hex.upper(), st.uuids()),
    st.text(max_size=8),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=20_000),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(NAMES), inner, max_size=6),
    ),
    max_leaves=20,
)


def shaped_like(schema: Any) -> st.SearchStrategy[Any]:
    """Bodies with the schema's own keys (and nested shapes), each value plausible or anything."""
    optional = {(field.data_key or name): value_for(field) for name, field in schema.load_fields.items()}
    known = st.fixed_dictionaries({}, optional=optional)
    extra = st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=2)
    return st.builds(lambda a, b: {**b, **a}, known, extra)


def value_for(field: Any) -> st.SearchStrategy[Any]:
    if isinstance(field, fields.Nested):
        return st.one_of(st.deferred(lambda: shaped_like(field.schema)), SCALARS)
    if isinstance(field, fields.List):
        return st.one_of(st.lists(value_for(field.inner), max_size=3), SCALARS)
    return VALUES


def body_for(schema: Any) -> st.SearchStrategy[Any]:
    return st.one_of(shaped_like(schema), VALUES)


QUERY = st.lists(st.tuples(st.sampled_from(NAMES), TEXT), max_size=6)


def outcome(load: Any, data: Any) -> tuple[str, str]:
    try:
        return "ok", _canonical(load(data))
    except ValidationError:
        return "refused", ""


def _canonical(value: Any) -> str:
    """repr keeps key order and types; NaN is the only value unequal to itself."""
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_canonical(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_canonical(v) for v in value) + "]"
    return repr(value)


def check(schema: Any, data: Any, query: bool = False) -> None:
    fast = compile_schema(schema, EXCLUDE if query else schema.unknown, query=query)
    assert fast is not None
    try:
        got = ("ok", _canonical(fast(data)))
    except Slow:
        return  # marshmallow decides, as before
    assert got == outcome(schema.load, data), (type(schema).__name__, data)


@pytest.mark.parametrize("schema", BODIES, ids=lambda schema: type(schema).__name__)
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_compiled_body_loader_never_disagrees_with_its_schema(schema: Any, data: st.DataObject) -> None:
    check(schema, data.draw(body_for(schema)))


@pytest.mark.parametrize("schema", QUERIES, ids=lambda schema: type(schema).__name__)
@settings(max_examples=300, deadline=None)
@given(pairs=QUERY)
def test_a_compiled_query_loader_takes_the_first_value_as_webargs_does(schema: Any, pairs: list[Any]) -> None:
    check(schema, MultiDict(pairs), query=True)


def test_common_requests_take_the_fast_path_with_the_schemas_types() -> None:
    user, app = uuid.uuid4(), uuid.uuid4()
    body = {
        "userId": str(user),
        "applicationId": str(app),
        "metaData": {"device": {"name": "phone", "type": "MOBILE"}, "scopes": ["a"], "data": {"k": 1}},
        "eventInfo": {"ipAddress": "10.0.0.1", "deviceName": "x"},
        "ignored": True,
    }
    fast = compile_schema(s.MintRequest(), EXCLUDE)
    assert fast is not None
    loaded = fast(body)
    assert loaded == s.MintRequest().load(body)
    assert loaded["userId"] == user and list(loaded) == ["userId", "applicationId", "metaData", "eventInfo"]
    query = compile_schema(s.RefreshListArgs(), EXCLUDE, query=True)
    assert query is not None
    assert query(MultiDict([("userId", str(user)), ("limit", "20")])) == {"userId": user, "limit": 20}


@pytest.mark.parametrize(
    "data",
    [
        {"refreshToken": ""},
        {"refreshToken": 5},
        {"timeToLiveInSeconds": "+5"},
        {"timeToLiveInSeconds": 5.0},
        {"timeToLiveInSeconds": True},
        {"eventInfo": {"location": {"latitude": 1.5}}},
        {"eventInfo": {"data": {"x": "a" * 9000}}},
        [],
    ],
)
def test_anything_unusual_goes_to_marshmallow(data: Any) -> None:
    fast = compile_schema(s.RefreshRequest(), EXCLUDE)
    assert fast is not None
    with pytest.raises(Slow):
        fast(data)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
ODD_TEXTS = st.sampled_from(
    [
        b"",
        b" ",
        b"{",
        b"\xef\xbb\xbf{}",
        b'{"a":1,"a":2}',
        b"1E400",
        b'"\\ud800"',
        b"NaN",
        b"-0",
        b"[1,]",
        b'"\x01"',
        b"12345678901234567890",
        b"[0.12345678901234567890123]",
    ]
)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.builds(lambda v: json.dumps(v).encode(), JSON_VALUES), ODD_TEXTS, st.binary(max_size=12)))
def test_a_body_reads_as_the_standard_library_reads_it(text: bytes) -> None:
    try:
        value = json.loads(text.decode())
        json.dumps(value, ensure_ascii=False).encode()  # a lone surrogate is refused too: no UTF-8 holds it
        expected: Any = ("ok", _canonical(value))
    except ValueError:
        expected = ("refused", "")
    try:
        got: Any = ("ok", _canonical(jsontext.loads(text)))
    except ValueError:
        got = ("refused", "")
    assert got == expected


def test_a_lean_view_must_answer_with_an_answer() -> None:
    from flask import Flask

    from app.api.parsing import lean

    @lean
    def view(self: Any, call: Any) -> Any:
        return {"not": "an answer"}

    app = Flask(__name__)
    app.extensions["refreshd"] = object()
    with app.test_request_context("/"), pytest.raises(TypeError, match="must return an Answer"):
        view(None)


@given(st.text(alphabet="ab=&%+;2F é", max_size=24))
@example("a=b&a=a")  # the first value of a name
@example("a&&=b&a==b;b=a")
@example("a+b=%2F")
def test_a_query_string_is_read_as_werkzeug_reads_its_arguments(query: str) -> None:
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from app.api.fast import _query

    raw = query.encode().decode("latin-1")  # as WSGI hands it over
    parsed = _query(raw)
    if parsed is None:
        return  # werkzeug reads it itself
    args = Request(EnvironBuilder(environ_overrides={"QUERY_STRING": raw}).get_environ()).args
    assert parsed.keys() == args.keys()
    assert all(parsed[name] == args.get(name) for name in args)
