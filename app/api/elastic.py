"""Elasticsearch's invalidate-token API: counted invalidation by token, refresh token, realm
(tenant id or name), user, or realm and user."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from app import auth
from app.api.common import services
from app.schemas.tokens import InvalidateRequest, InvalidateResult

blp = Blueprint("elastic", __name__, description="Elasticsearch: counted invalidation")


@blp.route("/_security/oauth2/token")
class InvalidateTokens(MethodView):
    @blp.arguments(InvalidateRequest(), location="json")
    @blp.response(200, InvalidateResult())
    @blp.alt_response(404, schema=InvalidateResult(), description="an unknown token: nothing invalidated")
    def delete(self, body: dict[str, Any]) -> Response:
        """Invalidate tokens and say how many were invalidated now and how many already were."""
        status, result = services().invalidation.invalidate(auth.api_key(), body)
        response = jsonify(result)
        response.status_code = status
        return response
