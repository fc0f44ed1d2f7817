"""A listing written from each token's own JSON is byte for byte json.dumps of the whole answer, and
what is kept between listings is given again only for the very same, unchanged token."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from app.api import common
from app.api.common import listing_answer, refresh_token
from app.store import tokens as store_tokens
from app.store.tokens import StoredToken

CALLERS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
DEVICE = st.dictionaries(
    st.sampled_from(["name", "type", "description", "lastAccessedAddress", "lastAccessedInstant", "extra"]),
    st.none() | st.text(max_size=8) | st.integers() | st.floats(),
    max_size=4,
)
META = st.fixed_dictionaries(
    {},
    optional={
        "device": DEVICE | st.none(),
        "scopes": st.lists(st.text(max_size=6), max_size=2) | st.none(),
        "data": CALLERS,
        "other": CALLERS,
    },
)
TOKENS = st.builds(
    StoredToken,
    token_id=st.uuids().map(str),
    user_id=st.uuids().map(str),
    application_id=st.uuids().map(str),
    tenant_id=st.text(max_size=8),
    insert_instant=st.integers(0, 2**53),
    start_instant=st.integers(0, 2**53),
    expiry=st.integers(0, 2**53),
    last_accessed_instant=st.none() | st.integers(1, 2**53),
    last_accessed_address=st.none() | st.text(max_size=12),
    meta=META,
)


def as_json_dumps_writes(tokens: list[StoredToken], cursor: str | None) -> bytes:
    body: dict[str, Any] = {"refreshTokens": [refresh_token(t) for t in tokens]}
    if cursor:
        body["nextCursor"] = cursor
    return (json.dumps(body, sort_keys=True, separators=(",", ":"), default=str) + "\n").encode()


FLOATS = {"device": {"name": 1.5e-07}, "data": {"f": float("nan"), "g": 1e16}}


@given(tokens=st.lists(TOKENS, max_size=4), cursor=st.none() | st.text(max_size=12))
@example(tokens=[StoredToken("i", "u", "a", "t", 1, 2, 3, None, None, FLOATS)], cursor="1.i")  # orjson: 1.5e-7, null
def test_a_listing_is_written_as_json_dumps_writes_the_whole_answer(tokens: list[StoredToken], cursor: str | None):
    answer = listing_answer(tokens, cursor)
    assert answer.status == 200 and answer.content_type == "application/json"
    assert answer.body == as_json_dumps_writes(tokens, cursor)
    assert listing_answer(tokens, cursor).body == answer.body  # and again, from what was kept


def _token(last_access: int | None) -> StoredToken:
    return StoredToken("0" * 8 + "-0000-4000-8000-" + "0" * 12, "u", "a", "t", 1, 1, 9, last_access, None, {})


def test_a_token_changed_since_it_was_listed_is_written_afresh():
    before, after = _token(5), _token(7)  # the same session, its last access moved
    assert b'"lastAccessedInstant":5' in listing_answer([before], None).body
    assert b'"lastAccessedInstant":7' in listing_answer([after], None).body
    assert b'"lastAccessedInstant":5' in listing_answer([before], None).body


def test_the_store_gives_the_same_token_for_the_same_row_and_forgets_rows_in_bounds(monkeypatch):
    monkeypatch.setattr(store_tokens, "_listed_rows", {})
    monkeypatch.setattr(store_tokens, "LISTED_KEPT", 3)
    row = "\0".join(["id-1", "u", "a", "t", "10", "11", "99", "12", "192.0.2.1", '{"scopes":["s"]}'])
    first = store_tokens._listed(row)
    assert first == StoredToken("id-1", "u", "a", "t", 10, 11, 99, 12, "192.0.2.1", {"scopes": ["s"]})
    assert store_tokens._listed(row) is first
    moved = store_tokens._listed(row.replace("\x0012\x00", "\x0013\x00"))
    assert moved is not first and moved.last_accessed_instant == 13
    for n in range(3):
        store_tokens._listed(row.replace("id-1", f"id-{n + 2}"))
    assert len(store_tokens._listed_rows) <= 3


def test_the_kept_renderings_stay_in_bounds(monkeypatch):
    monkeypatch.setattr(common, "_rendered", {})
    monkeypatch.setattr(common, "RENDERED_KEPT", 2)
    tokens = [_token(n)._replace(token_id=f"id-{n}") for n in range(1, 6)]
    assert listing_answer(tokens, None).body == as_json_dumps_writes(tokens, None)
    assert len(common._rendered) <= 2
