"""Each web worker on a CPU of its own (REFRESHD_PIN_WORKERS: auto, on, off).

Under Granian a request runs in a Python thread, handed over from its Rust I/O threads, and a
worker's two Python threads trade the GIL around each Redis round trip: 5-7 context switches a
request; under the Procfile's uvicorn (app/asgi.py) a worker's event loop still wakes up once or
twice a request. With all
of a worker's threads on one CPU those are wake-ups on the CPU that is already running the worker
(no wake-up of another CPU, caches warm), which is what bounds the hot routes on a small machine
(bench/README.md, "Where a request's CPU goes under load").

A worker claims the lowest-numbered CPU it may use that no sibling (a process of the same parent:
the server's other workers) holds, by binding an abstract Unix socket named for the parent and the
CPU. The kernel frees the name when the worker dies, so a respawned worker takes its CPU back; a
worker that finds none free (more workers than CPUs) runs unpinned, as without this.

`auto` pins only where that starves no one: on Linux, more than one CPU allowed, no cgroup CPU quota
(a container's CPU limit: the CPUs such a process sees are the host's, shared by every container on
it), and no more workers than CPUs (WEB_CONCURRENCY, or the processes the parent has started,
whichever is more): with one worker more than the CPUs, some pinned and one not served no more than
all unpinned (bench/README.md). `on` pins whatever the quota and the workers; `off` never pins.

It happens at a worker's first request, not when the app is imported: a server that imports the app
before it forks its workers (gunicorn --preload) would pin its master, and every worker with it, to
one CPU.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from flask import Flask

log = logging.getLogger(__name__)
_held: list[socket.socket] = []  # this process's claim, held for as long as it lives


def pin_on_first_request(app: Flask, mode: str, workers: int = 0) -> None:
    """Pin this worker (pin_worker) when it serves its first request; then get out of the way."""
    if mode == "off" or not hasattr(os, "sched_setaffinity"):
        return
    inner = app.wsgi_app
    lock = threading.Lock()

    def first(environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        with lock:
            if app.wsgi_app is first:
                app.wsgi_app = inner  # type: ignore[method-assign]
                try:
                    pin_worker(mode, workers)
                except OSError as error:  # never a request's failure: the worker runs unpinned
                    log.warning("could not pin this worker to a CPU: %s", error)
        return inner(environ, start_response)

    app.wsgi_app = first  # type: ignore[method-assign]


def pin_worker(mode: str, workers: int = 0, cgroup_root: str = "/sys/fs/cgroup") -> int | None:
    """Pin every thread of this process to one CPU, claimed from its siblings: the CPU, or None (not
    pinned: one CPU allowed; under `auto`, a CPU quota or more workers than CPUs; every CPU claimed)."""
    allowed = sorted(os.sched_getaffinity(0))
    if mode == "off" or len(allowed) < 2:
        return None
    if mode == "auto" and (max(workers, _siblings()) > len(allowed) or cpu_quota(_own_cgroups(), cgroup_root)):
        return None
    for cpu in allowed:
        claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            claim.bind(f"\0refreshd-cpu-{os.getppid()}-{cpu}")
        except OSError:
            claim.close()
            continue
        _held.append(claim)
        pinned: set[int] = set()
        while True:  # threads started meanwhile by an unpinned thread: pin them too
            tasks = {int(task) for task in os.listdir("/proc/self/task")} - pinned
            if not tasks:
                break
            for task in tasks:
                with contextlib.suppress(ProcessLookupError):  # the thread has ended
                    os.sched_setaffinity(task, {cpu})
            pinned |= tasks
        log.info("web worker %d pinned to CPU %d", os.getpid(), cpu)
        return cpu
    return None


def _siblings() -> int:
    """How many processes this one's parent has started, this one included (0: not known), but for
    the resource tracker of a server that starts its workers with multiprocessing (uvicorn), which
    serves no request."""
    parent = os.getppid()
    children = (_read(f"/proc/{parent}/task/{parent}/children") or "").split()
    return sum(1 for pid in children if _TRACKER not in (_read(f"/proc/{pid}/cmdline") or ""))


_TRACKER = "multiprocessing.resource_tracker"


def _own_cgroups() -> str:
    return _read("/proc/self/cgroup") or ""


def cpu_quota(cgroups: str, root: str = "/sys/fs/cgroup") -> bool:
    """Whether a cgroup caps the CPU time of a process whose /proc/self/cgroup reads `cgroups`: a
    quota on its own cgroup or on any above it (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us`)."""
    for line in cgroups.splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # the v2 hierarchy
            places, name = [root], "cpu.max"
        elif "cpu" in controllers.split(","):
            places, name = list(dict.fromkeys([f"{root}/{controllers}", f"{root}/cpu"])), "cpu.cfs_quota_us"
        else:
            continue
        parts = [p for p in path.split("/") if p]
        for place in places:
            for depth in range(len(parts), -1, -1):
                text = _read(os.path.join(place, *parts[:depth], name))
                if text is not None and _limits(text):
                    return True
    return False


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _limits(text: str) -> bool:
    """A cpu.max (`max 100000`: none; `200000 100000`: two CPUs' worth) or cfs_quota_us (-1: none)."""
    quota = text.split()[0] if text else "max"
    return quota not in ("max", "-1")
