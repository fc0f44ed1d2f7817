"""OAuth 2.0 over the same tokens: the refresh_token grant (RFC 6749 section 6), revocation
(RFC 7009) and introspection (RFC 7662). A client is an application: client_id is its id and
client_secret the secret shown once when it was created (only its digest is kept).
"""

from __future__ import annotations

import hmac
from typing import Any

from app.access import AccessTokens
from app.applications import Application, Registry
from app.caller import Caller
from app.errors import ApiError, Unauthorized
from app.store.keys import digest, is_canonical_uuid
from app.tokens import InvalidRefreshToken, TokenService

REASONS = {"scope": ("invalid_scope", "The requested scope exceeds the scope granted.")}


class OAuthError(ApiError):
    """An error in RFC 6749 section 5.2's shape."""

    def __init__(self, error: str, description: str, status: int = 400, reason: str | None = None, basic: bool = False):
        super().__init__(error)
        self.status = status
        self.error, self.description, self.reason = error, description, reason
        self.headers = {"WWW-Authenticate": 'Basic realm="refreshd"'} if basic and status == 401 else {}

    def body(self) -> dict[str, Any]:
        out = {"error": self.error, "error_description": self.description}
        if self.reason:
            out["error_reason"] = self.reason
        return out


class OAuth:
    def __init__(self, tokens: TokenService, access: AccessTokens, registry: Registry):
        self._tokens = tokens
        self._access = access
        self._registry = registry

    def client(self, client_id: str | None, secret: str | None, *, basic: bool) -> Application:
        """The application a client authenticates as; 401 invalid_client otherwise."""
        application = self._registry.application(client_id) if client_id and is_canonical_uuid(client_id) else None
        stored = (
            (application.document.get("oauthConfiguration") or {}).get("clientSecretDigest", "") if application else ""
        )
        presented = digest(secret) if secret else ""
        if application is None or not secret or not hmac.compare_digest(presented, stored) or not application.active:
            raise OAuthError(
                "invalid_client", "Client authentication failed.", 401, "invalid_client_authentication", basic
            )
        return application

    def refresh(
        self, caller: Caller, client: Application, refresh_token: str | None, scope: str | None
    ) -> dict[str, Any]:
        """grant_type=refresh_token: a new access token (and, for one-time tokens, a new refresh token)."""
        if not refresh_token:
            raise OAuthError(
                "invalid_request", "The refresh_token parameter is required.", reason="missing_refresh_token"
            )
        try:
            result = self._tokens.exchange(
                caller, refresh_token, None, client_id=client.id, scopes=scope.split() if scope else None
            )
        except InvalidRefreshToken as invalid:
            error, description = REASONS.get(invalid.reason, ("invalid_grant", "The refresh_token is invalid."))
            raise OAuthError(error, description, reason="refresh_token_not_found") from None
        answer: dict[str, Any] = {
            "access_token": result.access_token,
            "token_type": "Bearer",
            "expires_in": result.access_ttl_seconds,
            "refresh_token": result.refresh_token,
            "refresh_token_id": result.refresh_token_id,
            "userId": result.user_id,
        }
        if result.scope:
            answer["scope"] = result.scope
        return answer

    def revoke(self, caller: Caller, client: Application, token: str | None, hint: str | None) -> None:
        """RFC 7009: revoke a refresh token (its session) or an access token (the session it came
        from). Unknown and already-dead tokens succeed; another client's token is refused."""
        if not token:
            raise OAuthError("invalid_request", "The token parameter is required.")
        kinds = ("access", "refresh") if hint == "access_token" else ("refresh", "access")
        for kind in kinds:
            outcome = (
                self._revoke_refresh(caller, client, token)
                if kind == "refresh"
                else self._revoke_access(caller, client, token)
            )
            if outcome == "foreign":
                raise OAuthError("unauthorized_client", "The token was not issued to this client.")
            if outcome == "revoked":
                return

    def _revoke_refresh(self, caller: Caller, client: Application, token: str) -> str:
        return self._tokens.revoke_for_client(caller, client.id, token)

    def _revoke_access(self, caller: Caller, client: Application, token: str) -> str:
        try:
            claims = self._access.validate(token)
        except Unauthorized:
            return "missing"
        if claims.get("applicationId") != client.id:
            return "foreign"
        sid = claims.get("sid")
        return self._tokens.revoke_for_client(caller, client.id, "", token_id=str(sid)) if sid else "missing"

    def introspect(self, client: Application, token: str | None, hint: str | None) -> dict[str, Any]:
        """RFC 7662: {"active": false} for anything unknown, dead or another client's."""
        if not token:
            raise OAuthError("invalid_request", "The token parameter is required.")
        kinds = ("refresh", "access") if hint == "refresh_token" else ("access", "refresh")
        for kind in kinds:
            found = self._inspect_refresh(client, token) if kind == "refresh" else self._inspect_access(client, token)
            if found is not None:
                return found
        return {"active": False}

    def _inspect_access(self, client: Application, token: str) -> dict[str, Any] | None:
        if token.count(".") != 2:
            return None
        try:
            claims = self._access.validate(token)
        except Unauthorized:
            return None
        if claims.get("applicationId") != client.id:
            return None
        return {"active": True, "token_type": "Bearer", "client_id": client.id, **claims}

    def _inspect_refresh(self, client: Application, token: str) -> dict[str, Any] | None:
        found = self._tokens.find(token)
        if found is None or found.application_id != client.id:
            return None
        answer: dict[str, Any] = {
            "active": True,
            "token_type": "refresh_token",
            "client_id": client.id,
            "sub": found.user_id,
            "sid": found.token_id,
            "tid": found.tenant_id,
            "iat": found.insert_instant // 1000,
            "exp": found.expiry // 1000,
        }
        scopes = found.meta.get("scopes")
        if scopes:
            answer["scope"] = " ".join(scopes)
        return answer
