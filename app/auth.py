"""Who is calling: an API key (`Authorization: <key>`, as FusionAuth sends it), a user's Bearer
access token, or nobody. Every failure is a bare 401, as FusionAuth answers."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from flask import current_app, request
from werkzeug.wrappers import Request

from app.apikeys import ApiKey
from app.caller import Caller
from app.errors import FieldError, Unauthorized
from app.request_ids import request_id
from app.telemetry import API_KEY_ID
from app.throttle import AUTH

if TYPE_CHECKING:
    from app import Services

TENANT_HEADER = "X-FusionAuth-TenantId"
_TENANT_ENVIRON = "HTTP_X_FUSIONAUTH_TENANTID"  # how WSGI names that header
API_KEY = "refreshd.api_key"  # the ApiKey object of an API-key caller, for current_key()


def _request() -> Request:
    current: Request = request._get_current_object()  # type: ignore[attr-defined]
    return current


def _services() -> Services:
    services: Services = current_app.extensions["refreshd"]
    return services


def _base(
    environ: dict[str, Any], kind: str, ident: str | None, tenant_id: str | None, trusted: bool = False
) -> Caller:
    return Caller(
        kind=kind,
        id=ident,
        tenant_id=tenant_id,
        address=environ.get("REMOTE_ADDR") or "",
        user_agent=environ.get("HTTP_USER_AGENT", "")[:512],
        request_id=request_id(environ),
        trusted=trusted,
    )


def _tenant_header(environ: dict[str, Any]) -> str | None:
    raw = environ.get(_TENANT_ENVIRON)
    if not raw:
        return None
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise FieldError(TENANT_HEADER, "invalid", "The tenant header must be a UUID.") from None


# Each check comes twice: `anonymous_of(services, req)` for a view given its request (the hot views,
# which the fast path runs without Flask: app/api/fast.py), and `anonymous()` reading Flask's.
# Headers are read from the WSGI environ itself: each `request.` through Flask's proxy costs a
# microsecond or more, and these run on every call.
def anonymous_of(services: Services, req: Request) -> Caller:
    """For endpoints where the token itself is the credential; a tenant header still scopes it. A
    valid API key presented as well (FusionAuth's clients send theirs) makes the caller trusted: a
    login server exchanging for its users is never throttled as a token guesser."""
    environ = req.environ
    header: str = environ.get("HTTP_AUTHORIZATION", "")
    trusted = bool(header) and header[:7].lower() != "bearer " and header[:6].lower() != "basic "
    if trusted:
        trusted = authenticate_of(services, environ, header) is not None
    return _base(environ, "anonymous", None, _tenant_header(environ), trusted)


def anonymous() -> Caller:
    return anonymous_of(_services(), _request())


def authenticate_of(services: Services, environ: dict[str, Any], presented: str) -> ApiKey | None:
    """The API key presented, or None: a failed attempt counts against the client's address, and
    over the limit is a 429 (app/throttle.py)."""
    throttle, address = services.throttle, environ.get("REMOTE_ADDR") or ""
    key: ApiKey | None = services.api_keys.authenticate(presented)
    if key is None:
        throttle.check(AUTH, address)  # known to be over the limit: 429 without counting
        throttle.failed(AUTH, address)
    return key


def authenticate(presented: str) -> ApiKey | None:
    return authenticate_of(_services(), _request().environ, presented)


def api_key_of(services: Services, req: Request, *, allow_user: bool = False) -> Caller:
    """The calling API key, with permission for this path and verb (else 401). With allow_user, a
    user's own access token (`Authorization: Bearer <jwt>`) is accepted as well."""
    environ = req.environ
    header = environ.get("HTTP_AUTHORIZATION", "")
    if not header:
        raise Unauthorized()
    if header[:7].lower() == "bearer ":
        if not allow_user:
            raise Unauthorized()
        claims = services.signer.verify(header[7:].strip())
        if claims is None:
            raise Unauthorized()
        return _base(environ, "user", str(claims["sub"]), str(claims.get("tid") or "") or None)
    key = authenticate_of(services, environ, header)
    if key is None or not key.allows(req.path, req.method):
        raise Unauthorized()
    environ[API_KEY] = key
    environ[API_KEY_ID] = key.id  # for the access log: the key's id, never the key
    return _base(environ, "apiKey", key.id, key.tenant_id or _tenant_header(environ))


def api_key(*, allow_user: bool = False) -> Caller:
    return api_key_of(_services(), _request(), allow_user=allow_user)


def current_key() -> ApiKey:
    """The ApiKey behind the current API-key caller (set by api_key())."""
    key: ApiKey | None = _request().environ.get(API_KEY)
    if key is None:
        raise Unauthorized()
    return key


def key_caller(key: ApiKey) -> Caller:
    """A caller for a key already authenticated another way (the admin console's signed session):
    the key's own tenant scope, this request's address, user agent and id."""
    environ = _request().environ
    environ[API_KEY_ID] = key.id  # for the access log
    return _base(environ, "apiKey", key.id, key.tenant_id)
