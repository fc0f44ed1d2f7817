"""Operations: health, and how far behind event delivery is."""

from __future__ import annotations

from flask import Response, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app import auth
from app.api.common import services

blp = Blueprint("status", __name__, description="Health")


@blp.route("/api/status")
class Status(MethodView):
    @blp.response(200)
    def get(self) -> Response:
        """200 when Redis answers, 503 (JSON) otherwise. With an API key, also `webhookDelivery`: events
        not yet read or not yet delivered by the worker, the age of the oldest, deliveries queued and
        dead letters."""
        services().redis.ping()
        body: dict[str, object] = {"status": "ok", "store": "ok"}
        if request.headers.get("Authorization"):
            body["webhookDelivery"] = services().webhooks.lag(auth.api_key())
        return jsonify(body)
