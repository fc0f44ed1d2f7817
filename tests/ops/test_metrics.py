"""GET /metrics through the app: who may scrape, and that each counter moves with what it counts."""

from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from tests.api.helpers import KEY, exchange_status, mint, new_application, user
from tests.conftest import make_settings

SCRAPER_TOKEN = "scrape-0123456789abcdef"


def scrape(client, **environ) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1", **environ})
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def app_with(redis_client, redis_server):
    def build(**overrides):
        settings = make_settings(redis_server.url, **{"metrics_cache_seconds": 0.0, **overrides})
        return create_app(settings).test_client(use_cookies=False)

    return build


def test_a_revoke_moves_the_revocation_counters_by_scope_and_by_count(client):
    app_id, who = new_application(client), user()
    for _ in range(3):
        mint(client, who, app_id)
    before = scrape(client)
    assert client.delete(f"/api/jwt/refresh?userId={who}", headers=KEY).json["invalidatedTokens"] == 3
    token = mint(client, user(), app_id)
    assert client.delete(f"/api/jwt/refresh/{token['refreshTokenId']}", headers=KEY).status_code == 200
    after = scrape(client)
    assert (
        value(after, "refreshd_revocations_total", scope="user")
        == value(before, "refreshd_revocations_total", scope="user") + 1
    )
    assert (
        value(after, "refreshd_revoked_tokens_total", scope="user")
        == value(before, "refreshd_revoked_tokens_total", scope="user") + 3
    )
    assert (
        value(after, "refreshd_revocations_total", scope="id")
        == value(before, "refreshd_revocations_total", scope="id") + 1
    )


def test_an_application_revoke_counts_its_scope(client):
    app_id = new_application(client)
    mint(client, user(), app_id)
    before = scrape(client)
    assert client.delete(f"/api/jwt/refresh?applicationId={app_id}", headers=KEY).json["invalidatedTokens"] == 1
    after = scrape(client)
    for name, step in (("refreshd_revocations_total", 1), ("refreshd_revoked_tokens_total", 1)):
        assert value(after, name, scope="application") == value(before, name, scope="application") + step


def test_exchanges_are_counted_by_outcome_including_reuse(client):
    reusable = new_application(client, refreshTokenTimeToLiveInMinutes=60)
    one_time = new_application(client, refreshTokenUsagePolicy="OneTimeUse")
    before = scrape(client)
    live = mint(client, user(), reusable)["refreshToken"]
    assert exchange_status(client, live) == 200
    assert exchange_status(client, "no-such-token-" + "x" * 30) == 400
    client.delete(f"/api/jwt/refresh?token={live}", headers=KEY)
    assert exchange_status(client, live) == 400
    first = mint(client, user(), one_time)["refreshToken"]
    assert exchange_status(client, first) == 200
    assert exchange_status(client, first) == 400  # an old value of a one-time token again: reuse
    after = scrape(client)
    for outcome, step in (("ok", 2), ("invalid", 1), ("revoked", 1), ("reuse", 1)):
        moved = value(after, "refreshd_exchanges_total", outcome=outcome) - value(
            before, "refreshd_exchanges_total", outcome=outcome
        )
        assert moved == step, outcome


def test_requests_are_counted_by_route_template_method_and_status_never_by_raw_path(client):
    app_id = new_application(client)
    token_id = mint(client, user(), app_id)["refreshTokenId"]
    before = scrape(client)
    assert client.get(f"/api/jwt/refresh/{token_id}", headers=KEY).status_code == 200
    assert client.get("/no/such/path/" + token_id).status_code == 404
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert token_id not in response.text
    after = scrape(client)
    name = "refreshd_http_request_duration_seconds_count"
    labels = {"route": "/api/jwt/refresh/<token_id>", "method": "GET", "status": "200"}
    assert value(after, name, **labels) == value(before, name, **labels) + 1
    unmatched = {"route": "<unmatched>", "method": "GET", "status": "404"}
    assert value(after, name, **unmatched) == value(before, name, **unmatched) + 1
    assert value(after, "refreshd_http_request_duration_seconds_bucket", le="+Inf", **labels) == value(
        after, name, **labels
    )


def test_redis_round_trips_are_timed_by_command(client):
    before = scrape(client)
    mint(client, user(), new_application(client))
    after = scrape(client)
    name = "refreshd_redis_command_duration_seconds_count"
    assert value(after, name, command="EVALSHA") > value(before, name, command="EVALSHA")


