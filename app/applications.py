"""Tenants and applications: their documents, their refresh-token policies, and a per-process cache.

A request reads its application from the cache, so the hot paths make no extra Redis round trip.
A change is seen at once by the process that made it and within `cache_seconds` by the others.
A token's expiry policy is fixed when it is minted (stored with the token): later changes to an
application apply to tokens minted afterwards.
"""

from __future__ import annotations

import copy
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.errors import FieldError, NotFound
from app.store.config import ConfigStore
from app.store.keys import digest

TENANT, APPLICATION = "tenant", "app"

DEFAULT_JWT: dict[str, Any] = {
    "enabled": True,
    "timeToLiveInSeconds": 3600,
    "refreshTokenTimeToLiveInMinutes": 43200,
    "refreshTokenUsagePolicy": "Reusable",
    "refreshTokenExpirationPolicy": "Fixed",
    "refreshTokenSlidingWindowConfiguration": {"maximumTimeToLiveInMinutes": 43200},
    "refreshTokenOneTimeUseConfiguration": {"gracePeriodInSeconds": 0},
    "refreshTokenRevocationPolicy": {"onOneTimeTokenReuse": True},
    "refreshTokenSessionLimit": {"maximumSessions": 0, "policy": "EvictOldest"},
}


@dataclass(frozen=True)
class RefreshPolicy:
    """What a token of an application lives by."""

    access_ttl_seconds: int
    refresh_ttl_minutes: int
    usage: str
    expiration: str
    maximum_minutes: int
    grace_seconds: int = 0
    revoke_on_reuse: bool = True
    maximum_sessions: int = 0
    session_policy: str = "EvictOldest"

    @property
    def one_time_code(self) -> str:
        """ "" for a Reusable token; else the grace window and reuse policy (scripts/exchange.lua)."""
        if self.usage != "OneTimeUse":
            return ""
        return f"{self.grace_seconds * 1000}:{1 if self.revoke_on_reuse else 0}"

    @property
    def session_limit_code(self) -> str:
        """ "" without a limit; else "<maximum>:<E|R>" (scripts/mint.lua)."""
        if self.maximum_sessions <= 0:
            return ""
        return f"{self.maximum_sessions}:{'R' if self.session_policy == 'RejectNew' else 'E'}"

    @property
    def code(self) -> str:
        """The compact form stored with each token (see scripts/_lib.lua)."""
        ttl = self.refresh_ttl_minutes * 60_000
        if self.expiration == "SlidingWindow":
            return f"S:{ttl}"
        if self.expiration == "SlidingWindowWithMaximumLifetime":
            return f"M:{ttl}:{self.maximum_minutes * 60_000}"
        return f"F:{ttl}"

    def expiry(self, insert_instant: int, start_instant: int) -> int:
        """The expiry instant of a token that has not been used since start_instant."""
        end = start_instant + self.refresh_ttl_minutes * 60_000
        if self.expiration == "SlidingWindowWithMaximumLifetime":
            end = min(end, insert_instant + self.maximum_minutes * 60_000)
        return end


