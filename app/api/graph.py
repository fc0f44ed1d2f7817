"""Microsoft Graph's session revocation: invalidateAllRefreshTokens and revokeSignInSessions for a
user (API key) or for oneself (`/me`, with one's own Bearer access token), under `/`, `/v1.0` and
`/beta`; and the user's token validity."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app import auth
from app.api.common import path_uuid, services
from app.caller import Caller
from app.errors import Unauthorized, empty
from app.schemas.tokens import TokenValidity

blp = Blueprint("graph", __name__, description="Microsoft Graph: invalidate everything a user holds")
PREFIXES = ("", "/v1.0", "/beta")


def _caller() -> Caller:
    """An API key, or a user whose Bearer access token is valid now: signed, unexpired, and not
    revoked (a token its own reset killed cannot act again)."""
    caller = auth.api_key(allow_user=True)
    if caller.is_user:
        services().access.validate(request.headers.get("Authorization", "")[7:].strip())
    return caller


def _user(caller: Caller, user_id: str | None) -> str:
    """The user acted on: the path's (an API key, or that user's own Bearer token), or the caller's
    own (`/me`, Bearer only). Another user's token is refused (401)."""
    if user_id is None:
        if not caller.is_user or not caller.id:
            raise Unauthorized()
        return caller.id
    user = path_uuid(user_id)
    if caller.is_user and caller.id != user:
        raise Unauthorized()
    return user


def _reset(user_id: str | None) -> None:
    caller = _caller()
    services().invalidation.invalidate_user(caller, _user(caller, user_id), None)


class InvalidateAll(MethodView):
    @blp.response(204)
    def post(self, user_id: str | None = None) -> Response:
        """Set the user's refresh-token valid-from to now: every earlier refresh token, and every access
        token minted from one, stops working at once; tokens minted afterwards work."""
        _reset(user_id)
        return empty(204)


class RevokeSignInSessions(MethodView):
    @blp.response(200)
    def post(self, user_id: str | None = None) -> Response:
        """The same effect as invalidateAllRefreshTokens; answers {"value": true}."""
        _reset(user_id)
        return jsonify({"value": True})


for prefix in PREFIXES:
    name = prefix.strip("/").replace(".", "_") or "root"
    blp.route(f"{prefix}/users/<user_id>/invalidateAllRefreshTokens", endpoint=f"invalidate_{name}")(InvalidateAll)
    blp.route(f"{prefix}/me/invalidateAllRefreshTokens", endpoint=f"invalidate_me_{name}")(InvalidateAll)
    blp.route(f"{prefix}/users/<user_id>/revokeSignInSessions", endpoint=f"revoke_{name}")(RevokeSignInSessions)
    blp.route(f"{prefix}/me/revokeSignInSessions", endpoint=f"revoke_me_{name}")(RevokeSignInSessions)


@blp.route("/api/user/<user_id>/token-validity")
class TokenValidityView(MethodView):
    @blp.response(200, TokenValidity())
    def get(self, user_id: str) -> dict[str, Any]:
        """When the user's refresh tokens were last all invalidated (null when never)."""
        caller = _caller()
        return {"refreshTokensValidFromDateTime": services().invalidation.token_validity(_user(caller, user_id))}
