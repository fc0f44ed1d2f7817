"""Signing keys (FusionAuth's Key API) and JWT encoding/verification.

Keys are shared by every process through Redis and loaded once per process. A JWT names its key
in the `kid` header and is verified only with that key and only with the algorithm the key was
made for, so `alg: none`, HS/RS confusion and unknown keys are all rejected. Rotation: generate a
key and point an application (or tenant) at it; tokens signed by the old key keep verifying until
that key is deleted. Private keys and HMAC secrets never leave the service: they are stored sealed
(app/sealing.py) with AES-256-GCM under REFRESHD_MASTER_KEY when it is set (otherwise unencrypted,
with a warning) and no answer ever contains them.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from app import jsontext
from app.errors import FieldError, NotFound
from app.ids import random_uuid
from app.sealing import Sealer
from app.store.config import ConfigStore
from app.store.keys import is_canonical_uuid

log = logging.getLogger(__name__)
KEY, DEFAULT = "sk", "active"
CURVES: dict[str, ec.EllipticCurve] = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}
RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
HMAC_ALGORITHMS = {"HS256": 32, "HS384": 48, "HS512": 64}
ALGORITHMS = (*CURVES, *RSA_ALGORITHMS, "EdDSA", *HMAC_ALGORITHMS)
VERIFIED_CACHE = 4096  # tokens whose verified claims a process keeps (see Signer)


@dataclass(frozen=True)
class SigningKey:
    id: str
    algorithm: str
    name: str
    signing: Any  # a private key object, or the HMAC secret (bytes)
    verifying: Any  # the public key object, or the HMAC secret
    public_pem: str | None  # None for HMAC: nothing of it is public
    insert_instant: int

    @property
    def kid(self) -> str:
        return self.id

    @property
    def type(self) -> str:
        if self.algorithm in CURVES:
            return "EC"
        if self.algorithm in RSA_ALGORITHMS:
            return "RSA"
        return "OKP" if self.algorithm == "EdDSA" else "HMAC"

    def document(self) -> dict[str, Any]:
        """The key as the API shows it (FusionAuth's Key): never a private key or a secret."""
        out: dict[str, Any] = {
            "id": self.id,
            "kid": self.kid,
            "algorithm": self.algorithm,
            "name": self.name,
            "type": self.type,
            "insertInstant": self.insert_instant,
        }
        if self.public_pem:
            out["publicKey"] = self.public_pem
        if self.type == "RSA":
            out["length"] = self.verifying.key_size
        return out

    def jwk(self) -> dict[str, Any] | None:
        """The public half as a JWK, or None for an HMAC key."""
        if self.public_pem is None:
            return None
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        out = dict(json.loads(algorithm.to_jwk(self.verifying)))
        out.update(kid=self.kid, alg=self.algorithm, use="sig")
        return out


class KeyRing:
    """Every signing key, read through a per-process cache (keys never change; deletions are seen
    within `cache_seconds` by other processes, at once by the one that deleted)."""

    def __init__(self, store: ConfigStore, master_key: str | None, cache_seconds: float):
        self._store = store
        self._sealer = Sealer(master_key)
        self._ttl = cache_seconds
        self._cache: dict[str, tuple[float, SigningKey, dict[str, Any]]] = {}
        self._default: SigningKey | None = None
        if master_key is None:
            log.warning("REFRESHD_MASTER_KEY is not set: signing keys are stored unencrypted in Redis")

    def default(self) -> SigningKey:
        """The key that signs when neither application nor tenant names one (ES256, made on first
        use; one winner across processes)."""
        if self._default is None:
            candidate = str(uuid.uuid4())
            key_id = self._store.set_pointer(KEY, DEFAULT, candidate, only_new=True)
            found = self.get(key_id)
            if found is None:
                self._store.put(KEY, key_id, self._seal(key_id, "ES256", "default", None), only_new=True)
                found = self._load(self._store.get(KEY, key_id) or {})
            self._default = found
        return self._default

    def get(self, key_id: str) -> SigningKey | None:
        """A key by id (= kid). Only found keys are cached, so forged kids cannot fill memory. While its
        stored document is unchanged, a reload keeps the same object (and parses no PEM): the Signer's
        verified tokens stay valid exactly as long as the key object that verified them."""
        hit = self._cache.get(key_id)
        now = time.monotonic()
        if hit and hit[0] > now:
            return hit[1]
        if not is_canonical_uuid(key_id):
            return None
        document = self._store.get(KEY, key_id)
        if document is None:
            self._cache.pop(key_id, None)
            return None
        key = hit[1] if hit and hit[2] == document else self._load(document)
        self._cache[key_id] = (now + self._ttl, key, document)
        return key

    def all(self) -> list[SigningKey]:
        self.default()
        return [self._load(d) for d in self._store.get_many(KEY)]

    def generate(self, key_id: str | None, algorithm: str, name: str, length: int | None) -> SigningKey:
        ident = key_id or str(uuid.uuid4())
        if algorithm not in ALGORITHMS:
            raise FieldError("key.algorithm", "invalid", f"The algorithm must be one of {', '.join(ALGORITHMS)}.")
        if length is not None and algorithm in RSA_ALGORITHMS and length not in (2048, 3072, 4096):
            raise FieldError("key.length", "invalid", "An RSA key is 2048, 3072 or 4096 bits long.")
        if not self._store.put(KEY, ident, self._seal(ident, algorithm, name, length), only_new=True):
            raise FieldError("key.id", "duplicate", f"A key with Id [{ident}] already exists.")
        self._cache.pop(ident, None)
        key = self.get(ident)
        assert key is not None
        return key

    def delete(self, key_id: str) -> None:
        if key_id == self.default().id:
            raise FieldError("keyId", "invalid", "The default signing key cannot be deleted.")
        if not self._store.delete(KEY, key_id):
            raise NotFound()
        self._cache.pop(key_id, None)

    # -- storage form --------------------------------------------------------------------------
    def _seal(self, key_id: str, algorithm: str, name: str, length: int | None) -> dict[str, Any]:
        secret, public_pem = _generate(algorithm, length)
        sealed = self._sealer.seal(secret, key_id)
        return {
            "id": key_id,
            "algorithm": algorithm,
            "name": name,
            "publicKey": public_pem,
            "secret": sealed,
            "insertInstant": int(time.time() * 1000),
        }

    def _load(self, document: dict[str, Any]) -> SigningKey:
        secret = self._sealer.unseal(document["secret"], document["id"])
        algorithm = document["algorithm"]
        signing: Any
        verifying: Any
        if algorithm in HMAC_ALGORITHMS:
            signing = verifying = secret
        else:
            signing = serialization.load_pem_private_key(secret, password=None)
            verifying = signing.public_key()
        return SigningKey(
            document["id"],
            algorithm,
            document.get("name", ""),
            signing,
            verifying,
            document.get("publicKey"),
            int(document.get("insertInstant", 0)),
        )


def _generate(algorithm: str, length: int | None) -> tuple[bytes, str | None]:
    """A new key's secret material (PKCS#8 PEM, or raw HMAC bytes) and its public PEM."""
    if algorithm in HMAC_ALGORITHMS:
        return secrets.token_bytes(HMAC_ALGORITHMS[algorithm]), None
    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    if algorithm in CURVES:
        private = ec.generate_private_key(CURVES[algorithm])
    elif algorithm in RSA_ALGORITHMS:
        private = rsa.generate_private_key(public_exponent=65537, key_size=length or 2048)
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, public.decode()


_JWT_ALGORITHMS = jwt.algorithms.get_default_algorithms()


def _segment(data: bytes) -> bytes:
    """base64url without padding, as JWS writes its segments."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _signer_of(key: SigningKey) -> Callable[[bytes], bytes]:
    """The function signing a JWS input with `key`, by PyJWT's algorithm for it, its key prepared once.
    ECDSA as PyJWT's ECAlgorithm.sign does it (a DER signature from cryptography, written as JWS's
    r || s), without building the ECDSA parameters and parsing the DER in Python at every token (~6 us)."""
    algorithm = _JWT_ALGORITHMS[key.algorithm]
    prepared = algorithm.prepare_key(key.signing)
    if not isinstance(algorithm, jwt.algorithms.ECAlgorithm):
        return lambda data: algorithm.sign(data, prepared)
    parameters = ec.ECDSA(algorithm.hash_alg())
    size = (prepared.curve.key_size + 7) // 8

    def sign_ecdsa(data: bytes) -> bytes:
        r, s = decode_dss_signature(prepared.sign(data, parameters))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    return sign_ecdsa


def _header(token: str) -> dict[str, Any]:
    """A token's JOSE header, read only to choose its key (jwt.decode reads and checks all of it
    again): plainly, as PyJWT's reader checks each character in Python (~15 us a token). What this
    cannot read goes to PyJWT's reader, which raises as it did."""
    segment = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except ValueError:
        header = None
    if not isinstance(header, dict):
        return jwt.get_unverified_header(token)
    return header


