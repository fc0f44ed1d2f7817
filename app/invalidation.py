"""Revocation at any scale, in the shapes other systems use: Microsoft Graph's
invalidateAllRefreshTokens (a per-user valid-from), tenant-wide revocation, and Elasticsearch's
counted invalidate-token API.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from app import events, metrics
from app.access import AccessTokens
from app.applications import Registry
from app.caller import Caller
from app.errors import FieldError, GeneralError, NotFound, Unauthorized
from app.store.keys import is_canonical_uuid
from app.store.tokens import RevokeCount
from app.store.watermarks import UserReset, WatermarkStore
from app.tokens import TokenService

LONGEST_ACCESS_TOKEN_MS = 31_536_000_000  # the most an application may set (a year)


class Invalidation:
    def __init__(
        self, tokens: TokenService, watermarks: WatermarkStore, access: AccessTokens, registry: Registry, ids_cap: int
    ):
        self._tokens = tokens
        self._watermarks = watermarks
        self._access = access
        self._registry = registry
        self._ids_cap = ids_cap

    # -- Microsoft Graph --------------------------------------------------------------------------
    def invalidate_user(self, caller: Caller, user_id: str, info: dict[str, Any] | None) -> UserReset:
        """Every refresh token the user holds, and every access token minted from them, stops working at
        once; tokens minted afterwards work. One script: the reset and the revocation are one step."""
        event = events.build(
            events.INVALIDATE_ALL, caller, info, scope="user", tenant_id=caller.tenant_id, user_id=user_id
        )
        reset = self._watermarks.invalidate_user(
            user_id, cap=self._ids_cap, event=event, access_ttl_ms=self._longest_access_ttl_ms()
        )
        metrics.revocation("user_all", reset.count.invalidated)
        return reset

    def token_validity(self, user_id: str) -> str | None:
        """refreshTokensValidFromDateTime: ISO-8601 UTC, or None when never reset."""
        instant = self._watermarks.user_valid_from(user_id)
        if instant is None:
            return None
        return datetime.fromtimestamp(instant / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _longest_access_ttl_ms(self) -> int:
        ttls = [
            a.get("jwtConfiguration", {}).get("timeToLiveInSeconds") or 0 for a in self._registry.applications(None)
        ]
        ttls += [(t.get("jwtConfiguration") or {}).get("timeToLiveInSeconds") or 0 for t in self._registry.tenants()]
        return int(max([3600, *ttls])) * 1000

    # -- tenants ----------------------------------------------------------------------------------
    def revoke_tenant(self, caller: Caller, tenant_id: str, info: dict[str, Any] | None) -> RevokeCount:
        """Every token of every application of a tenant, at once (watermarks), counted."""
        if caller.tenant_id and caller.tenant_id != tenant_id:
            raise NotFound()
        if self._registry.tenant(tenant_id) is None:
            raise NotFound()
        application_ids = [a["id"] for a in self._registry.applications(tenant_id)]
        event = events.build(events.REVOKE, caller, info, scope="tenant", tenant_id=tenant_id)
        count = self._watermarks.revoke_applications(
            application_ids,
            cap=self._ids_cap,
            event=event,
            access_ttl_ms=self._longest_access_ttl_ms(),
            tenant_id=tenant_id,
        )
        metrics.revocation("tenant", count.invalidated)
        return count

    # -- Elasticsearch ----------------------------------------------------------------------------
    def invalidate(self, caller: Caller, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """DELETE /_security/oauth2/token: (status, body). An unknown token is a 404 with zero counts,
        as Elasticsearch answers; a token invalidated before counts as previously invalidated."""
        token, refresh, realm, username = (request.get(k) for k in ("token", "refresh_token", "realm_name", "username"))
        if sum(bool(v) for v in (token, refresh)) + (1 if realm or username else 0) != 1:
            raise GeneralError("[invalid]", "Give exactly one of token, refresh_token, or realm_name and/or username.")
        if token:
            return self._invalidate_access_token(caller, str(token))
        if refresh:
            return self._invalidate_refresh_token(caller, str(refresh))
        tenant_id = self._realm(str(realm)) if realm else None
        if caller.tenant_id and tenant_id and tenant_id != caller.tenant_id:
            raise FieldError("realm_name", "invalid", "No such realm.")
        if username:
            scoped = Caller(
                caller.kind,
                caller.id,
                tenant_id or caller.tenant_id,
                caller.address,
                caller.user_agent,
                caller.request_id,
            )
            count = self._tokens.revoke(
                scoped, token=None, user_id=_user_id(str(username)), application_id=None, info=None
            )
        else:
            assert tenant_id is not None
            count = self.revoke_tenant(caller, tenant_id, None)
        return 200, _counts(count.invalidated, count.previously_invalidated)

    def _invalidate_access_token(self, caller: Caller, token: str) -> tuple[int, dict[str, Any]]:
        """Deny the token's jti until it expires. One that had expired, or was dead already (its
        session revoked, a valid-from after it, or denied before), counts as previously invalidated."""
        claims = self._access.decode_ignoring_expiry(token)
        jti = claims.get("jti") if claims else None
        if not claims or not is_canonical_uuid(jti):
            return 404, _counts(0, 0)
        if caller.tenant_id and claims.get("tid", caller.tenant_id) != caller.tenant_id:
            return 404, _counts(0, 0)
        expiry_ms = int(claims["exp"]) * 1000
        if expiry_ms <= time.time() * 1000:
            return 200, _counts(0, 1)  # it expired: nothing left to invalidate
        try:
            self._access.validate(token)
            live = True
        except Unauthorized:
            live = False
        newly = self._watermarks.deny_access_token(str(jti), expiry_ms)
        metrics.revocation("access_token", 1 if newly and live else 0)
        return 200, _counts(1, 0) if newly and live else _counts(0, 1)

    def _invalidate_refresh_token(self, caller: Caller, value: str) -> tuple[int, dict[str, Any]]:
        try:
            self._tokens.revoke(caller, token=value, user_id=None, application_id=None, info=None)
            return 200, _counts(1, 0)
        except NotFound:
            if self._tokens.was_revoked(value):
                return 200, _counts(0, 1)
            return 404, _counts(0, 0)

    def _realm(self, realm: str) -> str:
        """A realm is a tenant, named by id or by name."""
        for tenant in self._registry.tenants():
            if realm in (tenant["id"], tenant.get("name")):
                return str(tenant["id"])
        raise FieldError("realm_name", "invalid", f"No tenant has the id or name [{realm}].")


def _counts(invalidated: int, previously: int) -> dict[str, Any]:
    return {"invalidated_tokens": invalidated, "previously_invalidated_tokens": previously, "error_count": 0}


def _user_id(username: str) -> str:
    try:
        return str(uuid.UUID(username))
    except ValueError:
        raise FieldError("username", "invalid", "The username is a user id (a UUID).") from None
