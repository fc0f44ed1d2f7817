"""Webhooks in FusionAuth's shape: which events go where, and their dead letters. What one delivery
sends and how it is signed: app/webhook_requests.py; the delivery itself: the worker (app/delivery.py).

A webhook's secret (for the HMAC signature) is sealed like a signing key (app/sealing.py) and shown
only in the answer that created it. A tenant-scoped API key manages only the webhooks limited
to its own tenant. A webhook receives the events recorded from its creation on (Redis's clock).
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from app.caller import Caller
from app.errors import FieldError, NotFound
from app.sealing import Sealer
from app.signing import Signer
from app.store.config import ConfigStore
from app.store.events import EventStore
from app.store.keys import WEBHOOK_GROUP
from app.store.webhooks import WebhookStore

KIND = "webhook"
MAX_WEBHOOKS = 100  # each is a delivery thread in the worker
MAX_URL_LENGTH = 2048
REPLAY_MOST = 1000


@dataclass(frozen=True)
class Webhook:
    """A webhook as the worker uses it (the secret unsealed)."""

    id: str
    url: str
    events_enabled: frozenset[str]
    tenant_ids: frozenset[str]
    is_global: bool
    connect_timeout_ms: int
    read_timeout_ms: int
    max_attempts: int
    signs_jwt: bool
    signing_key_id: str | None
    secret: bytes | None
    insert_instant: int
    security_event_tokens: bool = False

    def wants(self, event: dict[str, Any], recorded_ms: int) -> bool:
        """An event recorded since the webhook exists, of an enabled type, for one of its tenants."""
        return (
            recorded_ms >= self.insert_instant
            and event["type"] in self.events_enabled
            and (self.is_global or event.get("tenantId") in self.tenant_ids)
        )


class Webhooks:
    def __init__(
        self,
        config: ConfigStore,
        queues: WebhookStore,
        streams: EventStore,
        signer: Signer,
        sealer: Sealer,
        default_attempts: int,
    ):
        self._config = config
        self._sealer = sealer
        self._queues = queues
        self._streams = streams
        self._signer = signer
        self._default_attempts = default_attempts

    # -- configuration (the API) ---------------------------------------------------------------
    def create(self, caller: Caller, webhook_id: str | None, request: dict[str, Any]) -> dict[str, Any]:
        ident = webhook_id or str(uuid.uuid4())
        if len(self._config.get_many(KIND)) >= MAX_WEBHOOKS:
            raise FieldError("webhook", "tooMany", f"At most {MAX_WEBHOOKS} webhooks may exist.")
        secret = request.get("secret") or secrets.token_urlsafe(32)
        self._streams.ensure_group(WEBHOOK_GROUP)  # from now on: the worker reads from here
        document = self._document(caller, ident, request, secret, insert_instant=self._streams.now_ms())
        if not self._config.put(KIND, ident, document, only_new=True):
            raise FieldError("webhook.id", "duplicate", f"A webhook with Id [{ident}] already exists.")
        return {**self._public(document), "secret": secret}

    def update(self, caller: Caller, webhook_id: str, request: dict[str, Any]) -> dict[str, Any]:
        """FusionAuth's PUT: the whole webhook is replaced; its secret is kept unless a new one is given
        (which, like every secret after creation, is never shown)."""
        existing = self._visible(caller, webhook_id)
        document = self._document(caller, webhook_id, request, request.get("secret"), existing["insertInstant"])
        if not request.get("secret"):
            document["secret"] = existing.get("secret")
        self._config.put(KIND, webhook_id, document)
        return self._public(document)

    def get(self, caller: Caller, webhook_id: str) -> dict[str, Any]:
        return self._public(self._visible(caller, webhook_id))

    def all_visible(self, caller: Caller) -> list[dict[str, Any]]:
        return [self._public(d) for d in self._config.get_many(KIND) if _visible_to(caller, d)]

    def delete(self, caller: Caller, webhook_id: str) -> None:
        """Gone at once; what it still owed is settled by the worker (its queue goes with it)."""
        self._visible(caller, webhook_id)
        self._config.delete(KIND, webhook_id)
        self._queues.purge(webhook_id)

    def dead_letters(self, caller: Caller, webhook_id: str, offset: int, limit: int) -> dict[str, Any]:
        self._visible(caller, webhook_id)
        total, letters = self._queues.dead_letters(webhook_id, offset, limit)
        return {"deadLetters": letters, "total": total}

    def replay(self, caller: Caller, webhook_id: str, event_ids: list[str] | None) -> int:
        """Queue dead letters again (the given events', or the oldest REPLAY_MOST), with fresh attempts."""
        self._visible(caller, webhook_id)
        return self._queues.replay(webhook_id, event_ids, REPLAY_MOST)

    def lag(self, caller: Caller) -> dict[str, Any]:
        """How far behind delivery is: events the worker has not read yet, events read and not yet
        delivered everywhere (and the age of the oldest), deliveries queued, dead letters."""
        backlog = self._streams.backlog(WEBHOOK_GROUP)
        counts = self._queues.counts([d["id"] for d in self._all() if _visible_to(caller, d)])
        oldest = self._streams.now_ms() - backlog.oldest_pending_ms if backlog.oldest_pending_ms else 0
        return {
            "unreadEvents": backlog.unread,
            "pendingEvents": backlog.pending,
            "oldestPendingEventAgeInSeconds": round(max(oldest, 0) / 1000, 3),
            "queuedDeliveries": sum(q for q, _ in counts.values()),
            "deadLetters": sum(d for _, d in counts.values()),
        }

    def uses_key(self, key_id: str) -> bool:
        return any((d.get("signatureConfiguration") or {}).get("signingKeyId") == key_id for d in self._all())

    # -- delivery (the worker) -----------------------------------------------------------------
    def active(self) -> list[Webhook]:
        return [self._runtime(d) for d in self._all()]

    # -- documents -----------------------------------------------------------------------------
    def _all(self) -> list[dict[str, Any]]:
        return self._config.get_many(KIND)

    def _visible(self, caller: Caller, webhook_id: str) -> dict[str, Any]:
        document = self._config.get(KIND, webhook_id)
        if document is None or not _visible_to(caller, document):
            raise NotFound()
        return document

    def _document(
        self, caller: Caller, ident: str, request: dict[str, Any], secret: str | None, insert_instant: int
    ) -> dict[str, Any]:
        url = _checked_url(request.get("url"))
        tenant_ids = sorted({str(t) for t in request.get("tenantIds") or []})
        is_global = bool(request["global"]) if "global" in request else not (tenant_ids or caller.tenant_id)
        if caller.tenant_id:
            if is_global or tenant_ids not in ([], [caller.tenant_id]):
                raise FieldError("webhook.tenantIds", "invalid", "A tenant-scoped key manages its tenant's webhooks.")
            tenant_ids, is_global = [caller.tenant_id], False
        signature = request.get("signatureConfiguration") or {}
        key_id = str(signature["signingKeyId"]) if signature.get("signingKeyId") else None
        if key_id is not None:
            key = self._signer.keys.get(key_id)
            if key is None or key.public_pem is None:
                raise FieldError(
                    "webhook.signatureConfiguration.signingKeyId",
                    "invalid",
                    "The signing key must exist and have a public half (an EC, RSA or EdDSA key).",
                )
        return {
            "id": ident,
            "url": url,
            "description": request.get("description") or "",
            "eventsEnabled": {name: bool(on) for name, on in (request.get("eventsEnabled") or {}).items()},
            "tenantIds": tenant_ids,
            "global": is_global,
            "connectTimeout": request.get("connectTimeout") or 1000,
            "readTimeout": request.get("readTimeout") or 2000,
            "maximumAttempts": request.get("maximumAttempts") or self._default_attempts,
            "signatureConfiguration": {"enabled": bool(signature.get("enabled", True)), "signingKeyId": key_id},
            "securityEventTokens": bool(request.get("securityEventTokens")),
            "secret": self._sealer.seal(secret.encode(), f"webhook:{ident}") if secret else None,
            "insertInstant": insert_instant,
            "lastUpdateInstant": int(time.time() * 1000),
        }

    def _public(self, document: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in document.items() if k != "secret"}
        queued, dead = self._queues.counts([document["id"]])[document["id"]]
        shown["delivery"] = {"queued": queued, "deadLetters": dead}
        return shown

    def _runtime(self, d: dict[str, Any]) -> Webhook:
        signature = d.get("signatureConfiguration") or {}
        return Webhook(
            id=d["id"],
            url=d["url"],
            events_enabled=frozenset(name for name, on in d.get("eventsEnabled", {}).items() if on),
            tenant_ids=frozenset(d.get("tenantIds") or []),
            is_global=bool(d.get("global")),
            connect_timeout_ms=int(d.get("connectTimeout") or 1000),
            read_timeout_ms=int(d.get("readTimeout") or 2000),
            max_attempts=int(d.get("maximumAttempts") or self._default_attempts),
            signs_jwt=bool(signature.get("enabled")),
            signing_key_id=signature.get("signingKeyId"),
            secret=self._sealer.unseal(d["secret"], f"webhook:{d['id']}") if d.get("secret") else None,
            insert_instant=int(d.get("insertInstant") or 0),
            security_event_tokens=bool(d.get("securityEventTokens")),
        )


def _visible_to(caller: Caller, document: dict[str, Any]) -> bool:
    if not caller.tenant_id:
        return True
    return not document.get("global") and document.get("tenantIds") == [caller.tenant_id]


def _checked_url(url: Any) -> str:
    """http(s) only, a host, no credentials, no whitespace, bounded length."""
    if not isinstance(url, str) or not url.strip():
        raise FieldError("webhook.url", "blank", "You must specify the webhook's URL.")
    if len(url) > MAX_URL_LENGTH:
        raise FieldError("webhook.url", "tooLong", f"The URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise FieldError("webhook.url", "invalid", "The URL is not valid.") from None
    if parts.scheme not in ("http", "https"):
        raise FieldError("webhook.url", "invalid", "The URL must use http or https.")
    if not parts.hostname or any(c.isspace() or ord(c) < 32 for c in url):
        raise FieldError("webhook.url", "invalid", "The URL must name a host and contain no whitespace.")
    if "@" in parts.netloc:
        raise FieldError("webhook.url", "invalid", "The URL must not contain credentials.")
    return url
