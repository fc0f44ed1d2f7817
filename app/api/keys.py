"""Signing keys (FusionAuth's Key API) and their public halves."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from app import auth
from app.api.common import path_uuid, services
from app.errors import FieldError, NotFound, empty
from app.schemas import admin as s
from app.schemas.common import Errors

blp = Blueprint("keys", __name__, description="Signing keys, JWKS and public keys")


def _generate(key_id: str | None, body: dict[str, Any]) -> dict[str, Any]:
    if auth.api_key().tenant_id:
        raise FieldError("key", "invalid", "A tenant-scoped API key cannot manage signing keys.")
    request = body["key"]
    key = services().signer.keys.generate(
        key_id, request["algorithm"], request.get("name") or "", request.get("length")
    )
    return {"key": key.document()}


@blp.route("/api/key/generate")
class Generate(MethodView):
    @blp.arguments(s.KeyRequest(), location="json")
    @blp.response(200, s.KeyResponse())
    @blp.alt_response(400, schema=Errors)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Generate a signing key (ES256 unless `algorithm` says otherwise)."""
        return _generate(None, body)


@blp.route("/api/key/generate/<key_id>")
class GenerateWithId(MethodView):
    @blp.arguments(s.KeyRequest(), location="json")
    @blp.response(200, s.KeyResponse())
    @blp.alt_response(400, schema=Errors)
    def post(self, body: dict[str, Any], key_id: str) -> dict[str, Any]:
        return _generate(path_uuid(key_id), body)


@blp.route("/api/key")
class Keys(MethodView):
    @blp.response(200, s.KeysResponse())
    def get(self) -> dict[str, Any]:
        auth.api_key()
        return {"keys": [k.document() for k in services().signer.keys.all()]}


@blp.route("/api/key/<uuid:key_id>")  # a UUID: /api/key/generate is another resource
class KeyById(MethodView):
    @blp.response(200, s.KeyResponse())
    def get(self, key_id: uuid.UUID) -> dict[str, Any]:
        auth.api_key()
        key = services().signer.keys.get(str(key_id))
        if key is None:
            raise NotFound()
        return {"key": key.document()}

    @blp.response(200)
    @blp.alt_response(400, schema=Errors)
    def delete(self, key_id: uuid.UUID) -> Response:
        """Delete a key no application or tenant signs with; tokens it signed stop verifying."""
        if auth.api_key().tenant_id:
            raise FieldError("keyId", "invalid", "A tenant-scoped API key cannot manage signing keys.")
        ident = str(key_id)
        if services().registry.uses_key(ident) or services().webhooks.uses_key(ident):
            raise FieldError("keyId", "inUse", "An application, tenant or webhook signs with this key.")
        services().signer.keys.delete(ident)
        return empty(200)


@blp.route("/.well-known/jwks.json")
class Jwks(MethodView):
    @blp.response(200)
    def get(self) -> dict[str, Any]:
        """The public signing keys as a JSON Web Key Set (HMAC keys are never published)."""
        jwks = (key.jwk() for key in services().signer.keys.all())
        return {"keys": [jwk for jwk in jwks if jwk is not None]}


@blp.route("/api/jwt/public-key")
class PublicKey(MethodView):
    @blp.arguments(s.PublicKeyArgs(), location="query")
    @blp.response(200, s.PublicKeyResponse())
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """All public keys by kid, or one (`kid`, or the key an `applicationId` signs with); 404 for
        an unknown key or an HMAC one."""
        keys = services().signer.keys
        if args.get("kid") or args.get("applicationId"):
            if args.get("applicationId"):
                application = services().registry.application(str(args["applicationId"]))
                if application is None:
                    raise NotFound()
                key = keys.get(application.access_token_key_id) if application.access_token_key_id else keys.default()
            else:
                key = keys.get(args["kid"])
            if key is None or key.public_pem is None:
                raise NotFound()
            return {"publicKey": key.public_pem}
        return {"publicKeys": {k.kid: k.public_pem for k in keys.all() if k.public_pem}}
