"""Access-token rules: validate (signature, key, algorithm, expiry, revocation), vend, issue."""

from __future__ import annotations

from typing import Any

from app.applications import Registry
from app.caller import Caller
from app.errors import FieldError, Unauthorized
from app.signing import Signer
from app.store.keys import is_canonical_uuid
from app.store.tokens import RefreshTokenStore
from app.store.watermarks import WatermarkStore
from app.tokens import TokenService

RESERVED = ("exp", "iat", "nbf", "jti")
DEFAULT_VEND_TTL = 3600


class AccessTokens:
    def __init__(
        self,
        store: RefreshTokenStore,
        watermarks: WatermarkStore,
        registry: Registry,
        signer: Signer,
        tokens: TokenService,
    ):
        self._store = store
        self._watermarks = watermarks
        self._tokens = tokens
        self._registry = registry
        self._signer = signer

    def validate(self, token: str | None) -> dict[str, Any]:
        """The claims of a token this service signed that is unexpired and not revoked: its session
        (`sid`) must still be live, so revoking a refresh token kills its access tokens at once (and a
        user's or application's valid-from, which kills the session, kills them with it).

        A token without a session (vended, or issued without a refresh token) is checked against the
        valid-from watermarks of the user (`sub`), application (`applicationId`) and tenant (`tid`)
        it names. Its `iat` has whole seconds only, so it is dead when issued in a second that starts
        at or before a watermark: one issued in the same second as a reset, even after it, is refused
        too (ask for another a second later). Never the other way round: nothing issued before a
        reset survives it."""
        claims = self._signer.verify(token or "", require=("exp", "iat")) if token else None
        if claims is None:
            raise Unauthorized()
        sid, jti = claims.get("sid"), claims.get("jti")
        jti = str(jti) if is_canonical_uuid(jti) else ""
        if sid is not None:
            # the session's record and the token's denial share a slot: one call checks both
            if not (is_canonical_uuid(sid) and self._store.session_is_live(str(sid), jti)):
                raise Unauthorized()
        elif self._watermarks.sessionless_revoked(
            jti=jti,
            user_id=str(claims["sub"]) if is_canonical_uuid(claims.get("sub")) else "",
            application_id=str(claims.get("applicationId") or ""),
            tenant_id=str(claims.get("tid") or ""),
            issued_ms=int(claims["iat"]) * 1000,
        ):
            raise Unauthorized()
        return claims

    def decode_ignoring_expiry(self, token: str) -> dict[str, Any] | None:
        """The claims of a token we signed, expired or not (to deny one that may still be in use)."""
        return self._signer.verify(token, require=("exp",), verify_exp=False)

    def vend(self, claims: dict[str, Any], key_id: str | None, ttl_seconds: int | None) -> str:
        """FusionAuth's vend: sign arbitrary claims (exp, iat, nbf and jti are ours to set)."""
        key = None
        if key_id:
            key = self._signer.keys.get(key_id)
            if key is None:
                raise FieldError("keyId", "invalid", f"No signing key exists with Id [{key_id}].")
        own = {k: v for k, v in claims.items() if k not in RESERVED}
        token, _ = self._signer.sign(own, ttl_seconds or DEFAULT_VEND_TTL, key, caller_json=True)
        return token

    def issue(
        self, caller: Caller, caller_token: str | None, application_id: str | None, refresh_token: str | None
    ) -> dict[str, str]:
        """FusionAuth's issue: an access token for another application, for the user of a valid access
        token; with a live refresh token of that user, also a refresh token for the target application
        that keeps the original session's start (so a maximum lifetime cannot be extended this way)."""
        claims = self.validate(caller_token)
        if "sub" not in claims:
            raise Unauthorized()
        if not application_id:
            raise FieldError("applicationId", "missing", "You must specify the applicationId.")
        application = self._registry.application(application_id)
        if application is None or application.tenant_id != claims.get("tid", application.tenant_id):
            raise FieldError("applicationId", "invalid", f"No application exists with Id [{application_id}].")
        issued = {
            "sub": claims["sub"],
            "aud": application.id,
            "applicationId": application.id,
            "tid": application.tenant_id,
        }
        session = self._tokens.find(refresh_token) if refresh_token else None
        if session is not None and session.user_id == claims["sub"] and application.generates_refresh_tokens:
            minted = self._tokens.mint(
                caller, session.user_id, application.id, session.meta, None, start_instant=session.start_instant
            )
            return {"token": minted.access_token, "refreshToken": minted.refresh_token}
        key = self._signer.keys.get(application.access_token_key_id) if application.access_token_key_id else None
        token, _ = self._signer.sign(issued, application.policy.access_ttl_seconds, key)
        return {"token": token}
