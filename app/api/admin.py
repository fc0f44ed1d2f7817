"""Administration in FusionAuth's shapes: tenants, applications, API keys."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from app import auth
from app.api.common import path_uuid, services
from app.errors import NotFound, Unauthorized, empty
from app.schemas import admin as s
from app.schemas.common import Errors

blp = Blueprint("admin", __name__, description="Tenants, applications and API keys")


def _scope() -> str | None:
    return auth.api_key().tenant_id


# -- tenants -----------------------------------------------------------------------------------
@blp.route("/api/tenant")
class Tenants(MethodView):
    @blp.response(200, s.TenantsResponse())
    def get(self) -> dict[str, Any]:
        scope = _scope()
        return {"tenants": [t for t in services().registry.tenants() if scope is None or t["id"] == scope]}

    @blp.arguments(s.TenantRequest(), location="json")
    @blp.response(200, s.TenantResponse())
    @blp.alt_response(400, schema=Errors)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        return _save_tenant(None, body, create=True)


@blp.route("/api/tenant/<tenant_id>")
class TenantById(MethodView):
    @blp.response(200, s.TenantResponse())
    def get(self, tenant_id: str) -> dict[str, Any]:
        scope, ident = _scope(), path_uuid(tenant_id)
        services().registry.default_tenant_id()
        tenant = services().registry.tenant(ident)
        if tenant is None or (scope and scope != ident):
            raise NotFound()
        return {"tenant": tenant}

    @blp.arguments(s.TenantRequest(), location="json")
    @blp.response(200, s.TenantResponse())
    @blp.alt_response(400, schema=Errors)
    def post(self, body: dict[str, Any], tenant_id: str) -> dict[str, Any]:
        return _save_tenant(path_uuid(tenant_id), body, create=True)

    @blp.arguments(s.TenantRequest(), location="json")
    @blp.response(200, s.TenantResponse())
    @blp.alt_response(400, schema=Errors)
    def put(self, body: dict[str, Any], tenant_id: str) -> dict[str, Any]:
        return _save_tenant(path_uuid(tenant_id), body, create=False, replace=True)

    @blp.arguments(s.TenantRequest(), location="json")
    @blp.response(200, s.TenantResponse())
    @blp.alt_response(400, schema=Errors)
    def patch(self, body: dict[str, Any], tenant_id: str) -> dict[str, Any]:
        return _save_tenant(path_uuid(tenant_id), body, create=False)

    @blp.response(200)
    def delete(self, tenant_id: str) -> Response:
        if _scope():
            raise Unauthorized()
        services().registry.delete_tenant(path_uuid(tenant_id))
        return empty(200)


def _save_tenant(ident: str | None, body: dict[str, Any], *, create: bool, replace: bool = False) -> dict[str, Any]:
    if _scope():
        raise Unauthorized()
    return {"tenant": services().registry.save_tenant(ident, body.get("tenant") or {}, create=create, replace=replace)}


# -- applications ------------------------------------------------------------------------------
@blp.route("/api/application")
class Applications(MethodView):
    @blp.response(200, s.ApplicationsResponse())
    def get(self) -> dict[str, Any]:
        return {"applications": services().registry.applications(auth.api_key().tenant_id)}

    @blp.arguments(s.ApplicationRequest(), location="json")
    @blp.response(200, s.ApplicationResponse())
    @blp.alt_response(400, schema=Errors)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        return _save_application(None, body, create=True)


@blp.route("/api/application/<application_id>")
class ApplicationById(MethodView):
    @blp.response(200, s.ApplicationResponse())
    def get(self, application_id: str) -> dict[str, Any]:
        caller = auth.api_key()
        application = services().registry.application(path_uuid(application_id))
        if application is None or (caller.tenant_id and application.tenant_id != caller.tenant_id):
            raise NotFound()
        from app.applications import public_application

        return {"application": public_application(application.document)}

    @blp.arguments(s.ApplicationRequest(), location="json")
    @blp.response(200, s.ApplicationResponse())
    @blp.alt_response(400, schema=Errors)
    def post(self, body: dict[str, Any], application_id: str) -> dict[str, Any]:
        return _save_application(path_uuid(application_id), body, create=True)

    @blp.arguments(s.ApplicationRequest(), location="json")
    @blp.response(200, s.ApplicationResponse())
    @blp.alt_response(400, schema=Errors)
    def put(self, body: dict[str, Any], application_id: str) -> dict[str, Any]:
        return _save_application(path_uuid(application_id), body, create=False, replace=True)

    @blp.arguments(s.ApplicationRequest(), location="json")
    @blp.response(200, s.ApplicationResponse())
    @blp.alt_response(400, schema=Errors)
    def patch(self, body: dict[str, Any], application_id: str) -> dict[str, Any]:
        return _save_application(path_uuid(application_id), body, create=False)

    @blp.response(200)
    def delete(self, application_id: str) -> Response:
        """Delete an application; every one of its refresh tokens is revoked first."""
        caller = auth.api_key()
        ident = path_uuid(application_id)
        application = services().registry.application(ident)
        if application is None or (caller.tenant_id and application.tenant_id != caller.tenant_id):
            raise NotFound()
        services().tokens.revoke_application(caller, ident, None)
        services().registry.delete_application(ident)
        return empty(200)


def _save_application(
    ident: str | None, body: dict[str, Any], *, create: bool, replace: bool = False
) -> dict[str, Any]:
    caller = auth.api_key()
    document = services().registry.save_application(
        ident, body.get("application") or {}, create=create, replace=replace, scope_tenant=caller.tenant_id
    )
    return {"application": document}


# -- API keys ----------------------------------------------------------------------------------
@blp.route("/api/api-key")
class ApiKeysRoot(MethodView):
    @blp.arguments(s.ApiKeyRequest(), location="json")
    @blp.response(200, s.ApiKeyResponse())
    @blp.alt_response(400, schema=Errors)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        auth.api_key()
        return {"apiKey": services().api_keys.create(auth.current_key(), None, body["apiKey"])}


@blp.route("/api/api-key/<key_id>")
class ApiKeyById(MethodView):
    @blp.arguments(s.ApiKeyRequest(), location="json")
    @blp.response(200, s.ApiKeyResponse())
    @blp.alt_response(400, schema=Errors)
    def post(self, body: dict[str, Any], key_id: str) -> dict[str, Any]:
        auth.api_key()
        return {"apiKey": services().api_keys.create(auth.current_key(), path_uuid(key_id), body["apiKey"])}

    @blp.response(200, s.ApiKeyResponse())
    def get(self, key_id: str) -> dict[str, Any]:
        auth.api_key()
        return {"apiKey": services().api_keys.get(auth.current_key(), path_uuid(key_id))}

    @blp.response(200)
    def delete(self, key_id: str) -> Response:
        auth.api_key()
        services().api_keys.delete(auth.current_key(), path_uuid(key_id))
        return empty(200)
