"""Refresh-token wire objects: RefreshToken, RefreshDeleteRequest, mint, exchange, import, logout."""

from __future__ import annotations

from marshmallow import fields, validate

from app.schemas.common import INSTANT, SHORT, EventInfo, Query, Wire, bounded_data

TOKEN = validate.Length(min=1, max=1024)


class Device(Wire):
    description = fields.String(validate=SHORT, allow_none=True)
    lastAccessedAddress = fields.String(validate=validate.Length(max=64), allow_none=True)
    lastAccessedInstant = fields.Integer(allow_none=True)
    name = fields.String(validate=SHORT, allow_none=True)
    type = fields.String(validate=SHORT, allow_none=True)


class MetaData(Wire):
    device = fields.Nested(Device, allow_none=True)
    scopes = fields.List(fields.String(validate=SHORT), validate=validate.Length(max=100), allow_none=True)
    data = fields.Dict(validate=bounded_data, allow_none=True)


class RefreshToken(Wire):
    """A session as FusionAuth lists it; the token value itself is never returned."""

    id = fields.UUID()
    applicationId = fields.UUID()
    userId = fields.UUID()
    tenantId = fields.UUID()
    insertInstant = fields.Integer()
    startInstant = fields.Integer()
    expirationInstant = fields.Integer(metadata={"description": "refreshd: when the token expires (ms)"})
    metaData = fields.Nested(MetaData)


class RefreshTokens(Wire):
    refreshTokens = fields.List(fields.Nested(RefreshToken))
    nextCursor = fields.String(metadata={"description": "refreshd: pass as `cursor` for the next page"})


class RefreshTokenResponse(Wire):
    refreshToken = fields.Nested(RefreshToken)


class RefreshListArgs(Query):
    userId = fields.UUID(required=True)
    applicationId = fields.UUID()
    limit = fields.Integer(
        validate=validate.Range(1, 10_000),
        metadata={"description": "refreshd: page size (default and maximum 1,000)"},
    )
    cursor = fields.String(
        validate=validate.Length(max=128),
        metadata={"description": "refreshd: `nextCursor` of the previous page"},
    )


class RefreshDeleteArgs(Query):
    token = fields.String(validate=TOKEN)
    userId = fields.UUID()
    applicationId = fields.UUID()


class RefreshDeleteRequest(RefreshDeleteArgs):
    eventInfo = fields.Nested(EventInfo, allow_none=True)


class TokenIdDeleteRequest(Wire):
    eventInfo = fields.Nested(EventInfo, allow_none=True)


class RevokeResult(Wire):
    """FusionAuth answers an empty 200; its clients accept this body (counts and ids are ours)."""

    invalidatedTokens = fields.Integer()
    previouslyInvalidatedTokens = fields.Integer()
    refreshTokenIds = fields.List(fields.UUID())
    errors = fields.List(fields.Dict())


class MintRequest(Wire):
    userId = fields.UUID(required=True)
    applicationId = fields.UUID(required=True)
    metaData = fields.Nested(MetaData, allow_none=True)
    eventInfo = fields.Nested(EventInfo, allow_none=True)


class MintResponse(Wire):
    token = fields.String(metadata={"description": "the access JWT"})
    tokenExpirationInstant = fields.Integer()
    refreshToken = fields.String()
    refreshTokenId = fields.UUID()


class RefreshRequest(Wire):
    refreshToken = fields.String(validate=TOKEN, allow_none=True)
    token = fields.String(validate=validate.Length(max=16384), allow_none=True)
    timeToLiveInSeconds = fields.Integer(validate=validate.Range(min=1), allow_none=True)
    eventInfo = fields.Nested(EventInfo, allow_none=True)


class RefreshResponse(Wire):
    token = fields.String()
    refreshToken = fields.String()
    refreshTokenId = fields.UUID()


class ImportedToken(Wire):
    token = fields.String(required=True, validate=TOKEN)
    userId = fields.UUID(required=True)
    applicationId = fields.UUID(required=True)
    startInstant = fields.Integer(required=True, validate=INSTANT)
    insertInstant = fields.Integer(validate=INSTANT, allow_none=True)
    metaData = fields.Nested(MetaData, allow_none=True)


class ImportRequest(Wire):
    refreshTokens = fields.List(
        fields.Nested(ImportedToken), required=True, validate=validate.Length(min=1, max=10_000)
    )
    validateDbConstraints = fields.Boolean(load_default=False)


class LogoutArgs(Query):
    refreshToken = fields.String(validate=TOKEN)
    global_ = fields.Boolean(data_key="global")


class LogoutRequest(LogoutArgs):
    typed = True  # the JSON body
    eventInfo = fields.Nested(EventInfo, allow_none=True)


class ValidateResponse(Wire):
    jwt = fields.Dict(metadata={"description": "the token's claims"})


class VendRequest(Wire):
    claims = fields.Dict(load_default=dict)
    keyId = fields.UUID(allow_none=True)
    timeToLiveInSeconds = fields.Integer(validate=validate.Range(0, 31_536_000), allow_none=True)


class IssueArgs(Query):
    applicationId = fields.UUID()
    refreshToken = fields.String(validate=TOKEN)


class TokenResponse(Wire):
    token = fields.String()


class IssueResponse(Wire):
    token = fields.String()
    refreshToken = fields.String(metadata={"description": "only when a live refresh token of the user was sent"})


class TokenValidity(Wire):
    refreshTokensValidFromDateTime = fields.String(allow_none=True)


class InvalidateRequest(Wire):
    token = fields.String(validate=validate.Length(min=1, max=16384))
    refresh_token = fields.String(validate=TOKEN)
    realm_name = fields.String(validate=validate.Length(min=1, max=191))
    username = fields.String(validate=validate.Length(min=1, max=191))


class InvalidateResult(Wire):
    invalidated_tokens = fields.Integer()
    previously_invalidated_tokens = fields.Integer()
    error_count = fields.Integer()
    error_details = fields.List(fields.Dict())
