"""Helpers shared by the blueprints: services, wire rendering of domain values."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Response, current_app

from app import jsontext
from app.errors import NotFound
from app.schemas.tokens import Device, MetaData
from app.store.tokens import RevokeCount, StoredToken

_META_KEYS = tuple(MetaData._declared_fields)
_DEVICE_KEYS = frozenset(Device._declared_fields)


def services() -> Any:
    return current_app.extensions["refreshd"]


def path_uuid(value: str) -> str:
    """A UUID from the URL, canonical; anything else names nothing here (404)."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound() from None


def json_response(body: Any, headers: Mapping[str, str] | None = None, *, caller_json: bool = False) -> Response:
    """A 200 JSON answer, byte for byte as Flask's jsonify writes it (sorted keys, no spaces, non-ASCII
    escaped, a final newline), in a few microseconds where jsonify takes tens and a response schema's
    dump hundreds. `caller_json`: the body holds JSON a caller chose, such as metaData.data (see
    app/jsontext.py)."""
    data = jsontext.dumps(body, sort_keys=True, caller_json=caller_json) + b"\n"
    return Response(data, headers=headers, mimetype="application/json")


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
    meta = {key: token.meta[key] for key in _META_KEYS if key in token.meta}
    device = {key: value for key, value in (token.meta.get("device") or {}).items() if key in _DEVICE_KEYS}
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


def holds_caller_json(tokens: Iterable[StoredToken]) -> bool:
    """Whether any of these tokens carries metaData.data, JSON its caller chose (see json_response)."""
    return any("data" in token.meta for token in tokens)


def event_info(data: dict[str, Any]) -> dict[str, Any] | None:
    """eventInfo as the caller sent it (None when absent)."""
    info = data.get("eventInfo")
    return dict(info) if info else None
