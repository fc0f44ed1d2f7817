"""The framework floor: the cheapest Flask endpoint any refreshd request could ever be.

GET /redis answers JSON after exactly one redis-py round trip (a DEL of a key that never exists),
like the shared peers harness's floor app. bench/run.py serves it on the same web server settings
as the service (the Procfile's web line) and divides every service row by it.
"""

import os

import redis
from flask import Flask

app = Flask(__name__)
# Connects lazily: each worker process opens its own connection pool on its first request.
store = redis.Redis.from_url(os.environ["REDIS_URL"])


@app.get("/redis")
def one_round_trip() -> dict[str, bool]:
    store.delete("floor:nothing")
    return {"ok": True}
