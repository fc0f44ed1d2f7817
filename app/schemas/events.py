"""Event and webhook wire objects: the event schema (docs/events.md, version 1), the event query,
webhooks in FusionAuth's shape, dead letters."""

from __future__ import annotations

from marshmallow import fields, validate

from app.events import TYPES
from app.schemas.common import INSTANT, SHORT, EventInfo, Query, Wire


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


class EventArgs(Query):
    userId = fields.UUID()
    applicationId = fields.UUID()
    tenantId = fields.UUID()
    type = fields.List(fields.String(validate=validate.OneOf(TYPES)), metadata={"description": "repeatable"})
    since = fields.Integer(validate=INSTANT, metadata={"description": "ms, inclusive"})
    until = fields.Integer(validate=INSTANT, metadata={"description": "ms, exclusive"})
    limit = fields.Integer(validate=validate.Range(1, 1000), metadata={"description": "default 100"})
    cursor = fields.String(validate=validate.Length(max=64), metadata={"description": "`nextCursor` of a page"})


class EventsResponse(Wire):
    events = fields.List(fields.Nested(Event))
    nextCursor = fields.String(metadata={"description": "present while more events may follow"})


class SignatureConfiguration(Wire):
    enabled = fields.Boolean(metadata={"description": "default true: X-FusionAuth-Signature-JWT"})
    signingKeyId = fields.UUID(allow_none=True, metadata={"description": "default: the default signing key"})


class DeliveryState(Wire):
    queued = fields.Integer(metadata={"description": "deliveries waiting or being retried"})
    deadLetters = fields.Integer()


class Webhook(Wire):
    id = fields.UUID(dump_only=True)
    url = fields.String(metadata={"description": "http or https, no credentials, at most 2048 characters"})
    description = fields.String(validate=SHORT)
    eventsEnabled = fields.Dict(
        keys=fields.String(validate=validate.Length(1, 64)), values=fields.Boolean(), validate=validate.Length(max=100)
    )
    tenantIds = fields.List(fields.UUID(), validate=validate.Length(max=100))
    global_ = fields.Boolean(data_key="global", attribute="global", metadata={"description": "default: no tenantIds"})
    connectTimeout = fields.Integer(validate=validate.Range(1, 60_000), metadata={"description": "ms, default 1000"})
    readTimeout = fields.Integer(validate=validate.Range(1, 120_000), metadata={"description": "ms, default 2000"})
    maximumAttempts = fields.Integer(validate=validate.Range(1, 100), metadata={"description": "refreshd"})
    signatureConfiguration = fields.Nested(SignatureConfiguration)
    securityEventTokens = fields.Boolean(
        metadata={"description": "refreshd: deliver revocations as RFC 8417 SETs (CAEP session-revoked), RFC 8935 push"}
    )
    secret = fields.String(
        validate=validate.Length(16, 256),
        metadata={"description": "refreshd: HMAC secret; generated when absent; shown once, at creation"},
    )
    insertInstant = fields.Integer(dump_only=True)
    lastUpdateInstant = fields.Integer(dump_only=True)
    delivery = fields.Nested(DeliveryState, dump_only=True)


class WebhookRequest(Wire):
    webhook = fields.Nested(Webhook, required=True)


class WebhookResponse(Wire):
    webhook = fields.Nested(Webhook)


class WebhooksResponse(Wire):
    webhooks = fields.List(fields.Nested(Webhook))


class DeadLetter(Wire):
    eventId = fields.String()
    event = fields.Nested(Event)
    attempts = fields.Integer()
    lastError = fields.String()
    deadInstant = fields.Integer()
    position = fields.String(metadata={"description": "the stream entry: <id>/<bucket>"})


class DeadLetterArgs(Query):
    offset = fields.Integer(validate=validate.Range(0, 1_000_000))
    limit = fields.Integer(validate=validate.Range(1, 1000))


class DeadLettersResponse(Wire):
    deadLetters = fields.List(fields.Nested(DeadLetter))
    total = fields.Integer()


class ReplayRequest(Wire):
    eventIds = fields.List(fields.String(validate=validate.Length(max=64)), validate=validate.Length(max=1000))


class ReplayResponse(Wire):
    replayed = fields.Integer()
