"""Every Redis key name refreshd uses is built here, and only here.

Token data is spread over BUCKETS hash tags, `{b0}` .. `{bf}`. A user's bucket is the low nibble of
their UUID; a refresh token's id is a UUID whose low nibble is its user's bucket, and a token value
minted here names its token id (new_token_value). So a token value, a token id or a user id names its
bucket without a lookup, and every key one atomic step touches (the record, the user's, the user's
and the bucket's per-application indexes, tombstones, and the bucket's event
stream) shares one hash tag, hence one Redis Cluster slot.

A token id is kept in Redis (record key, index members, pointers, event entries) as its 16 bytes in
base64url, 22 characters (stored_id; a value minted here starts with it); answers name it whole
(public_id). A record written before kept its id whole, 36 characters, and so did its indexes: such
ids are used as they are, and a script finds such a record when none is under the short form
(read_given in scripts/_lib.lua).

Layout (t = bucket tag, all instants epoch ms; <tokenId>: stored_id):
  rt:{t}:<tokenId>        hash    the token record (fields in scripts/_lib.lua); a tombstone once revoked
  dg:{t}:<digest>         string  tokenId, for the SHA-256 digest (base64url) of a token value that does
                                  not name its token (imported), or a one-time token's retired value
  u:{t}:<userId>          zset    live token ids of a user, scored by insert instant
  a:{t}:<appId>           zset    live token ids of an application in this bucket, scored by expiry
                                  (a user's of one application: u: intersected with a:, and ak:)
  ud:{t}:<userId>         zset    revoked token ids of a user, scored by natural expiry (tombstones)
  ad:{t}:<appId>          zset    revoked token ids of an application in this bucket
  ev:{t}                  stream  events of this bucket
  vf:{t}:<userId>         string  the user's valid-from instant (a token inserted at or before it is dead)
  av:{t}:<appId>          string  an application's valid-from, written into every bucket
  tv:{t}:<tenantId>       string  a tenant's valid-from, written into every bucket
  at:{t}                  hash    appId -> tenantId of the applications with tokens in this bucket: a record
                                  leaves its tenant out when this names it (tenant_of in scripts/_lib.lua);
                                  no expiry: an entry an application, whose tenant never changes
  ac:{t}                  hash    the applications' codes in this bucket: code -> "<appId> <tenantId as
                                  at: names it>" and appId -> code ('#': the last code given); a record
                                  names its application by code, field c (app_of in scripts/_lib.lua); no expiry
  ak:{t}:<appId>          zset    token ids an app watermark killed, awaiting burial (the a: index as it
                                  was at the watermark, moved whole), scored by expiry
  ab:{t}:<appId>          string  how many the cleanup buried (deleted), for honest "previously" counts
  uk:{t}:<userId>:<appId> zset    a user's tokens of one application a revoke of the user killed whole,
                                  awaiting burial (made tombstones by the worker), scored by expiry
  ux:{t}:<userId>         hash    appId -> tenantId: the applications of the user's uk: indexes
  ka:{t}:<appId>          set     users with a uk: index of this application (its revoke counts them)
  kq:{t}                  zset    users whose killed tokens await burial, scored by the kill's instant
  kt:{t}                  zset    scratch key of one script (a user's tokens of one application, or those a
                                  kill moves to uk:), deleted or renamed before the script ends
  lk:{t}:<userId>         hash    the user's whole listing as list.lua last wrote it, given again until
                                  anything it shows changes (every such change deletes it)
  dj:{t}:<jti>            string  a denied access token, until it expires (t: the jti's own bucket)
  wo:{t}:<entryId>        set     webhooks still to deliver a stream entry of ev:{t} (the entry is
                                  acknowledged in the webhook group when it empties)
Webhook delivery (tag {w:<webhookId>}: one slot per webhook):
  wq:{w:<id>}  zset  queued deliveries: member <entryId>/<bucket hex>, scored by when it is due (ms;
                     a taken delivery is leased: its score moves past now until it is settled)
  wb:{w:<id>}  hash  member -> the event JSON     wa:{w:<id>}  hash  member -> attempts so far
  wd:{w:<id>}  zset  dead letters: event id, scored by when it died
  wr:{w:<id>}  hash  event id -> the dead letter (event, attempts, last error)
Stream consumer groups: refreshd-webhooks (the worker's), and any an audit consumer creates.
Jobs (not on a token's slot): jobs:cleanup  zset  applications whose watermarked tokens await burial,
  scored by the instant (us) of the latest revoke (the cleanup drops a job only if no revoke came since)
Configuration (small, cached per process; not on a token's slot):
  cfg:tenant:<id>, cfg:app:<id>, cfg:key:<sha256 of key>, cfg:keyid:<id>, cfg:sk:<kid>  JSON strings
  cfg:tenants, cfg:apps, cfg:keys, cfg:sks                                               sets of ids
  cfg:tenant:default, cfg:sk:active                                                       ids
  cfg:console:secret      the admin console's cookie-signing secret (only without REFRESHD_MASTER_KEY)
"""

