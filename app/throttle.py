"""Abuse limits: failed API-key authentications and exchanges of unknown refresh tokens, per client
address. A failed attempt pays for the count (one Redis round trip, on the failure path only); a good
one pays nothing. Over the limit, the attempt that crossed it and every further one of that kind from
that address answer 429 with Retry-After until the window ends; the process that saw the crossing
refuses them without counting them again (an exchange without asking Redis at all), and another
process learns it from its own next failed attempt.

Never throttled: an address in a trusted network, and (for exchanges) a caller presenting a valid
API key, such as a login server exchanging on its users' behalf (Caller.trusted).
"""

from __future__ import annotations

import ipaddress
import math
import time
from functools import lru_cache

from app.errors import TooManyRequests
from app.store.attempts import FailedAttempts

AUTH = "auth"  # failed API-key authentications
GUESS = "guess"  # exchanges of refresh tokens that name nothing (token guessing)
MAX_BLOCKED = 10_000  # addresses one process remembers as blocked


class Throttle:
    def __init__(self, attempts: FailedAttempts, window_seconds: int, limits: dict[str, int], trusted_networks: str):
        self._attempts = attempts
        self._window = window_seconds
        self._limits = limits
        networks = tuple(
            ipaddress.ip_network(n.strip(), strict=False) for n in trusted_networks.split(",") if n.strip()
        )
        self.is_trusted = lru_cache(maxsize=4096)(lambda address: _within(address, networks))
        self._blocked: dict[tuple[str, str], float] = {}

    def check(self, kind: str, address: str) -> None:
        """429 at once for an address this process knows to be over the limit (no Redis)."""
        if not self._blocked:
            return
        until = self._blocked.get((kind, address))
        if until is None:
            return
        left = until - time.monotonic()
        if left > 0:
            raise TooManyRequests(math.ceil(left))
        self._blocked.pop((kind, address), None)

    def failed(self, kind: str, address: str) -> None:
        """Count a failed attempt; 429 when it is over the limit of the window."""
        limit = self._limits[kind]
        if not limit or self.is_trusted(address):
            return
        count, left_ms = self._attempts.count(kind, address, self._window)
        if count <= limit:
            return
        if len(self._blocked) >= MAX_BLOCKED:
            now = time.monotonic()
            self._blocked = {k: until for k, until in self._blocked.items() if until > now}
        self._blocked[(kind, address)] = time.monotonic() + left_ms / 1000
        raise TooManyRequests(math.ceil(left_ms / 1000) or 1)


def _within(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    if not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
