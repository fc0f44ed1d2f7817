"""The Lua scripts, each registered once per connection with the shared prelude (_lib.lua)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

import redis
from redis.commands.core import Script

NAMES = ("mint", "exchange", "revoke_token", "revoke_scope", "list")


def source(name: str) -> str:
    folder = files("app.store") / "scripts"
    return (folder / "_lib.lua").read_text() + "\n" + (folder / f"{name}.lua").read_text()


@dataclass(frozen=True)
class Scripts:
    mint: Script
    exchange: Script
    revoke_token: Script
    revoke_scope: Script
    list: Script

    @classmethod
    def register(cls, client: redis.Redis) -> Scripts:
        """Register by SHA: EVALSHA on every call, EVAL once after a NOSCRIPT (a restarted Redis)."""
        return cls(**{name: client.register_script(source(name)) for name in NAMES})
