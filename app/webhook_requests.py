"""What one webhook delivery sends, and how it is signed.

FusionAuth's form: `{"event": {...}}` as application/json, with `X-FusionAuth-Signature-JWT` (a JWT
from the webhook's signing key, `kid` in its header, whose `request_body_sha256` claim is the standard
base64 SHA-256 of the raw body) when the webhook's signatureConfiguration is enabled. A webhook with
`securityEventTokens` instead receives revocations as Security Event Tokens (RFC 8417; CAEP
`session-revoked`) pushed as RFC 8935 asks: the signed JWT is the body, application/secevent+jwt.
Both carry, when the webhook has a secret, `X-Refreshd-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>." + body>`, and the event id as `Idempotency-Key`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

import jwt

from app import events
from app.signing import Signer, SigningKey
from app.webhooks import Webhook

SIGNATURE_HEADER, HMAC_HEADER = "X-FusionAuth-Signature-JWT", "X-Refreshd-Signature"
SIGNATURE_JWT_TTL_SECONDS = 300


@dataclass(frozen=True)
class Request:
    event_id: str
    body: bytes
    headers: dict[str, str]


class Requests:
    def __init__(self, signer: Signer, issuer: str):
        self._signer = signer
        self._issuer = issuer

    def build(self, webhook: Webhook, event_json: str, attempt: int) -> Request | None:
        """The request delivering an event to a webhook, or None when the webhook's form cannot say
        it (an event other than a revocation, to a Security Event Token receiver)."""
        event = json.loads(event_json)
        headers = {
            "Idempotency-Key": str(event["id"]),
            "X-Refreshd-Delivery-Attempt": str(attempt),
            "User-Agent": "refreshd-webhooks/1",
        }
        if webhook.security_event_tokens:
            claims = events.security_event(event, self._issuer, webhook.url)
            if claims is None:
                return None
            key = self._key(webhook)
            token = jwt.encode(
                claims, key.signing, algorithm=key.algorithm, headers={"kid": key.kid, "typ": "secevent+jwt"}
            )
            body = token.encode()
            headers["Content-Type"] = "application/secevent+jwt"
        else:
            body = events.webhook_body(event_json)
            headers["Content-Type"] = "application/json"
            if webhook.signs_jwt:
                digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
                headers[SIGNATURE_HEADER], _ = self._signer.sign(
                    {"request_body_sha256": digest}, SIGNATURE_JWT_TTL_SECONDS, self._key(webhook)
                )
        if webhook.secret:
            headers[HMAC_HEADER] = hmac_header(webhook.secret, body, int(time.time()))
        return Request(str(event["id"]), body, headers)

    def _key(self, webhook: Webhook) -> SigningKey:
        keys = self._signer.keys
        return (keys.get(webhook.signing_key_id) if webhook.signing_key_id else None) or keys.default()


def hmac_header(secret: bytes, body: bytes, unix_time: int) -> str:
    """`t=<unix time>,v1=<hex HMAC-SHA256 of "<unix time>." + body>`: a receiver recomputes it with the
    secret and rejects a timestamp older than a few minutes (a replayed request)."""
    mac = hmac.new(secret, str(unix_time).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={unix_time},v1={mac}"
