"""API keys: stored by the SHA-256 digest of their value, with endpoint permissions and a tenant scope.

A key is looked up by its digest, so comparing a presented key never compares secrets byte by byte
(there is nothing to time). A process caches the keys it has seen for `cache_seconds`: a deleted
key stops working at once in the process that deleted it and within that bound in the others.
"""

from __future__ import annotations

import copy
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from app.errors import FieldError, NotFound, Unauthorized
from app.store.config import ConfigStore
from app.store.keys import digest

KEY, KEY_ID = "key", "keyid"
BOOTSTRAP_NAMESPACE = uuid.UUID("6f1c3a52-3f0e-4c57-9b7e-6a1f5d8e2b10")


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant_id: str | None
    endpoints: dict[str, list[str]]
    key_manager: bool

    @property
    def is_super(self) -> bool:
        """No endpoint listed means every endpoint, as in FusionAuth."""
        return not self.endpoints

    def allows(self, path: str, method: str) -> bool:
        """Permission for a path and verb: an entry covers its path and everything below it."""
        if self.is_super:
            return True
        for prefix, methods in self.endpoints.items():
            base = prefix.rstrip("/")
            if (path == base or path.startswith(base + "/")) and method in methods:
                return True
        return False


def _key(document: dict[str, Any]) -> ApiKey:
    endpoints = (document.get("permissions") or {}).get("endpoints") or {}
    return ApiKey(
        id=document["id"],
        tenant_id=document.get("tenantId"),
        endpoints=endpoints,
        key_manager=bool(document.get("keyManager")),
    )


class ApiKeys:
    def __init__(self, store: ConfigStore, cache_seconds: float):
        self._store = store
        self._ttl = cache_seconds
        self._cache: dict[str, tuple[float, ApiKey]] = {}

    def authenticate(self, presented: str) -> ApiKey | None:
        """The key with this value, or None. Only hits are cached, so a new key works at once."""
        key_digest = digest(presented)
        hit = self._cache.get(key_digest)
        now = time.monotonic()
        if hit and hit[0] > now:
            return hit[1]
        document = self._store.get(KEY, key_digest)
        if document is None:
            self._cache.pop(key_digest, None)
            return None
        key = _key(document)
        self._cache[key_digest] = (now + self._ttl, key)
        return key

    def find(self, key_id: str) -> ApiKey | None:
        """The key with this id as stored now (never cached), or None once it has been deleted: for a
        signed-in console, which must notice a deleted key on its next request."""
        document = self._document(key_id)
        return _key(document) if document is not None else None

    def ensure_bootstrap(self, value: str) -> None:
        """Create the bootstrap key (every permission) unless it exists; safe to run concurrently."""
        key_digest = digest(value)
        key_id = str(uuid.uuid5(BOOTSTRAP_NAMESPACE, key_digest))
        document: dict[str, Any] = {
            "id": key_id,
            "tenantId": None,
            "permissions": {"endpoints": {}},
            "keyManager": True,
            "metaData": {"attributes": {"description": "bootstrap key (REFRESHD_BOOTSTRAP_API_KEY)"}},
            "insertInstant": int(time.time() * 1000),
        }
        self._store.put(KEY, key_digest, document, only_new=True)
        self._store.set_pointer(KEY_ID, key_id, key_digest, only_new=True)

    def create(self, creator: ApiKey, key_id: str | None, request: dict[str, Any]) -> dict[str, Any]:
        """A new key, never with more authority than its creator; the value is shown only here."""
        if not creator.key_manager:
            raise Unauthorized()
        ident = key_id or str(uuid.uuid4())
        if self._store.get_pointer(KEY_ID, ident) is not None:
            raise FieldError("apiKey.id", "duplicate", f"An API key with Id [{ident}] already exists.")
        tenant_id = str(request["tenantId"]) if request.get("tenantId") else None
        if creator.tenant_id and tenant_id != creator.tenant_id:
            raise FieldError("apiKey.tenantId", "invalid", "A tenant-scoped key can only create keys for its tenant.")
        endpoints = (request.get("permissions") or {}).get("endpoints") or {}
        if not creator.is_super and (
            not endpoints or any(not creator.allows(path, m) for path, methods in endpoints.items() for m in methods)
        ):
            raise FieldError(
                "apiKey.permissions", "invalid", "A key cannot be given more permissions than its creator."
            )
        value = request.get("key") or _new_value()
        key_digest = digest(value)
        document = {
            "id": ident,
            "tenantId": tenant_id,
            "permissions": {"endpoints": endpoints},
            "keyManager": bool(request.get("keyManager")) and creator.key_manager,
            "metaData": request.get("metaData") or {},
            "insertInstant": int(time.time() * 1000),
            "digest": key_digest,
        }
        if not self._store.put(KEY, key_digest, document, only_new=True):
            raise FieldError("apiKey.key", "duplicate", "That key value is already in use.")
        self._store.set_pointer(KEY_ID, ident, key_digest)
        shown = _public(document)
        shown["key"] = value
        return shown

    def get(self, viewer: ApiKey, key_id: str) -> dict[str, Any]:
        document = self._document(key_id)
        if document is None or (viewer.tenant_id and document.get("tenantId") != viewer.tenant_id):
            raise NotFound()
        return _public(document)

    def delete(self, viewer: ApiKey, key_id: str) -> None:
        if not viewer.key_manager:
            raise Unauthorized()
        document = self._document(key_id)
        if document is None or (viewer.tenant_id and document.get("tenantId") != viewer.tenant_id):
            raise NotFound()
        key_digest = document.get("digest") or self._store.get_pointer(KEY_ID, key_id) or ""
        self._store.delete(KEY, key_digest)
        self._store.delete(KEY_ID, key_id)
        self._cache.pop(key_digest, None)

    def _document(self, key_id: str) -> dict[str, Any] | None:
        key_digest = self._store.get_pointer(KEY_ID, key_id)
        return self._store.get(KEY, key_digest) if key_digest else None


def _new_value() -> str:
    return secrets.token_urlsafe(32)


def _public(document: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(document)
    out.pop("digest", None)
    return out
