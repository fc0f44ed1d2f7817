"""Refresh-token rules: mint, exchange, revoke (by token, id, user, application), list, import.

No Flask and no Redis commands here: requests arrive as plain values with a Caller, and every
state change is one call into RefreshTokenStore, which makes it atomic.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import math
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from app import events, metrics
from app.applications import Application, Registry
from app.caller import Caller
from app.errors import BadRequest, FieldError, GeneralError, NotFound, TooManyRequests, Unauthorized
from app.signing import Signer
from app.store import keys
from app.store.tokens import (
    DuplicateToken,
    NewToken,
    RefreshTokenStore,
    RevokeCount,
    Revoked,
    SessionLimitReached,
    StoredToken,
    TooManyRotations,
)
from app.store.watermarks import WatermarkStore
from app.throttle import GUESS, Throttle


@dataclass(frozen=True)
class Minted:
    access_token: str
    access_expiry_ms: int
    refresh_token: str
    refresh_token_id: str


@dataclass(frozen=True)
class Exchange:
    access_token: str
    refresh_token: str
    refresh_token_id: str
    refresh_expiry_ms: int
    user_id: str = ""
    access_ttl_seconds: int = 0
    scope: str | None = None


@dataclass(frozen=True)
class Page:
    tokens: list[StoredToken]
    next_cursor: str | None


# why an exchange was refused (exchange.lua's reasons) -> the outcome label of refreshd_exchanges
EXCHANGE_OUTCOMES = {"expired": "expired", "revoked": "revoked", "reuse": "reuse"}
ROTATIONS = "This one-time refresh token was rotated too often (REFRESHD_REUSE_HISTORY within its window)."


def _bucket(uuid_text: str) -> int:
    return int(uuid_text[-1], 16)


class InvalidRefreshToken(FieldError):
    """FusionAuth's 400 for a refresh token that cannot be used; `reason` is for OAuth's answers."""

    def __init__(self, reason: str = "unknown"):
        super().__init__("refreshToken", "invalid", "The refresh token is invalid, revoked or expired.")
        self.reason = reason


class TokenService:
    def __init__(
        self,
        store: RefreshTokenStore,
        watermarks: WatermarkStore,
        registry: Registry,
        signer: Signer,
        ids_cap: int,
        list_max: int,
        throttle: Throttle,
    ):
        self._throttle = throttle
        self._watermarks = watermarks
        self._store = store
        self._registry = registry
        self._signer = signer
        self._ids_cap = ids_cap
        self._list_max = list_max

    # -- applications as a caller may see them ------------------------------------------------
    def _application(self, caller: Caller, application_id: str, field: str = "applicationId") -> Application:
        application = self._registry.application(application_id)
        if application is None or (caller.tenant_id and application.tenant_id != caller.tenant_id):
            raise FieldError(field, "invalid", f"No application exists with Id [{application_id}].")
        return application

    # -- minting -------------------------------------------------------------------------------
    def mint(
        self,
        caller: Caller,
        user_id: str,
        application_id: str,
        meta: dict[str, Any],
        info: dict[str, Any] | None,
        start_instant: int | None = None,
    ) -> Minted:
        """A new session for a user the caller has authenticated: a refresh token and an access JWT.
        `start_instant` carries an earlier session's start over (FusionAuth's issue API)."""
        application = self._application(caller, application_id)
        if not application.active or not application.generates_refresh_tokens:
            raise FieldError(
                "applicationId", "invalid", "The application is inactive or does not issue refresh tokens."
            )
        bucket = _bucket(user_id)
        token_id = keys.new_token_id(bucket)
        value = keys.new_token_value(token_id, steady=application.policy.usage != "OneTimeUse")
        token = NewToken(
            token_id=token_id,
            token_digest=keys.digest(value),
            user_id=user_id,
            application_id=application_id,
            tenant_id=application.tenant_id,
            policy=application.policy.code,
            meta=meta,
            one_time=application.policy.one_time_code,
            session_limit=application.policy.session_limit_code,
            start_instant=start_instant,
        )
        event = events.build(
            events.CREATE,
            caller,
            info,
            scope="token",
            tenant_id=application.tenant_id,
            application_id=application_id,
            user_id=user_id,
        )
        try:
            self._store.mint(keys.TAGS[bucket], [token], event)
        except SessionLimitReached:
            raise GeneralError(
                "[SessionLimitReached]", "The user holds the most sessions this application allows."
            ) from None
        access, exp = self._access_token(application, user_id, token_id, meta, application.policy.access_ttl_seconds)
        return Minted(access, exp * 1000, value, token_id)

    def _access_token(
        self, application: Application, user_id: str, token_id: str, meta: dict[str, Any], ttl: int
    ) -> tuple[str, int]:
        claims: dict[str, Any] = {
            "jti": str(keys.new_token_id(_bucket(token_id))),  # in the session's bucket: one-slot checks
            "sub": user_id,
            "aud": application.id,
            "sid": token_id,
            "tid": application.tenant_id,
            "applicationId": application.id,
        }
        scopes = meta.get("scopes")
        if scopes:
            claims["scope"] = " ".join(scopes)
        key = self._signer.keys.get(application.access_token_key_id) if application.access_token_key_id else None
        return self._signer.sign(claims, ttl, key)

    # -- exchange ------------------------------------------------------------------------------
    def exchange(
        self,
        caller: Caller,
        value: str | None,
        ttl_seconds: int | None,
        info: dict[str, Any] | None = None,
        *,
        client_id: str | None = None,
        scopes: list[str] | None = None,
    ) -> Exchange:
        """A new access JWT for a live refresh token (the token is the credential). A one-time token
        rotates: its old value is retired and the session (same id) gets a new one. An old value
        presented within the grace window gets the current value back; after it, it is reuse.
        An OAuth client (client_id) may only use its own tokens, and may narrow their scopes.
        `ttl_seconds` can only shorten the access token's life: a larger one is ignored (refusing
        it after a one-time token had rotated would lose the session)."""
        if not value:
            raise FieldError("refreshToken", "missing", "You must specify a refresh token.")
        if not caller.trusted:
            self._throttle.check(GUESS, caller.address)
        minted: dict[str, str] = {}

        def next_value(token_id: str) -> tuple[str, str]:
            minted["value"] = keys.new_token_value(token_id)
            return keys.digest(minted["value"]), _seal(value, minted["value"])

        event = events.build(events.REFRESH, caller, info, scope="token")
        result = self._store.exchange(
            keys.presented(value),
            caller.address,
            event,
            next_value,
            application_id=client_id or "",
            scopes=" ".join(scopes or []),
        )
        if isinstance(result, TooManyRotations):
            metrics.exchange("rotations")
            raise TooManyRequests(math.ceil(result.retry_after_ms / 1000) or 1, ROTATIONS)
        if isinstance(result, str):
            metrics.exchange(EXCHANGE_OUTCOMES.get(result, "invalid"))
            if result == "unknown" and not caller.trusted:
                self._throttle.failed(GUESS, caller.address)  # a guess, or a token long gone
            raise InvalidRefreshToken(result)
        application = self._registry.application(result.application_id)
        if application is None or not application.active or not application.allows_token_refresh:
            metrics.exchange("invalid")
            raise InvalidRefreshToken("application")
        if caller.tenant_id and application.tenant_id != caller.tenant_id:
            metrics.exchange("invalid")
            raise InvalidRefreshToken("application")
        ttl = min(ttl_seconds or application.policy.access_ttl_seconds, application.policy.access_ttl_seconds)
        if result.sealed_current is not None:
            current = _unseal(value, result.sealed_current)
        else:
            current = minted["value"] if result.rotated else value
        meta = {**result.meta, "scopes": scopes} if scopes else result.meta
        access, _ = self._access_token(application, result.user_id, result.token_id, meta, ttl)
        scope = " ".join(meta.get("scopes") or []) or None
        metrics.exchange("ok")
        return Exchange(access, current, result.token_id, result.expiry, result.user_id, ttl, scope)

    # -- revocation ----------------------------------------------------------------------------
    def revoke(
        self,
        caller: Caller,
        *,
        token: str | None,
        user_id: str | None,
        application_id: str | None,
        info: dict[str, Any] | None,
    ) -> RevokeCount:
        """FusionAuth's dispatch: a token wins; else user, user for application, or application."""
        if token:
            owner = caller.id if caller.is_user else (user_id or "")
            return self._revoke_one(
                caller,
                info,
                presented=keys.presented(token),
                owner=owner or "",
            )
        if caller.is_user:
            raise Unauthorized()
        if user_id:
            application = self._application(caller, application_id) if application_id else None
            event = events.build(
                events.REVOKE,
                caller,
                info,
                scope="user" if not application else "userApplication",
                tenant_id=application.tenant_id if application else caller.tenant_id,
                application_id=application_id,
                user_id=user_id,
            )
            count = self._store.revoke_user(
                user_id, application_id, tenant=caller.tenant_id or "", cap=self._ids_cap, event=event
            )
            metrics.revocation("user_application" if application else "user", count.invalidated)
            return count
        if application_id:
            return self.revoke_application(caller, application_id, info)
        raise GeneralError("[invalid]", "You must specify a token, a userId or an applicationId.")

    def revoke_application(self, caller: Caller, application_id: str, info: dict[str, Any] | None) -> RevokeCount:
        application = self._application(caller, application_id)
        event = events.build(
            events.REVOKE,
            caller,
            info,
            scope="application",
            tenant_id=application.tenant_id,
            application_id=application_id,
            application_ttls={application_id: application.policy.access_ttl_seconds},
        )
        count = self._watermarks.revoke_applications(
            [application_id], cap=self._ids_cap, event=event, access_ttl_ms=application.policy.access_ttl_seconds * 1000
        )
        metrics.revocation("application", count.invalidated)
        return count

    def revoke_by_id(self, caller: Caller, token_id: str, info: dict[str, Any] | None) -> RevokeCount:
        owner = caller.id if caller.is_user else ""
        return self._revoke_one(caller, info, token_id=token_id, owner=owner or "", scope="id")

    def _revoke_one(
        self,
        caller: Caller,
        info: dict[str, Any] | None,
        *,
        owner: str,
        presented: keys.Presented | None = None,
        token_id: str | None = None,
        scope: str = "token",
    ) -> RevokeCount:
        event = events.build(
            events.REVOKE, caller, info, scope="token", tenant_id=caller.tenant_id, user_id=owner or None
        )
        revoked = self._store.revoke_token(
            event=event,
            presented=presented,
            token_id=token_id,
            owner=owner,
            tenant=caller.tenant_id or "",
        )
        metrics.revocation(scope, 1 if isinstance(revoked, Revoked) else 0)
        if not isinstance(revoked, Revoked):
            raise NotFound()
        return RevokeCount(1, 0, [revoked.token_id])

    def logout(self, caller: Caller, value: str | None, everywhere: bool, info: dict[str, Any] | None) -> None:
        """FusionAuth's logout: revoke the token, or with `global` all of its user's; never an error."""
        if not value:
            return
        presented = keys.presented(value)
        if not everywhere:
            with contextlib.suppress(NotFound):
                self._revoke_one(caller, info, presented=presented, owner="", scope="logout")
            return
        found = self._store.revoke_token(
            event=events.build(events.REVOKE, caller, info, scope="token"), presented=presented
        )
        invalidated = 0
        if isinstance(found, Revoked):
            event = events.build(events.REVOKE, caller, info, scope="user", user_id=found.user_id)
            count = self._store.revoke_user(found.user_id, None, tenant="", cap=self._ids_cap, event=event)
            invalidated = 1 + count.invalidated
        metrics.revocation("logout_global", invalidated)

    def revoke_for_client(self, caller: Caller, client_id: str, value: str, token_id: str | None = None) -> str:
        """RFC 7009: revoke a refresh token (by value, or its session by id): "revoked", "foreign"
        (another client's: left alone) or "missing" (unknown or already dead)."""
        event = events.build(events.REVOKE, caller, None, scope="token", application_id=client_id)
        if token_id is not None:
            result = self._store.revoke_token(event=event, token_id=token_id, application_id=client_id)
        else:
            result = self._store.revoke_token(event=event, presented=keys.presented(value), application_id=client_id)
        metrics.revocation("oauth", 1 if isinstance(result, Revoked) else 0)
        if isinstance(result, Revoked):
            return "revoked"
        return result or "missing"

    def was_revoked(self, value: str) -> bool:
        """Whether a value that is not live was a token here until its revocation (its tombstone is kept
        until its natural expiry), as opposed to never issued or long expired."""
        return self._store.is_known(keys.presented(value))

    def find(self, value: str) -> StoredToken | None:
        """The live token with this current value (for introspection; changes nothing)."""
        return self._store.find(keys.presented(value))

    # -- retrieval -----------------------------------------------------------------------------
    def list_tokens(
        self, caller: Caller, user_id: str, application_id: str | None, limit: int | None, cursor: str | None
    ) -> Page:
        """Live tokens of a user, newest first, a page at a time (FusionAuth returns the first 1,000)."""
        if application_id:
            self._application(caller, application_id)
        size = min(limit or self._list_max, self._list_max)
        position = _parse_cursor(cursor) if cursor else None
        found, more = self._store.list_tokens(
            user_id, application_id, tenant=caller.tenant_id or "", limit=size, cursor=position
        )
        last = found[-1] if found else None
        return Page(found, f"{last.insert_instant}.{last.token_id}" if more and last else None)

    def live_sessions(self, caller: Caller, application_id: str) -> int:
        """How many live sessions an application has (400 when the caller cannot see it)."""
        self._application(caller, application_id)
        return self._store.live_counts([application_id], int(time.time() * 1000))[application_id]

    def get(self, caller: Caller, token_id: str) -> StoredToken:
        found = self._store.get(token_id)
        if found is None or (caller.tenant_id and found.tenant_id != caller.tenant_id):
            raise NotFound()
        if caller.is_user and found.user_id != caller.id:
            raise NotFound()
        return found

    def live_counts(self, application_ids: list[str]) -> dict[str, int]:
        """Live sessions per application, counted in its indexes (cheap: no token is read)."""
        return self._store.live_counts(application_ids, int(time.time() * 1000))

    # -- import --------------------------------------------------------------------------------
    def import_tokens(self, caller: Caller, items: list[dict[str, Any]]) -> int:
        """FusionAuth's bulk import: validate everything, then write every bucket in one round trip.
        Values are stored by digest only; a value already known is refused, never overwritten."""
        now = int(time.time() * 1000)
        prepared: list[tuple[int, NewToken, keys.Presented, int]] = []
        errors = BadRequest()
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            where = f"refreshTokens[{index}]"
            application = self._registry.application(str(item["applicationId"]))
            if application is None or (caller.tenant_id and application.tenant_id != caller.tenant_id):
                _add(errors, f"{where}.applicationId", "invalid", "No application exists with that Id.")
                continue
            value, user_id = item["token"], str(item["userId"])
            start = int(item["startInstant"])
            insert = int(item.get("insertInstant") or now)
            expiry = application.policy.expiry(insert, start)
            if expiry <= now:
                _add(errors, f"{where}.startInstant", "invalid", "The token would already be expired.")
                continue
            presented = keys.presented(value)
            token_digest = presented.digest
            if token_digest in seen:
                _add(
                    errors,
                    f"{where}.token",
                    "duplicate",
                    f"The same token is at index [{seen[token_digest]}].",
                )
                continue
            seen[token_digest] = index
            bucket = _bucket(user_id)
            token = NewToken(
                str(keys.new_token_id(bucket)),
                token_digest,
                user_id,
                application.id,
                application.tenant_id,
                application.policy.code,
                item.get("metaData") or {},
                insert,
                start,
                one_time=application.policy.one_time_code,
            )
            prepared.append((index, token, presented, expiry))
        existing = self._store.existing_ids([p for _, _, p, _ in prepared])
        for (index, _, _, _), found in zip(prepared, existing, strict=True):
            if found:
                _add(errors, f"refreshTokens[{index}].token", "duplicate", "That token already exists.")
        if errors.field_errors:
            raise errors
        self._write_import(caller, prepared)
        return len(prepared)

    def _write_import(self, caller: Caller, prepared: list[tuple[int, NewToken, keys.Presented, int]]) -> None:
        """Each imported value gets a digest pointer (it does not name its new token), in its record's
        bucket or, when the value's bucket is another, claimed there first."""
        groups: dict[str, tuple[list[NewToken], list[bool]]] = defaultdict(lambda: ([], []))
        foreign = []
        for _, token, presented, expiry in prepared:
            pointer_tag = presented.tag
            tag = keys.TAGS[_bucket(token.user_id)]
            tokens, here = groups[tag]
            tokens.append(token)
            here.append(pointer_tag == tag)
            if pointer_tag != tag:
                foreign.append((pointer_tag, token.token_digest, token.token_id, expiry))
        event = events.build(events.IMPORT, caller, None, scope="import", tenant_id=caller.tenant_id)
        try:
            self._store.import_tokens([(tag, t, h, event) for tag, (t, h) in groups.items()], foreign)
        except DuplicateToken:
            raise GeneralError(
                "[duplicate]",
                "A token was imported concurrently; nothing else failed. Retry without the tokens that now exist.",
            ) from None


