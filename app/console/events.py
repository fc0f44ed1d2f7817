"""The event log, filtered, newest first, a page at a time (what GET /api/event answers)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, request

from app import events as event_types
from app.console.common import bp, caller, optional_uuid, page, require, services
from app.errors import FieldError
from app.event_log import EventFilter

PAGE_SIZE = 50


def _instant(field: str) -> int | None:
    """A `datetime-local` value (read as UTC) in epoch milliseconds."""
    raw = (request.args.get(field) or "").strip()
    if not raw:
        return None
    try:
        return int(datetime.fromisoformat(raw).replace(tzinfo=UTC).timestamp() * 1000)
    except ValueError:
        raise FieldError(field, "invalid", f"{field} must be a date and time, such as 2025-01-31T14:00.") from None


@bp.get("/events")
def event_log() -> Response:
    require("GET", "/api/event")
    wanted_type = request.args.get("type") or ""
    if wanted_type and wanted_type not in event_types.TYPES:
        raise FieldError("type", "invalid", f"Unknown event type {wanted_type!r}.")
    wanted = EventFilter(
        user_id=optional_uuid(request.args.get("userId")),
        application_id=optional_uuid(request.args.get("applicationId")),
        types=frozenset([wanted_type]) if wanted_type else frozenset(),
        since_ms=_instant("since"),
        until_ms=_instant("until"),
    )
    cursor = request.args.get("cursor") or None
    found = services().event_log.search(caller(), wanted, PAGE_SIZE, cursor)
    return page(
        "events.html",
        events=found.events,
        next_cursor=found.next_cursor,
        paged=bool(cursor),
        types=event_types.TYPES,
        filters={k: request.args.get(k, "") for k in ("userId", "applicationId", "type", "since", "until")},
    )
