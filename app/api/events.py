"""The event log: filtered, tenant-scoped pages of events, newest first."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app import auth
from app.api.common import services
from app.event_log import EventFilter
from app.schemas.common import Errors
from app.schemas.events import EventArgs, EventsResponse

blp = Blueprint("events", __name__, description="Events: the audit log of issuance, refresh and revocation")


@blp.route("/api/event")
class Events(MethodView):
    @blp.arguments(EventArgs(), location="query")
    @blp.response(200, EventsResponse())
    @blp.alt_response(400, schema=Errors)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Events newest first across every bucket; page with `nextCursor`. Filters scan: a page
        examines at most REFRESHD_EVENT_QUERY_SCAN_LIMIT events and may hold fewer than `limit`
        while `nextCursor` is present (docs/events.md)."""
        caller = auth.api_key()
        wanted = EventFilter(
            user_id=_text(args.get("userId")),
            application_id=_text(args.get("applicationId")),
            tenant_id=_text(args.get("tenantId")),
            types=frozenset(args.get("type") or ()),
            since_ms=args.get("since"),
            until_ms=args.get("until"),
        )
        page = services().event_log.search(caller, wanted, args.get("limit"), args.get("cursor"))
        body: dict[str, Any] = {"events": page.events}
        if page.next_cursor:
            body["nextCursor"] = page.next_cursor
        return body


def _text(value: object) -> str | None:
    return str(value) if value is not None else None
