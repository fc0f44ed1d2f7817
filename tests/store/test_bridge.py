"""The web process's bridge (app/store/bridge.py): code in greenlets on an event loop sends its plain
Redis commands through one pipelined connection and gets each its own reply, error, timeout or
lost connection, as the threaded client would give them; and the service's answers through it."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import pytest
import redis
from redis.credentials import UsernamePasswordCredentialProvider
from redis.exceptions import NoScriptError

from app import metrics
from app.config import Settings
from app.store import bridge
from app.store.connection import ThreadConnectionRedis, connect
from app.store.lua import LeanScript
from tests.conftest import RedisServer, free_port


def bridged_client(url: str, **overrides: Any) -> ThreadConnectionRedis:
    client = connect(Settings(redis_url=url, **overrides))  # type: ignore[arg-type]
    assert isinstance(client, ThreadConnectionRedis) and bridge.supported(client)
    client.bridged = True
    return client


def run(link: bridge.Bridge, *functions: Any) -> list[Any]:
    """Each function run to its end in a Bridged greenlet, all at once on one event loop; what each
    returned, or the exception it raised."""

    async def main() -> list[Any]:
        return await asyncio.gather(*(link.drive(f) for f in functions), return_exceptions=True)

    return asyncio.run(main())


@pytest.fixture
def server() -> Any:
    server = RedisServer()
    yield server
    server.stop()


def test_many_greenlets_share_one_connection_and_each_gets_its_own_replies(server):
    client = bridged_client(server.url.replace("/0", "/3"))
    link = bridge.Bridge(client)
    script = LeanScript(client, "return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}")

    def work(n: int) -> Any:
        return lambda: [client.get(f"k{n}"), script(keys=[f"k{n}"], args=[str(n)]), client.get(f"k{n}")]

    direct = redis.Redis.from_url(server.url, decode_responses=True)
    answers = run(link, *(work(n) for n in range(50)))
    assert answers == [[None, [f"k{n}", str(n), 1], "1"] for n in range(50)]
    sent_get = [c for c in direct.client_list() if c["cmd"] == "get"]
    assert len(sent_get) == 1  # the bridge's one connection sent every GET (SCRIPT LOAD: the thread's own)
    assert direct.select(3) and direct.get("k7") == "1"  # SELECT from the URL's database
    assert client.get("k7") == "1"  # outside a greenlet: the thread's own connection, as before


def test_an_error_reply_is_raised_where_the_command_was_sent_and_the_next_one_is_answered(server):
    client = bridged_client(server.url)
    link = bridge.Bridge(client)
    script = LeanScript(client, "return 'loaded again'")
    direct = redis.Redis.from_url(server.url)
    direct.script_flush()  # the script is not on the server: EVALSHA fails NOSCRIPT, LeanScript loads it

    def call_missing() -> Any:
        try:
            client.evalsha("0" * 40, 0)
        except NoScriptError:
            return ["NOSCRIPT raised", script(), client.get("missing")]
        return "no error"

    assert run(link, call_missing) == [["NOSCRIPT raised", "loaded again", None]]


def test_a_reply_later_than_the_read_timeout_is_a_timeout_and_the_late_reply_goes_to_nobody(server):
    client = bridged_client(server.url, redis_read_timeout=0.3)
    link = bridge.Bridge(client)
    client.set("k", "v")

    async def main() -> list[Any]:
        assert await link.drive(lambda: client.get("k")) == "v"  # connected
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            late = await asyncio.gather(link.drive(lambda: client.get("k")), return_exceptions=True)
            waited = time.monotonic() - started
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        after = await link.drive(lambda: [client.set("k", "w"), client.get("k")])
        return [late[0], waited, after]

    late, waited, after = asyncio.run(main())
    assert isinstance(late, redis.TimeoutError) and 0.25 < waited < 0.55
    assert after == [True, "w"]  # the late "v" was read and dropped: each reply still its own command's


def test_a_lost_connection_fails_what_was_in_flight_and_the_next_command_connects_again(server):
    client = bridged_client(server.url)
    link = bridge.Bridge(client)
    killer = redis.Redis.from_url(server.url)

    def kill_my_connection() -> Any:
        client.get("warm")
        killer.client_kill_filter(_type="normal", skipme=True)
        return client.get("k")

    (lost,) = run(link, kill_my_connection)
    assert isinstance(lost, redis.ConnectionError)
    assert run(link, lambda: client.set("k", "again") and client.get("k")) == ["again"]


def test_no_redis_is_a_connection_error_and_the_bridge_serves_once_redis_is_there():
    port = free_port()
    client = bridged_client(f"redis://127.0.0.1:{port}/0", redis_connect_timeout=0.5)
    link = bridge.Bridge(client)
    (refused,) = run(link, lambda: client.get("k"))
    assert isinstance(refused, redis.ConnectionError)
    server = RedisServer(port=port)
    try:
        assert run(link, lambda: client.get("k")) == [None]
    finally:
        server.stop()


def test_a_password_is_sent_before_the_first_command(server):
    redis.Redis.from_url(server.url).config_set("requirepass", "s3cret-pass")
    client = bridged_client(f"redis://:s3cret-pass@127.0.0.1:{server.port}/2")
    assert run(bridge.Bridge(client), lambda: [client.set("k", "v"), client.get("k")]) == [[True, "v"]]
    wrong = bridged_client(f"redis://:wrong@127.0.0.1:{server.port}/0")
    (refused,) = run(bridge.Bridge(wrong), lambda: wrong.get("k"))
    assert isinstance(refused, redis.ConnectionError)  # AuthenticationError: a 503, as on a thread


def test_what_is_not_plain_is_sent_by_the_greenlets_thread_as_before(server):
    client = bridged_client(server.url)
    link = bridge.Bridge(client)

    def mixed() -> Any:
        pipe = client.pipeline()
        pipe.set("a", "1").incr("a")
        return [pipe.execute(), client.hgetall("nothing"), client.get("a")]

    assert run(link, mixed) == [[[True, 2], {}, "2"]]
    client.hset("h", mapping={"a": "1"})
    assert run(link, lambda: client.hgetall("h")) == [{"a": "1"}]  # a RESP3 map, as the threads read it


def test_only_plain_connections_are_bridged():
    assert bridge.supported(connect(Settings(redis_url="redis://127.0.0.1:6390/0")))
    assert bridge.supported(connect(Settings(redis_url="unix:///tmp/redis.sock")))
    assert not bridge.supported(connect(Settings(redis_url="rediss://127.0.0.1:6390/0")))
    assert bridge.supported(redis.Redis(protocol=2)) and bridge.supported(redis.Redis(protocol=3))
    assert not bridge.supported(redis.Redis(credential_provider=UsernamePasswordCredentialProvider("u", "p")))
    assert not bridge.supported(object())


def test_a_bridged_command_is_timed_for_metrics_as_a_threaded_one_is(server):
    client = bridged_client(server.url)
    link = bridge.Bridge(client)
    instruments = metrics.instruments()
    child = instruments.redis_duration.labels("GET")

    def timed() -> float:
        instruments.tally.flush()
        return sum(bucket.get() for bucket in child._buckets)

    before = timed()
    assert run(link, lambda: [client.get("k") for _ in range(3)]) == [[None, None, None]]
    assert timed() - before == 3
