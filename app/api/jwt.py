"""FusionAuth's JWT refresh API: exchange, list, retrieve and revoke refresh tokens; logout."""

from __future__ import annotations

import functools
import re
import time
from typing import Any

from flask import Response, request
from flask.views import MethodView
from werkzeug.http import dump_cookie, http_date
from werkzeug.wrappers import Request

from app import auth
from app.answers import Answer, json_answer
from app.api.common import (
    Call,
    event_info,
    holds_caller_json,
    listing_answer,
    path_uuid,
    refresh_token,
    revoke_result,
    services,
)
from app.api.parsing import Blueprint, lean
from app.errors import empty
from app.schemas import tokens as s
from app.schemas.common import Errors

blp = Blueprint("jwt", __name__, description="FusionAuth's JWT refresh-token API")
NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]


def _merged(query: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Query parameters or a JSON body, as FusionAuth takes them; a body field wins."""
    merged = dict(query)
    merged.update({k: v for k, v in body.items() if v is not None})
    return merged


@blp.route("/api/jwt/refresh")
class Refresh(MethodView):
    @lean
    @blp.arguments(s.RefreshListArgs(), location="query")
    @blp.response(200, s.RefreshTokens())
    @blp.alt_response(400, schema=Errors)
    def get(self, call: Call, args: dict[str, Any]) -> Answer:
        """Live refresh tokens of a user, newest first (1,000 a page; `cursor` pages on)."""
        page = call.services.tokens.list_tokens(
            auth.api_key_of(call.services, call.request),
            str(args["userId"]),
            _text(args.get("applicationId")),
            args.get("limit"),
            args.get("cursor"),
        )
        return listing_answer(page.tokens, page.next_cursor)

    @lean
    @blp.arguments(s.RefreshRequest(), location="json", required=False)
    @blp.response(200, s.RefreshResponse())
    @blp.alt_response(400, schema=Errors)
    def post(self, call: Call, body: dict[str, Any]) -> Answer:
        """Exchange a refresh token (body, or the `refresh_token` cookie, which wins) for an access JWT."""
        value = _cookie(call.request, "refresh_token") or body.get("refreshToken")
        services = call.services
        result = services.tokens.exchange(
            auth.anonymous_of(services, call.request), value, body.get("timeToLiveInSeconds"), event_info(body)
        )
        answer = json_answer(
            {
                "token": result.access_token,
                "refreshToken": result.refresh_token,
                "refreshTokenId": result.refresh_token_id,
            },
            NO_STORE,
        )
        answer.headers += _token_cookies(
            result.access_token, result.refresh_token, result.refresh_expiry_ms, services.settings.cookie_secure
        )
        return answer

    @lean
    @blp.arguments(s.RefreshDeleteArgs(), location="query")
    @blp.arguments(s.RefreshDeleteRequest(), location="json", required=False)
    @blp.response(200, s.RevokeResult())
    @blp.alt_response(400, schema=Errors)
    def delete(self, call: Call, query: dict[str, Any], body: dict[str, Any]) -> Answer:
        """Revoke by `token` (wins), by `userId`, by `applicationId`, or by user for application."""
        caller = auth.api_key_of(call.services, call.request, allow_user=True)
        if call.request.environ.get("CONTENT_TYPE") and call.request.mimetype == "application/x-www-form-urlencoded":
            # FusionAuth lets `token` come as a form field, to keep it out of access logs
            body = s.RefreshDeleteArgs().load(call.request.form.to_dict())
        fields = _merged(query, body)
        count = call.services.tokens.revoke(
            caller,
            token=fields.get("token"),
            user_id=_text(fields.get("userId")),
            application_id=_text(fields.get("applicationId")),
            info=event_info(fields),
        )
        return json_answer(revoke_result(count))


@blp.route("/api/jwt/refresh/<token_id>")
class RefreshById(MethodView):
    @lean
    @blp.response(200, s.RefreshTokenResponse())
    def get(self, call: Call, token_id: str) -> Answer:
        """One live refresh token by id (404 once revoked or expired)."""
        caller = auth.api_key_of(call.services, call.request)
        token = call.services.tokens.get(caller, path_uuid(token_id))
        return json_answer({"refreshToken": refresh_token(token)}, caller_json=holds_caller_json([token]))

    @lean
    @blp.arguments(s.TokenIdDeleteRequest(), location="json", required=False)
    @blp.response(200, s.RevokeResult())
    def delete(self, call: Call, body: dict[str, Any], token_id: str) -> Answer:
        """Revoke one token by id; a user may revoke their own with their Bearer access token."""
        caller = auth.api_key_of(call.services, call.request, allow_user=True)
        count = call.services.tokens.revoke_by_id(caller, path_uuid(token_id), event_info(body))
        return json_answer(revoke_result(count))


@blp.route("/api/logout")
class Logout(MethodView):
    @blp.arguments(s.LogoutArgs(), location="query")
    @blp.arguments(s.LogoutRequest(), location="json", required=False)
    @blp.response(200)
    def post(self, query: dict[str, Any], body: dict[str, Any]) -> Response:
        """Revoke the given refresh token (or cookie), or with `global` all of its user's; clear cookies."""
        fields = _merged(query, body)
        value = fields.get("refreshToken") or request.cookies.get("refresh_token")
        services().tokens.logout(auth.anonymous(), value, bool(fields.get("global_")), event_info(fields))
        response = empty(200)
        response.delete_cookie("access_token")
        response.delete_cookie("refresh_token")
        return response


def _bearer(req: Request) -> str | None:
    """The access token from `Authorization: Bearer` or the `access_token` cookie."""
    header = req.environ.get("HTTP_AUTHORIZATION", "")
    if header[:7].lower() == "bearer ":
        return str(header[7:].strip())
    return _cookie(req, "access_token")


def _cookie(req: Request, name: str) -> str | None:
    """A cookie's value; without a Cookie header at once (werkzeug parses its headers to find it)."""
    return req.cookies.get(name) if req.environ.get("HTTP_COOKIE") else None


@blp.route("/api/jwt/validate")
class Validate(MethodView):
    @lean
    @blp.response(200, s.ValidateResponse())
    def get(self, call: Call) -> Answer:
        """The claims of a valid access token (Bearer or `access_token` cookie); 401 otherwise,
        including when its session has been revoked."""
        # claims signed by vend are the caller's JSON
        return json_answer({"jwt": call.services.access.validate(_bearer(call.request))}, caller_json=True)


@blp.route("/api/jwt/vend")
class Vend(MethodView):
    @blp.arguments(s.VendRequest(), location="json", required=False)
    @blp.response(200, s.TokenResponse())
    @blp.alt_response(400, schema=Errors)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Sign a JWT with the given claims (API key)."""
        auth.api_key()
        key_id = str(body["keyId"]) if body.get("keyId") else None
        return {"token": services().access.vend(body["claims"], key_id, body.get("timeToLiveInSeconds"))}


@blp.route("/api/jwt/issue")
class Issue(MethodView):
    @blp.arguments(s.IssueArgs(), location="query")
    @blp.response(200, s.IssueResponse())
    @blp.alt_response(400, schema=Errors)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """An access token for another application, for the holder of a valid access token (and a
        refresh token there, given one of theirs: the `refresh_token` cookie wins over the query)."""
        application_id = str(args["applicationId"]) if args.get("applicationId") else None
        refresh = request.cookies.get("refresh_token") or args.get("refreshToken")
        return services().access.issue(auth.anonymous(), _bearer(request), application_id, refresh)


_PLAIN = re.compile(r"[A-Za-z0-9._~-]+\Z")  # cookie values werkzeug writes as they are (no quoting)

# Expires as werkzeug writes it, remembered (~4 us to format): the exchanges of a second share one for
# sliding-window tokens, as do tokens minted in the same second for fixed ones.
_http_date = functools.lru_cache(maxsize=256)(http_date)


def _token_cookies(access: str, refresh: str, refresh_expiry_ms: int, secure: bool) -> list[tuple[str, str]]:
    """FusionAuth's access_token and refresh_token cookies, as werkzeug's set_cookie writes them. For
    the token alphabets the lines are written here, byte for byte the same (dump_cookie costs several
    microseconds a cookie, on every exchange): the access token is a JWT of ours (base64url segments
    and dots); any other refresh value (an imported one may hold anything) goes through dump_cookie."""
    now = time.time()
    max_age = max(0, (refresh_expiry_ms - int(now * 1000)) // 1000)
    if not _PLAIN.match(refresh):
        return [
            ("Set-Cookie", dump_cookie("access_token", access, httponly=True, samesite="Lax", secure=secure)),
            (
                "Set-Cookie",
                dump_cookie("refresh_token", refresh, max_age=max_age, httponly=True, samesite="Lax", secure=secure),
            ),
        ]
    flags = "; Secure; HttpOnly; Path=/; SameSite=Lax" if secure else "; HttpOnly; Path=/; SameSite=Lax"
    return [
        ("Set-Cookie", f"access_token={access}{flags}"),
        ("Set-Cookie", f"refresh_token={refresh}; Expires={_http_date(int(now) + max_age)}; Max-Age={max_age}{flags}"),
    ]


def _text(value: object) -> str | None:
    return str(value) if value is not None else None
