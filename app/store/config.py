"""ConfigStore: tenants, applications, API keys and signing keys, as JSON documents by id."""

from __future__ import annotations

import json
from typing import Any

import redis

from app.store import keys


class ConfigStore:
    """Small documents read rarely (callers cache them); each method is one round trip, except where
    it says so.

    A document and its kind's id set live in different hash slots (cfg:app:<id>, cfg:apps), so no
    MULTI may hold both on a Cluster: a write adds the id before it writes the document, and a delete
    removes the document before the id. An interruption in between leaves at most an id without its
    document, which every reader skips.
    """

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
        pipe = self._redis.pipeline(transaction=False)  # not MGET: the documents span slots
        for ident in ids:
            pipe.get(keys.config(kind, ident))
        return [json.loads(r) for r in pipe.execute() if r]

    def put(self, kind: str, ident: str, document: dict[str, Any], *, only_new: bool = False) -> bool:
        """Write a document (only if absent, with only_new); False when only_new found one. Two round
        trips: the id, then the document."""
        self._redis.sadd(keys.config_set(kind), ident)
        written = self._redis.set(keys.config(kind, ident), json.dumps(document, separators=(",", ":")), nx=only_new)
        return bool(written)

    def delete(self, kind: str, ident: str) -> bool:
        """Two round trips: the document, then the id."""
        deleted = self._redis.delete(keys.config(kind, ident))
        self._redis.srem(keys.config_set(kind), ident)
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
