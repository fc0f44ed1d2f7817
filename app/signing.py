"""The access-token signing key and JWT encoding/verification.

One ES256 key signs every access token for now (full key management, rotation and the other
algorithms come with the access-token work). It is created once, shared by every process through
Redis, and loaded once per process. Its private half is stored encrypted (AES-256-GCM) when
REFRESHD_MASTER_KEY is set; otherwise it is stored as PEM and the service warns at start-up.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.store.config import ConfigStore

log = logging.getLogger(__name__)
SIGNING_KEY = "sk"
ALGORITHM = "ES256"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private: ec.EllipticCurvePrivateKey
    public_pem: str


class Signer:
    def __init__(self, store: ConfigStore, issuer: str, master_key: str | None):
        self._store = store
        self._issuer = issuer
        self._aead = AESGCM(hashlib.sha256(master_key.encode()).digest()) if master_key else None
        self._key: SigningKey | None = None
        if master_key is None:
            log.warning("REFRESHD_MASTER_KEY is not set: signing keys are stored unencrypted in Redis")

    @property
    def key(self) -> SigningKey:
        """The active key, created on first use (one winner across processes), then kept in memory."""
        if self._key is None:
            candidate = str(uuid.uuid4())
            kid = self._store.set_pointer(SIGNING_KEY, "active", candidate, only_new=True)
            document = self._store.get(SIGNING_KEY, kid)
            if document is None:
                private = ec.generate_private_key(ec.SECP256R1())
                document = self._document(kid, private)
                self._store.put(SIGNING_KEY, kid, document, only_new=True)
                document = self._store.get(SIGNING_KEY, kid) or document
            self._key = self._load(document)
        return self._key

    def sign(self, claims: dict[str, Any], ttl_seconds: int) -> tuple[str, int]:
        """An access JWT with iss, iat, exp and jti added; returns it and its exp (epoch seconds)."""
        key = self.key
        now = int(time.time())
        payload = {
            "iss": self._issuer,
            "iat": now,
            "exp": now + ttl_seconds,
            "jti": str(uuid.uuid4()),
            **claims,
        }
        token = jwt.encode(payload, key.private, algorithm=key.algorithm, headers={"kid": key.kid})
        return token, payload["exp"]

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a valid, unexpired token signed by our key, or None."""
        key = self.key
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != key.kid:
                return None
            return jwt.decode(
                token,
                key.private.public_key(),
                algorithms=[key.algorithm],
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "sid"], "verify_aud": False},
            )
        except jwt.PyJWTError:
            return None

    def _document(self, kid: str, private: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public_pem = (
            private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        if self._aead is not None:
            nonce = os.urandom(12)
            sealed = {
                "sealed": base64.b64encode(nonce + self._aead.encrypt(nonce, pem, kid.encode())).decode()
            }
        else:
            sealed = {"pem": pem.decode()}
        return {
            "kid": kid,
            "algorithm": ALGORITHM,
            "publicKey": public_pem,
            "privateKey": sealed,
            "insertInstant": int(time.time() * 1000),
        }

    def _load(self, document: dict[str, Any]) -> SigningKey:
        sealed = document["privateKey"]
        if "sealed" in sealed:
            if self._aead is None:
                raise RuntimeError("the signing key is encrypted: set REFRESHD_MASTER_KEY")
            raw = base64.b64decode(sealed["sealed"])
            pem = self._aead.decrypt(raw[:12], raw[12:], document["kid"].encode())
        else:
            pem = sealed["pem"].encode()
        private = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(private, ec.EllipticCurvePrivateKey)
        return SigningKey(document["kid"], document["algorithm"], private, document["publicKey"])


def jwks_entry(key: SigningKey) -> dict[str, Any]:
    """The public half as a JWK (for /.well-known/jwks.json)."""
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.private.public_key()))
    jwk.update(kid=key.kid, alg=key.algorithm, use="sig")
    return dict(jwk)
