"""Web workers pinned to CPUs of their own (app/affinity.py): the claim among siblings, the pinning of
every thread, the cgroup quota that `auto` respects, and the first-request hook. Real pinning runs in
child processes: pinned, this test process (and every redis-server it starts later) would share one CPU."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask

from app import affinity
from app.config import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
needs_cpus = pytest.mark.skipif(len(ALLOWED) < 2, reason="pinning needs Linux and 2 CPUs allowed")

# A worker: a thread started first (as a server's own threads are), then pin_worker; prints the CPU it
# got and every thread's CPUs, then holds its claim until its stdin closes.
WORKER = """
import json, os, sys, threading
from app.affinity import pin_worker
started = threading.Event()
threading.Thread(target=lambda: (started.set(), sys.stdin.read()), daemon=True).start()
started.wait()
cpu = pin_worker(sys.argv[1])
threads = {t: sorted(os.sched_getaffinity(int(t))) for t in os.listdir("/proc/self/task")}
print(json.dumps({"cpu": cpu, "threads": threads}), flush=True)
sys.stdin.read()
"""


@contextmanager
def worker(mode: str = "on") -> Iterator[dict]:
    """A sibling worker (a child of this process) that pinned itself; it lives until the block ends."""
    child = subprocess.Popen(
        [sys.executable, "-c", WORKER, mode], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        yield json.loads(child.stdout.readline())
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)


@contextmanager
def claimed(cpus: list[int]) -> Iterator[None]:
    """These CPUs held, as sibling workers of this process's children hold theirs."""
    held = []
    for cpu in cpus:
        claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        claim.bind(f"\0refreshd-cpu-{os.getpid()}-{cpu}")
        held.append(claim)
    try:
        yield
    finally:
        for claim in held:
            claim.close()


@needs_cpus
def test_siblings_take_different_cpus_and_every_thread_follows():
    with worker() as first, worker() as second:
        assert first["cpu"] == ALLOWED[0] and second["cpu"] == ALLOWED[1]
        for pinned in (first, second):
            assert len(pinned["threads"]) >= 2  # the thread started before pinning is pinned too
            assert all(cpus == [pinned["cpu"]] for cpus in pinned["threads"].values())


@needs_cpus
def test_a_worker_takes_the_cpu_left_free_and_none_when_all_are_held():
    with claimed(ALLOWED[:-1]), worker() as last:
        assert last["cpu"] == ALLOWED[-1]
    with claimed(ALLOWED), worker() as extra:
        assert extra["cpu"] is None  # more workers than CPUs: it runs where it may, as without pinning
        assert all(cpus == ALLOWED for cpus in extra["threads"].values())


@needs_cpus
def test_a_dead_workers_cpu_goes_to_the_next_one():
    with worker() as gone:
        pass
    with worker() as respawned:
        assert respawned["cpu"] == gone["cpu"] == ALLOWED[0]


@needs_cpus
def test_off_never_pins():
    with worker("off") as unpinned:
        assert unpinned["cpu"] is None
        assert all(cpus == ALLOWED for cpus in unpinned["threads"].values())


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def test_a_cgroup_v2_quota_on_the_process_or_above_it_counts(tmp_path):
    own = "0::/system.slice/app.service\n"
    assert not affinity.cpu_quota(own, str(tmp_path))  # nothing readable: no quota
    write(tmp_path, "cpu.max", "max 100000")
    write(tmp_path, "system.slice/app.service/cpu.max", "max 100000")
    assert not affinity.cpu_quota(own, str(tmp_path))
    write(tmp_path, "system.slice/cpu.max", "200000 100000")  # a parent's limit binds its children
    assert affinity.cpu_quota(own, str(tmp_path))


def test_a_cgroup_v1_quota_counts(tmp_path):
    own = "4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n"
    write(tmp_path, "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1")
    assert not affinity.cpu_quota(own, str(tmp_path))
    write(tmp_path, "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "50000")
    assert affinity.cpu_quota(own, str(tmp_path))
    # a container's own view: its cgroup is the root of the mount
    write(tmp_path / "inside", "cpu/cpu.cfs_quota_us", "150000")
    assert affinity.cpu_quota("2:cpu,cpuacct:/\n", str(tmp_path / "inside"))


def test_auto_leaves_a_process_under_a_quota_unpinned(tmp_path, monkeypatch):
    monkeypatch.setattr(affinity, "_own_cgroups", lambda: "0::/\n")
    monkeypatch.setattr(affinity, "_siblings", lambda: 1)
    write(tmp_path, "cpu.max", "100000 100000")
    monkeypatch.setattr(os, "sched_setaffinity", lambda *_: pytest.fail("pinned under a quota"), raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1}, raising=False)
    assert affinity.pin_worker("auto", 0, str(tmp_path)) is None


