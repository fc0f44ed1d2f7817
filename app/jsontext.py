"""JSON text as the standard library writes and reads it, by orjson wherever that is the same.

`json.dumps(value, separators=(",", ":"))` (sorted keys for answers, as Flask's jsonify sorts them)
costs tens of microseconds for an event or a response; orjson writes the same text in a few. They
differ only where orjson writes non-ASCII characters unescaped (then the result has a byte above
127, and the standard library writes it again), integers beyond 64 bits (orjson refuses), and
floats (1.5e-7 for 1.5e-07, null for NaN), which only JSON a caller chose can hold: with
`caller_json`, the standard library writes any that holds a float.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_COMPACT = json.JSONEncoder(separators=(",", ":"), default=str)
_COMPACT_SORTED = json.JSONEncoder(separators=(",", ":"), default=str, sort_keys=True)


def dumps(value: Any, *, sort_keys: bool = False, caller_json: bool = False) -> bytes:
    """`value` as compact JSON (non-ASCII escaped, unknown types as str()), as json.dumps writes it."""
    if not caller_json or not _holds_float(value):
        try:
            text = orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
        except orjson.JSONEncodeError:
            pass
        else:
            if text.isascii() and b"\x7f" not in text:  # the standard library escapes DEL too
                return text
    return (_COMPACT_SORTED if sort_keys else _COMPACT).encode(value).encode()


def _holds_float(value: Any) -> bool:
    """Whether a float is anywhere in value (a walk costs a few microseconds; the standard library's
    writing of a small document, tens)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float):
            return True
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False


_LONG_NUMBER = re.compile(rb"[0-9]{19}")
_LONG_NUMBER_TEXT = re.compile(r"[0-9]{19}")
_LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")  # an escaped surrogate (paired or not)


def loads(text: bytes | str) -> Any:
    """What json.loads gives for this text, as UTF-8 bytes or a str (or raises: ValueError), by orjson
    where it reads the same. orjson refuses all the standard library refuses, and more (NaN, lone
    surrogates, 1e400: those go to the standard library), but would read an integer of 19 digits or
    more as a float."""
    long_number = _LONG_NUMBER_TEXT.search(text) if isinstance(text, str) else _LONG_NUMBER.search(text)
    if not long_number:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    try:
        value = json.loads(text if isinstance(text, str) else text.decode())
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if _LONE_SURROGATE.search(text if isinstance(text, str) else text.decode()):
        # "\ud800" alone reads as a str that cannot be written as UTF-8 (nor stored, nor digested)
        json.dumps(value, ensure_ascii=False).encode()  # raises UnicodeEncodeError (a ValueError) if so
    return value
