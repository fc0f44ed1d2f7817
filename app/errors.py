"""ApiError and its subclasses, rendered in FusionAuth's error format by one set of handlers."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import redis
from flask import Flask, Response
from marshmallow import ValidationError
from redis.exceptions import RedisClusterException
from werkzeug.exceptions import HTTPException

from app.answers import Answer, empty_answer, json_answer, to_response
from app.store.lua import ReplicaWaitTimeout

log = logging.getLogger(__name__)

FieldErrors = dict[str, list[dict[str, str]]]


class ApiError(Exception):
    """An answer other than success. 401 and 404 carry empty bodies, as FusionAuth answers them."""

    status = 400
    headers: dict[str, str] = {}

    def body(self) -> dict[str, Any] | None:
        return None


class BadRequest(ApiError):
    """400 with fieldErrors and/or generalErrors."""

    def __init__(self, field_errors: FieldErrors | None = None, general: list[dict[str, str]] | None = None):
        super().__init__("bad request")
        self.field_errors = field_errors or {}
        self.general = general or []

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.field_errors:
            out["fieldErrors"] = self.field_errors
        if self.general:
            out["generalErrors"] = self.general
        return out


class FieldError(BadRequest):
    """One field is wrong: code is the kind (`missing`, `invalid`, ...), the wire code is `[kind]field`."""

    def __init__(self, field: str, kind: str, message: str):
        super().__init__({field: [{"code": f"[{kind}]{field}", "message": message}]})


class GeneralError(BadRequest):
    def __init__(self, code: str, message: str):
        super().__init__(general=[{"code": code, "message": message}])


class Unauthorized(ApiError):
    status = 401


class NotFound(ApiError):
    status = 404


class PayloadTooLarge(ApiError):
    status = 413

    def body(self) -> dict[str, Any]:
        return {"generalErrors": [{"code": "[tooLarge]", "message": "The request body is too large."}]}


class TooManyRequests(ApiError):
    """429: too many failed attempts from one address (app/throttle.py), or a one-time token rotated
    too often (app/tokens.py)."""

    status = 429
    FAILED_ATTEMPTS = "Too many failed attempts from this address."

    def __init__(self, retry_after: int, why: str = FAILED_ATTEMPTS):
        super().__init__("too many requests")
        self.headers = {"Retry-After": str(retry_after)}
        self.why = why

    def body(self) -> dict[str, Any]:
        message = f"{self.why} Retry after the time in the Retry-After header."
        return {"generalErrors": [{"code": "[tooManyRequests]", "message": message}]}


class StoreUnavailable(ApiError):
    status = 503

    def __init__(self, retry_after: str = "1"):
        super().__init__("store unavailable")
        self.headers = {"Retry-After": retry_after}

    def body(self) -> dict[str, Any]:
        return {
            "generalErrors": [
                {
                    "code": "[unavailable]store",
                    "message": "The token store is unavailable. Retry the request.",
                }
            ]
        }


class StoreBreaker:
    """After Redis fails a request (timeout or lost connection), this process answers 503 at once
    for `seconds`, instead of making each waiting request spend its own timeout: a web worker serves
    one request at a time, so during a Redis stall queued requests would otherwise wait out one
    timeout each. Once the window ends the next request tries Redis again, so the service recovers
    by itself within `seconds` of Redis answering. Answers `Retry-After` with the same figure."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.retry_after = str(max(1, math.ceil(seconds)))
        self.open_until = 0.0

    def trip(self) -> None:
        self.open_until = time.monotonic() + self.seconds

    def check(self) -> None:
        if self.open_until and time.monotonic() < self.open_until:
            raise StoreUnavailable(self.retry_after)


