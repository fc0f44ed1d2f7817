"""ConfigStore: tenants, applications, API keys and signing keys, as JSON documents by id."""

from __future__ import annotations

import json
from typing import Any

import redis

from app.store import keys


class ConfigStore:
    """Small documents read rarely (callers cache them); each method is one round trip."""

    def __init__(self, client: redis.Redis):
        self._redis = client

    def get(self, kind: str, ident: str) -> dict[str, Any] | None:
        raw = self._redis.get(keys.config(kind, ident))
        return json.loads(raw) if raw else None

    def get_many(self, kind: str) -> list[dict[str, Any]]:
        """Every document of a kind (two round trips: the id set, then the documents)."""
        ids: list[str] = sorted(self._redis.smembers(keys.config_set(kind)))  # type: ignore[arg-type]
        if not ids:
            return []
        raws = self._redis.mget([keys.config(kind, i) for i in ids])
        return [json.loads(r) for r in raws if r]

    def put(self, kind: str, ident: str, document: dict[str, Any], *, only_new: bool = False) -> bool:
        """Write a document (only if absent, with only_new); False when only_new found one."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(keys.config(kind, ident), json.dumps(document, separators=(",", ":")), nx=only_new)
        pipe.sadd(keys.config_set(kind), ident)
        written, _ = pipe.execute()
        return bool(written)

    def delete(self, kind: str, ident: str) -> bool:
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(keys.config(kind, ident))
        pipe.srem(keys.config_set(kind), ident)
        deleted, _ = pipe.execute()
        return bool(deleted)

    def get_pointer(self, kind: str, name: str) -> str | None:
        value = self._redis.get(keys.config(kind, name))
        return str(value) if value is not None else None

    def set_pointer(self, kind: str, name: str, value: str, *, only_new: bool = False) -> str:
        """Set a named pointer (only if absent, with only_new); returns the value now stored."""
        key = keys.config(kind, name)
        if only_new:
            pipe = self._redis.pipeline(transaction=True)
            pipe.set(key, value, nx=True)
            pipe.get(key)
            return str(pipe.execute()[1])
        self._redis.set(key, value)
        return value
