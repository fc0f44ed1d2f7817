"""REDIS_URL: one node, Sentinel or Cluster, and a malformed URL refused at start-up in one line that
names the problem and never repeats the password."""

from __future__ import annotations

import pytest

from app.config import Settings, SettingsError
from app.store import urls

S, C = urls.SENTINEL, urls.CLUSTER


@pytest.mark.parametrize(
    ("url", "kind", "hosts", "master", "db", "tls"),
    [
        ("redis://127.0.0.1:6379/0", urls.NODE, (), "", 0, False),
        ("rediss://:pw@cache.internal:6380/2", urls.NODE, (), "", 2, True),
        ("unix:///run/redis.sock?db=3", urls.NODE, (), "", 3, False),
        ("redis+sentinel://s1:26380,s2/refreshd/4", S, (("s1", 26380), ("s2", 26379)), "refreshd", 4, False),
        ("rediss+sentinel://s1/mymaster", urls.SENTINEL, (("s1", 26379),), "mymaster", 0, True),
        ("redis+cluster://c1:7000,[::1]:7001,c3", C, (("c1", 7000), ("::1", 7001), ("c3", 6379)), "", 0, False),
        ("rediss+cluster://user:pw@c1:7000/", urls.CLUSTER, (("c1", 7000),), "", 0, True),
    ],
)  # fmt: skip
def test_each_kind_of_url_names_its_deployment(
    url: str, kind: str, hosts: tuple[tuple[str, int], ...], master: str, db: int, tls: bool
) -> None:
    target = urls.parse(url)
    assert (target.kind, target.hosts, target.master, target.db, target.tls) == (kind, hosts, master, db, tls)


def test_credentials_go_to_the_data_nodes() -> None:
    target = urls.parse("redis+cluster://app%40x:p%3Ass@c1:7000")
    assert (target.username, target.password) == ("app@x", "p:ss")


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("http://h:6379", "must start with one of"),
        ("redis:/h", "must start with one of"),
        ("redis://", "names no host"),
        ("redis://:s3cret-pw@h:99999", "Port out of range"),
        ("redis://:s3cret-pw@h:abc", "Port could not be cast"),
        ("redis://h/x", "database number"),
        ("redis+sentinel://:s3cret-pw@s1,s2", "names its master"),
        ("redis+sentinel://s1/m/x", "only a database number"),
        ("redis+sentinel://s1/m?ssl=1", "takes no query options"),
        ("redis+cluster://c1:7000/1", "has no path"),
        ("redis+cluster://c1,,c2", "empty host"),
        ("redis+cluster://c1:0", "from 1 to 65535"),
        ("redis+cluster://[::1", "malformed host"),
    ],
)
def test_a_malformed_url_stops_start_up_with_one_line_naming_the_problem(url: str, names: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"REDIS_URL": url})
    message = str(refused.value)
    assert message.startswith("REDIS_URL") and names in message and "\n" not in message
    assert "s3cret-pw" not in message


def test_the_replica_wait_settings_are_checked() -> None:
    assert Settings.from_env({}).revoke_wait_replicas == "auto"
    with pytest.raises(SettingsError, match="REFRESHD_REVOKE_WAIT_REPLICAS"):
        Settings.from_env({"REFRESHD_REVOKE_WAIT_REPLICAS": "sometimes"})
    with pytest.raises(SettingsError, match="REFRESHD_REVOKE_WAIT_TIMEOUT_MS"):
        Settings.from_env({"REFRESHD_REVOKE_WAIT_TIMEOUT_MS": "0"})
