"""Events each store step appends, and what each step costs in Redis commands and round trips."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from app import events
from app.store import keys
from app.store.lua import NAMES, source
from tests.store.store_kit import Kit, bucket_of, event_json, imported_value, make_store, new_user, now_ms, user_in

FIELDS = {"t", "d", "n", "p", "ids"}

# -- events -----------------------------------------------------------------------------------------


def test_minting_appends_exactly_one_create_event_to_the_users_bucket_stream(kit: Kit) -> None:
    user = new_user()
    kit.mint(user)
    event = json.dumps({"id": "e1", "scope": "token"})

    token = kit.mint(user, event=event)

    entries = kit.events(user)
    assert len(entries) == 2
    last = entries[-1]
    assert set(last) >= FIELDS
    assert (last["t"], last["d"], last["n"], last["p"], last["ids"]) == (
        events.CREATE,
        event,
        "1",
        "0",
        keys.stored_id(token.token_id),  # as Redis keeps it; events.read names it whole
    )


def test_an_import_appends_one_event_per_bucket_naming_every_token(kit: Kit) -> None:
    user = user_in(4)
    prepared = [kit.new_import(user, imported_value(user, foreign=f)) for f in (True, False, True)]

    tokens = kit.import_tokens(prepared, event='{"id":"imp"}')

    (entry,) = kit.events(user)
    assert (entry["t"], entry["d"], entry["n"]) == (events.IMPORT, '{"id":"imp"}', "3")
    assert entry["ids"].split(",") == [keys.stored_id(t.token_id) for t in tokens]
    assert events.read(entry)["tokens"] == 3
    assert events.read(entry)["refreshTokenIds"] == [t.token_id for t in tokens]
    others = [keys.events(tag) for tag in keys.TAGS if tag != keys.TAGS[4]]
    assert sum(kit.redis.xlen(k) for k in others) == 0


def test_revoking_one_token_appends_exactly_one_revoke_event_naming_it(kit: Kit) -> None:
    user = new_user()
    token = kit.mint(user, "app-1", "tenant-1")

    kit.store.revoke_token(event='{"id":"r1"}', presented=token.presented)
    kit.store.revoke_token(event='{"id":"r2"}', presented=token.presented)

    create, revoke = kit.events(user)
    assert set(revoke) >= FIELDS
    assert (revoke["t"], revoke["d"], revoke["n"], revoke["p"], revoke["ids"]) == (
        events.REVOKE,
        '{"id":"r1"}',
        "1",
        "0",
        keys.stored_id(token.token_id),  # as Redis keeps it; events.read names it whole
    )
    read = events.read(revoke)
    assert (read["id"], read["invalidatedTokens"], read["previouslyInvalidatedTokens"]) == ("r1", 1, 0)
    assert read["refreshTokenIds"] == [token.token_id]
    assert (read["userId"], read["applicationId"], read["tenantId"]) == (user, "app-1", "tenant-1")


def test_revoking_a_user_appends_one_event_with_its_counts_and_revoking_nothing_appends_none(kit: Kit) -> None:
    user = new_user()
    tokens = kit.mint_many(3, user)
    kit.revoke(tokens[0])
    before = len(kit.events(user))

    kit.store.revoke_user(user, None, tenant="", cap=1, event='{"id":"ru"}')
    kit.store.revoke_user(user, None, tenant="", cap=1, event='{"id":"again"}')
    kit.store.revoke_user(user_in(bucket_of(user)), None, tenant="", cap=1, event='{"id":"nobody"}')

    entries = kit.events(user)
    assert len(entries) == before + 1
    read = events.read(entries[-1])
    assert (read["type"], read["id"]) == (events.REVOKE, "ru")
    assert (read["invalidatedTokens"], read["previouslyInvalidatedTokens"]) == (2, 1)
    assert len(read["refreshTokenIds"]) == 1


def test_revoking_an_application_appends_one_event_with_the_totals_to_its_own_bucket(kit: Kit) -> None:
    app_id = str(keys.new_token_id(5))  # an application id names its bucket as a user id does
    buckets = (0, 7, 15)
    for b in buckets:
        kit.mint_many(2, user_in(b), app_id)
    first = kit.mint(user_in(9), app_id)
    kit.revoke(first)
    kit.mint(user_in(3), "app-b")
    lengths = {tag: kit.redis.xlen(keys.events(tag)) for tag in keys.TAGS}

    count = kit.revoke_apps(app_id, cap=32, event='{"id":"ra"}')
    kit.revoke_apps(app_id, event='{"id":"again"}')  # nothing left to invalidate: no event

    grown = {tag: kit.redis.xlen(keys.events(tag)) - n for tag, n in lengths.items()}
    assert grown == {tag: 1 if i == 5 else 0 for i, tag in enumerate(keys.TAGS)}
    _, fields = kit.redis.xrange(keys.events(keys.TAGS[5]))[-1]
    read = events.read(fields)
    assert (read["type"], read["id"]) == (events.REVOKE, "ra")
    assert (read["invalidatedTokens"], read["previouslyInvalidatedTokens"]) == (6, 1)
    assert sorted(read["refreshTokenIds"]) == sorted(count.token_ids) and len(count.token_ids) == 6


def test_revoking_a_tenants_applications_appends_one_event_to_the_tenants_bucket(kit: Kit) -> None:
    tenant = str(keys.new_token_id(11))
    for app_id in ("app-a", "app-b"):
        for b in (1, 2):
            kit.mint(user_in(b), app_id, tenant)
    lengths = {tag: kit.redis.xlen(keys.events(tag)) for tag in keys.TAGS}

    kit.revoke_apps("app-a", "app-b", tenant_id=tenant, event='{"id":"rt"}')

    grown = {tag: kit.redis.xlen(keys.events(tag)) - n for tag, n in lengths.items()}
    assert grown == {tag: 1 if i == 11 else 0 for i, tag in enumerate(keys.TAGS)}
    _, fields = kit.redis.xrange(keys.events(keys.TAGS[11]))[-1]
    assert events.read(fields)["invalidatedTokens"] == 4


def test_a_revoke_that_finds_nothing_appends_no_event(kit: Kit) -> None:
    user = new_user()
    token = kit.mint(user)
    kit.store.revoke_token(event=event_json(), token_id=token.token_id)
    before = kit.events(user)

    kit.revoke(token)
    kit.store.revoke_token(event=event_json(), token_id=token.token_id)
    kit.store.revoke_token(event=event_json(), token_id=str(keys.new_token_id(bucket_of(user))))
    kit.store.revoke_user(user, None, tenant="", cap=10, event=event_json())

    assert kit.events(user) == before


def test_the_event_stream_is_trimmed_to_its_maximum_length(redis_client: redis.Redis) -> None:
    kit = Kit(redis_client, make_store(redis_client, stream_max_length=10))
    user = user_in(2)

    for _ in range(300):
        kit.mint(user)

    assert redis_client.xlen(keys.events(keys.TAGS[2])) < 150


# -- commands and round trips -----------------------------------------------------------------------


class Recorder:
    """What a client sends: the command names, and how many writes to the socket (round trips)."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.round_trips = 0

    def measure(self, step: Callable[[], Any]) -> tuple[int, list[str]]:
        self.commands, self.round_trips = [], 0
        step()
        return self.round_trips, [c.upper() for c in self.commands]


