"""Who is calling: an API key (`Authorization: <key>`, as FusionAuth sends it), a user's Bearer
access token, or nobody. Every failure is a bare 401, as FusionAuth answers."""

from __future__ import annotations

import uuid

from flask import current_app, g, request

from app.apikeys import ApiKey
from app.caller import Caller
from app.errors import FieldError, Unauthorized

TENANT_HEADER = "X-FusionAuth-TenantId"


def _base(kind: str, ident: str | None, tenant_id: str | None) -> Caller:
    return Caller(
        kind=kind,
        id=ident,
        tenant_id=tenant_id,
        address=request.remote_addr or "",
        user_agent=request.headers.get("User-Agent", "")[:512],
        request_id=g.request_id,
    )


def _tenant_header() -> str | None:
    raw = request.headers.get(TENANT_HEADER)
    if not raw:
        return None
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise FieldError(TENANT_HEADER, "invalid", "The tenant header must be a UUID.") from None


def anonymous() -> Caller:
    """For endpoints where the token itself is the credential; a tenant header still scopes it."""
    return _base("anonymous", None, _tenant_header())


def api_key(*, allow_user: bool = False) -> Caller:
    """The calling API key, with permission for this path and verb (else 401). With allow_user, a
    user's own access token (`Authorization: Bearer <jwt>`) is accepted as well."""
    header = request.headers.get("Authorization", "")
    if not header:
        raise Unauthorized()
    services = current_app.extensions["refreshd"]
    if header[:7].lower() == "bearer ":
        if not allow_user:
            raise Unauthorized()
        claims = services.signer.verify(header[7:].strip())
        if claims is None:
            raise Unauthorized()
        return _base("user", str(claims["sub"]), str(claims.get("tid") or "") or None)
    key = services.api_keys.authenticate(header)
    if key is None or not key.allows(request.path, request.method):
        raise Unauthorized()
    g.api_key = key
    return _base("apiKey", key.id, key.tenant_id or _tenant_header())


def current_key() -> ApiKey:
    """The ApiKey behind the current API-key caller (set by api_key())."""
    key = g.get("api_key")
    if key is None:
        raise Unauthorized()
    return key
