"""Redis bytes a live token takes, with its indexes, and where they go, by kind of key.

    .venv/bin/python bench/memory.py                        # 100,000 tokens, 1 and 10 a user, ~1 minute
    TOKENS=20000 PER_USER=1,3,10 .venv/bin/python bench/memory.py

For each tokens-a-user count, starts its own empty redis-server (no persistence, on a free port),
mints TOKENS tokens of one application through the store's own mint script (as the service does,
ten a call, no metaData: a caller's metaData is its own to size), then prints INFO used_memory's
growth a token without the buckets' event streams (whose MAXLEN trims them), and the sum of MEMORY
USAGE over each kind of key (the prefix before its first ':'; a key's name, its value and its
dictionary entry, not the expiry dictionary's entry nor the hash tables' slots, which make up the
rest of used_memory's growth). Prints the encodings of a record and of the application's index.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.dirname(BENCH))

import redis  # noqa: E402
import run as harness  # noqa: E402  (process helpers)

from app.store import keys  # noqa: E402
from app.store.lua import Scripts  # noqa: E402
from app.store.tokens import NewToken, RefreshTokenStore  # noqa: E402

TOKENS = int(os.environ.get("TOKENS", "100000"))
PER_USER = [int(n) for n in os.environ.get("PER_USER", "1,10").split(",")]
BATCH = 10  # tokens a mint call, all of one bucket


def measure(per_user: int) -> None:
    port = harness.free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", tempfile.mkdtemp()],
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port, decode_responses=True)
        harness.wait_redis(client)
        store = RefreshTokenStore(client, Scripts.register(client), 1000)
        application, tenant = str(uuid.uuid4()), str(uuid.uuid4())
        by_bucket: dict[int, list[NewToken]] = defaultdict(list)
        for _ in range(TOKENS // per_user):
            user = str(uuid.uuid4())
            bucket = int(user[-1], 16)
            for _ in range(per_user):
                token_id = keys.new_token_id(bucket)
                value = keys.new_token_value(token_id)
                by_bucket[bucket].append(
                    NewToken(token_id, keys.digest(value), user, application, tenant, "F:2592000000", {})
                )
        minted = sum(len(tokens) for tokens in by_bucket.values())
        before = int(client.info("memory")["used_memory"])
        for bucket, tokens in by_bucket.items():
            for i in range(0, len(tokens), BATCH):
                store.mint(keys.TAGS[bucket], tokens[i : i + BATCH], "{}")
        time.sleep(0.2)
        grown = int(client.info("memory")["used_memory"]) - before
        usage: Counter[str] = Counter()
        count: Counter[str] = Counter()
        for key in client.scan_iter(count=1000):
            kind = key.split(":", 1)[0]
            usage[kind] += client.memory_usage(key, samples=0) or 0
            count[kind] += 1
        streams = usage.pop("ev", 0)
        count.pop("ev", None)
        print(f"\n{minted:,} tokens, {per_user} a user: {(grown - streams) / minted:.0f} bytes a token (used_memory)")
        print("| key kind | keys | MEMORY USAGE, bytes a token |\n|---|--:|--:|")
        for kind, size in usage.most_common():
            print(f"| {kind}: | {count[kind]:,} | {size / minted:.0f} |")
        rest = grown - streams - sum(usage.values())
        print(f"| the rest (expiry entries, hash table slots) | | {rest / minted:.0f} |")
        record = next(client.scan_iter("rt:*"))
        index = keys.app_index(keys.TAGS[0], application)
        print(f"a record is a {client.object('encoding', record)}; a: {client.object('encoding', index)}")
    finally:
        server.kill()
        server.wait()


def main() -> int:
    for per_user in PER_USER:
        measure(per_user)
    return 0


if __name__ == "__main__":
    sys.exit(main())
