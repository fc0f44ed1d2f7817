"""The console's signed session cookie, its signing secret, and CSRF tokens.

The cookie (HttpOnly, SameSite=Strict, path /admin, Secure with REFRESHD_COOKIE_SECURE) holds the
signed-in key's id and a CSRF token, never the key itself; every request looks the key up again, so a
deleted key signs its operator out. Every worker process must sign with the same secret: it is derived
from REFRESHD_MASTER_KEY, or, without one, a random secret created once in Redis.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

import redis
from flask import Flask, Request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.config import Settings
from app.store.config import ConfigStore

PREFIX = "/admin"
COOKIE = "refreshd_console"
MAX_AGE_SECONDS = 12 * 3600  # a sign-in lasts a working day at most
CSRF_FIELD = "csrfToken"
SECRET_KIND, SECRET_NAME = "console", "secret"


def session_secret(settings: Settings, config: ConfigStore) -> str:
    """The cookie-signing secret every process shares (see the module docstring)."""
    if settings.master_key:
        return hmac.new(settings.master_key.encode(), b"refreshd console session v1", hashlib.sha256).hexdigest()
    return config.set_pointer(SECRET_KIND, SECRET_NAME, secrets.token_hex(32), only_new=True)


class ConsoleSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, opened only under /admin: every other request gets Flask's null
    session at no more cost than before (the API has no secret key and no session). When the secret
    cannot be read (Redis down) the session stays null, and the console answers 503."""

    salt = "refreshd-console"

    def __init__(self, settings: Settings, client: redis.Redis):
        self._settings = settings
        self._config = ConfigStore(client)

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        path = request.path
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return None
        try:
            signer = self._serializer()
        except redis.RedisError:
            return None
        value = request.cookies.get(COOKIE)
        if not value:
            return self.session_class()
        try:
            return self.session_class(signer.loads(value, max_age=MAX_AGE_SECONDS))
        except BadSignature:
            return self.session_class()

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        return self._serializer()

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(
            session_secret(self._settings, self._config),
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
        )

    def get_cookie_name(self, app: Flask) -> str:
        return COOKIE

    def get_cookie_path(self, app: Flask) -> str:
        return PREFIX

    def get_cookie_domain(self, app: Flask) -> None:
        return None

    def get_cookie_httponly(self, app: Flask) -> bool:
        return True

    def get_cookie_samesite(self, app: Flask) -> str:
        return "Strict"

    def get_cookie_secure(self, app: Flask) -> bool:
        return self._settings.cookie_secure

    def get_expiration_time(self, app: Flask, session: Any) -> None:
        return None  # a browser-session cookie; its signature expires after MAX_AGE_SECONDS


def csrf_token() -> str:
    """This session's CSRF token, created on first use (forms render it in a hidden field)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def csrf_matches(presented: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and presented) and hmac.compare_digest(str(expected), str(presented))


def sign_in(key_id: str) -> None:
    """A fresh session for this key (a new CSRF token too: nothing from before sign-in carries over)."""
    session.clear()
    session["keyId"] = key_id
    csrf_token()


def signed_in_key_id() -> str | None:
    value = session.get("keyId")
    return str(value) if value else None
