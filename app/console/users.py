"""A user's sessions (newest first, paged), their revocation, and the user's token validity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, flash, request, url_for

from app.api.common import path_uuid
from app.console.common import (
    bp,
    caller,
    can,
    flash_counts,
    optional_uuid,
    page,
    require,
    see_other,
    services,
)
from app.errors import NotFound
from app.store.tokens import StoredToken

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class SessionRow:
    id: str
    application_id: str
    application_name: str
    device_name: str
    device_type: str
    last_address: str
    last_used: int
    created: int
    expires: int


def _row(token: StoredToken, names: dict[str, str]) -> SessionRow:
    device = token.meta.get("device") or {}
    return SessionRow(
        id=token.token_id,
        application_id=token.application_id,
        application_name=names.get(token.application_id, ""),
        device_name=str(device.get("name") or ""),
        device_type=str(device.get("type") or ""),
        last_address=token.last_accessed_address or "",
        last_used=token.last_accessed_instant or token.insert_instant,
        created=token.insert_instant,
        expires=token.expiry,
    )


def _application_names(tokens: list[StoredToken], tenant_id: str | None) -> dict[str, str]:
    """Names of the applications the caller may list (else of those on the page) for display."""
    registry = services().registry
    if can("GET", "/api/application"):
        return {a["id"]: a.get("name") or a["id"] for a in registry.applications(tenant_id)}
    names = {}
    for application_id in {t.application_id for t in tokens}:
        application = registry.application(application_id)
        names[application_id] = application.name if application else application_id
    return names


def _page_size() -> int:
    try:
        return max(1, min(int(request.args.get("limit", PAGE_SIZE)), MAX_PAGE_SIZE))
    except ValueError:
        return PAGE_SIZE


@bp.get("/users")
def find_user() -> Response:
    """The home page's "find a user" form."""
    user_id = optional_uuid(request.args.get("userId"))
    if user_id is None:
        flash("Enter a user id.", "error")
        return see_other(url_for("console.home"))
    return see_other(url_for("console.user", user_id=user_id))


@bp.get("/users/<user_id>")
def user(user_id: str) -> Response:
    user_id = path_uuid(user_id)
    require("GET", "/api/jwt/refresh")
    who = caller()
    application_id = optional_uuid(request.args.get("applicationId"))
    cursor = request.args.get("cursor") or None
    found = services().tokens.list_tokens(who, user_id, application_id, _page_size(), cursor)
    names = _application_names(found.tokens, who.tenant_id)
    shows_validity = can("GET", f"/api/user/{user_id}/token-validity")
    context: dict[str, Any] = {
        "user_id": user_id,
        "application_id": application_id,
        "rows": [_row(t, names) for t in found.tokens],
        "applications": sorted(names.items(), key=lambda item: item[1].lower()),
        "next_cursor": found.next_cursor,
        "paged": bool(cursor),
        "limit": request.args.get("limit"),
        "shows_validity": shows_validity,
        "valid_from": services().invalidation.token_validity(user_id) if shows_validity else None,
    }
    return page("user.html", **context)


@bp.post("/users/<user_id>/sessions/<token_id>/revoke")
def revoke_session(user_id: str, token_id: str) -> Response:
    """What DELETE /api/jwt/refresh/{tokenId} does, with the same permission and audit event."""
    user_id, token_id = path_uuid(user_id), path_uuid(token_id)
    require("DELETE", f"/api/jwt/refresh/{token_id}")
    try:
        count = services().tokens.revoke_by_id(caller(), token_id, None)
    except NotFound:
        flash("That session was no longer live: nothing was revoked (404).", "error")
    else:
        flash_counts("Session revoked", count)
    return see_other(_user_page(user_id))


@bp.post("/users/<user_id>/revoke")
def revoke_user(user_id: str) -> Response:
    """DELETE /api/jwt/refresh?userId=[&applicationId=]: every session of the user (for one application)."""
    user_id = path_uuid(user_id)
    require("DELETE", "/api/jwt/refresh")
    application_id = optional_uuid(request.form.get("applicationId"))
    count = services().tokens.revoke(caller(), token=None, user_id=user_id, application_id=application_id, info=None)
    flash_counts("All of the user's sessions" + (" for that application" if application_id else "") + " revoked", count)
    return see_other(_user_page(user_id))


@bp.post("/users/<user_id>/invalidate-all")
def invalidate_all(user_id: str) -> Response:
    """Graph's invalidateAllRefreshTokens: the user's valid-from becomes now."""
    user_id = path_uuid(user_id)
    require("POST", f"/users/{user_id}/invalidateAllRefreshTokens")
    reset = services().invalidation.invalidate_user(caller(), user_id, None)
    flash_counts("Every token of the user invalidated", reset.count)
    return see_other(_user_page(user_id))


def _user_page(user_id: str) -> str:
    application_id = request.form.get("view_applicationId") or None
    return url_for("console.user", user_id=user_id, applicationId=application_id)
