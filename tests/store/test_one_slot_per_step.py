"""The slot check every test runs under (tests/slots.py) catches a cross-slot script call or MULTI,
and each script's key builders put every key of one call in one slot, whatever the ids."""

from __future__ import annotations

import redis

from app.config import Settings
from app.store import keys
from app.store.connection import connect
from app.store.lua import LeanScript
from tests.conftest import RedisServer
from tests.slots import recording, script_slots, slot
from tests.store.store_kit import user_in


def test_a_script_call_over_two_slots_is_recorded_as_a_violation(redis_client: redis.Redis) -> None:
    with recording() as recorder:
        redis_client.eval("return 1", 2, "rt:{b0}:x", "rt:{b1}:x", "{b0}")
        redis_client.eval("return 1", 1, "rt:{b2}:x", "{b3}")  # its tag names another slot
        redis_client.eval("return 1", 2, "rt:{b4}:x", "u:{b4}:y", "{b4}")
    # (a thread an earlier test left running may make script calls of its own meanwhile: only ours count)
    ours = [v for v in recorder.violations if "rt:{b0}:x" in v or "rt:{b2}:x" in v or "rt:{b4}:x" in v]
    assert recorder.calls >= 3 and len(ours) == 2 and not any("rt:{b4}:x" in v for v in ours)


def test_a_script_called_by_sha_as_the_service_calls_it_is_checked_too(redis_server: RedisServer) -> None:
    """The service's scripts go by SHA straight through its client's execute_command (LeanScript, on
    ThreadConnectionRedis): no redis-py script method sees them."""
    client = connect(Settings(redis_url=redis_server.url))
    script = LeanScript(client, "return 1")
    with recording() as recorder:
        script(keys=["rt:{b5}:x", "rt:{b6}:x"], args=["{b5}"])
        script(keys=["rt:{b7}:x"], args=["{b7}"])
    ours = [v for v in recorder.violations if "rt:{b5}:x" in v or "rt:{b7}:x" in v]
    assert len(ours) == 1 and "rt:{b5}:x" in ours[0]
    client.close()


def test_a_multi_over_two_slots_is_recorded_and_one_over_one_slot_is_not(redis_client: redis.Redis) -> None:
    with recording() as recorder:
        pipe = redis_client.pipeline(transaction=True)
        pipe.set("cfg:app:1", "x")
        pipe.sadd("cfg:apps", "1")
        pipe.execute()
        queue, bodies, *_ = keys.webhook_keys("w1")
        pipe.zadd(queue, {"m": 1})
        pipe.hset(bodies, "m", "{}")
        pipe.execute()
    assert len(recorder.violations) == 1 and "MULTI" in recorder.violations[0]


def test_every_key_builder_of_a_bucket_lands_in_its_tags_slot() -> None:
    for bucket, tag in enumerate(keys.TAGS):
        user, token_id = user_in(bucket), str(keys.new_token_id(bucket))
        built = [
            keys.record(tag, token_id), keys.pointer(tag, "digest"), keys.user_index(tag, user),
            keys.app_index(tag, "app"), keys.user_tombstones(tag, user),
            keys.app_tombstones(tag, "app"), keys.events(tag), keys.user_valid_from(tag, user),
            keys.app_valid_from(tag, "app"), keys.tenant_valid_from(tag, "t"), keys.app_killed(tag, "app"),
            keys.app_buried(tag, "app"), keys.denied(tag, token_id), keys.outstanding(tag, "1-0"),
            keys.app_tenants(tag),
        ]  # fmt: skip
        assert {slot(k) for k in built} == {slot(f"x:{tag}")}
        assert script_slots(2, (keys.record(tag, token_id), keys.user_index(tag, user), tag)) == {slot(built[0])}
    assert len({slot(f"x:{tag}") for tag in keys.TAGS}) == keys.BUCKETS  # 16 buckets, 16 slots
    assert len({slot(k) for k in keys.webhook_keys("some-webhook")}) == 1
