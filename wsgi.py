"""The WSGI entry point: `granian --interface wsgi wsgi:app` or `gunicorn wsgi:app`."""

import gc

from app import affinity, create_app

app = create_app()
# Each worker on a CPU of its own, from its first request on (REFRESHD_PIN_WORKERS, app/affinity.py).
settings = app.extensions["refreshd"].settings
affinity.pin_on_first_request(app, settings.pin_workers, settings.web_concurrency)
# What exists now (the app, its routes, schemas, scripts, keys) lives as long as the process: out of
# the collector's sight, a full collection walks only what requests made, which shortens its pauses.
gc.collect()
gc.freeze()
