"""The caller's eventInfo on a revoke reaches every reader unchanged: the stream entry, the query API,
the webhook body."""

from __future__ import annotations

from typing import Any

import redis

from app import events
from app.store import keys
from tests.api.helpers import KEY, mint, new_application, user
from tests.events.conftest import Receiver
from tests.events.helpers import REVOKE, create_webhook, revoke_token

EVENT_INFO = {
    "deviceName": "Ada's phone",
    "deviceType": "MOBILE",
    "ipAddress": "203.0.113.7",
    "userAgent": "refreshd-tests/1.0",
    "location": {"city": "Zürich", "country": "CH", "latitude": 47.3769, "longitude": 8.5417},
    "data": {"reason": "lost device", "ticket": 4711},
}


def test_event_info_on_a_revoke_is_unchanged_in_the_stream_the_query_api_and_the_webhook_body(
    client: Any, redis_client: redis.Redis, receiver: Receiver, run_delivery: Any
) -> None:
    create_webhook(client, receiver.url, REVOKE)
    run_delivery()
    owner = user()
    token = mint(client, owner, new_application(client))

    revoke_token(client, token["refreshToken"], eventInfo=EVENT_INFO)

    (delivered,) = receiver.wait_for(1)
    entries = [f for _, f in redis_client.xrange(keys.events(keys.TAGS[int(owner[-1], 16)])) if f["t"] == REVOKE]
    (listed,) = client.get(f"/api/event?type={REVOKE}", headers=KEY).json["events"]
    assert events.read(entries[0])["info"] == EVENT_INFO
    assert listed["info"] == EVENT_INFO
    assert delivered["info"] == EVENT_INFO
    assert listed == delivered
