"""Secrets at rest: AES-256-GCM under REFRESHD_MASTER_KEY, bound to their owner's id, in the same
stored form as signing keys (app/signing.py): `{"sealed": base64(nonce + ciphertext)}`, or
`{"plain": base64(secret)}` when no master key is set (the service warns at start-up)."""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class Sealer:
    def __init__(self, master_key: str | None):
        self._aead = AESGCM(hashlib.sha256(master_key.encode()).digest()) if master_key else None

    def seal(self, secret: bytes, context: str) -> dict[str, str]:
        """The stored form of `secret`; `context` (the owner's id) must be given again to unseal it."""
        if self._aead is None:
            return {"plain": base64.b64encode(secret).decode()}
        nonce = os.urandom(12)
        return {"sealed": base64.b64encode(nonce + self._aead.encrypt(nonce, secret, context.encode())).decode()}

    def unseal(self, stored: dict[str, str], context: str) -> bytes:
        if "sealed" in stored:
            if self._aead is None:
                raise RuntimeError("secrets are stored encrypted: set REFRESHD_MASTER_KEY")
            raw = base64.b64decode(stored["sealed"])
            return self._aead.decrypt(raw[:12], raw[12:], context.encode())
        return base64.b64decode(stored["plain"])