def _keystream(presented: str, length: int) -> bytes:
    """`length` bytes: SHA-512 blocks of the presented value, each under its counter byte (a value is
    65 bytes; the first block alone served the 44-byte values minted before values named their token)."""
    blocks = [
        hashlib.sha512(b"refreshd-grace" + bytes([i]) + presented.encode()).digest() for i in range(length // 64 + 1)
    ]
    return b"".join(blocks)[:length]


COMPACT_SEAL = 58  # characters of a sealed next value kept without the part it shares with the presented one


def _seal(presented: str, new_value: str) -> str:
    """The next value of a one-time token, readable only by whoever holds the presented value (a
    one-time pad from its SHA-512: each presented value seals exactly one next value).

    A rotation of a value that names its token names the same token, so the first keys.NAMING_LENGTH
    characters are the presented value's: only the other 43 are sealed (58 characters, unpadded).
    That keeps the sealed value within a listpack entry (64 bytes, Redis's hash-max-listpack-value):
    a whole 65-character value seals to 88, which turned the record of every rotated one-time token
    into a hashtable (1,100 bytes instead of ~450). Other values are sealed whole (padded: 60 or 88)."""
    if len(new_value) == keys.VALUE_LENGTH and new_value[: keys.NAMING_LENGTH] == presented[: keys.NAMING_LENGTH]:
        raw = new_value[keys.NAMING_LENGTH :].encode()
        return base64.urlsafe_b64encode(_xor(raw, _keystream(presented, len(raw)))).rstrip(b"=").decode()
    raw = new_value.encode()
    return base64.urlsafe_b64encode(_xor(raw, _keystream(presented, len(raw)))).decode()


def _unseal(presented: str, sealed: str) -> str:
    if len(sealed) == COMPACT_SEAL:
        raw = base64.urlsafe_b64decode(sealed + "==")
        return presented[: keys.NAMING_LENGTH] + _xor(raw, _keystream(presented, len(raw))).decode()
    raw = base64.urlsafe_b64decode(sealed)
    return _xor(raw, _keystream(presented, len(raw))).decode()


def _xor(data: bytes, pad: bytes) -> bytes:
    """data XOR pad, as long as the shorter of them (as integers: a generator over the bytes costs
    ~40k instructions an exchange, since every exchange prepares a rotation its script may not use)."""
    size = min(len(data), len(pad))
    return (int.from_bytes(data[:size], "big") ^ int.from_bytes(pad[:size], "big")).to_bytes(size, "big")


def _add(errors: BadRequest, field: str, kind: str, message: str) -> None:
    errors.field_errors.setdefault(field, []).append({"code": f"[{kind}]{field}", "message": message})


def _parse_cursor(cursor: str) -> tuple[int, str]:
    instant, _, token_id = cursor.partition(".")
    try:
        return int(instant), str(uuid.UUID(token_id))
    except ValueError:
        raise FieldError("cursor", "invalid", "The cursor is not one this service returned.") from None
