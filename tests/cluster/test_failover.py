"""Failover under load, on a real Cluster and a real Sentinel deployment: a master is killed (-9) while
clients mint, revoke and exchange; its replica is promoted; the service serves again with no restart;
and no revoke it acknowledged is undone (REFRESHD_REVOKE_WAIT_REPLICAS=auto waits for the replica)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app import create_app
from app.store import keys
from tests.api.helpers import KEY, exchange_status, new_application
from tests.cluster.conftest import LocalCluster, LocalSentinel, kill_hard, wait_until
from tests.conftest import make_settings

QUIET_AFTER_RECOVERY = 1.0  # seconds of only successes that end the load
LONGEST_LOAD = 20.0


@dataclass
class Load:
    """What the clients saw: every answer with its instant, and the revokes acknowledged."""

    answers: list[tuple[float, str, int]] = field(default_factory=list)  # (instant, what, status)
    acknowledged: list[tuple[float, str]] = field(default_factory=list)  # (instant, token value)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, what: str, status: int) -> None:
        with self.lock:
            self.answers.append((time.monotonic(), what, status))

    def failures_after(self, instant: float) -> list[tuple[float, str, int]]:
        return [a for a in self.answers if a[0] >= instant and a[2] >= 500]


def run_load(app: Any, kill: Callable[[], None], *, revokers: int = 2) -> tuple[Load, float]:
    """Mint-then-revoke in `revokers` threads and exchange in one, kill a master once revokes flow, and go on
    until the service has answered only successes for a while. Returns the load and the kill instant."""
    application = new_application(app.test_client())
    steady = [
        app.test_client()
        .post("/api/user/refresh-token", json={"userId": str(uuid.uuid4()), "applicationId": application}, headers=KEY)
        .json["refreshToken"]
        for _ in range(16)
    ]
    load, stop = Load(), threading.Event()

    def revoker() -> None:
        client = app.test_client()
        while not stop.is_set():
            minted = client.post(
                "/api/user/refresh-token", json={"userId": str(uuid.uuid4()), "applicationId": application}, headers=KEY
            )
            load.note("mint", minted.status_code)
            if minted.status_code != 200:
                continue
            value = minted.json["refreshToken"]
            revoked = client.delete(f"/api/jwt/refresh?token={value}", headers=KEY)
            load.note("revoke", revoked.status_code)
            if revoked.status_code == 200:
                with load.lock:
                    load.acknowledged.append((time.monotonic(), value))

    def exchanger() -> None:
        client = app.test_client()
        while not stop.is_set():
            for value in steady:
                load.note("exchange", exchange_status(client, value))

    threads = [threading.Thread(target=revoker) for _ in range(revokers)] + [threading.Thread(target=exchanger)]
    for thread in threads:
        thread.start()
    try:
        # kill once revokes flow (the first requests find the topology and load the scripts, which
        # took over half a second on a loaded machine), so some are acknowledged just before the kill
        deadline = time.monotonic() + 10
        while len(load.acknowledged) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        killed_at = time.monotonic()
        kill()
        while time.monotonic() - killed_at < LONGEST_LOAD:
            time.sleep(0.1)
            failures = load.failures_after(killed_at)
            last = failures[-1][0] if failures else killed_at
            since = [what for at, what, _ in load.answers if at > last]
            if (
                time.monotonic() - last > QUIET_AFTER_RECOVERY
                and time.monotonic() - killed_at > 2.0
                and len(since) >= 20
                and set(since) == {"mint", "revoke", "exchange"}
            ):  # quiet, and every kind of request answered again (not just threads still waiting)
                break
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    return load, killed_at


def assert_recovered_and_nothing_undone(app: Any, load: Load, killed_at: float, label: str) -> dict[str, float]:
    client = app.test_client()
    failures = load.failures_after(killed_at)
    recovered = (failures[-1][0] - killed_at) if failures else 0.0
    last_failure = failures[-1][0] if failures else killed_at
    since = [a for a in load.answers if a[0] > last_failure]
    assert len(since) >= 20 and {what for _, what, _ in since} == {"mint", "revoke", "exchange"}, (
        f"{label}: the service did not recover within {LONGEST_LOAD} s; {len(failures)} failures, the last at "
        f"{last_failure - killed_at:.1f} s: {sorted({(w, st) for _, w, st in failures[-20:]})}"
    )
    # a revoke's 404: the token's mint was acknowledged by the master just before it died, and never
    # reached the replica (mints do not wait for one): the token is unknown, which is fail-safe
    lost_mints = [at for at, what, status in load.answers if what == "revoke" and status == 404]
    odd = [(what, status) for _, what, status in load.answers if status not in (200, 503)]
    odd = [(what, status) for what, status in odd if (what, status) != ("revoke", 404)]
    odd += [(what, status) for _, what, status in load.answers if what == "exchange" and status == 400]
    assert not odd, f"only successes and 503s (outcome unknown), never a 500 or a 404: {odd[:5]}"
    undone = [value for _, value in load.acknowledged if exchange_status(client, value) != 400]
    just_before = [at for at, _ in load.acknowledged if killed_at - 0.5 <= at <= killed_at]
    figures = {
        "recovered_s": round(recovered, 2),
        "acknowledged": len(load.acknowledged),
        "acknowledged_in_the_last_half_second_before_the_kill": len(just_before),
        "failed_answers": len(failures),
        "mints_lost": len(lost_mints),
        "undone": len(undone),
    }
    print(f"\nfailover {label}: {figures}")
    assert just_before, "the load did revoke right up to the kill"
    assert not undone, f"{len(undone)} acknowledged revokes were undone by the failover"
    assert exchange_status(client, client.post(
        "/api/user/refresh-token", json={"userId": str(uuid.uuid4()), "applicationId": new_application(client)},
        headers=KEY,
    ).json["refreshToken"]) == 200  # fmt: skip
    return figures


def test_killing_a_cluster_master_under_load_promotes_its_replica_and_undoes_no_acknowledged_revoke() -> None:
    cluster = LocalCluster()
    try:
        app = create_app(make_settings(cluster.url))
        victim = cluster.master_of(f"x:{keys.TAGS[0]}")
        load, killed_at = run_load(app, lambda: kill_hard(victim))
        wait_until(lambda: len(cluster.masters()) == 3, 10, "no replica took over")
        assert victim not in cluster.masters()
        assert_recovered_and_nothing_undone(app, load, killed_at, "cluster")
    finally:
        cluster.stop()


def test_killing_the_sentinel_watched_master_under_load_promotes_the_replica_and_undoes_no_acknowledged_revoke() -> (
    None
):
    deployment = LocalSentinel()
    try:
        app = create_app(make_settings(deployment.url))
        new_application(app.test_client())
        assert deployment.node(deployment.master).dbsize() > 0  # the service writes to the watched master
        old_master = deployment.master.port
        load, killed_at = run_load(app, lambda: kill_hard(deployment.master))
        assert deployment.master_port() == deployment.replica.port != old_master
        assert_recovered_and_nothing_undone(app, load, killed_at, "sentinel")
    finally:
        deployment.stop()
