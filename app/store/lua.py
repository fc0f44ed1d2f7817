"""The Lua scripts: each sent by SHA, with the definitions of the shared prelude (_lib.lua) it uses."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import redis
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.exceptions import AskError, MovedError, NoScriptError

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
    "bury_users",
)
Call = tuple[Script, list[str], list[Any]]
Write = tuple[Script | None, list[str], list[Any]]  # a script call, or (None, keys, a plain command)


def source(name: str) -> str:
    """A script's text: the definitions of the shared prelude (_lib.lua) it uses, then its own."""
    folder = files("app.store") / "scripts"
    body = (folder / f"{name}.lua").read_text()
    return prelude_for(body, (folder / "_lib.lua").read_text()) + "\n" + body


_TOP_LEVEL = re.compile(r"^local (?:function )?(\w+)")
_WORD = re.compile(r"\w+")


def prelude_for(body: str, lib: str) -> str:
    """The top-level definitions of `lib` that `body` uses, directly or through one another, in their
    order there. Redis runs a script's whole text at every call, so each definition costs every call
    (all ~35 of _lib.lua: ~10-15 us of Redis CPU a call; a script uses a handful). A definition is a
    line `local NAME ...` or `local function NAME` at the left margin with the indented lines after
    it; comments at the margin are left out."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lib.splitlines():
        start = _TOP_LEVEL.match(line)
        if start:
            current = blocks.setdefault(start.group(1), [])
        elif line.startswith("--"):
            current = None
        if current is not None:
            current.append(line)
    wanted: set[str] = set()
    pending = [body]
    while pending:
        code = "\n".join(line.split("--", 1)[0] for line in pending.pop().splitlines())
        for word in set(_WORD.findall(code)) & blocks.keys() - wanted:
            wanted.add(word)
            pending.append("\n".join(blocks[word]))
    return "\n".join("\n".join(lines) for name, lines in blocks.items() if name in wanted)


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
    bury_users: Script

    @classmethod
    def register(cls, client: redis.Redis) -> Scripts:
        """Every script of NAMES for `client`."""
        return cls(**{name: script_for(client, name) for name in NAMES})


def script_for(client: Any, name: str) -> LeanScript:
    """A script of scripts/ for `client`: EVALSHA on every call (see LeanScript)."""
    return LeanScript(client, source(name))


class LeanScript(Script):
    """redis-py's Script, called with less ceremony (its __call__ imports a module, checks for a
    pipeline and copies the arguments, every call: ~10 us): EVALSHA straight through the client.
    After a NOSCRIPT (a restarted or flushed Redis), as redis-py does: SCRIPT LOAD (on a Cluster, to
    every master at once), then EVALSHA again."""

    def __call__(self, keys: Sequence[Any] | None = None, args: Iterable[Any] | None = None, client: Any = None) -> Any:
        keys, args = keys or (), args or ()
        target = self.registered_client if client is None else client
        try:
            return target.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            self.sha = target.script_load(self.script)
            return target.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)


def run_pipelined(client: redis.Redis, calls: Sequence[Write]) -> list[Any]:
    """Script calls pipelined by SHA in one round trip. (redis-py's pipelined scripts ask SCRIPT
    EXISTS first: a round trip more, every time.) After a NOSCRIPT (a restarted, flushed or newly
    promoted Redis), only the calls refused, which changed nothing, run again by their text (EVAL),
    which caches the script on the very node that runs them."""
    results = _evalsha_pipeline(client, calls)
    refused = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
    if refused:
        again = _evalsha_pipeline(client, [calls[i] for i in refused], whole=True)
        for i, result in zip(refused, again, strict=True):
            results[i] = result
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results


def _evalsha_pipeline(client: redis.Redis, calls: Sequence[Write], *, whole: bool = False) -> list[Any]:
    """Script calls by SHA; `whole`: by their text (EVAL, which also caches them on the server that
    runs them, whichever a failover made it). Plain writes, (None, keys, command), as they are."""
    pipe = client.pipeline(transaction=False)
    for script, script_keys, args in calls:
        # not pipe.evalsha(): a Cluster pipeline refuses that method, yet routes this by its keys
        if script is None:
            pipe.execute_command(*args)
        elif whole:
            pipe.execute_command("EVAL", script.script, len(script_keys), *script_keys, *args)
        else:
            pipe.execute_command("EVALSHA", script.sha, len(script_keys), *script_keys, *args)
    return list(pipe.execute(raise_on_error=False))


class ReplicaWaitTimeout(redis.TimeoutError):
    """No replica confirmed a revoke in time: it may or may not survive a failover (a 503)."""


class ReplicaWait:
    """Makes a revoke wait (WAIT 1 <timeout>) until a replica has it before it is acknowledged, so a
    failover right after cannot undo it. Mode "on": always (no replica: every revoke is a 503);
    "off": never; "auto": where the master owning the keys reports a connected replica (INFO
    replication, asked at most every CHECK_SECONDS per master, never on a request that does not revoke).

    WAIT counts the writes of the connection it is sent on, so it goes right after the script, in
    one pipeline on one connection to the master owning the script's slot (on a Cluster, per master).
    """

    CHECK_SECONDS = 5.0

    def __init__(self, client: redis.Redis, mode: str, timeout_ms: int):
        self.mode, self.timeout_ms = mode, timeout_ms
        self._client = client
        self._cluster = isinstance(client, RedisCluster)
        self._replicas: dict[str, tuple[float, bool]] = {}  # master name -> (checked at, has a replica)

    @property
    def active(self) -> bool:
        return self.mode != "off"

    def wanted(self, name: str, node_client: redis.Redis) -> bool:
        if self.mode != "auto":
            return self.mode == "on"
        now = time.monotonic()
        checked = self._replicas.get(name)
        if checked is None or now - checked[0] > self.CHECK_SECONDS:
            info = node_client.info("replication")
            checked = (now, int(info.get("connected_slaves", 0)) > 0)
            self._replicas[name] = checked
        return checked[1]

    def run(self, calls: Sequence[Write]) -> list[Any]:
        """Run script calls (or plain write commands: (None, keys, command)), followed on each master
        they write to by WAIT when wanted; their results in order.
        Raises ReplicaWaitTimeout when a wanted WAIT saw no replica confirm."""
        if not self._cluster:
            if not self.wanted("", self._client):  # as without the setting: the thread's own connection
                script, script_keys, args = calls[0]
                if len(calls) == 1 and script is not None:
                    return [script(keys=script_keys, args=args)]
                return run_pipelined(self._client, calls)
            return self._run_on(self._client, "", list(range(len(calls))), calls)
        results: list[Any] = [None] * len(calls)
        for attempt in range(3):
            by_node: dict[str, tuple[Any, list[int]]] = {}
            for i, (_, script_keys, _) in enumerate(calls):
                if results[i] is None:
                    node = self._client.get_node_from_key(script_keys[0])  # type: ignore[attr-defined]
                    by_node.setdefault(node.name, (node, []))[1].append(i)
            moved = False
            for name, (node, indexes) in by_node.items():
                node_client = self._client.get_redis_connection(node)  # type: ignore[attr-defined]
                for i, result in zip(indexes, self._run_on(node_client, name, indexes, calls), strict=True):
                    if isinstance(result, (MovedError, AskError)) and attempt < 2:
                        moved = True
                    elif isinstance(result, (MovedError, AskError)):
                        raise redis.ConnectionError("the slot is still moving (a failover)")  # a 503
                    elif isinstance(result, Exception):
                        raise result
                    else:
                        results[i] = result
            if not moved:
                break
            self._client.nodes_manager.initialize()  # type: ignore[attr-defined]  # a failover: a new map
        return results

    def _run_on(self, node_client: redis.Redis, name: str, indexes: list[int], calls: Sequence[Write]) -> list[Any]:
        wait = self.wanted(name, node_client)
        mine = [calls[i] for i in indexes]
        results, acked = self._pipeline(node_client, mine, wait)
        refused = [j for j, result in enumerate(results) if isinstance(result, NoScriptError)]
        if refused:  # a restarted or promoted node: the same calls by their text, in one pipeline again
            again, acked_again = self._pipeline(node_client, [mine[j] for j in refused], wait, whole=True)
            acked = min(int(acked), int(acked_again))
            for j, result in zip(refused, again, strict=True):
                results[j] = result
        if not self._cluster:
            for result in results:
                if isinstance(result, Exception):
                    raise result
        if wait and int(acked) < 1:
            self._replicas.pop(name, None)  # "auto" asks again next time: the replica may be gone (a failover)
            raise ReplicaWaitTimeout("no replica confirmed the revoke in time")
        return results

    def _pipeline(
        self, node_client: redis.Redis, calls: Sequence[Write], wait: bool, *, whole: bool = False
    ) -> tuple[list[Any], Any]:
        """The calls then WAIT, in one pipeline: one connection, one round trip."""
        if not wait:
            return _evalsha_pipeline(node_client, calls, whole=whole), 1
        out = _evalsha_pipeline(node_client, [*calls, (None, [], ["WAIT", 1, self.timeout_ms])], whole=whole)
        acked = out.pop()
        if isinstance(acked, Exception):
            raise acked
        return out, acked