from __future__ import annotations

import binascii
import hashlib
import re
import secrets
import uuid
from base64 import urlsafe_b64decode, urlsafe_b64encode
from typing import NamedTuple

from app.ids import random_uuid

BUCKETS = 16
_HEX = "0123456789abcdef"
TAGS = tuple(f"{{b{c}}}" for c in _HEX)


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_canonical_uuid(value: object) -> bool:
    """Whether value is a UUID in its canonical text form (lower case, dashed): what every id here is,
    and exactly the texts str(uuid.UUID(value)) gives back unchanged."""
    return isinstance(value, str) and _CANONICAL_UUID.fullmatch(value) is not None


def bucket_of_uuid(value: uuid.UUID) -> int:
    return value.int & (BUCKETS - 1)


def tag_of_uuid(value: uuid.UUID) -> str:
    return TAGS[bucket_of_uuid(value)]


def tag_of_name(name: str) -> str:
    """The bucket of an application or tenant id: a UUID's low nibble, any other name's digest."""
    try:
        return tag_of_uuid(uuid.UUID(name))
    except ValueError:
        return TAGS[hashlib.sha256(name.encode()).digest()[0] & (BUCKETS - 1)]


def digest(token: str) -> str:
    """The only form in which a refresh token value is stored: base64url SHA-256, no padding."""
    return urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()


DIGEST_KEPT = 22  # a record keeps this much of the digest of a value naming it (132 bits; see same_digest)


def same_digest(kept: str | None, token_digest: str) -> bool:
    """Whether a record's `cd` is the digest of a presented value: the whole digest, or, for a value
    that names its token (no pointer is ever made from it), its first DIGEST_KEPT characters: 132 bits
    of SHA-256 are as hard to meet as the whole, and 21 bytes less a record (same_digest in _lib.lua)."""
    return kept == token_digest or (kept is not None and len(kept) == DIGEST_KEPT and token_digest.startswith(kept))


MINTED_LENGTH = 44  # a value minted before values named their token (a hex bucket digit, 43 random)
VALUE_LENGTH = 65  # a value minted now: its token id (16 bytes) and 256 random bits, base64url
NAMING_LENGTH = 22  # its first characters, which name the token: exactly 16 bytes in base64url
_NAMING = re.compile(r"[A-Za-z0-9_-]{21}[AQgw][A-Za-z0-9_-]{43}")  # 22 characters hold exactly 16 bytes


_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# 256 bits in base64url end in a character whose two low bits carry none (43 characters hold 258): a
# value minted for a token that never rotates has the lower one set, which costs no randomness.
_STEADY = {c: _B64URL[i | 1] for i, c in enumerate(_B64URL) if i % 4 == 0}
_STEADY_ENDS = frozenset(_STEADY.values())


def new_token_value(token_id: str, *, steady: bool = False) -> str:
    """A refresh token value naming its token: the id's 16 bytes, then 256 random bits, base64url (65
    characters): its first 22 are the id as Redis keeps it (stored_id). Its record is found from the
    value itself and proves it by the digest of its current value, so a minted value needs no digest
    pointer. `token_id`: either form. `steady`: the token never rotates (Reusable), said by the last
    character's spare bit, so that its exchanges prepare no next value (Presented.steady)."""
    rest = secrets.token_urlsafe(32)
    return stored_id(token_id) + (rest[:-1] + _STEADY[rest[-1]] if steady else rest)