@dataclass(frozen=True)
class Application:
    id: str
    tenant_id: str
    name: str
    active: bool
    generates_refresh_tokens: bool
    allows_token_refresh: bool
    policy: RefreshPolicy
    access_token_key_id: str | None
    document: dict[str, Any]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """PATCH semantics: nested objects merge, everything else replaces."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _jsonable(document: dict[str, Any]) -> dict[str, Any]:
    """UUIDs loaded by marshmallow back to strings, for storage."""
    out: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            out[key] = _jsonable(value)
        elif isinstance(value, uuid.UUID):
            out[key] = str(value)
        else:
            out[key] = value
    return out


class Registry:
    """Tenants and applications, read through a short per-process cache."""

    def __init__(self, store: ConfigStore, cache_seconds: float, key_exists: Callable[[str], bool]):
        self._store = store
        self._key_exists = key_exists
        self._ttl = cache_seconds
        self._cache: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}
        self._applications: dict[str, tuple[float, Application | None]] = {}
        self._default_tenant: str | None = None

    # -- reading ---------------------------------------------------------------------------
    def _document(self, kind: str, ident: str) -> dict[str, Any] | None:
        hit = self._cache.get((kind, ident))
        now = time.monotonic()
        if hit and hit[0] > now:
            return hit[1]
        document = self._store.get(kind, ident)
        self._cache[(kind, ident)] = (now + self._ttl, document)
        return document

    def _forget(self, kind: str, ident: str) -> None:
        self._cache.pop((kind, ident), None)
        if kind == APPLICATION:
            self._applications.pop(ident, None)
        else:
            self._applications.clear()

    def default_tenant_id(self) -> str:
        """The default tenant, created on first use (idempotent across processes)."""
        if self._default_tenant is None:
            candidate = str(uuid.uuid4())
            tenant_id = self._store.set_pointer(TENANT, "default", candidate, only_new=True)
            now = _now_ms()
            self._store.put(
                TENANT,
                tenant_id,
                {
                    "id": tenant_id,
                    "name": "Default",
                    "jwtConfiguration": dict(DEFAULT_JWT),
                    "insertInstant": now,
                    "lastUpdateInstant": now,
                },
                only_new=True,
            )
            self._default_tenant = tenant_id
        return self._default_tenant

    def tenant(self, tenant_id: str) -> dict[str, Any] | None:
        return self._document(TENANT, tenant_id)

    def tenants(self) -> list[dict[str, Any]]:
        self.default_tenant_id()
        return self._store.get_many(TENANT)

    def application(self, application_id: str) -> Application | None:
        """An application with its effective policy, built once per cache period (hot paths)."""
        hit = self._applications.get(application_id)
        now = time.monotonic()
        if hit and hit[0] > now:
            return hit[1]
        document = self._document(APPLICATION, application_id)
        application = None
        if document is not None:
            tenant = self._document(TENANT, document["tenantId"]) or {}
            application = _application(document, tenant.get("jwtConfiguration", DEFAULT_JWT))
        self._applications[application_id] = (now + self._ttl, application)
        return application

    def applications(self, tenant_id: str | None) -> list[dict[str, Any]]:
        return [
            public_application(a)
            for a in self._store.get_many(APPLICATION)
            if tenant_id is None or a["tenantId"] == tenant_id
        ]

    # -- writing ---------------------------------------------------------------------------
    def save_tenant(
        self, tenant_id: str | None, changes: dict[str, Any], *, create: bool, replace: bool = False
    ) -> dict[str, Any]:
        ident = tenant_id or str(uuid.uuid4())
        existing = self._store.get(TENANT, ident)
        if create and existing is not None:
            raise FieldError("tenantId", "duplicate", f"A tenant with Id [{ident}] already exists.")
        if not create and existing is None:
            raise NotFound()
        now = _now_ms()
        base = (
            existing
            if existing and not replace
            else {
                "jwtConfiguration": dict(DEFAULT_JWT),
                "insertInstant": (existing or {}).get("insertInstant", now),
            }
        )
        document = _merged(base, _jsonable(changes))
        if not document.get("name"):
            raise FieldError("tenant.name", "blank", "You must specify the [tenant.name] property.")
        self._check_key("tenant", document)
        document.update(id=ident, lastUpdateInstant=now)
        self._store.put(TENANT, ident, document)
        self._forget(TENANT, ident)
        return document

    def delete_tenant(self, tenant_id: str) -> None:
        if tenant_id == self.default_tenant_id():
            raise FieldError("tenantId", "invalid", "The default tenant cannot be deleted.")
        if any(a["tenantId"] == tenant_id for a in self._store.get_many(APPLICATION)):
            raise FieldError("tenantId", "invalid", "Delete the tenant's applications first.")
        if not self._store.delete(TENANT, tenant_id):
            raise NotFound()
        self._forget(TENANT, tenant_id)

    def save_application(
        self,
        application_id: str | None,
        changes: dict[str, Any],
        *,
        create: bool,
        replace: bool = False,
        scope_tenant: str | None = None,
    ) -> dict[str, Any]:
        """Create, replace (PUT) or merge (PATCH) an application; returns its document."""
        ident = application_id or str(uuid.uuid4())
        existing = self._store.get(APPLICATION, ident)
        if existing is not None and scope_tenant and existing["tenantId"] != scope_tenant:
            existing = None if not create else existing
            if not create:
                raise NotFound()
        if create and existing is not None:
            raise FieldError("applicationId", "duplicate", f"An application with Id [{ident}] already exists.")
        if not create and existing is None:
            raise NotFound()
        changes = _jsonable(changes)
        now = _now_ms()
        if existing is None or replace:
            base: dict[str, Any] = {
                "active": True,
                "jwtConfiguration": {"enabled": False},
                "loginConfiguration": {"generateRefreshTokens": True, "allowTokenRefresh": True},
                "insertInstant": (existing or {}).get("insertInstant", now),
                "tenantId": (existing or {}).get("tenantId"),
                "oauthConfiguration": (existing or {}).get("oauthConfiguration"),
            }
        else:
            base = existing
        document = _merged(base, changes)
        document["tenantId"] = self._tenant_for(document.get("tenantId"), scope_tenant, existing)
        if not document.get("name"):
            raise FieldError("application.name", "blank", "You must specify the [application.name] property.")
        self._check_key("application", document)
        document.update(id=ident, lastUpdateInstant=now)
        secret = None
        if not document.get("oauthConfiguration"):
            secret = secrets.token_urlsafe(32)
            document["oauthConfiguration"] = {"clientId": ident, "clientSecretDigest": digest(secret)}
        self._store.put(APPLICATION, ident, document)
        self._forget(APPLICATION, ident)
        shown = public_application(document)
        if secret is not None:
            shown["oauthConfiguration"]["clientSecret"] = secret
        return shown

    def _tenant_for(self, requested: str | None, scope_tenant: str | None, existing: dict[str, Any] | None) -> str:
        if existing is not None:
            return str(existing["tenantId"])
        tenant_id = requested or scope_tenant or self.default_tenant_id()
        if scope_tenant and tenant_id != scope_tenant:
            raise FieldError("application.tenantId", "invalid", "The tenantId is not the key's tenant.")
        if self._store.get(TENANT, tenant_id) is None:
            raise FieldError("application.tenantId", "invalid", f"No tenant exists with Id [{tenant_id}].")
        return tenant_id

    def _check_key(self, kind: str, document: dict[str, Any]) -> None:
        key_id = (document.get("jwtConfiguration") or {}).get("accessTokenKeyId")
        if key_id and not self._key_exists(key_id):
            field = f"{kind}.jwtConfiguration.accessTokenKeyId"
            raise FieldError(field, "invalid", f"No signing key exists with Id [{key_id}].")

    def uses_key(self, key_id: str) -> bool:
        """Whether any application or tenant signs with this key."""
        documents = self._store.get_many(APPLICATION) + self._store.get_many(TENANT)
        return any((d.get("jwtConfiguration") or {}).get("accessTokenKeyId") == key_id for d in documents)

    def delete_application(self, application_id: str) -> None:
        if not self._store.delete(APPLICATION, application_id):
            raise NotFound()
        self._forget(APPLICATION, application_id)


def public_application(document: dict[str, Any]) -> dict[str, Any]:
    """An application as the API shows it: the client secret is shown once, at creation, never again
    (only its digest is stored)."""
    out = copy.deepcopy(document)
    out.get("oauthConfiguration", {}).pop("clientSecretDigest", None)
    return out


def _application(document: dict[str, Any], tenant_jwt: dict[str, Any]) -> Application:
    own = document.get("jwtConfiguration") or {}
    jwt = _merged(DEFAULT_JWT, tenant_jwt)
    if own.get("enabled"):
        jwt = _merged(jwt, own)
    login = document.get("loginConfiguration") or {}
    policy = RefreshPolicy(
        access_ttl_seconds=int(jwt["timeToLiveInSeconds"]),
        refresh_ttl_minutes=int(jwt["refreshTokenTimeToLiveInMinutes"]),
        usage=jwt["refreshTokenUsagePolicy"],
        expiration=jwt["refreshTokenExpirationPolicy"],
        maximum_minutes=int(jwt["refreshTokenSlidingWindowConfiguration"]["maximumTimeToLiveInMinutes"]),
        grace_seconds=int(jwt["refreshTokenOneTimeUseConfiguration"]["gracePeriodInSeconds"]),
        revoke_on_reuse=bool(jwt["refreshTokenRevocationPolicy"]["onOneTimeTokenReuse"]),
        maximum_sessions=int(jwt["refreshTokenSessionLimit"]["maximumSessions"]),
        session_policy=str(jwt["refreshTokenSessionLimit"]["policy"]),
    )
    return Application(
        id=document["id"],
        tenant_id=document["tenantId"],
        name=document.get("name", ""),
        active=bool(document.get("active", True)),
        generates_refresh_tokens=bool(login.get("generateRefreshTokens", True)),
        allows_token_refresh=bool(login.get("allowTokenRefresh", True)),
        policy=policy,
        access_token_key_id=jwt.get("accessTokenKeyId"),
        document=document,
    )