@pytest.fixture
def counted(redis_client: redis.Redis) -> Iterator[tuple[Kit, Recorder]]:
    recorder = Recorder()

    class Counting(redis.Connection):
        def send_command(self, *args: Any, **kwargs: Any) -> None:
            recorder.commands.append(str(args[0]))
            super().send_command(*args, **kwargs)

        def pack_commands(self, commands: Any) -> Any:
            recorder.commands += [str(c[0]) for c in commands]
            return super().pack_commands(commands)

        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            recorder.round_trips += 1
            super().send_packed_command(command, check_health)

    kwargs = redis_client.connection_pool.connection_kwargs
    pool = redis.ConnectionPool(
        connection_class=Counting, host=kwargs["host"], port=kwargs["port"], decode_responses=True
    )
    client = redis.Redis(connection_pool=pool)
    client.ping()
    for name in NAMES:  # as after the first call of each: the server knows every script
        client.script_load(source(name))
    yield Kit(client, make_store(client)), recorder
    client.close()
    pool.disconnect()


def test_each_step_on_one_bucket_is_a_single_evalsha(counted: tuple[Kit, Recorder]) -> None:
    kit, recorder = counted
    user = new_user()
    token, other, third = kit.mint(user), kit.mint(user, "app-2"), kit.mint(user)

    steps: dict[str, Callable[[], Any]] = {
        "mint": lambda: kit.mint(user),
        "exchange": lambda: kit.exchange(token),
        "list": lambda: kit.list_all(user),
        "revoke by value": lambda: kit.revoke(token),
        "revoke by id": lambda: kit.store.revoke_token(event=event_json(), token_id=other.token_id),
        "revoke user for application": lambda: kit.store.revoke_user(
            user, "app-1", tenant="", cap=9, event=event_json()
        ),
        "revoke user": lambda: kit.store.revoke_user(user, None, tenant="", cap=9, event=event_json()),
        "get by id (the record and the watermarks covering it)": lambda: kit.store.get(third.token_id),
        "introspect by value (the record the value names)": lambda: kit.store.find(third.presented),
        "is the session live and its access token not denied": lambda: kit.store.session_is_live(
            third.token_id, str(keys.new_token_id(bucket_of(third.token_id)))
        ),
        "invalidate everything of the user": lambda: kit.marks.invalidate_user(
            user, cap=9, event=event_json(), access_ttl_ms=60_000
        ),
    }
    for name, step in steps.items():
        assert recorder.measure(step) == (1, ["EVALSHA"]), name