def named_id(token: str) -> str | None:
    """The token id (canonical) a value of new_token_value's form names (whatever minted it), or None."""
    if len(token) != VALUE_LENGTH or _NAMING.fullmatch(token) is None:
        return None
    return public_id(token[:NAMING_LENGTH])


def stored_id(token_id: str) -> str:
    """A token id as Redis keeps it (record key, index members, pointers, events): a canonical id's 16
    bytes in base64url, NAMING_LENGTH characters, what a value minted here starts with (a 36-character
    id cost a token ~55 bytes more across its record's key and its two indexes: bench/memory.py). Any
    other text (a stored id already, or an id a record written before kept whole) is given back
    unchanged."""
    if len(token_id) != 36:
        return token_id
    return urlsafe_b64encode(bytes.fromhex(token_id.replace("-", ""))).rstrip(b"=").decode()


def public_id(stored: str) -> str:
    """A token id as Redis keeps it, in its canonical form (what every answer and event names). An id a
    record written before kept whole (36 characters) is that form already."""
    if len(stored) != NAMING_LENGTH:
        return stored
    h = urlsafe_b64decode(stored + "==").hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_TO_STANDARD = str.maketrans("-_", "+/")
STRIDED_FROM = 32
# (k, where the k-th of an id's 32 hex digits stands in its canonical text: after 0, 1, 2 or 3 dashes)
_HEX_PLACES = tuple((k, k + (k >= 8) + (k >= 12) + (k >= 16) + (k >= 20)) for k in range(32))


def public_ids(stored: list[str]) -> list[str]:
    """public_id of each, in one base64 decoding when all are in the short form (a user's revoke answers
    with up to 1,000). Each 22-character id and "AA" are 24 characters, 18 bytes: its 16, then two zero
    bytes (its last character's four spare bits are zero), so 36 hex digits, of which the canonical text
    takes the first 32 with four dashes. From STRIDED_FROM ids on, the texts are written by one strided
    copy a digit place, each over every id at once (1,000 ids: ~0.5 ms instead of ~1.2 with an f-string
    an id, on a machine where a 10M-step Python loop takes 1.7 s); below, those 33 copies cost more."""
    if not stored or set(map(len, stored)) != {NAMING_LENGTH}:  # (at C speed: 1,000 ids ~35 us, not ~65)
        return [public_id(s) for s in stored]
    digits = binascii.a2b_base64(("AA".join(stored) + "AA").translate(_TO_STANDARD)).hex()
    if len(stored) < STRIDED_FROM:
        out = []
        for k in range(0, len(digits), 36):
            h = digits[k : k + 32]
            out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
        return out
    ascii_digits = digits.encode()
    text = bytearray(b"-") * (37 * len(stored))  # each id's 36 characters and a comma
    for k, at in _HEX_PLACES:
        text[at::37] = ascii_digits[k::36]
    text[36::37] = b"," * len(stored)
    return text[:-1].decode().split(",")


def user_bytes(user_id: str) -> bytes | str:
    """A user id as a token's record keeps it: a canonical UUID's 16 bytes (20 bytes less a record than
    its text; user_text in scripts/_lib.lua gives the text back). Any other text (never expected: the
    API takes canonical UUIDs) is kept as it is."""
    return bytes.fromhex(user_id.replace("-", "")) if is_canonical_uuid(user_id) else user_id


_B64_INDEX = {c: i for i, c in enumerate(_B64URL)}


def bucket_of_id(token_id: str) -> int:
    """The bucket of a token id in either form: the low nibble of its last byte (in base64url, the
    last two bits of its 21st character and the two its 22nd carries)."""
    if len(token_id) == NAMING_LENGTH:
        return (_B64_INDEX[token_id[20]] & 3) << 2 | _B64_INDEX[token_id[21]] >> 4
    return _HEX.index(token_id[-1])


class Presented(NamedTuple):
    """A presented token value as the store looks it up: its digest (the only form in which a value is
    kept), the bucket of its pointer, and the token id it names (None: found by its pointer alone).
    A value naming a token is that token's only while the record's current digest is its digest;
    otherwise its pointer decides (an old value of a one-time token, or a value imported here)."""

    digest: str
    tag: str
    token_id: str | None  # as Redis keeps it (stored_id)
    steady: bool = False  # a value of new_token_value's form minted steady: its token is not expected to rotate


