"""An application's page: its live-session count and "Revoke all sessions"."""

from __future__ import annotations

from flask import Response, url_for

from app.api.common import path_uuid
from app.console.common import bp, caller, flash_counts, page, require, see_other, services
from app.errors import FieldError, NotFound


@bp.get("/applications/<application_id>")
def application(application_id: str) -> Response:
    application_id = path_uuid(application_id)
    require("GET", f"/api/application/{application_id}")
    try:
        live = services().tokens.live_sessions(caller(), application_id)
    except FieldError:  # unknown, or in a tenant this key cannot see
        raise NotFound() from None
    found = services().registry.application(application_id)
    if found is None:
        raise NotFound()
    return page("application.html", application=found, live_sessions=live)


@bp.post("/applications/<application_id>/revoke")
def revoke_application(application_id: str) -> Response:
    """DELETE /api/jwt/refresh?applicationId=: every session of the application, at once."""
    application_id = path_uuid(application_id)
    require("DELETE", "/api/jwt/refresh")
    count = services().tokens.revoke(caller(), token=None, user_id=None, application_id=application_id, info=None)
    flash_counts("Every session of the application revoked", count)
    return see_other(url_for("console.application", application_id=application_id))
