"""RefreshTokenStore: refresh-token records, their indexes and their events, in one script a step."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import redis
from redis.commands.core import Script

from app import jsontext
from app.config import Settings
from app.store import keys
from app.store.connection import is_cluster
from app.store.lua import Call, ReplicaWait, Scripts, run_pipelined


@dataclass(frozen=True)
class NewToken:
    """A token to create: the digest of its value, never the value."""

    token_id: str
    token_digest: str
    user_id: str
    application_id: str
    tenant_id: str
    policy: str  # "F:<ttl ms>" | "S:<ttl ms>" | "M:<ttl ms>:<max ms>"
    meta: dict[str, Any]
    insert_instant: int | None = None
    start_instant: int | None = None
    one_time: str = ""  # "" (Reusable) or "<grace ms>:<revoke on reuse 1|0>"
    session_limit: str = ""  # "" or "<maximum>:<E (evict oldest) | R (reject new)>"


class TooManyRotations(NamedTuple):
    """A one-time token rotated its whole reuse history within the window: it may rotate again in
    `retry_after_ms` (see exchange.lua)."""

    retry_after_ms: int


class StoredToken(NamedTuple):
    """A live token's record. (A NamedTuple: built a third as dear as a frozen dataclass, and a
    listing builds one per token.)"""

    token_id: str
    user_id: str
    application_id: str
    tenant_id: str
    insert_instant: int
    start_instant: int
    expiry: int
    last_accessed_instant: int | None
    last_accessed_address: str | None
    meta: dict[str, Any]


@dataclass(frozen=True)
class Exchanged:
    token_id: str
    user_id: str
    application_id: str
    tenant_id: str
    meta: dict[str, Any]
    expiry: int
    rotated: bool = False
    sealed_current: str | None = None  # a one-time token's current value, sealed, in its grace window


@dataclass(frozen=True)
class Revoked:
    token_id: str
    user_id: str
    application_id: str
    tenant_id: str


@dataclass(frozen=True)
class RevokeCount:
    invalidated: int
    previously_invalidated: int
    token_ids: list[str]


def split_ids(joined: str) -> list[str]:
    """The token ids a bulk revoke script answers with, joined by commas (see emit in _lib.lua), in
    their canonical form."""
    return keys.public_ids(joined.split(",")) if joined else []


class SessionLimitReached(Exception):
    """A user holds the most sessions an application allows, and it rejects new ones."""


class DuplicateToken(Exception):
    def __init__(self, index: int):
        super().__init__(f"token {index} already exists")
        self.index = index


def _tag(uuid_text: str) -> str:
    """The bucket tag of a user id (a canonical UUID string) or a token id in either form: its low nibble."""
    return keys.TAGS[keys.bucket_of_id(uuid_text)]


class RefreshTokenStore:
    """Each public method is one Redis round trip (on a Cluster, two when a record lives outside the
    bucket its value points to: tokens imported with values minted elsewhere), except where it says so."""

    def __init__(
        self,
        client: redis.Redis,
        scripts: Scripts,
        stream_max_length: int,
        replica_wait: ReplicaWait | None = None,
        *,
        reuse_history: int = Settings.reuse_history,
        reuse_window_ms: int = Settings.reuse_history_window_seconds * 1000,
    ):
        self._redis = client
        self._scripts = scripts
        self._maxlen = stream_max_length
        self._reuse = (reuse_history, reuse_window_ms)  # see exchange.lua: retired values kept, and their window
        # How a script finds a token by value (see locate in _lib.lua): a single Redis follows a pointer
        # into another bucket itself ('D', 'V'); a Cluster's scripts answer 'redirect' for a second call.
        cluster = is_cluster(client)
        self._pointer_mode, self._named_mode = ("d", "v") if cluster else ("D", "V")
        self._wait = replica_wait if replica_wait is not None and replica_wait.active else None

    def _revoking(self, script: Script, script_keys: list[str], args: list[Any]) -> Any:
        """A script that revokes: acknowledged only once a replica has it, when the setting says so."""
        if self._wait is None:
            return script(keys=script_keys, args=args)
        return self._wait.run([(script, script_keys, args)])[0]

    def mint(self, tag: str, tokens: Sequence[NewToken], event: str) -> list[int]:
        """Create tokens of one bucket and their creation event; returns [now, expiry per token]. Their
        values name them (keys.new_token_value): no digest pointer is written.

        Keys: rt:, u:, a:, ev: of `tag`.
        """
        args = self._mint_args(tag, tokens, ["n"] * len(tokens), event, "jwt.refresh-token.create")
        result = self._scripts.mint(keys=[keys.events(tag)], args=args)
        if result[0] == "duplicate":
            raise DuplicateToken(int(result[1]))
        if result[0] == "limit":
            raise SessionLimitReached()
        return [int(v) for v in result]

    def _mint_args(
        self, tag: str, tokens: Sequence[NewToken], values: Sequence[str], event: str, event_type: str
    ) -> list[Any]:
        """mint.lua's arguments; `values` says of each token's value (see mint.lua): "n" it names the
        token (minted here), "1" its pointer goes in this bucket, "0" it has none here."""
        args: list[Any] = [tag, self._maxlen, event_type, event, len(tokens)]
        for t, value in zip(tokens, values, strict=True):
            args += [
                keys.stored_id(t.token_id),
                t.token_digest,
                value,
                t.user_id,
                t.application_id,
                t.tenant_id,
                t.insert_instant or "",
                t.start_instant or "",
                t.policy,
                jsontext.dumps(t.meta, caller_json=True).decode(),
                t.one_time,
                t.session_limit,
                keys.user_bytes(t.user_id),  # what the record keeps (user_text in _lib.lua)
            ]
        return args

    def _by_value(self, presented: keys.Presented) -> tuple[list[str], str]:
        """The keys and mode (see locate in _lib.lua) of a script finding a token by a presented value."""
        pointer = keys.pointer(presented.tag, presented.digest)
        if presented.token_id is None:
            return [pointer], self._pointer_mode
        return [keys.record(presented.tag, presented.token_id), pointer], self._named_mode

    def exchange(
        self,
        presented: keys.Presented,
        address: str,
        event: str,
        next_value: Callable[[str], tuple[str, str]],
        *,
        application_id: str = "",
        scopes: str = "",
    ) -> Exchanged | TooManyRotations | str:
        """Use a token by a presented value; returns Exchanged or why it is invalid ("reuse" when an
        old value of a one-time token came back), or TooManyRotations (nothing changed).
        `next_value(token_id)` gives the digest and sealed form of the value a one-time token rotates
        to, naming that token id: the token's own when the presented value names it, or one of the
        presented value's bucket (the rotation then writes a pointer for it). With `application_id`, a
        token of another application is "client"; with `scopes` (space-separated), asking for a scope
        the token was not granted is "scope": both without any change.

        On a Cluster, when the value's pointer lives in another bucket than its record, the record is
        used in a second round trip, and if the exchange slides the token's expiry, a third extends that
        pointer too (no script may touch both slots). A single Redis does it all in one.
        """

        def call(tag: str, mode: str, script_keys: list[str], names: str) -> Any:
            """One exchange.lua call (its ARGV), the next value naming `names`. For a value marked steady
            (keys.new_token_value) without one first: a one-time token then answers 'rotate', unchanged."""
            for rotating in (False, True) if presented.steady else (True,):
                next_digest, sealed = next_value(names) if rotating else ("", "")
                args = (presented.digest, address, next_digest, sealed, self._maxlen, event, application_id, scopes)
                result = self._scripts.exchange(keys=script_keys, args=[tag, mode, *args, names, *self._reuse])
                if result[0] != "rotate":
                    break
            return result

        script_keys, mode = self._by_value(presented)
        names = presented.token_id or keys.stored_id(keys.new_token_id(keys.TAGS.index(presented.tag)))
        result = call(presented.tag, mode, script_keys, names)
        if result[0] == "redirect":
            token_id = result[1]
            tag = _tag(token_id)
            result = call(tag, "i", [keys.record(tag, token_id)], token_id)
            if result[0] == "ok" and int(result[8]):
                # GT: never shorten it, should a concurrent exchange have slid it further already.
                self._redis.pexpireat(keys.pointer(presented.tag, presented.digest), int(result[6]), gt=True)
        if result[0] == "invalid":
            return TooManyRotations(int(result[2])) if result[1] == "rotations" else str(result[1])
        return Exchanged(
            keys.public_id(result[1]),
            result[2],
            result[3],
            result[4],
            jsontext.loads(result[5]),
            int(result[6]),
            rotated=bool(int(result[9])),
            sealed_current=result[10] if result[0] == "grace" else None,
        )

    def revoke_token(
        self,
        *,
        event: str,
        presented: keys.Presented | None = None,
        token_id: str | None = None,
        owner: str = "",
        tenant: str = "",
        application_id: str = "",
    ) -> Revoked | str | None:
        """Revoke one live token by a presented value or by id; None if not live, "foreign" if it is
        live but not of `application_id` (when given; nothing changes then)."""
        if token_id is not None:
            tag, token_digest = _tag(token_id), ""
            script_keys, mode = [keys.record(tag, token_id)], "i"
        else:
            assert presented is not None
            tag, token_digest = presented.tag, presented.digest
            script_keys, mode = self._by_value(presented)
        args: list[Any] = [tag, mode, token_digest, owner, tenant, self._maxlen, event, application_id]
        result = self._revoking(self._scripts.revoke_token, script_keys, args)
        if result[0] == "redirect":
            tag = _tag(result[1])
            args = [tag, "i", token_digest, owner, tenant, self._maxlen, event, application_id]
            result = self._revoking(self._scripts.revoke_token, [keys.record(tag, result[1])], args)
        if result[0] == "foreign":
            return "foreign"
        if result[0] != "ok":
            return None
        return Revoked(keys.public_id(result[1]), result[2], result[3], result[4])

    def _inspect(self, token_id: str, token_digest: str) -> list[str] | int:
        """inspect.lua's answer for a token whose current value must have this digest: its fields, []
        (not live) or 0 (not its current value)."""
        tag = _tag(token_id)
        answer: list[str] | int = self._scripts.inspect(keys=[keys.record(tag, token_id)], args=[tag, token_digest, ""])
        return answer

    def find(self, presented: keys.Presented) -> StoredToken | None:
        """The live token whose current value this is: one read when the value names it (live or not),
        else two (its pointer, its record)."""
        token_id = presented.token_id
        answer = self._inspect(token_id, presented.digest) if token_id is not None else 0
        if answer == 0:  # it names no token holding it: its pointer, if any, decides
            pointed = self._redis.get(keys.pointer(presented.tag, presented.digest))
            token_id = str(pointed) if pointed else None
            answer = self._inspect(token_id, presented.digest) if token_id else 0
        return _stored(str(token_id), *answer) if isinstance(answer, list) and answer else None

    def is_known(self, presented: keys.Presented) -> bool:
        """Whether a value was ever a token here and its record is still kept (live or tombstone)."""
        if presented.token_id is not None:
            pipe = self._redis.pipeline(transaction=False)
            pipe.hget(keys.record(presented.tag, presented.token_id), "cd")
            pipe.hget(keys.record_written_before(presented.tag, presented.token_id), "cd")
            for current in pipe.execute():
                if keys.same_digest(None if current is None else str(current), presented.digest):
                    return True
        token_id = self._redis.get(keys.pointer(presented.tag, presented.digest))
        if not token_id:
            return False
        tag = _tag(str(token_id))
        return bool(self._redis.exists(keys.record(tag, str(token_id)), keys.record_written_before(tag, str(token_id))))

    def revoke_user(
        self, user_id: str, application_id: str | None, *, tenant: str, cap: int, event: str
    ) -> RevokeCount:
        """All of a user's live tokens (for one application, when given), in the user's bucket. All of them
        are killed whole, per application, and turned into tombstones later by the worker (bury_users)."""
        tag = _tag(user_id)
        result = self._revoking(
            self._scripts.revoke_scope,
            [keys.user_index(tag, user_id), keys.user_tombstones(tag, user_id)],
            [tag, tenant, application_id or "", cap, self._maxlen, event, user_id],
        )
        return RevokeCount(int(result[0]), int(result[1]), split_ids(result[2]))

    def list_tokens(
        self,
        user_id: str,
        application_id: str | None,
        *,
        tenant: str,
        limit: int,
        cursor: tuple[int, str] | None,
    ) -> tuple[list[StoredToken], bool]:
        """Live tokens of a user (and application), newest first; and whether more follow."""
        tag = _tag(user_id)
        result = self._scripts.list(
            keys=[keys.user_index(tag, user_id)],
            args=[
                tag,
                limit,
                cursor[0] if cursor else "",
                keys.stored_id(cursor[1]) if cursor else "",
                tenant,
                user_id,
                application_id or "",
                cursor[1] if cursor else "",
            ],
        )
        rows = result[1]
        return [_listed(row) for row in rows.split("\1")] if rows else [], bool(int(result[0]))

    def get(self, token_id: str) -> StoredToken | None:
        """A live token by id (not revoked, expired or killed by a watermark); changes nothing."""
        tag = _tag(token_id)
        values = self._scripts.inspect(keys=[keys.record(tag, token_id)], args=[tag, "", ""])
        return _stored(token_id, *values) if values else None

    def session_is_live(self, token_id: str, jti: str = "") -> bool:
        """Whether an access token's session is live and the token itself not denied: one call.
        (Access tokens are minted with a jti in their session's bucket, so both keys share a slot.)"""
        tag = _tag(token_id)
        jti = jti if jti and jti[-1:] == token_id[-1:] else ""
        return self._scripts.inspect(keys=[keys.record(tag, token_id)], args=[tag, "", jti, "1"]) == 1

    def live_counts(self, application_ids: Sequence[str], now_ms: int) -> dict[str, int]:
        """How many of each application's tokens are live: a ZCOUNT of its expiry-scored index per
        bucket, all pipelined (one round trip, O(log n) each). Revoked tokens and those an application
        watermark killed have left these indexes; a user's reset removes that user's too."""
        pipe = self._redis.pipeline(transaction=False)
        for application_id in application_ids:
            for tag in keys.TAGS:
                pipe.zcount(keys.app_index(tag, application_id), now_ms + 1, "+inf")
        sizes = [int(n) for n in pipe.execute()]
        per = len(keys.TAGS)
        return {a: sum(sizes[i * per : (i + 1) * per]) for i, a in enumerate(application_ids)}

    def existing_ids(self, values: Sequence[keys.Presented]) -> list[str | None]:
        """For import: the token each value already is, if any: the one its pointer names, or the one
        the value names whose current value it is (one pipelined read)."""
        pipe = self._redis.pipeline(transaction=False)
        for value in values:
            pipe.get(keys.pointer(value.tag, value.digest))
            if value.token_id is not None:
                pipe.hget(keys.record(value.tag, value.token_id), "cd")
                pipe.hget(keys.record_written_before(value.tag, value.token_id), "cd")
        found = iter(pipe.execute())
        ids = []
        for value in values:
            pointed = next(found)
            currents = (next(found), next(found)) if value.token_id is not None else ()
            named = any(c is not None and keys.same_digest(str(c), value.digest) for c in currents)
            found_id = str(pointed) if pointed else value.token_id if named else None
            ids.append(keys.public_id(found_id) if found_id else None)
        return ids

    def import_tokens(
        self,
        groups: Sequence[tuple[str, list[NewToken], list[bool], str]],
        foreign_pointers: Sequence[tuple[str, str, str, int]],
    ) -> None:
        """Create imported tokens: per bucket (tag, tokens, pointer_here flags, event JSON) one mint
        script, all pipelined in one round trip. Pointers routed to another bucket (tag, digest, id,
        expiry) are claimed first, with SET NX in a round trip of their own: no script can check a key
        of another slot, so a claim must succeed before the records exist.

        Raises DuplicateToken (index within its group) when a value exists (a race with another
        import): a refused claim writes nothing at all; a refused group writes nothing of its own and
        releases its claimed pointers, while the other groups stay written.
        """
        owner = {t.token_id: i for _, tokens, _, _ in groups for i, t in enumerate(tokens)}
        claimed = self._claim_pointers(foreign_pointers, owner)
        results = self._run_scripts(
            [
                (
                    self._scripts.mint,
                    [keys.events(tag)],
                    self._mint_args(tag, tokens, ["1" if p else "0" for p in here], event, "jwt.refresh-token.import"),
                )
                for tag, tokens, here, event in groups
            ]
        )
        refused = [(tokens, r) for (_, tokens, _, _), r in zip(groups, results, strict=True) if r[0] == "duplicate"]
        if refused:
            ids = {t.token_id for tokens, _ in refused for t in tokens}
            self._release([key for key, token_id in claimed if token_id in ids])
            raise DuplicateToken(int(refused[0][1][1]))

    def _claim_pointers(
        self, pointers: Sequence[tuple[str, str, str, int]], owner: dict[str, int]
    ) -> list[tuple[str, str]]:
        """SET NX each (pointer key, token id); on any refusal, release the ones set and raise."""
        if not pointers:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for tag, token_digest, token_id, expiry in pointers:
            pipe.set(keys.pointer(tag, token_digest), keys.stored_id(token_id), pxat=expiry, nx=True)
        claimed = [(keys.pointer(tag, d), token_id) for tag, d, token_id, _ in pointers]
        won = pipe.execute()
        if all(won):
            return claimed
        self._release([key for (key, _), ok in zip(claimed, won, strict=True) if ok])
        first_refused = won.index(None)
        raise DuplicateToken(owner[claimed[first_refused][1]])

    def _release(self, pointers: list[str]) -> None:
        """Delete pointers this import claimed (SET NX: nobody else can have written them since)."""
        if pointers:
            self._redis.delete(*pointers)

    def _run_scripts(self, calls: Sequence[Call]) -> list[Any]:
        return run_pipelined(self._redis, calls)


LISTED_KEPT = 4096  # listed tokens a process remembers by their row (see _listed)
_listed_rows: dict[str, StoredToken] = {}


def _listed(row: str) -> StoredToken:
    """A token from its row in a listing (list.lua joins the id and the record's fields with NUL,
    which none of them can hold). A row is everything the token is made of, so the token made from
    it is kept, by the row, and the same object is given for the same row again: the same sessions
    are listed again and again, and an API may keep what it made of one (app/api/common.py's
    rendering does). Hence a listed token's metaData is shared: never change it. Kept up to
    LISTED_KEPT rows, then forgotten at once."""
    token = _listed_rows.get(row)
    if token is None:
        token = _stored(*row.split("\0", 9))
        if len(_listed_rows) >= LISTED_KEPT:
            _listed_rows.clear()
        _listed_rows[row] = token
    return token


def _stored(token_id: str, u: str, a: str, tn: str, ii: str, si: str, x: str, la: str, lad: str, m: str) -> StoredToken:
    """A token from its id (in either form) and its record's fields (as inspect.lua and list.lua give
    them, '' when missing)."""
    return StoredToken(
        keys.public_id(token_id),
        u,
        a,
        tn,
        int(ii or 0),
        int(si or ii or 0),
        int(x or 0),
        int(la) if la else None,
        lad or None,
        jsontext.loads(m or "{}"),
    )
