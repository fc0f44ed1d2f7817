"""Administration wire objects in FusionAuth's shapes: tenants, applications, API keys."""

from __future__ import annotations

from marshmallow import fields, validate

from app.schemas.common import SHORT, Query, Wire

USAGE = ("Reusable", "OneTimeUse")
EXPIRATION = ("Fixed", "SlidingWindow", "SlidingWindowWithMaximumLifetime")
MINUTES = validate.Range(1, 5_256_000)  # ten years


class SlidingWindow(Wire):
    maximumTimeToLiveInMinutes = fields.Integer(validate=MINUTES)


class OneTimeUse(Wire):
    gracePeriodInSeconds = fields.Integer(validate=validate.Range(0, 86_399))


class RevocationPolicy(Wire):
    onOneTimeTokenReuse = fields.Boolean()


class SessionLimit(Wire):
    """refreshd: the most live sessions a user may hold in an application (0: no limit)."""

    maximumSessions = fields.Integer(validate=validate.Range(0, 10_000))
    policy = fields.String(validate=validate.OneOf(("EvictOldest", "RejectNew")))


class JwtConfiguration(Wire):
    enabled = fields.Boolean()
    timeToLiveInSeconds = fields.Integer(validate=validate.Range(1, 31_536_000))
    refreshTokenTimeToLiveInMinutes = fields.Integer(validate=MINUTES)
    refreshTokenUsagePolicy = fields.String(validate=validate.OneOf(USAGE))
    refreshTokenExpirationPolicy = fields.String(validate=validate.OneOf(EXPIRATION))
    refreshTokenSlidingWindowConfiguration = fields.Nested(SlidingWindow)
    refreshTokenOneTimeUseConfiguration = fields.Nested(OneTimeUse)
    refreshTokenRevocationPolicy = fields.Nested(RevocationPolicy)
    refreshTokenSessionLimit = fields.Nested(SessionLimit)
    accessTokenKeyId = fields.UUID(allow_none=True)


class LoginConfiguration(Wire):
    generateRefreshTokens = fields.Boolean()
    allowTokenRefresh = fields.Boolean()


class OAuthConfiguration(Wire):
    clientId = fields.String(dump_only=True)
    clientSecret = fields.String(dump_only=True, metadata={"description": "returned once, at creation"})


class Application(Wire):
    id = fields.UUID(dump_only=True)
    tenantId = fields.UUID(allow_none=True)
    name = fields.String(validate=validate.Length(min=1, max=191))
    active = fields.Boolean()
    jwtConfiguration = fields.Nested(JwtConfiguration)
    loginConfiguration = fields.Nested(LoginConfiguration)
    oauthConfiguration = fields.Nested(OAuthConfiguration, dump_only=True)
    insertInstant = fields.Integer(dump_only=True)
    lastUpdateInstant = fields.Integer(dump_only=True)


class ApplicationRequest(Wire):
    application = fields.Nested(Application, required=True)


class ApplicationResponse(Wire):
    application = fields.Nested(Application)


class ApplicationsResponse(Wire):
    applications = fields.List(fields.Nested(Application))


class Tenant(Wire):
    id = fields.UUID(dump_only=True)
    name = fields.String(validate=validate.Length(min=1, max=191))
    jwtConfiguration = fields.Nested(JwtConfiguration)
    insertInstant = fields.Integer(dump_only=True)
    lastUpdateInstant = fields.Integer(dump_only=True)


class TenantRequest(Wire):
    tenant = fields.Nested(Tenant, required=True)


class TenantResponse(Wire):
    tenant = fields.Nested(Tenant)


class TenantsResponse(Wire):
    tenants = fields.List(fields.Nested(Tenant))


class Permissions(Wire):
    endpoints = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=255)),
        values=fields.List(fields.String(validate=validate.OneOf(("GET", "POST", "PUT", "PATCH", "DELETE")))),
        validate=validate.Length(max=200),
    )


class MetaDataAttributes(Wire):
    attributes = fields.Dict(
        keys=fields.String(validate=SHORT),
        values=fields.String(validate=SHORT),
        validate=validate.Length(max=20),
    )


class ApiKey(Wire):
    id = fields.UUID(dump_only=True)
    key = fields.String(
        validate=validate.Length(min=16, max=255),
        metadata={"description": "returned once, at creation; only its hash is kept"},
    )
    tenantId = fields.UUID(allow_none=True)
    permissions = fields.Nested(Permissions)
    metaData = fields.Nested(MetaDataAttributes)
    keyManager = fields.Boolean()
    insertInstant = fields.Integer(dump_only=True)


class ApiKeyRequest(Wire):
    apiKey = fields.Nested(ApiKey, required=True)


class ApiKeyResponse(Wire):
    apiKey = fields.Nested(ApiKey)


class Key(Wire):
    """A signing key as FusionAuth's Key API shows it: public material only."""

    id = fields.UUID(dump_only=True)
    kid = fields.String(dump_only=True)
    algorithm = fields.String(
        load_default="ES256",
        validate=validate.OneOf(
            ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "EdDSA", "HS256", "HS384", "HS512")
        ),
    )
    name = fields.String(validate=validate.Length(max=191), load_default="")
    length = fields.Integer(allow_none=True)
    type = fields.String(dump_only=True)
    publicKey = fields.String(dump_only=True)
    insertInstant = fields.Integer(dump_only=True)


class KeyRequest(Wire):
    key = fields.Nested(Key, required=True)


class KeyResponse(Wire):
    key = fields.Nested(Key)


class KeysResponse(Wire):
    keys = fields.List(fields.Nested(Key))


class PublicKeyArgs(Query):
    kid = fields.String(validate=validate.Length(max=64))
    applicationId = fields.UUID()


class PublicKeyResponse(Wire):
    publicKey = fields.String()
    publicKeys = fields.Dict(keys=fields.String(), values=fields.String())
