"""Every atomic step on one hash slot: each script call (EVAL/EVALSHA: its keys, and the bucket tag a
script builds more keys from, ARGV[1]) and each MULTI, whatever code sends it, is checked as it is
sent, in every test of the suite (tests/conftest.py), so a new script or transaction cannot slip.
Redis Cluster refuses a step that spans slots; one node would run it silently."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from redis.client import Pipeline
from redis.cluster import ClusterPipeline, RedisCluster
from redis.crc import key_slot

from app.store.connection import ThreadConnectionRedis

TAG = re.compile(r"^\{[^}]+\}$")
MULTI_KEYED = {"DEL", "UNLINK", "EXISTS", "MGET", "TOUCH"}  # every argument a key


def slot(key: Any) -> int:
    return int(key_slot(key.encode() if isinstance(key, str) else key))


def script_slots(numkeys: int, keys_and_args: tuple[Any, ...]) -> set[int]:
    """The slots a script call touches: its keys, and keys of its ARGV[1] tag (see scripts/_lib.lua)."""
    keys = list(keys_and_args[:numkeys])
    args = keys_and_args[numkeys:]
    if args and isinstance(args[0], str) and TAG.match(args[0]):
        keys.append(f"x:{args[0]}")
    return {slot(k) for k in keys}


def transaction_slots(stack: list[Any]) -> set[int]:
    slots: set[int] = set()
    for command in stack:
        args = command[0] if isinstance(command, tuple) else command.args
        name = str(args[0]).upper()
        keys = args[1:] if name in MULTI_KEYED else args[1:2]
        slots |= {slot(k) for k in keys}
    return slots


class Recorder:
    def __init__(self) -> None:
        self.calls = 0
        self.violations: list[str] = []

    def script(self, command: str, numkeys: int, keys_and_args: tuple[Any, ...]) -> None:
        self.calls += 1
        slots = script_slots(int(numkeys), keys_and_args)
        if len(slots) > 1:
            self.violations.append(f"{command} over slots {sorted(slots)}: {keys_and_args[: int(numkeys) + 1]}")

    def pipeline(self, stack: list[Any], transaction: bool) -> None:
        """A pipeline's script calls, each on its own; and with MULTI, all its commands together."""
        for command in stack:
            args = command[0] if isinstance(command, tuple) else command.args
            if str(args[0]).upper() in ("EVALSHA", "EVAL"):
                self.script(str(args[0]).upper(), int(args[2]), tuple(args[3:]))
        if transaction:
            self.transaction(stack)

    def transaction(self, stack: list[Any]) -> None:
        slots = transaction_slots(stack)
        if len(slots) > 1:
            names = [(c[0] if isinstance(c, tuple) else c.args)[:2] for c in stack]
            self.violations.append(f"MULTI over slots {sorted(slots)}: {names}")


_active: list[Recorder] = []


@contextmanager
def recording() -> Iterator[Recorder]:
    """Patch redis-py where every script call and every transaction passes, for the duration: each
    client class's execute_command (a script called by SHA, as app/store/lua.py's LeanScript calls
    it, or by redis-py's eval/evalsha, which call it) and each pipeline's execute. A recording inside
    another one records alone (the outer one does not see its calls)."""
    recorder = Recorder()
    if _active:
        _active.append(recorder)
        try:
            yield recorder
        finally:
            _active.remove(recorder)
        return
    clients = (redis.Redis, ThreadConnectionRedis, RedisCluster)  # each sends EVAL/EVALSHA by execute_command
    originals = {client: client.execute_command for client in clients}
    original_execute, original_cluster_execute = Pipeline.execute, ClusterPipeline.execute

    def checked(original: Any) -> Any:
        def execute_command(self: Any, *args: Any, **options: Any) -> Any:
            name = str(args[0]).upper() if args else ""
            if name in ("EVALSHA", "EVAL"):
                _active[-1].script(name, int(args[2]), tuple(args[3:]))
            return original(self, *args, **options)

        return execute_command

    def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        _active[-1].pipeline(self.command_stack, bool(self.transaction))
        return original_execute(self, *args, **kwargs)

    def cluster_execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        strategy = self._execution_strategy
        _active[-1].pipeline(strategy.command_queue, type(strategy).__name__ == "TransactionStrategy")
        return original_cluster_execute(self, *args, **kwargs)

    for client, original in originals.items():
        client.execute_command = checked(original)  # type: ignore[method-assign]
    Pipeline.execute = execute  # type: ignore[method-assign]
    ClusterPipeline.execute = cluster_execute  # type: ignore[method-assign]
    _active.append(recorder)
    try:
        yield recorder
    finally:
        _active.remove(recorder)
        for client, original in originals.items():
            client.execute_command = original  # type: ignore[method-assign]
        Pipeline.execute = original_execute  # type: ignore[method-assign]
        ClusterPipeline.execute = original_cluster_execute  # type: ignore[method-assign]
