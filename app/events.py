"""Event construction: the static part of every event, serialised once and appended by a store script.

Stream entries (ev:{t}) carry: t the type, d this JSON, n the number of tokens the step covered,
p how many were already invalidated, ids the token ids (capped; as Redis keeps them: keys.stored_id),
and for a single token its u/a/tn (user, application, tenant: known only once the script has found
it). `read` turns an entry back into one event object in FusionAuth's shape, extended with what
audit consumers need: the schema documented in docs/events.md, version SCHEMA_VERSION. No event
ever holds a token value or a secret.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from app import jsontext
from app.caller import Caller
from app.ids import random_uuid
from app.store import keys

CREATE = "jwt.refresh-token.create"
IMPORT = "jwt.refresh-token.import"
REVOKE = "jwt.refresh-token.revoke"
REFRESH = "jwt.refresh"
REUSE = "jwt.refresh-token.reuse"
INVALIDATE_ALL = "user.invalidate-all"
COUNTED = (REVOKE, REUSE, INVALIDATE_ALL)
TYPES = (CREATE, IMPORT, REFRESH, REVOKE, REUSE, INVALIDATE_ALL)
SCHEMA_VERSION = 1


def build(
    event_type: str,
    caller: Caller,
    info: dict[str, Any] | None,
    *,
    scope: str,
    tenant_id: str | None = None,
    application_id: str | None = None,
    user_id: str | None = None,
    application_ttls: dict[str, int] | None = None,
) -> str:
    """The event's JSON. `info` is the caller's eventInfo, unchanged; without one, the caller's
    address and user agent stand in for it."""
    event: dict[str, Any] = {
        "id": random_uuid(),
        "type": event_type,
        "createInstant": int(time.time() * 1000),
        "scope": scope,
        "actor": caller.actor(),
        "requestId": caller.request_id,
        "info": info if info else {"ipAddress": caller.address, "userAgent": caller.user_agent},
    }
    if tenant_id:
        event["tenantId"] = tenant_id
    if application_id:
        event["applicationId"] = application_id
    if user_id:
        event["userId"] = user_id
    if application_ttls:
        event["applicationTimeToLiveInSeconds"] = application_ttls
    # the caller's eventInfo may hold floats, which only the standard library writes as before
    return jsontext.dumps(event, caller_json=bool(info)).decode()


def read(fields: dict[str, str]) -> dict[str, Any]:
    """One stream entry as an event: the static JSON plus what the atomic step counted."""
    event: dict[str, Any] = json.loads(fields["d"])
    ids = keys.public_ids([i for i in fields.get("ids", "").split(",") if i])  # as stored: keys.stored_id
    if event.get("type", fields["t"]) != fields["t"] and "id" in event:
        # one step's JSON stood for another event too (a reuse found by an exchange, a session
        # evicted by a mint): that event gets an id of its own, derived so it is stable.
        event["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{event['id']}/{fields['t']}/{fields.get('ids', '')}"))
    event["type"] = fields["t"]
    event["refreshTokenIds"] = ids
    event["invalidatedTokens" if fields["t"] in COUNTED else "tokens"] = int(fields.get("n", 0))
    if fields["t"] in COUNTED:
        event["previouslyInvalidatedTokens"] = int(fields.get("p", 0))
    for field, name in (("u", "userId"), ("a", "applicationId"), ("tn", "tenantId")):
        if fields.get(field):
            event[name] = fields[field]
    event["schemaVersion"] = SCHEMA_VERSION
    return event


def with_access_ttl(event: dict[str, Any], ttl_of: Callable[[str], int | None]) -> dict[str, Any]:
    """A revoke naming an application carries FusionAuth's `applicationTimeToLiveInSeconds` (how long
    that application's access tokens live, so a receiver can distrust older ones); a single-token
    revoke learns its application only inside the script, so the map is completed here."""
    if event["type"] == REVOKE and event.get("applicationId") and "applicationTimeToLiveInSeconds" not in event:
        ttl = ttl_of(event["applicationId"])
        if ttl is not None:
            event["applicationTimeToLiveInSeconds"] = {event["applicationId"]: ttl}
    return event


def webhook_body(event_json: str) -> bytes:
    """What a webhook receives, as FusionAuth sends it: `{"event": {...}}`."""
    return b'{"event":' + event_json.encode() + b"}"


CAEP_SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
INITIATORS = {"apiKey": "admin", "user": "user", "anonymous": "user"}


def security_event(event: dict[str, Any], issuer: str, audience: str) -> dict[str, Any] | None:
    """A revocation as the claims of a Security Event Token (RFC 8417) carrying one CAEP
    `session-revoked` event; None for an event that revokes nothing."""
    if event["type"] not in COUNTED:
        return None
    seconds = int(event["createInstant"]) // 1000
    initiator = "policy" if event["type"] == REUSE else INITIATORS.get(event.get("actor", {}).get("type", ""), "admin")
    return {
        "iss": issuer,
        "jti": event["id"],
        "iat": seconds,
        "aud": audience,
        "txn": event.get("requestId"),
        "sub_id": _subject(event, issuer),
        "events": {
            CAEP_SESSION_REVOKED: {
                "event_timestamp": seconds,
                "initiating_entity": initiator,
                "reason_admin": {"en": f"{event['type']} ({event.get('scope', '')})"},
            }
        },
    }


def _subject(event: dict[str, Any], issuer: str) -> dict[str, Any]:
    """The SSF subject: a user's one session, a user, an application, or a tenant."""
    user = {"format": "iss_sub", "iss": issuer, "sub": event["userId"]} if event.get("userId") else None
    sessions = event.get("refreshTokenIds") or []
    if user and event.get("scope") == "token" and len(sessions) == 1:
        return {"format": "complex", "user": user, "session": {"format": "opaque", "id": sessions[0]}}
    if user:
        return user
    for field, member in (("applicationId", "application"), ("tenantId", "tenant")):
        if event.get(field):
            return {"format": "complex", member: {"format": "opaque", "id": event[field]}}
    return {"format": "opaque", "id": event["id"]}


def dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), default=str)
