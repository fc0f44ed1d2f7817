"""Operations: health."""

from __future__ import annotations

from flask import Response, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from app.api.common import services

blp = Blueprint("status", __name__, description="Health")


@blp.route("/api/status")
class Status(MethodView):
    @blp.response(200)
    def get(self) -> Response:
        """200 when Redis answers, 503 (JSON) otherwise."""
        services().redis.ping()
        return jsonify({"status": "ok", "store": "ok"})
