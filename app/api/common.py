"""Helpers shared by the blueprints: services, wire rendering of domain values."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app

from app.errors import NotFound
from app.store.tokens import RevokeCount, StoredToken


def services() -> Any:
    return current_app.extensions["refreshd"]


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
    """FusionAuth's RefreshToken object; the value is never returned."""
    meta = dict(token.meta)
    device = dict(meta.get("device") or {})
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


def event_info(data: dict[str, Any]) -> dict[str, Any] | None:
    """eventInfo as the caller sent it (None when absent)."""
    info = data.get("eventInfo")
    return dict(info) if info else None
