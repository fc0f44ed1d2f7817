"""Webhooks in FusionAuth's shape, and their dead letters."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from app import auth
from app.api.common import path_uuid, services
from app.errors import empty
from app.schemas import events as s
from app.schemas.common import Errors

blp = Blueprint("webhooks", __name__, description="Webhooks: signed event delivery with retries and dead letters")


def _create(webhook_id: str | None, body: dict[str, Any]) -> dict[str, Any]:
    return {"webhook": services().webhooks.create(auth.api_key(), webhook_id, body["webhook"])}


@blp.route("/api/webhook")
class Webhooks(MethodView):
    @blp.arguments(s.WebhookRequest(), location="json")
    @blp.response(200, s.WebhookResponse())
    @blp.alt_response(400, schema=Errors)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a webhook; the answer shows its HMAC `secret`, which is never shown again."""
        return _create(None, body)

    @blp.response(200, s.WebhooksResponse())
    def get(self) -> dict[str, Any]:
        return {"webhooks": services().webhooks.all_visible(auth.api_key())}


@blp.route("/api/webhook/<webhook_id>")
class WebhookById(MethodView):
    @blp.arguments(s.WebhookRequest(), location="json")
    @blp.response(200, s.WebhookResponse())
    @blp.alt_response(400, schema=Errors)
    def post(self, body: dict[str, Any], webhook_id: str) -> dict[str, Any]:
        return _create(path_uuid(webhook_id), body)

    @blp.response(200, s.WebhookResponse())
    def get(self, webhook_id: str) -> dict[str, Any]:
        return {"webhook": services().webhooks.get(auth.api_key(), path_uuid(webhook_id))}

    @blp.arguments(s.WebhookRequest(), location="json")
    @blp.response(200, s.WebhookResponse())
    @blp.alt_response(400, schema=Errors)
    def put(self, body: dict[str, Any], webhook_id: str) -> dict[str, Any]:
        """Replace a webhook; its secret is kept unless a new one is given (never shown back)."""
        return {"webhook": services().webhooks.update(auth.api_key(), path_uuid(webhook_id), body["webhook"])}

    @blp.response(200)
    def delete(self, webhook_id: str) -> Response:
        """Delete a webhook: its queued deliveries and dead letters go with it."""
        services().webhooks.delete(auth.api_key(), path_uuid(webhook_id))
        return empty(200)


@blp.route("/api/webhook/<webhook_id>/dead-letters")
class DeadLetters(MethodView):
    @blp.arguments(s.DeadLetterArgs(), location="query")
    @blp.response(200, s.DeadLettersResponse())
    def get(self, args: dict[str, Any], webhook_id: str) -> dict[str, Any]:
        """Deliveries given up on (attempt limit reached, or answered with a 3xx/4xx), newest first."""
        caller = auth.api_key()
        return services().webhooks.dead_letters(
            caller, path_uuid(webhook_id), args.get("offset", 0), args.get("limit", 100)
        )


@blp.route("/api/webhook/<webhook_id>/dead-letters/replay")
class Replay(MethodView):
    @blp.arguments(s.ReplayRequest(), location="json", required=False)
    @blp.response(200, s.ReplayResponse())
    def post(self, body: dict[str, Any], webhook_id: str) -> dict[str, Any]:
        """Queue dead letters again with fresh attempts: the `eventIds` given, or the oldest 1,000."""
        ids = body.get("eventIds") if body else None
        return {"replayed": services().webhooks.replay(auth.api_key(), path_uuid(webhook_id), ids)}
