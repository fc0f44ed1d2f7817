"""JSON text byte for byte as the standard library writes it, by orjson wherever that is the same.

`json.dumps(value, separators=(",", ":"))` (sorted keys for answers, as Flask's jsonify sorts them)
costs tens of microseconds for an event or a response; orjson writes the same text in a few. They
differ only where orjson writes non-ASCII characters unescaped (then the result has a byte above
127, and the standard library writes it again), integers beyond 64 bits (orjson refuses), and
floats (1.5e-7 for 1.5e-07, null for NaN), which only JSON a caller chose can hold: with
`caller_json` the standard library writes it.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_COMPACT = json.JSONEncoder(separators=(",", ":"), default=str)
_COMPACT_SORTED = json.JSONEncoder(separators=(",", ":"), default=str, sort_keys=True)


def dumps(value: Any, *, sort_keys: bool = False, caller_json: bool = False) -> bytes:
    """`value` as compact JSON (non-ASCII escaped, unknown types as str()), as json.dumps writes it."""
    if not caller_json:
        try:
            text = orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
        except orjson.JSONEncodeError:
            pass
        else:
            if text.isascii():
                return text
    return (_COMPACT_SORTED if sort_keys else _COMPACT).encode(value).encode()
