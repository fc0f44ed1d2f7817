"""One HTTP POST to a webhook receiver, with separate connect and read timeouts, over a kept-alive
connection. Only the standard library: nothing here follows redirects or reads a large answer."""

from __future__ import annotations

import http.client
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_ANSWER_BYTES = 65_536
RETRYABLE_STATUSES = (408, 429)
STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


@dataclass(frozen=True)
class Outcome:
    status: int  # 0: no HTTP answer (connection refused or reset, timeout, TLS failure)
    error: str
    retry_after_ms: int = 0

    @property
    def delivered(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """The receiver is unreachable, overloaded or failing: try again later. Any other answer
        (a 3xx or 4xx) would be the same next time, so it is dead-lettered at once."""
        return self.status == 0 or self.status >= 500 or self.status in RETRYABLE_STATUSES


class Sender:
    """Posts to one webhook's origin, keeping the connection open between deliveries."""

    def __init__(self) -> None:
        self._connection: http.client.HTTPConnection | None = None
        self._origin: tuple[str, str, int | None] | None = None
        self._context = ssl.create_default_context()

    def post(self, url: str, body: bytes, headers: dict[str, str], connect_s: float, read_s: float) -> Outcome:
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        origin = (parts.scheme, parts.hostname or "", parts.port)
        reused = self._connection is not None and origin == self._origin
        try:
            connection = self._connect(origin, connect_s, read_s)
            connection.request("POST", path, body, headers)
            answer = connection.getresponse()
            answer.read(MAX_ANSWER_BYTES)
            if answer.will_close or not answer.isclosed():
                self.close()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            if reused and isinstance(error, STALE):
                return self.post(url, body, headers, connect_s, read_s)  # the receiver closed an idle connection
            return Outcome(0, f"{type(error).__name__}: {error}"[:300])
        if 200 <= answer.status < 300:
            return Outcome(answer.status, "")
        return Outcome(answer.status, f"HTTP {answer.status}", _retry_after_ms(answer.getheader("Retry-After")))

    def _connect(
        self, origin: tuple[str, str, int | None], connect_s: float, read_s: float
    ) -> http.client.HTTPConnection:
        if self._connection is not None and origin == self._origin:
            self._connection.sock.settimeout(read_s)
            return self._connection
        self.close()
        scheme, host, port = origin
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection(host, port, timeout=connect_s, context=self._context)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=connect_s)
        connection.connect()
        connection.sock.settimeout(read_s)
        self._connection, self._origin = connection, origin
        return connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = None


def _retry_after_ms(value: str | None) -> int:
    """Retry-After in seconds (its HTTP-date form is ignored)."""
    try:
        return max(0, int(value or "0")) * 1000
    except ValueError:
        return 0
