"""Helpers shared by the blueprints: services, wire rendering of domain values."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app
from werkzeug.wrappers import Request

from app import jsontext
from app.answers import JSON, Answer
from app.errors import NotFound
from app.schemas.tokens import Device, MetaData
from app.store.tokens import RevokeCount, StoredToken

if TYPE_CHECKING:
    from app import Services

_META_KEYS = frozenset(MetaData._declared_fields)
_DEVICE_KEYS = frozenset(Device._declared_fields)


def services() -> Any:
    return current_app.extensions["refreshd"]


@dataclass(slots=True)
class Call:
    """What a hot (@lean) view is given: the process's services and its request, a werkzeug Request
    (Flask's own when Flask runs the view; a plain one on the fast path, app/api/fast.py)."""

    services: Services
    request: Request


def path_uuid(value: str) -> str:
    """A UUID from the URL, canonical; anything else names nothing here (404)."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound() from None


def revoke_result(count: RevokeCount) -> dict[str, Any]:
    return {
        "invalidatedTokens": count.invalidated,
        "previouslyInvalidatedTokens": count.previously_invalidated,
        "refreshTokenIds": count.token_ids,
        "errors": [],
    }


def refresh_token(token: StoredToken) -> dict[str, Any]:
    """FusionAuth's RefreshToken object, with only the fields its schema declares (as a dump of it
    would give); the value is never returned."""
    meta = _declared(token.meta, _META_KEYS)
    device = _declared(token.meta.get("device") or {}, _DEVICE_KEYS)
    device["lastAccessedInstant"] = token.last_accessed_instant or token.insert_instant
    if token.last_accessed_address:
        device["lastAccessedAddress"] = token.last_accessed_address
    meta["device"] = device
    return {
        "id": token.token_id,
        "applicationId": token.application_id,
        "userId": token.user_id,
        "tenantId": token.tenant_id,
        "insertInstant": token.insert_instant,
        "startInstant": token.start_instant,
        "expirationInstant": token.expiry,
        "metaData": meta,
    }


RENDERED_KEPT = 4096  # listed tokens whose JSON a process keeps (see listing_answer)
_rendered: dict[str, tuple[StoredToken, bytes]] = {}


def listing_answer(tokens: list[StoredToken], next_cursor: str | None) -> Answer:
    """A listing, `{"nextCursor": ..., "refreshTokens": [refresh_token(t) ...]}` byte for byte as
    json.dumps writes it, as json_answer promises (sorted keys, compact, a final newline; tested),
    from each token's own JSON: sorted keys put nextCursor first, and compact JSON of a list is its
    items' joined by commas. (jsontext.dumps with caller_json: a token holding a float anywhere is
    written by the standard library.) What a token object made is kept, by
    its id, and given again for the very same object: the store gives the same object for an
    unchanged record (app/store/tokens.py's _listed), so the sessions a user lists again and again
    are written once. Kept up to RENDERED_KEPT tokens, then forgotten at once."""
    parts = [b'{"nextCursor":' + jsontext.dumps(next_cursor) + b"," if next_cursor else b"{", b'"refreshTokens":[']
    for token in tokens:
        kept = _rendered.get(token.token_id)
        if kept is None or kept[0] is not token:
            text = jsontext.dumps(refresh_token(token), sort_keys=True, caller_json=True)
            if len(_rendered) >= RENDERED_KEPT:
                _rendered.clear()
            kept = _rendered[token.token_id] = (token, text)
        parts.append(kept[1])
        parts.append(b",")
    if tokens:
        parts.pop()
    parts.append(b"]}\n")
    return Answer(200, b"".join(parts), JSON)


def _declared(stored: dict[str, Any], declared: frozenset[str]) -> dict[str, Any]:
    """A copy of `stored` with only the keys a schema declares. Usually that is all it holds, and a
    whole copy is much cheaper than a comprehension; its key order is free (answers sort keys)."""
    if stored.keys() <= declared:
        return dict(stored)
    return {key: value for key, value in stored.items() if key in declared}


def holds_caller_json(tokens: Iterable[StoredToken]) -> bool:
    """Whether any of these tokens carries metaData.data, JSON its caller chose (see app/answers.py's
    json_answer)."""
    return any("data" in token.meta for token in tokens)


def event_info(data: dict[str, Any]) -> dict[str, Any] | None:
    """eventInfo as the caller sent it (None when absent)."""
    info = data.get("eventInfo")
    return dict(info) if info else None
