"""The console's blueprint and what every page shares: who is signed in, what their key allows, CSRF,
security headers, and error pages (HTML, never a stack trace)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import redis
from flask import Blueprint, Response, flash, g, redirect, render_template, request, session, url_for
from flask.sessions import NullSession
from flask.typing import ResponseReturnValue
from redis.exceptions import RedisClusterException
from werkzeug.exceptions import HTTPException

from app import auth
from app.api.common import services
from app.apikeys import ApiKey
from app.caller import Caller
from app.console.session import CSRF_FIELD, PREFIX, ConsoleSessions, csrf_matches, csrf_token, signed_in_key_id
from app.errors import ApiError, BadRequest, store_unavailable
from app.store.tokens import RevokeCount

log = logging.getLogger(__name__)

bp = Blueprint(
    "console",
    __name__,
    url_prefix=PREFIX,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
PUBLIC = frozenset({"console.login", "console.static"})
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class Refused(Exception):
    """The signed-in key lacks the API permission the equivalent endpoint needs (a 403 page)."""

    def __init__(self, method: str, path: str):
        super().__init__(f"{method} {path}")
        self.method, self.path = method, path


class CsrfRefused(Exception):
    """A form came without this session's CSRF token."""


class Unavailable(Exception):
    """The session could not be opened: its signing secret lives in Redis, which did not answer."""


@bp.record_once
def _install(state: Any) -> None:
    app = state.app
    services_ = app.extensions["refreshd"]
    app.session_interface = ConsoleSessions(services_.settings, services_.redis)
    app.jinja_env.filters["instant"] = instant
    app.jinja_env.filters["iso_instant"] = iso_instant


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    """Static files pass; otherwise the session must be open, a form must carry the CSRF token, and
    every page but sign-in needs a key that still exists."""
    if request.endpoint == "console.static":
        return None
    if isinstance(session._get_current_object(), NullSession):  # type: ignore[attr-defined]
        raise Unavailable()
    key_id = signed_in_key_id()
    key = services().api_keys.find(key_id) if key_id else None
    if key_id and key is None:
        session.clear()
        flash("Your API key no longer exists: sign in again.", "error")
    g.console_key = key
    if request.method == "POST" and not csrf_matches(request.form.get(CSRF_FIELD)):
        raise CsrfRefused()
    if key is None and request.endpoint not in PUBLIC:
        wanted = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("console.login", next=wanted), 303)
    return None


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.context_processor
def _globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "csrf_field": CSRF_FIELD, "can": can, "operator": g.get("console_key")}


def operator() -> ApiKey:
    key: ApiKey = g.console_key
    return key


def caller() -> Caller:
    """The signed-in key as the API would see it: its tenant scope, this request's address and id."""
    return auth.key_caller(operator())


def can(method: str, path: str) -> bool:
    key = g.get("console_key")
    return bool(key and key.allows(path, method))


def require(method: str, path: str) -> None:
    """Refuse unless the key may call the API endpoint this page or action stands for."""
    if not can(method, path):
        raise Refused(method, path)


def optional_uuid(value: str | None) -> str | None:
    """A UUID from a form or query field; blank is None; anything else is a 400 page."""
    if not value or not value.strip():
        return None
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise BadRequest(general=[{"code": "[invalid]", "message": f"{value.strip()!r} is not a UUID."}]) from None


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path on this site, else the console's home."""
    if target and target.startswith(PREFIX + "/") and not urlsplit(target).netloc and "\\" not in target:
        return target.rstrip("?")
    return url_for("console.home")


def flash_counts(what: str, count: RevokeCount) -> None:
    flash(
        f"{what}: invalidatedTokens {count.invalidated}, previouslyInvalidatedTokens {count.previously_invalidated}.",
        "ok",
    )


def instant(ms: int | None) -> str:
    if not ms:
        return "—"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_instant(ms: int | None) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def see_other(location: str) -> Response:
    """303: after a form, the browser fetches the next page with GET."""
    return redirect(location, 303)  # type: ignore[return-value]


def page(template: str, status: int = 200, **context: Any) -> Response:
    return Response(render_template(f"console/{template}", **context), status=status, mimetype="text/html")


def _error_page(status: int, title: str, messages: list[str], headers: dict[str, str] | None = None) -> Response:
    response = page("error.html", status, title=title, messages=messages)
    response.headers.update(headers or {})
    return response


@bp.errorhandler(Refused)
def _refused(error: Refused) -> Response:
    return _error_page(403, "Not allowed", [f"Your API key does not allow this: it needs {error.method} {error.path}."])


@bp.errorhandler(CsrfRefused)
def _csrf(error: CsrfRefused) -> Response:
    return _error_page(
        400, "Form expired", ["The form was missing its security token or it had expired. Reload the page and retry."]
    )


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    if error.status == 404:
        return _error_page(404, "Not found", ["There is nothing here, or your key's tenant cannot see it."])
    if error.status == 401:
        return _error_page(403, "Not allowed", ["Your API key does not allow this."])
    body = error.body() or {}
    messages = [e["message"] for errors in body.get("fieldErrors", {}).values() for e in errors]
    messages += [e["message"] for e in body.get("generalErrors", [])]
    return _error_page(error.status, "Request refused", messages or ["The request was refused."], error.headers)


@bp.errorhandler(redis.RedisError)
@bp.errorhandler(RedisClusterException)
def _store(error: Exception) -> Response:
    """The API's rule (app.errors.store_unavailable: the same breaker), as a page."""
    if store_unavailable(error, services().breaker) is None:
        return _unexpected(error)
    return _unavailable(error)


@bp.errorhandler(Unavailable)
def _unavailable(error: Exception) -> Response:
    return _error_page(
        503,
        "Service unavailable",
        [
            "The token store (Redis) is not answering. An action you had just asked for may or may not have been"
            " applied: revoking is safe to repeat, so retry in a moment."
        ],
        {"Retry-After": "1"},
    )


@bp.errorhandler(HTTPException)
def _http(error: HTTPException) -> Response:
    status = error.code or 500
    return _error_page(status, error.name, [error.description or "The request was refused."])


@bp.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    log.exception("console: unhandled error")
    return _error_page(500, "Something went wrong", ["The console failed to answer. The error has been logged."])
