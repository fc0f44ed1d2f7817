"""Operations: health, and the public halves of the signing keys."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from app.api.common import services
from app.signing import jwks_entry

blp = Blueprint("status", __name__, description="Health and public keys")


@blp.route("/api/status")
class Status(MethodView):
    @blp.response(200)
    def get(self) -> Response:
        """200 when Redis answers, 503 (JSON) otherwise."""
        services().redis.ping()
        return jsonify({"status": "ok", "store": "ok"})


@blp.route("/.well-known/jwks.json")
class Jwks(MethodView):
    @blp.response(200)
    def get(self) -> dict[str, Any]:
        """The public signing keys as a JSON Web Key Set."""
        return {"keys": [jwks_entry(services().signer.key)]}
