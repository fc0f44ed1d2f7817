"""OAuth 2.0 endpoints: token (refresh_token grant), revoke (RFC 7009), introspect (RFC 7662), and
OpenID discovery. Forms in, RFC 6749 error bodies out (`{"error", "error_description"}`)."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote

from flask import Response, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app import auth
from app.api.common import services
from app.applications import Application
from app.errors import empty
from app.oauth import OAuthError
from app.schemas.common import OAuthErrorBody
from app.signing import ALGORITHMS

blp = Blueprint("oauth", __name__, description="OAuth 2.0: refresh grant, revocation, introspection, discovery")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _form_doc(fields: dict[str, str], required: list[str]) -> dict[str, Any]:
    properties = {name: {"type": "string", "description": text} for name, text in fields.items()}
    schema = {"type": "object", "properties": properties, "required": required}
    return {"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": schema}}}}


CLIENT = {"client_id": "the application id (or HTTP Basic)", "client_secret": "the client secret (or HTTP Basic)"}

TOKEN_FORM = _form_doc(
    {"token": "a refresh or access token", "token_type_hint": "refresh_token | access_token", **CLIENT}, ["token"]
)


def _oauth_errors(view: Any) -> Any:
    """Document RFC 6749's error bodies, which these endpoints answer instead of FusionAuth's."""
    view = blp.alt_response(400, schema=OAuthErrorBody, description="RFC 6749 error")(view)
    return blp.alt_response(401, schema=OAuthErrorBody, description="client authentication failed")(view)


def _form() -> dict[str, str]:
    if request.mimetype != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "The body must be application/x-www-form-urlencoded.")
    return {k: v for k, v in request.form.items()}


def _client(form: dict[str, str]) -> Application:
    """Client credentials from HTTP Basic (RFC 6749 2.3.1: form-encoded parts) or the form."""
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            client_id, _, secret = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "Malformed Basic credentials.", 401, basic=True) from None
        return services().oauth.client(unquote(client_id), unquote(secret), basic=True)
    return services().oauth.client(form.get("client_id"), form.get("client_secret"), basic=False)


def _json(body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.headers.update(NO_STORE)
    return response


@blp.route("/oauth2/token")
class Token(MethodView):
    @blp.doc(
        **_form_doc(
            {
                "grant_type": "refresh_token",
                "refresh_token": "the refresh token",
                "scope": "optional: a subset of the granted scopes",
                **CLIENT,
            },
            ["grant_type"],
        )
    )
    @blp.response(200)
    @_oauth_errors
    def post(self) -> Response:
        """Exchange a refresh token for an access token (RFC 6749 section 6)."""
        form = _form()
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError("invalid_request", "The grant_type parameter is required.")
        if grant != "refresh_token":
            raise OAuthError("unsupported_grant_type", f"The grant_type [{grant}] is not supported here.")
        client = _client(form)
        return _json(services().oauth.refresh(auth.anonymous(), client, form.get("refresh_token"), form.get("scope")))


@blp.route("/oauth2/revoke")
class Revoke(MethodView):
    @blp.doc(**TOKEN_FORM)
    @blp.response(200)
    @_oauth_errors
    def post(self) -> Response:
        """Revoke a token (RFC 7009): 200 for unknown and already-revoked tokens too."""
        form = _form()
        client = _client(form)
        services().oauth.revoke(auth.anonymous(), client, form.get("token"), form.get("token_type_hint"))
        return empty(200, NO_STORE)


@blp.route("/oauth2/introspect")
class Introspect(MethodView):
    @blp.doc(**TOKEN_FORM)
    @blp.response(200)
    @_oauth_errors
    def post(self) -> Response:
        """Introspect a token (RFC 7662); the client must authenticate and sees only its own tokens."""
        form = _form()
        client = _client(form)
        return _json(services().oauth.introspect(client, form.get("token"), form.get("token_type_hint")))


@blp.route("/.well-known/openid-configuration")
class Discovery(MethodView):
    @blp.response(200)
    def get(self) -> Response:
        """The endpoints and capabilities of this authorization server."""
        base = request.host_url.rstrip("/")
        return jsonify(
            {
                "issuer": services().settings.issuer,
                "jwks_uri": f"{base}/.well-known/jwks.json",
                "token_endpoint": f"{base}/oauth2/token",
                "revocation_endpoint": f"{base}/oauth2/revoke",
                "introspection_endpoint": f"{base}/oauth2/introspect",
                "grant_types_supported": ["refresh_token"],
                "response_types_supported": [],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": [a for a in ALGORITHMS if not a.startswith("HS")],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            }
        )