def empty(status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A response without a body, and so without a Content-Type (Flask's default would claim HTML)."""
    return to_response(empty_answer(status, (headers or {}).items()))


def answer(error: ApiError) -> Answer:
    body = error.body()
    if body is None:
        return empty_answer(error.status, error.headers.items())
    return json_answer(body, error.headers.items(), status=error.status)


def render(error: ApiError) -> Response:
    return to_response(answer(error))


def general_answer(status: int, code: str, message: str) -> Answer:
    return json_answer({"generalErrors": [{"code": code, "message": message}]}, status=status)


def failure_answer(error: Exception, breaker: StoreBreaker) -> Answer:
    """What any exception a view raises answers (call it where the exception is being handled):
    ours in their own shape, marshmallow's as fieldErrors, Redis's as a 503 (app.errors.store_unavailable)
    or, like anything else, a logged 500 that never echoes the exception's text."""
    if isinstance(error, ApiError):
        return answer(error)
    if isinstance(error, ValidationError):
        return answer(BadRequest(field_errors_from_marshmallow(error.messages)))
    if isinstance(error, redis.RedisError | RedisClusterException):
        unavailable = store_unavailable(error, breaker)
        if unavailable is not None:
            return answer(unavailable)
        log.exception("redis error")
    else:
        log.exception("unhandled error")
    return general_answer(500, "[internal]", "The service failed to answer.")


def field_errors_from_marshmallow(messages: Any, prefix: str = "") -> FieldErrors:
    """Flatten marshmallow's nested messages into FusionAuth's dotted `fieldErrors`."""
    out: FieldErrors = {}
    if isinstance(messages, list):
        messages = {"_schema": messages}
    for key, value in messages.items():
        name = prefix.rstrip(".") or "request" if key == "_schema" else f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(field_errors_from_marshmallow(value, f"{name}."))
            continue
        for message in value if isinstance(value, list) else [value]:
            if isinstance(message, dict):
                out.update(field_errors_from_marshmallow(message, f"{name}."))
                continue
            out.setdefault(name, []).append({"code": f"[{_kind(str(message))}]{name}", "message": str(message)})
    return out


def _kind(message: str) -> str:
    lowered = message.lower()
    if "missing" in lowered or "required" in lowered:
        return "missing"
    if "longer than" in lowered or "length" in lowered:
        return "tooLong"
    if "blank" in lowered or "empty" in lowered:
        return "blank"
    return "invalid"


def register_error_handlers(app: Flask, breaker: StoreBreaker) -> None:
    """Every error the app can raise becomes one wire format; nothing echoes an exception's text."""

    @app.errorhandler(Exception)
    def _failure(error: Exception) -> Response:
        return to_response(failure_answer(error, breaker))

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        data = getattr(error, "data", None)
        if status in (400, 422) and data and "messages" in data:
            return render(_webargs_error(data["messages"]))
        if status == 413:
            return render(PayloadTooLarge())
        if status in (401, 404):
            return empty(status)
        if status == 405:
            response = render_general(405, "[notAllowed]", "That method is not allowed on this path.")
            response.headers["Allow"] = ", ".join(getattr(error, "valid_methods", None) or ())
            return response
        if status >= 500:
            log.error("http error %s", status)
            return render_general(status, "[internal]", "The service failed to answer.")
        return render_general(status, "[invalid]", error.description or "The request was invalid.")


def store_unavailable(error: Exception, breaker: StoreBreaker) -> StoreUnavailable | None:
    """The 503 a Redis error means (for the API's handler and the console's), or None for an error of
    our own making (a bug: 500). Unavailable: a lost or timed-out connection, which also opens the
    breaker, except a replica that did not confirm a revoke in time (the master answered); and Redis
    up but refusing for now (a replica promoted, out of memory, a failed disk, loading, a cluster
    slot moving)."""
    if isinstance(error, redis.ConnectionError | redis.TimeoutError):
        log.warning("redis unavailable: %s", type(error).__name__)
        if not isinstance(error, ReplicaWaitTimeout):
            breaker.trip()
    elif isinstance(error, _STORE_REFUSALS) or str(error).startswith(_REFUSAL_REPLIES):
        log.warning("redis refused: %s", type(error).__name__)
    else:
        return None
    return StoreUnavailable(breaker.retry_after)


_STORE_REFUSALS = (
    redis.exceptions.ReadOnlyError,
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.ClusterError,
    redis.exceptions.TryAgainError,
    RedisClusterException,
)
_REFUSAL_REPLIES = ("MISCONF", "BUSY", "LOADING", "MASTERDOWN", "NOREPLICAS", "TRYAGAIN", "CLUSTERDOWN", "OOM")


def _webargs_error(messages: dict[str, Any]) -> BadRequest:
    """webargs nests messages by location ({"json": {...}}); a list means the body was unreadable."""
    merged: dict[str, Any] = {}
    for location_messages in messages.values():
        if not isinstance(location_messages, dict):
            return GeneralError("[invalid]", "Your JSON was invalid.")
        merged.update(location_messages)
    return BadRequest(field_errors_from_marshmallow(merged))


def render_general(status: int, code: str, message: str) -> Response:
    return to_response(general_answer(status, code, message))