def test_live_sessions_per_application_come_from_the_index_sizes(app_with):
    client = app_with()
    first, second = new_application(client), new_application(client)
    for _ in range(3):
        mint(client, user(), first)
    mint(client, user(), second)
    samples = scrape(client)
    assert value(samples, "refreshd_live_sessions", application_id=first) == 3
    assert value(samples, "refreshd_live_sessions", application_id=second) == 1
    assert value(samples, "refreshd_store_up") == 1
    assert ("refreshd_webhook_dead_letters", ()) in samples
    assert ("refreshd_webhook_oldest_pending_event_age_seconds", ()) in samples


def test_live_sessions_are_capped_to_a_number_of_applications_and_cached(app_with):
    client = app_with(metrics_max_applications=1, metrics_cache_seconds=3600.0)
    new_application(client), new_application(client)
    samples = scrape(client)
    assert len([key for key in samples if key[0] == "refreshd_live_sessions"]) == 1
    assert value(samples, "refreshd_live_sessions_omitted_applications") >= 1
    (shown,) = [dict(key[1])["application_id"] for key in samples if key[0] == "refreshd_live_sessions"]
    mint(client, user(), shown)
    assert value(scrape(client), "refreshd_live_sessions", application_id=shown) == 0  # cached for an hour


def test_only_loopback_may_scrape_by_default(app_with):
    client = app_with()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    refused = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert refused.status_code == 401 and refused.data == b""
    assert client.post("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 405


def test_a_metrics_token_lets_any_address_scrape_and_token_mode_refuses_loopback_without_it(app_with):
    client = app_with(metrics_token=SCRAPER_TOKEN)
    bearer = {"Authorization": f"Bearer {SCRAPER_TOKEN}"}
    far = {"REMOTE_ADDR": "10.1.2.3"}
    assert client.get("/metrics", headers=bearer, environ_base=far).status_code == 200
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}, environ_base=far).status_code == 401
    strict = app_with(metrics_token=SCRAPER_TOKEN, metrics_access="token")
    assert strict.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 401
    assert strict.get("/metrics", headers=bearer, environ_base=far).status_code == 200


def test_metrics_can_be_opened_to_all_or_turned_off(app_with):
    assert app_with(metrics_access="open").get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert app_with(metrics_access="off").get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 404


def test_metrics_answer_while_redis_is_down_and_say_so(redis_server):
    from tests.conftest import free_port

    client = create_app(make_settings(f"redis://127.0.0.1:{free_port()}/0", metrics_cache_seconds=0.0)).test_client()
    samples = scrape(client)
    assert value(samples, "refreshd_store_up") == 0
    assert value(samples, "refreshd_redis_errors_total", error="ConnectionError") >= 1


def test_metrics_are_not_in_the_openapi_document(client):
    assert "/metrics" not in client.get("/api/openapi.json").json["paths"]


def test_bad_metrics_settings_are_refused():
    from app.config import Settings, SettingsError

    for bad in ({"metrics_access": "everyone"}, {"metrics_token": "short"}, {"metrics_access": "token"}):
        with pytest.raises(SettingsError):
            Settings(**bad)
    assert re.match(r"^loopback$", Settings().metrics_access)


def test_tallied_observations_are_written_as_direct_ones_would_be() -> None:
    from prometheus_client import CollectorRegistry, Counter, Histogram

    from app.metrics import LATENCY_BUCKETS, Tally

    registry = CollectorRegistry()
    histogram = Histogram("h_test", "h", ["way"], buckets=LATENCY_BUCKETS, registry=registry)
    counter = Counter("c_test", "c", ["way"], registry=registry)
    amounts = [0.0, 0.0005, 0.00051, 0.001, 0.3, 5.0, 7.5, 0.0025, 0.0005]
    tally = Tally()
    for amount in amounts:
        histogram.labels("direct").observe(amount)
        tally.observe(histogram.labels("tallied"), amount)
        counter.labels("direct").inc(2)
        tally.inc(counter.labels("tallied"), 2)

    def samples(way: str) -> list[tuple[str, dict[str, str], float]]:
        return [
            (s.name, {k: v for k, v in s.labels.items() if k != "way"}, s.value)
            for family in registry.collect()
            for s in family.samples
            if s.labels.get("way") == way and not s.name.endswith("_created")
        ]

    assert samples("tallied") != samples("direct")  # nothing written before the flush
    tally.flush()
    assert samples("tallied") == samples("direct")
    tally.flush()  # nothing pending: nothing written twice
    assert samples("tallied") == samples("direct")
