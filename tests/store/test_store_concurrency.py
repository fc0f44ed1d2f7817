"""Races decided by Redis: exact counts, no live token after a revoke, revokes seen all at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import redis

from app.store.tokens import RefreshTokenStore
from tests.store.store_kit import Kit, event_json, make_store, new_user, next_value

T = TypeVar("T")


def run_together(workers: list[Callable[[RefreshTokenStore], T]], client: redis.Redis) -> list[T]:
    """Run each worker in its own thread with its own client (one shared pool), all released at once."""
    barrier = threading.Barrier(len(workers))

    def start(worker: Callable[[RefreshTokenStore], T]) -> T:
        # a Cluster client is shared (it keeps a pool per node)
        own = redis.Redis(connection_pool=client.connection_pool) if hasattr(client, "connection_pool") else client
        store = make_store(own)
        barrier.wait(timeout=10)
        return worker(store)

    with ThreadPoolExecutor(len(workers)) as pool:
        return list(pool.map(start, workers))


def test_sixteen_concurrent_revokes_of_one_user_count_each_token_exactly_once(kit: Kit) -> None:
    user = new_user()
    tokens = kit.mint_many(40, user)

    def revoke(store: RefreshTokenStore) -> Any:
        return store.revoke_user(user, None, tenant="", cap=100, event=event_json())

    counts = run_together([revoke] * 16, kit.redis)

    assert sum(c.invalidated for c in counts) == 40
    assert sorted(c.invalidated for c in counts) == [0] * 15 + [40]
    assert sorted(c.previously_invalidated for c in counts) == [0] + [40] * 15
    assert not any(kit.is_live(t) for t in tokens)
    assert sum(int(e["n"]) for e in kit.events(user) if e["t"].endswith("revoke")) == 40


def test_concurrent_revokes_of_one_token_have_exactly_one_winner(kit: Kit) -> None:
    user = new_user()
    tokens = kit.mint_many(10, user)

    def revoke_all(store: RefreshTokenStore) -> list[bool]:
        return [store.revoke_token(event=event_json(), presented=t.presented) is not None for t in tokens]

    wins = run_together([revoke_all] * 8, kit.redis)

    assert [sum(column) for column in zip(*wins, strict=True)] == [1] * len(tokens)


def test_a_revoke_racing_exchanges_never_leaves_a_live_token(kit: Kit) -> None:
    user = new_user()
    tokens = kit.mint_many(30, user, policy="S:600000")

    def exchange(store: RefreshTokenStore) -> int:
        used = 0
        for _ in range(3):
            for t in tokens:
                used += not isinstance(store.exchange(t.presented, "10.0.0.2", "{}", next_value), str)
        return used

    def revoke(store: RefreshTokenStore) -> int:
        revoked = sum(store.revoke_token(event=event_json(), presented=t.presented) is not None for t in tokens[::2])
        return revoked + store.revoke_user(user, None, tenant="", cap=1, event=event_json()).invalidated

    *_, revoked = run_together([exchange, exchange, exchange, revoke], kit.redis)

    assert revoked == len(tokens)
    assert [kit.exchange(t) for t in tokens] == ["revoked"] * len(tokens)
    assert kit.list_all(user) == []
    assert all(kit.store.get(t.token_id) is None for t in tokens)


def test_readers_see_a_users_revoke_all_at_once(kit: Kit) -> None:
    """No reader sees some of a user's tokens revoked and others not: the revoke is one atomic step."""
    user = new_user()
    tokens = kit.mint_many(40, user)
    readers_started = [threading.Event() for _ in range(4)]

    def lister(started: threading.Event) -> Callable[[RefreshTokenStore], list[int]]:
        def read(store: RefreshTokenStore) -> list[int]:
            seen: list[int] = []
            while not seen or seen[-1] and len(seen) < 100_000:
                found, _ = store.list_tokens(user, None, tenant="", limit=100, cursor=None)
                seen.append(len(found))
                started.set()
            return seen

        return read

    def exchanger(started: threading.Event) -> Callable[[RefreshTokenStore], list[str]]:
        def use(store: RefreshTokenStore) -> list[str]:
            outcomes: list[str] = []
            while not outcomes or outcomes[-1] != "revoked" and len(outcomes) < 100_000:
                for t in tokens:
                    result = store.exchange(t.presented, "10.0.0.3", "{}", next_value)
                    outcomes.append(result if isinstance(result, str) else "live")
                started.set()
            return outcomes

        return use

    def revoker(store: RefreshTokenStore) -> int:
        for started in readers_started:
            assert started.wait(10)
        return store.revoke_user(user, None, tenant="", cap=100, event=event_json()).invalidated

    readers = [lister(readers_started[0]), lister(readers_started[1])]
    readers += [exchanger(readers_started[2]), exchanger(readers_started[3])]
    *results, revoked = run_together([*readers, revoker], kit.redis)

    assert revoked == 40
    listed_a, listed_b, used_a, used_b = results
    for listed in (listed_a, listed_b):
        assert listed[0] == 40 and listed[-1] == 0
        assert set(listed) == {40, 0}
    for outcomes in (used_a, used_b):
        assert outcomes[0] == "live"
        first = outcomes.index("revoked")
        assert set(outcomes[:first]) == {"live"}
        assert set(outcomes[first:]) == {"revoked"}
