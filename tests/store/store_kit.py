"""Helpers for the store tests: users in chosen buckets, minted and imported tokens made the way
app/tokens.py makes them, and a dump of everything in Redis."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import fakeredis
import redis

from app.store import keys
from app.store.lua import Scripts
from app.store.tokens import NewToken, RefreshTokenStore, RevokeCount
from app.store.watermarks import WatermarkStore

STREAM_MAX = 10000
DAY = "F:86400000"
ACCESS_TTL_MS = 3_600_000


def hash_fields(client: redis.Redis, key: str) -> dict[str, str]:
    """A hash as text, whatever its values' bytes: a record's u (its user id's 16 bytes) as its
    canonical text, and for a record its expiry x (its key's: a record keeps none of its own)."""
    raw = client.execute_command("HGETALL", key, NEVER_DECODE=True)
    pairs = dict(zip(raw[::2], raw[1::2], strict=True)) if isinstance(raw, list) else dict(raw)
    out = {}
    for field, value in pairs.items():
        name = field.decode() if isinstance(field, bytes) else field
        if name == "u" and isinstance(value, bytes) and len(value) == 16:
            out[name] = str(uuid.UUID(bytes=value))
        else:
            out[name] = value.decode() if isinstance(value, bytes) else value
    if key.startswith("rt:") and pairs:
        out["x"] = str(client.pexpiretime(key))
    return out


def now_ms() -> int:
    return int(time.time() * 1000)


def user_in(bucket: int) -> str:
    """A random user id whose bucket (low nibble) is `bucket`."""
    return str(keys.new_token_id(bucket))


def new_user() -> str:
    return str(uuid.uuid4())


def bucket_of(user_id: str) -> int:
    return int(user_id[-1], 16)


def tag_of_user(user_id: str) -> str:
    return keys.TAGS[bucket_of(user_id)]


def event_json(name: str = "e") -> str:
    return json.dumps({"id": f"{name}-{secrets.token_hex(4)}"})


def policy_expiry(policy: str, insert: int, start: int) -> int:
    """The expiry a policy gives a token (as app.applications computes it for an import)."""
    kind, ttl, *rest = policy.split(":")
    expiry = start + int(ttl)
    return min(expiry, insert + int(rest[0])) if kind == "M" else expiry


def imported_value(user_id: str, *, foreign: bool) -> str:
    """A value minted elsewhere whose digest pointer lands outside (foreign) or inside the user's bucket."""
    while True:
        value = "imported-" + secrets.token_hex(16)
        landed_here = keys.presented(value).tag == tag_of_user(user_id)
        if landed_here != foreign:
            return value


def next_value(token_id: str) -> tuple[str, str]:
    """What the domain passes for a one-time token's rotation: a fresh value naming that token id."""
    value = keys.new_token_value(token_id)
    return keys.digest(value), "sealed-" + value


@dataclass(frozen=True)
class Token:
    value: str
    token_id: str
    user_id: str
    application_id: str
    tenant_id: str
    expiry: int

    @property
    def digest(self) -> str:
        return keys.digest(self.value)

    @property
    def tag(self) -> str:
        """The tag of the bucket holding this value's digest pointer, if it has one."""
        return self.presented.tag

    @property
    def presented(self) -> keys.Presented:
        return keys.presented(self.value)


class Kit:
    """Makes tokens through the store as the domain layer does, and reads the raw Redis contents."""

    def __init__(self, client: redis.Redis, store: RefreshTokenStore, marks: WatermarkStore | None = None):
        self.redis = client
        self.store = store
        self.marks = marks or make_watermarks(client)

    def mint(
        self,
        user_id: str,
        application_id: str = "app-1",
        tenant_id: str = "tenant-1",
        *,
        policy: str = DAY,
        meta: dict[str, Any] | None = None,
        event: str | None = None,
    ) -> Token:
        bucket = bucket_of(user_id)
        token_id = keys.new_token_id(bucket)
        value = keys.new_token_value(token_id)
        new = NewToken(token_id, keys.digest(value), user_id, application_id, tenant_id, policy, meta or {})
        _, expiry = self.store.mint(keys.TAGS[bucket], [new], event or event_json("mint"))
        return Token(value, token_id, user_id, application_id, tenant_id, expiry)

    def mint_many(self, count: int, user_id: str, application_id: str = "app-1", **kw: Any) -> list[Token]:
        return [self.mint(user_id, application_id, **kw) for _ in range(count)]

    def new_import(
        self,
        user_id: str,
        value: str,
        application_id: str = "app-1",
        tenant_id: str = "tenant-1",
        *,
        policy: str = DAY,
        insert: int | None = None,
        start: int | None = None,
        meta: dict[str, Any] | None = None,
    ) -> tuple[Token, NewToken]:
        now = now_ms()
        insert, start = insert if insert is not None else now, start if start is not None else now
        token_id = str(keys.new_token_id(bucket_of(user_id)))
        new = NewToken(
            token_id,
            keys.digest(value),
            user_id,
            application_id,
            tenant_id,
            policy,
            meta or {},
            insert,
            start,
        )
        token = Token(value, token_id, user_id, application_id, tenant_id, policy_expiry(policy, insert, start))
        return token, new

    def import_tokens(self, prepared: list[tuple[Token, NewToken]], event: str | None = None) -> list[Token]:
        """Write imports as TokenService._write_import does: one mint per user bucket, plus a SET NX for
        each pointer that lands in another bucket."""
        groups: dict[str, tuple[list[NewToken], list[bool]]] = defaultdict(lambda: ([], []))
        foreign = []
        for token, new in prepared:
            user_tag = tag_of_user(token.user_id)
            news, here = groups[user_tag]
            news.append(new)
            here.append(token.tag == user_tag)
            if token.tag != user_tag:
                foreign.append((token.tag, token.digest, token.token_id, token.expiry))
        self.store.import_tokens([(t, n, h, event or event_json("import")) for t, (n, h) in groups.items()], foreign)
        return [token for token, _ in prepared]

    def import_one(self, user_id: str, value: str, application_id: str = "app-1", **kw: Any) -> Token:
        return self.import_tokens([self.new_import(user_id, value, application_id, **kw)])[0]

    def exchange(self, token: Token, address: str = "10.0.0.1") -> Any:
        return self.store.exchange(token.presented, address, event_json("refresh"), next_value)

    def is_live(self, token: Token) -> bool:
        return not isinstance(self.exchange(token), str)

    def revoke(self, token: Token, **kw: Any) -> Any:
        return self.store.revoke_token(event=event_json("revoke"), presented=token.presented, **kw)

    def revoke_apps(
        self, *application_ids: str, cap: int = 1000, tenant_id: str | None = None, event: str | None = None
    ) -> RevokeCount:
        """Application-wide revocation as the domain does it: watermarks, counts, one event, a job."""
        return self.marks.revoke_applications(
            list(application_ids),
            cap=cap,
            event=event or event_json("revoke-app"),
            access_ttl_ms=ACCESS_TTL_MS,
            tenant_id=tenant_id,
        )

    def bury_all(self) -> int:
        """Run the worker's cleanup over every queued job until none is left; how many were buried."""
        from app.worker import Cleaner

        return Cleaner(self.marks).run_once()

    def list_all(self, user_id: str, application_id: str | None = None, tenant: str = "") -> list[str]:
        found, more = self.store.list_tokens(user_id, application_id, tenant=tenant, limit=1000, cursor=None)
        assert not more
        return [t.token_id for t in found]

    def pages(self, user_id: str, limit: int, tenant: str = "") -> list[list[str]]:
        """The user's listing page by page, `limit` a page, each page's token ids (each page's last
        token is the next one's cursor)."""
        pages: list[list[str]] = []
        cursor = None
        while True:
            found, more = self.store.list_tokens(user_id, None, tenant=tenant, limit=limit, cursor=cursor)
            pages.append([t.token_id for t in found])
            if not more:
                return pages
            cursor = (found[-1].insert_instant, found[-1].token_id)
            assert len(pages) < 100

    def dump(self) -> dict[str, tuple[str, Any]]:
        """Every key (SCAN) with its type and whole contents."""
        out: dict[str, tuple[str, Any]] = {}
        for key in self.redis.scan_iter(count=1000):
            kind = self.redis.type(key)
            if kind == "string":
                value: Any = self.redis.get(key)
            elif kind == "hash":
                value = hash_fields(self.redis, key)
            elif kind == "zset":
                value = self.redis.zrange(key, 0, -1, withscores=True)
            elif kind == "set":
                value = sorted(self.redis.smembers(key))
            elif kind == "list":
                value = self.redis.lrange(key, 0, -1)
            elif kind == "stream":
                value = self.redis.xrange(key)
            else:
                raise AssertionError(f"unexpected key type {kind} for {key}")
            out[key] = (kind, value)
        return out

    def events(self, user_id: str) -> list[dict[str, str]]:
        """The field maps of the entries in a user's bucket stream, oldest first."""
        return [fields for _, fields in self.redis.xrange(keys.events(tag_of_user(user_id)))]


def make_store(client: redis.Redis, stream_max_length: int = STREAM_MAX) -> RefreshTokenStore:
    return RefreshTokenStore(client, Scripts.register(client), stream_max_length)


def make_watermarks(client: redis.Redis, stream_max_length: int = STREAM_MAX, **kw: Any) -> WatermarkStore:
    return WatermarkStore(client, Scripts.register(client), stream_max_length, **kw)


def embedded_client() -> redis.Redis:
    return fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
