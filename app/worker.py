"""The Procfile's worker: buries, in small batches, the tokens a valid-from watermark or a revoke of
their user killed whole; and, in a second thread, delivers webhooks and applies event retention
(app/delivery.py).

`python -m app.worker` runs it against REDIS_URL. Each batch is one pipelined round trip of one
short script per bucket (at most CLEANUP_BATCH members each), so Redis is never held for more than a
few milliseconds. Burial is idempotent and its progress lives in Redis (what is left of each
application's and user's killed index), not in this process: a worker killed mid-run leaves nothing
usable (the watermark or the killed index already killed those tokens) and the next one carries on
where it stopped. SIGTERM
finishes the current batch and exits.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

import redis

from app import build_services, logs
from app.config import Settings
from app.delivery import delivery_for
from app.store.lua import Scripts
from app.store.watermarks import WatermarkStore

log = logging.getLogger("refreshd.worker")
IDLE_SECONDS = 0.5
PAUSE_SECONDS = 0.002  # between batches: let other clients in


class Cleaner:
    def __init__(self, store: WatermarkStore):
        self._store = store
        self.stopping = threading.Event()

    def run_once(self) -> int:
        """Bury everything queued, application by application, batch by batch, then the tokens revokes
        of users killed (all buckets at once, batch by batch); returns how many tokens were buried."""
        buried = 0
        while not self.stopping.is_set():
            step = self._store.bury_users_step()
            buried += step.buried
            if step.done:
                break
            time.sleep(PAUSE_SECONDS)
        for application_id in self._store.pending_cleanups():
            while not self.stopping.is_set():
                step = self._store.cleanup_step(application_id)
                buried += step.buried
                if step.done:
                    break
                time.sleep(PAUSE_SECONDS)
        return buried

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                if self.run_once() == 0:
                    self.stopping.wait(IDLE_SECONDS)
            except (redis.ConnectionError, redis.TimeoutError) as error:
                log.warning("redis unavailable (%s); retrying", type(error).__name__)
                self.stopping.wait(1.0)


def cleaner_for(client: redis.Redis, settings: Settings) -> Cleaner:
    return Cleaner(WatermarkStore(client, Scripts.register(client), settings.event_stream_max_length))


def main() -> None:
    settings = Settings.from_env()
    logs.configure(settings.log_level)  # JSON lines, as the web processes write them
    if not settings.redis_url:
        raise SystemExit("the worker needs REDIS_URL (with the embedded store the web process cleans up itself)")
    services = build_services(settings)
    cleaner = cleaner_for(services.redis, settings)
    delivery = delivery_for(services, settings)

    def stop(*_: object) -> None:
        cleaner.stopping.set()
        delivery.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    deliveries = threading.Thread(target=delivery.run, name="delivery")
    deliveries.start()
    log.info("worker started (webhook consumer %s)", delivery.name)
    cleaner.run()
    deliveries.join()
    log.info("worker stopped")


if __name__ == "__main__":
    main()
