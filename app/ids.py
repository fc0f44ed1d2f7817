"""Random identifiers for requests, events and tokens."""

from __future__ import annotations

import os

_BATCH = 128  # identifiers' random digits read from the OS at once
_digits: list[str] = []  # the unused ones, 32 hex digits each; list.pop is atomic across threads
os.register_at_fork(after_in_child=_digits.clear)  # a forked worker never repeats its parent's
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}  # RFC 4122's two bits


def _random_digits() -> str:
    """32 random hex digits (128 bits from os.urandom): read _BATCH at a time, as one getrandom call
    costs about what formatting an identifier does. Identifiers are unique, never secret (token
    values take their own randomness from `secrets`)."""
    try:
        return _digits.pop()
    except IndexError:
        block = os.urandom(16 * _BATCH).hex()
        _digits.extend([block[i : i + 32] for i in range(32, len(block), 32)])
        return block[:32]


def random_uuid() -> str:
    """A random (version 4) UUID, formatted as str(uuid.uuid4()) formats one, at a tenth of its cost
    (uuid4 builds and validates a UUID object first)."""
    digits = _random_digits()
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{_VARIANT[digits[16]]}{digits[17:20]}-{digits[20:]}"
