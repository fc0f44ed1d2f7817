"""The WSGI entry point: `granian --interface wsgi wsgi:app` or `gunicorn wsgi:app`."""

import gc

from app import create_app

app = create_app()
# What exists now (the app, its routes, schemas, scripts, keys) lives as long as the process: out of
# the collector's sight, a full collection walks only what requests made, which shortens its pauses.
gc.collect()
gc.freeze()
