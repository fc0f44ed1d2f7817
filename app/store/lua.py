"""The Lua scripts, each registered once per connection with the shared prelude (_lib.lua)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

NAMES = (
    "mint",
    "exchange",
    "revoke_token",
    "revoke_scope",
    "list",
    "inspect",
    "invalidate_user",
    "watermark_app",
    "cleanup_app",
)
Call = tuple[Script, list[str], list[Any]]


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
    inspect: Script
    invalidate_user: Script
    watermark_app: Script
    cleanup_app: Script

    @classmethod
    def register(cls, client: redis.Redis) -> Scripts:
        """Register by SHA: EVALSHA on every call, EVAL once after a NOSCRIPT (a restarted Redis)."""
        return cls(**{name: client.register_script(source(name)) for name in NAMES})


def run_pipelined(client: redis.Redis, calls: Sequence[Call]) -> list[Any]:
    """Script calls pipelined by SHA in one round trip. (redis-py's pipelined scripts ask SCRIPT
    EXISTS first: a round trip more, every time.) After a NOSCRIPT (a restarted or flushed Redis),
    the script is loaded and only the calls refused, which changed nothing, run again."""
    results = _evalsha_pipeline(client, calls)
    refused = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
    if refused:
        for script in {id(calls[i][0]): calls[i][0] for i in refused}.values():
            script.sha = client.script_load(script.script)
        for i, result in zip(refused, _evalsha_pipeline(client, [calls[i] for i in refused]), strict=True):
            results[i] = result
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results


def _evalsha_pipeline(client: redis.Redis, calls: Sequence[Call]) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    for script, script_keys, args in calls:
        pipe.evalsha(script.sha, len(script_keys), *script_keys, *args)
    return list(pipe.execute(raise_on_error=False))