def test_auto_leaves_workers_unpinned_when_there_are_more_than_cpus(tmp_path, monkeypatch):
    monkeypatch.setattr(affinity, "_own_cgroups", lambda: "0::/\n")
    monkeypatch.setattr(os, "sched_setaffinity", lambda *_: pytest.fail("pinned 3 workers on 2 CPUs"), raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1}, raising=False)
    assert affinity.pin_worker("auto", 3, str(tmp_path)) is None
    monkeypatch.setattr(affinity, "_siblings", lambda: 3)  # `gunicorn -w 3`, WEB_CONCURRENCY unset
    assert affinity.pin_worker("auto", 0, str(tmp_path)) is None


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads Linux's /proc")
def test_a_worker_counts_its_siblings():
    me = os.getpid()
    with worker() as _, worker() as _:
        children = Path(f"/proc/{me}/task/{me}/children").read_text().split()  # the two, and any redis-server
        script = "from app.affinity import _siblings; print(_siblings())"
        counted = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
        assert int(counted.stdout) == len(children) + 1 >= 3  # and itself, a child of this process too


def test_a_multiprocessing_resource_tracker_is_no_sibling():
    me = os.getpid()
    tracker = "from multiprocessing.resource_tracker import main; import time; time.sleep(30)"
    with worker() as _, subprocess.Popen([sys.executable, "-c", tracker]) as idle:
        try:
            children = Path(f"/proc/{me}/task/{me}/children").read_text().split()
            script = "from app.affinity import _siblings; print(_siblings())"
            counted = subprocess.run(
                [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
            )
            assert int(counted.stdout) == len(children)  # itself and the others, not the tracker
        finally:
            idle.kill()


def first_request_app(monkeypatch, outcome: Exception | None = None) -> tuple[Flask, list[str]]:
    calls: list[str] = []

    def pin(mode: str, workers: int) -> None:
        calls.append(f"{mode} {workers}")
        if outcome is not None:
            raise outcome

    monkeypatch.setattr(affinity, "pin_worker", pin)
    monkeypatch.setattr(os, "sched_setaffinity", lambda *_: None, raising=False)
    app = Flask("pinned")
    app.get("/")(lambda: "ok")
    return app, calls


def test_the_first_request_pins_once_then_the_hook_is_gone(monkeypatch):
    app, calls = first_request_app(monkeypatch)
    inner = app.wsgi_app
    affinity.pin_on_first_request(app, "auto", 2)
    assert app.wsgi_app != inner
    client = app.test_client()
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(client.get("/").status_code)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 8 and calls == ["auto 2"]
    assert app.wsgi_app == inner


def test_a_failed_pinning_is_logged_and_the_request_served(monkeypatch, caplog):
    app, calls = first_request_app(monkeypatch, PermissionError("not allowed"))
    affinity.pin_on_first_request(app, "on")
    assert app.test_client().get("/").status_code == 200
    assert calls == ["on 0"] and "could not pin this worker" in caplog.text


def test_off_adds_no_hook(monkeypatch):
    app, calls = first_request_app(monkeypatch)
    inner = app.wsgi_app
    affinity.pin_on_first_request(app, "off")
    assert app.wsgi_app == inner


def test_the_setting_takes_auto_on_or_off():
    assert Settings.from_env({}).pin_workers == "auto"
    assert Settings.from_env({"REFRESHD_PIN_WORKERS": "off"}).pin_workers == "off"
    with pytest.raises(SettingsError, match="REFRESHD_PIN_WORKERS"):
        Settings.from_env({"REFRESHD_PIN_WORKERS": "yes"})
    assert Settings.from_env({"WEB_CONCURRENCY": "3"}).web_concurrency == 3
    with pytest.raises(SettingsError, match="WEB_CONCURRENCY"):
        Settings.from_env({"WEB_CONCURRENCY": "-1"})