def test_a_value_whose_pointer_is_in_another_bucket_is_still_one_evalsha_on_a_single_redis(
    counted: tuple[Kit, Recorder],
) -> None:
    """The script follows the pointer into the record's bucket itself (a Cluster needs a second call:
    tests/cluster)."""
    kit, recorder = counted
    user = new_user()
    token = kit.import_one(user, imported_value(user, foreign=True))
    sliding = kit.import_one(user, imported_value(user, foreign=True), policy="S:60000", start=now_ms() - 30000)

    assert recorder.measure(lambda: kit.exchange(token)) == (1, ["EVALSHA"])
    assert recorder.measure(lambda: kit.exchange(sliding)) == (1, ["EVALSHA"])
    assert recorder.measure(lambda: kit.revoke(token)) == (1, ["EVALSHA"])


def test_an_import_with_pointers_in_other_buckets_claims_them_in_a_round_trip_first(
    counted: tuple[Kit, Recorder],
) -> None:
    kit, recorder = counted
    user = user_in(1)
    prepared = [kit.new_import(user, imported_value(user, foreign=f)) for f in (True, False, True)]

    assert recorder.measure(lambda: kit.import_tokens(prepared)) == (2, ["SET", "SET", "EVALSHA"])


def test_revoking_an_application_is_one_round_trip_of_one_evalsha_per_bucket_then_one_for_event_and_job(
    counted: tuple[Kit, Recorder],
) -> None:
    kit, recorder = counted
    for b in range(keys.BUCKETS):
        kit.mint(user_in(b), "app-a")

    assert recorder.measure(lambda: kit.revoke_apps("app-a", cap=9)) == (
        2,
        ["EVALSHA"] * keys.BUCKETS + ["ZADD", "XADD"],
    )


def test_a_cleanup_step_is_one_round_trip_of_one_evalsha_per_bucket_after_reading_its_job(
    counted: tuple[Kit, Recorder],
) -> None:
    kit, recorder = counted
    for b in range(keys.BUCKETS):
        kit.mint_many(3, user_in(b), "app-a")
    kit.revoke_apps("app-a")
    kit.marks.cleanup_batch = 2

    assert recorder.measure(lambda: kit.marks.cleanup_step("app-a")) == (2, ["ZSCORE"] + ["EVALSHA"] * keys.BUCKETS)


def test_a_step_of_the_burial_of_users_killed_tokens_is_one_round_trip_of_one_evalsha_per_bucket(
    counted: tuple[Kit, Recorder],
) -> None:
    kit, recorder = counted
    for b in range(keys.BUCKETS):
        user = user_in(b)
        kit.mint_many(3, user, "app-a")
        kit.store.revoke_user(user, None, tenant="", cap=9, event=event_json())
    kit.marks.cleanup_batch = 2

    assert recorder.measure(kit.marks.bury_users_step) == (1, ["EVALSHA"] * keys.BUCKETS)


def test_an_import_with_every_pointer_in_its_users_bucket_is_one_round_trip(
    counted: tuple[Kit, Recorder],
) -> None:
    kit, recorder = counted
    users = [user_in(1), user_in(2)]
    prepared = [kit.new_import(u, imported_value(u, foreign=False)) for u in users for _ in range(2)]

    assert recorder.measure(lambda: kit.import_tokens(prepared)) == (1, ["EVALSHA", "EVALSHA"])
