"""A reference audit consumer: reads the 16 event streams in a Redis consumer group and appends each
event as one JSON line to a file (or stdout), acknowledging an entry only once its line is written
(and, for a file, flushed to disk). docs/events.md explains the pattern; this is it, whole:

1. XGROUP CREATE each stream (MKSTREAM; `--start 0` reads every retained event, `$` only new ones).
2. XREADGROUP ... 0: what this consumer name read before a crash and never acknowledged.
3. XAUTOCLAIM ... <claim-idle>: entries another consumer of the group read and has held longer than
   that (it crashed, or hangs): taken over, so nothing a dead consumer held is lost.
4. XREADGROUP ... >: new entries. Write, then XACK.

At-least-once: a crash after writing and before XACK writes the line again on the next run; the
event `id` tells duplicates apart.

    python -m app.consumer --group audit --name c1 [--out FILE] [--start 0|$] [--claim-idle S] [--once]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

import redis

from app import events
from app.store.events import Entry, EventStore, NoGroup

log = logging.getLogger("refreshd.consumer")
COUNT = 100


class Consumer:
    def __init__(self, streams: EventStore, group: str, name: str, claim_idle_ms: int):
        self.streams, self.group, self.name, self.claim_idle_ms = streams, group, name, claim_idle_ms
        self._cursors: dict[int, str] = {}
        self._own_pending_done = False
        self.stopping = threading.Event()

    def start(self, position: str = "0") -> None:
        self.streams.ensure_group(self.group, position)

    def poll(self) -> list[Entry]:
        """Entries to handle now: first this name's own unacknowledged ones (once, at start), then
        those taken over from consumers idle too long, then new ones."""
        if not self._own_pending_done:
            own = self.streams.read_group(self.group, self.name, COUNT, own_pending=True)
            if own:
                return own  # acknowledged before the next poll, which reads the rest
            self._own_pending_done = True
        claimed = self.streams.claim(self.group, self.name, self.claim_idle_ms, self._cursors, COUNT)
        return claimed + self.streams.read_group(self.group, self.name, COUNT)

    def run(self, write: Callable[[dict[str, Any]], None], *, once: bool = False, idle_wait: float = 0.2) -> int:
        """Handle entries until stopped (with once: until nothing is left); returns how many."""
        handled = 0
        while not self.stopping.is_set():
            try:
                entries = self.poll()
            except NoGroup:
                self.start()
                continue
            except (redis.ConnectionError, redis.TimeoutError):
                self.stopping.wait(1.0)
                continue
            for _, _, fields in entries:
                write(events.read(fields))
            self.streams.ack(self.group, [(bucket, entry_id) for bucket, entry_id, _ in entries])
            handled += len(entries)
            if not entries:
                if once:
                    break
                self.stopping.wait(idle_wait)
        return handled


def json_lines(out: IO[str], *, sync: bool) -> Callable[[dict[str, Any]], None]:
    def write(event: dict[str, Any]) -> None:
        out.write(events.dumps(event) + "\n")
        out.flush()
        if sync:
            os.fsync(out.fileno())

    return write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.consumer", description=__doc__.split("\n")[0])
    parser.add_argument("--group", required=True)
    parser.add_argument("--name", required=True, help="this consumer's name, stable across restarts")
    parser.add_argument("--out", help="append JSON lines here (default: stdout)")
    parser.add_argument("--start", default="0", help="where a new group starts: 0 (all retained) or $ (new)")
    parser.add_argument("--claim-idle", type=float, default=60.0, help="take over entries idle this long (s)")
    parser.add_argument("--once", action="store_true", help="stop when nothing is left")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")

    from app.config import Settings
    from app.store.connection import connect

    settings = Settings.from_env()
    if not settings.redis_url:
        raise SystemExit("the consumer needs REDIS_URL")
    consumer = Consumer(EventStore(connect(settings)), args.group, args.name, int(args.claim_idle * 1000))
    signal.signal(signal.SIGTERM, lambda *_: consumer.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: consumer.stopping.set())
    consumer.start(args.start)
    out = open(args.out, "a") if args.out else sys.stdout  # noqa: SIM115 - closed below
    try:
        handled = consumer.run(json_lines(out, sync=bool(args.out)), once=args.once)
    finally:
        if args.out:
            out.close()
    log.info("%d events written", handled)
    return 0


if __name__ == "__main__":
    sys.exit(main())