class Signer:
    """Encodes access JWTs with a chosen key and verifies any JWT against the key its kid names.

    A resource server validates the same access token on every call its holder makes, and an ES256
    verification costs ~100 us (PyJWT reading the token twice, then the curve): the claims of tokens
    verified lately are kept (up to VERIFIED_CACHE of them, then forgotten at once) with the key that
    verified them. A token is answered from there only while that same key object is still the
    KeyRing's (a deleted or changed key verifies afresh) and, as PyJWT checks it, while exp > now;
    nbf and iat only ever become valid with time. Revocation is checked by the callers, every time.
    """

    def __init__(self, keys: KeyRing, issuer: str):
        self.keys = keys
        self._issuer = issuer
        self._verified: dict[tuple[str, tuple[str, ...], bool], tuple[SigningKey, dict[str, Any]]] = {}
        self._heads: dict[str, tuple[SigningKey, bytes, Callable[[bytes], bytes]]] = {}

    def sign(
        self, claims: dict[str, Any], ttl_seconds: int, key: SigningKey | None = None, *, caller_json: bool = False
    ) -> tuple[str, int]:
        """A JWT with iss, iat, exp and jti added (claims may override iss); returns it and its exp.
        `caller_json`: the claims hold JSON a caller chose (vend; see app/jsontext.py).

        Byte for byte what `jwt.encode(payload, key, algorithm, headers={"kid": ...})` writes (tested;
        an ECDSA signature is randomized, so verified instead); but the header segment and the signing
        function (_signer_of) are made once per key, and the payload is written by jsontext (orjson
        where its bytes are the standard library's): PyJWT's encode spends ~20 us a token around the
        signature."""
        key = key or self.keys.default()
        now = int(time.time())
        payload: dict[str, Any] = {"iss": self._issuer, "iat": now, "exp": now + ttl_seconds}
        if "jti" not in claims:  # (a session's access token brings its own, of the session's bucket)
            payload["jti"] = random_uuid()
        payload.update(claims)
        head = self._heads.get(key.id)
        if head is None or head[0] is not key:
            header = jsontext.dumps({"typ": "JWT", "alg": key.algorithm, "kid": key.kid}, sort_keys=True)
            head = (key, _segment(header), _signer_of(key))
            if len(self._heads) >= VERIFIED_CACHE:  # keys made and deleted by the thousand
                self._heads.clear()
            self._heads[key.id] = head
        _, header_segment, sign = head
        signing_input = header_segment + b"." + _segment(jsontext.dumps(payload, caller_json=caller_json))
        token = signing_input + b"." + _segment(sign(signing_input))
        return token.decode(), payload["exp"]

    def verify(
        self, token: str, require: tuple[str, ...] = ("exp", "iat", "sub"), verify_exp: bool = True
    ) -> dict[str, Any] | None:
        """The claims of an unexpired JWT signed by one of our keys, with that key's algorithm; or None."""
        known = self._verified.get((token, require, verify_exp))
        if known is not None:
            known_key, known_claims = known
            expired = verify_exp and "exp" in known_claims and int(known_claims["exp"]) <= time.time()
            if self.keys.get(known_key.id) is known_key and not expired:
                return dict(known_claims)
        try:
            header = _header(token)
            key = self.keys.get(str(header.get("kid", ""))) if header.get("kid") else None
            if key is None or header.get("alg") != key.algorithm:
                return None
            claims = jwt.decode(
                token,
                key.verifying,
                algorithms=[key.algorithm],
                issuer=self._issuer,
                options={"require": list(require), "verify_aud": False, "verify_exp": verify_exp},
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        if len(self._verified) >= VERIFIED_CACHE:
            self._verified.clear()
        self._verified[(token, require, verify_exp)] = (key, claims)
        return dict(claims)