def presented(token: str) -> Presented:
    """How the store looks a value up. Its pointer, if it has one, is in the bucket of the id it names,
    of its first character for a value minted before values named their token, else of its digest."""
    token_digest = digest(token)
    if len(token) == VALUE_LENGTH and _NAMING.fullmatch(token) is not None:
        named = token[:NAMING_LENGTH]
        return Presented(token_digest, TAGS[bucket_of_id(named)], named, token[-1] in _STEADY_ENDS)
    if len(token) == MINTED_LENGTH and token[:1] in _HEX:
        return Presented(token_digest, TAGS[_HEX.index(token[0])], None)
    return Presented(token_digest, TAGS[ord(token_digest[0]) & (BUCKETS - 1)], None)


def new_token_id(bucket: int) -> str:
    """A random UUID (version 4) whose low nibble is the bucket."""
    return random_uuid()[:-1] + _HEX[bucket]


def record(tag: str, token_id: str) -> str:
    """A token's record, by its id in either form (a canonical id names its stored_id's record)."""
    return f"rt:{tag}:{stored_id(token_id)}"


def record_written_before(tag: str, token_id: str) -> str:
    """Where a record written before ids were kept in 22 characters keeps a token: under its whole id."""
    return f"rt:{tag}:{public_id(token_id)}"


def pointer(tag: str, token_digest: str) -> str:
    return f"dg:{tag}:{token_digest}"


def user_index(tag: str, user_id: str) -> str:
    return f"u:{tag}:{user_id}"


def app_index(tag: str, application_id: str) -> str:
    return f"a:{tag}:{application_id}"


def user_tombstones(tag: str, user_id: str) -> str:
    return f"ud:{tag}:{user_id}"


def app_tombstones(tag: str, application_id: str) -> str:
    return f"ad:{tag}:{application_id}"


def events(tag: str) -> str:
    return f"ev:{tag}"


def user_valid_from(tag: str, user_id: str) -> str:
    return f"vf:{tag}:{user_id}"


def app_valid_from(tag: str, application_id: str) -> str:
    return f"av:{tag}:{application_id}"


def tenant_valid_from(tag: str, tenant_id: str) -> str:
    return f"tv:{tag}:{tenant_id}"


def app_tenants(tag: str) -> str:
    return f"at:{tag}"


def app_codes(tag: str) -> str:
    return f"ac:{tag}"


def app_killed(tag: str, application_id: str) -> str:
    return f"ak:{tag}:{application_id}"


def app_buried(tag: str, application_id: str) -> str:
    return f"ab:{tag}:{application_id}"


def user_killed(tag: str, user_id: str, application_id: str) -> str:
    return f"uk:{tag}:{user_id}:{application_id}"


def user_killed_applications(tag: str, user_id: str) -> str:
    return f"ux:{tag}:{user_id}"


def app_killed_users(tag: str, application_id: str) -> str:
    return f"ka:{tag}:{application_id}"


def burial_queue(tag: str) -> str:
    return f"kq:{tag}"


def kept_listing(tag: str, user_id: str) -> str:
    return f"lk:{tag}:{user_id}"


def denied(tag: str, jti: str) -> str:
    return f"dj:{tag}:{jti}"


def outstanding(tag: str, entry_id: str) -> str:
    return f"wo:{tag}:{entry_id}"


WEBHOOK_GROUP = "refreshd-webhooks"


def webhook_keys(webhook_id: str) -> tuple[str, str, str, str, str]:
    """A webhook's queue, bodies, attempts, dead letters and dead-letter records (one hash slot)."""
    tag = f"{{w:{webhook_id}}}"
    return f"wq:{tag}", f"wb:{tag}", f"wa:{tag}", f"wd:{tag}", f"wr:{tag}"


CLEANUP_JOBS = "jobs:cleanup"


def config(kind: str, ident: str) -> str:
    return f"cfg:{kind}:{ident}"


def config_set(kind: str) -> str:
    return f"cfg:{kind}s"


def failed_attempts(kind: str, address: str) -> str:
    """A window's count of one kind of failed attempt from one client address (digested: any length)."""
    return f"fail:{kind}:{digest(address)[:22]}"
