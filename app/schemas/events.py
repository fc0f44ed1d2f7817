"""Event wire objects: the event schema (docs/events.md, version 1) and the event query."""

from __future__ import annotations

from marshmallow import fields, validate

from app.events import TYPES
from app.schemas.common import EventInfo, Wire


class Actor(Wire):
    type = fields.String(metadata={"description": "apiKey, user or anonymous"})
    id = fields.String(allow_none=True, metadata={"description": "the API key's id or the user's id"})
    ipAddress = fields.String()


class Event(Wire):
    """One event, in FusionAuth's shape where FusionAuth has the type; never a token value or secret."""

    id = fields.String(metadata={"description": "unique: the idempotency key of deliveries"})
    type = fields.String(metadata={"enum": list(TYPES)})
    schemaVersion = fields.Integer(metadata={"description": "1"})
    createInstant = fields.Integer(metadata={"description": "ms since the epoch"})
    scope = fields.String(metadata={"description": "token, user, userApplication, application, tenant, import"})
    actor = fields.Nested(Actor)
    requestId = fields.String()
    tenantId = fields.String()
    applicationId = fields.String()
    userId = fields.String()
    applicationTimeToLiveInSeconds = fields.Dict(keys=fields.String(), values=fields.Integer())
    refreshTokenIds = fields.List(fields.String(), metadata={"description": "capped by REFRESHD_REVOKE_IDS_CAP"})
    invalidatedTokens = fields.Integer(metadata={"description": "revoke, reuse, invalidate-all: exact"})
    previouslyInvalidatedTokens = fields.Integer()
    tokens = fields.Integer(metadata={"description": "create, import, refresh: how many tokens"})
    info = fields.Nested(EventInfo, metadata={"description": "the caller's eventInfo, unchanged"})


class EventArgs(Wire):
    userId = fields.UUID()
    applicationId = fields.UUID()
    tenantId = fields.UUID()
    type = fields.List(fields.String(validate=validate.OneOf(TYPES)), metadata={"description": "repeatable"})
    since = fields.Integer(validate=validate.Range(0), metadata={"description": "ms, inclusive"})
    until = fields.Integer(validate=validate.Range(0), metadata={"description": "ms, exclusive"})
    limit = fields.Integer(validate=validate.Range(1, 1000), metadata={"description": "default 100"})
    cursor = fields.String(validate=validate.Length(max=64), metadata={"description": "`nextCursor` of a page"})


class EventsResponse(Wire):
    events = fields.List(fields.Nested(Event))
    nextCursor = fields.String(metadata={"description": "present while more events may follow"})
