"""Sessions made by a login server: minting a refresh token, and FusionAuth's bulk import."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from app import auth
from app.answers import Answer, json_answer
from app.api.common import Call, event_info, services
from app.api.parsing import Blueprint, lean
from app.errors import empty
from app.schemas import tokens as s
from app.schemas.common import Errors

blp = Blueprint("users", __name__, description="Minting and importing refresh tokens")
NO_STORE = [("Cache-Control", "no-store")]


@blp.route("/api/user/refresh-token")
class Mint(MethodView):
    @lean
    @blp.arguments(s.MintRequest(), location="json")
    @blp.response(200, s.MintResponse())
    @blp.alt_response(400, schema=Errors)
    def post(self, call: Call, body: dict[str, Any]) -> Answer:
        """Create a session for a user the login server has authenticated."""
        minted = call.services.tokens.mint(
            auth.api_key_of(call.services, call.request),
            str(body["userId"]),
            str(body["applicationId"]),
            dict(body.get("metaData") or {}),
            event_info(body),
        )
        return json_answer(
            {
                "token": minted.access_token,
                "tokenExpirationInstant": minted.access_expiry_ms,
                "refreshToken": minted.refresh_token,
                "refreshTokenId": minted.refresh_token_id,
            },
            NO_STORE,
        )


@blp.route("/api/user/refresh-token/import")
class Import(MethodView):
    @blp.arguments(s.ImportRequest(), location="json")
    @blp.response(200)
    @blp.alt_response(400, schema=Errors)
    def post(self, body: dict[str, Any]) -> Response:
        """Import refresh tokens minted elsewhere (values are stored by SHA-256 digest only)."""
        services().tokens.import_tokens(auth.api_key(), body["refreshTokens"])
        return empty(200)
