"""Signer.verify keeps the claims of tokens it verified lately: the same answers as verifying
afresh, while the key that verified them is the KeyRing's and the token is unexpired."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from app.signing import ALGORITHMS, KeyRing, Signer, SigningKey


class Keys:
    """A KeyRing stand-in: one ES256 key, replaceable or removable."""

    def __init__(self, key: SigningKey):
        self.key: SigningKey | None = key
        self.loads = 0

    def get(self, key_id: str) -> SigningKey | None:
        self.loads += 1
        return self.key if self.key is not None and self.key.id == key_id else None

    def default(self) -> SigningKey:
        assert self.key is not None
        return self.key


@pytest.fixture
def keys(redis_client: Any) -> Keys:
    from app.store.config import ConfigStore

    ring = KeyRing(ConfigStore(redis_client), None, 60)
    return Keys(ring.default())


def test_a_token_verified_again_gives_the_same_claims_without_verifying_again(keys: Keys, monkeypatch: Any) -> None:
    signer = Signer(keys, "http://localhost")  # type: ignore[arg-type]
    token, _ = signer.sign({"sub": "u"}, 60)
    first = signer.verify(token)
    assert first is not None and first["sub"] == "u"
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: pytest.fail("verified again"))
    second = signer.verify(token)
    assert second == first and second is not first
    second["sub"] = "changed"
    assert signer.verify(token) == first
    monkeypatch.undo()
    assert signer.verify(token, require=("exp", "iat", "nope")) is None  # other checks: verified afresh


def test_once_its_exp_has_passed_a_verified_token_is_verified_afresh(keys: Keys, monkeypatch: Any) -> None:
    signer = Signer(keys, "http://localhost")  # type: ignore[arg-type]
    token, exp = signer.sign({"sub": "u"}, 60)
    assert signer.verify(token) is not None and signer.verify(token, verify_exp=False) is not None
    monkeypatch.setattr(time, "time", lambda: exp + 0.5)

    def expired(*args: Any, **options: Any) -> Any:  # what PyJWT answers at that time
        if options["options"]["verify_exp"]:
            raise jwt.ExpiredSignatureError("expired")
        pytest.fail("a token checked without exp needed no new verification")

    monkeypatch.setattr(jwt, "decode", expired)
    assert signer.verify(token) is None
    assert signer.verify(token, verify_exp=False) is not None


def test_a_removed_or_reloaded_key_verifies_afresh(keys: Keys) -> None:
    signer = Signer(keys, "http://localhost")  # type: ignore[arg-type]
    token, _ = signer.sign({"sub": "u"}, 60)
    assert signer.verify(token) is not None
    original = keys.key
    keys.key = None
    assert signer.verify(token) is None
    assert original is not None
    keys.key = SigningKey(*(getattr(original, f) for f in SigningKey.__dataclass_fields__))
    assert signer.verify(token) is not None


def test_tokens_pyjwt_would_refuse_are_refused_and_not_kept(keys: Keys) -> None:
    signer = Signer(keys, "http://localhost")  # type: ignore[arg-type]
    token, _ = signer.sign({"sub": "u"}, 60)
    header, payload, signature = token.split(".")
    for forged in (f"{header}.{payload}.{signature[:-4]}AAAA", f"{header}=.{payload}.{signature}", "a.b.c", ""):
        assert signer.verify(forged) is None
    other = Signer(keys, "http://elsewhere")  # type: ignore[arg-type]
    assert other.verify(token) is None


def test_the_keyring_keeps_a_key_object_while_its_stored_document_is_unchanged(redis_client: Any) -> None:
    from app.store.config import ConfigStore

    ring = KeyRing(ConfigStore(redis_client), None, 0)  # no cache period: every get reads Redis
    made = ring.generate(None, "ES256", "k", None)
    first = ring.get(made.id)
    assert first is not None and ring.get(made.id) is first
    signer = Signer(ring, "http://localhost")
    token, _ = signer.sign({"sub": "u"}, 60, first)
    assert signer.verify(token) is not None
    ring.delete(made.id)
    assert ring.get(made.id) is None and signer.verify(token) is None
    again = ring.generate(made.id, "ES256", "k", None)  # same id, new key material
    assert ring.get(made.id) is again is not first
    assert signer.verify(token) is None


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize(
    "claims",
    [{"sub": "u", "aud": "a", "tid": "t"}, {"name": "Zoë", "n": 1.5e-07, "big": 2**70, "list": [1, {"b": None}]}],
    ids=["access", "caller-json"],
)
def test_sign_writes_what_pyjwt_writes(redis_client: Any, algorithm: str, claims: dict[str, Any]) -> None:
    from app.store.config import ConfigStore

    ring = KeyRing(ConfigStore(redis_client), None, 60)
    key = ring.generate(None, algorithm, "k", None)
    signer = Signer(ring, "http://localhost")
    token, exp = signer.sign(claims, 60, key, caller_json="n" in claims)
    payload = jwt.decode(
        token, key.verifying, algorithms=[algorithm], issuer="http://localhost", options={"verify_aud": False}
    )
    assert payload == {**claims, "iss": "http://localhost", "iat": exp - 60, "exp": exp, "jti": payload["jti"]}
    expected = jwt.encode(payload, key.signing, algorithm=algorithm, headers={"kid": key.kid})
    signed, _, signature = token.rpartition(".")
    assert signed == expected.rpartition(".")[0]  # header and payload byte for byte
    if not algorithm.startswith("ES"):  # ECDSA signatures are randomized; the others are deterministic
        assert signature == expected.rpartition(".")[2]
    assert signer.verify(token) == payload or "sub" not in claims
