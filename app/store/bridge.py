"""Redis round trips of code that runs in greenlets on an asyncio event loop (the web process, app/asgi.py).

The web process runs a hot request's WSGI code, unchanged, in a `Bridged` greenlet on its worker's
event loop. When that code sends a command whose reply is plain (what ThreadConnectionRedis would
write and read itself: a script call, GET, MGET), the greenlet hands the packed command to the loop
(`round_trip`) and is resumed with the reply, or with the error, when it has come. Meanwhile the loop
serves other requests: a worker neither sleeps on Redis nor hands requests between threads, and the
commands of all its requests share one connection, several in flight at once (pipelined), their
replies read in the order they were sent.

What it keeps of the thread-per-request client (app/store/connection.py): the same server, database
and credentials; a reply that does not come within the read timeout is a TimeoutError and a broken
or refused connection a ConnectionError (both a 503: the outcome of a write is unknown, and every
revoke may be retried); an error reply raised as redis-py raises it (NOSCRIPT as NoScriptError,
LOADING as BusyLoadingError). A timed-out command keeps its place in the queue, so the late reply is
read and dropped and the next reply still goes to its own command. A lost connection fails the
commands in flight and the next command opens a new one. Nothing is retried here: a command that
was written may have run.

It bridges a plain TCP or Unix-socket connection (RESP2 or RESP3, as the client's own connections
speak), as `supported` tells; TLS, Sentinel
and Cluster clients keep the threaded path (the web process then runs every request in its pool).
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, cast

import greenlet
import hiredis
import redis
from redis._parsers.hiredis import _HiredisParser
from redis.connection import Connection, UnixDomainSocketConnection

_parse_error = _HiredisParser(65536).parse_error  # an error reply as redis-py's exception
_PUSH = getattr(hiredis, "PushNotification", ())


class Bridged(greenlet.greenlet):
    """A greenlet whose plain Redis commands go through its parent, the loop's Bridge.drive."""


def round_trip(packed: bytes) -> Any:
    """In a Bridged greenlet: the reply to one packed command (raised, if an error)."""
    return greenlet.getcurrent().parent.switch(packed)


def supported(client: object) -> bool:
    """Whether a client's connections can be bridged: redis-py's plain TCP or Unix-socket
    connection, RESP2, no credential provider and no client name to set."""
    pool = getattr(client, "connection_pool", None)
    if pool is None or pool.connection_class not in (Connection, UnixDomainSocketConnection):
        return False
    options = pool.connection_kwargs
    return _protocol(pool) in (2, 3) and options.get("credential_provider") is None and not options.get("client_name")


def _protocol(pool: Any) -> int:
    """The RESP version a pool's connections speak (redis-py 8: 3 unless asked for 2)."""
    return int(pool.connection_class(**pool.connection_kwargs).protocol)


class _Link(asyncio.Protocol):
    """One connection: commands written in order, their replies handed to their futures in order.

    A reply not come within the read timeout fails its command with a TimeoutError: a timer that
    runs a few times per timeout fails the oldest commands past their deadline (every command has
    the same timeout, so they are the first in line), which costs a command nothing, where a timer
    each would cost several microseconds. Such a command keeps its place: its late reply is read and
    dropped."""

    def __init__(self, encoding: str | None, errors: str, timeout: float | None, where: str) -> None:
        options: dict[str, Any] = {"replyError": _parse_error, "errors": errors}
        if encoding:
            options["encoding"] = encoding
        self.reader = hiredis.Reader(**options)
        self.waiting: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None
        self.loop = asyncio.get_running_loop()  # a worker has one; a test may run several in turn
        self.timeout, self.where = timeout, where
        self.sweeper: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.timeout:
            self.sweeper = self.loop.call_later(self.timeout / 4, self._sweep)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            if isinstance(reply, _PUSH):  # RESP3 out-of-band (no tracking is asked for): no command's
                continue
            future = self.waiting.popleft()[0]
            if not future.done():  # not one that timed out
                future.set_result(reply)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost = redis.ConnectionError(f"connection to Redis lost: {exc or 'closed by the server'}")
        if self.sweeper is not None:
            self.sweeper.cancel()
        while self.waiting:
            future = self.waiting.popleft()[0]
            if not future.done():
                future.set_exception(self.lost)

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        future = self.loop.create_future()
        self.waiting.append((future, self.loop.time() + (self.timeout or 0.0)))
        self.transport.write(packed)  # type: ignore[union-attr]
        return future

    def _sweep(self) -> None:
        now = self.loop.time()
        for future, deadline in self.waiting:
            if deadline > now:
                break
            if not future.done():
                future.set_exception(redis.TimeoutError(f"Timeout reading from {self.where}"))
        self.sweeper = self.loop.call_later(self.timeout / 4, self._sweep)  # type: ignore[operator]


class Bridge:
    """A worker's connection to Redis for its bridged greenlets (one loop, one Bridge)."""

    def __init__(self, client: redis.Redis) -> None:
        options = client.connection_pool.connection_kwargs
        self._options = options
        self._unix = options.get("path")
        self._where = self._unix or f"{options.get('host', 'localhost')}:{options.get('port', 6379)}"
        self._connect_timeout = options.get("socket_connect_timeout") or options.get("socket_timeout")
        self._read_timeout = options.get("socket_timeout")
        self._protocol = _protocol(client.connection_pool)  # as its threads speak
        self._link: _Link | None = None
        self._connecting: tuple[asyncio.AbstractEventLoop | None, asyncio.Lock] = (None, asyncio.Lock())

    def close(self) -> None:
        if self._link is not None and self._link.transport is not None:
            self._link.transport.close()

    async def drive(self, function: Any, *args: Any) -> Any:
        """Run function(*args) in a Bridged greenlet to its end, serving its round trips."""
        task = Bridged(function)
        request = task.switch(*args)
        while not task.dead:
            try:
                reply = await self.call(request)
            except BaseException as error:  # noqa: BLE001 - raised in the greenlet, where the command was sent
                request = task.throw(error)
            else:
                request = task.switch(reply)
        return request

    async def call(self, packed: bytes) -> Any:
        """The reply to one packed command; an error reply, a timeout or a lost connection raised."""
        link = self._link
        if link is None or link.lost is not None or link.loop is not asyncio.get_running_loop():
            link = await self._connect()
        reply = await link.send(packed)
        if isinstance(reply, (redis.ResponseError, redis.ConnectionError)):
            raise reply
        if type(reply) is list and reply and isinstance(reply[0], redis.ConnectionError):
            raise reply[0]
        return reply

    async def _connect(self) -> _Link:
        loop = asyncio.get_running_loop()
        if self._connecting[0] is not loop:  # a worker has one loop; a test may run several in turn
            self._connecting = (loop, asyncio.Lock())
        async with self._connecting[1]:  # one connection, however many requests find none
            link = self._link
            if link is not None and link.lost is None and link.loop is loop:
                return link
            encoding = self._options.get("encoding", "utf-8") if self._options.get("decode_responses") else None

            def protocol() -> _Link:
                return _Link(encoding, self._options.get("encoding_errors", "strict"), self._read_timeout, self._where)

            try:
                if self._unix:
                    opening = loop.create_unix_connection(protocol, self._unix)
                else:
                    host, port = self._options.get("host", "localhost"), int(self._options.get("port", 6379))
                    opening = loop.create_connection(protocol, host, port)
                _, opened = await asyncio.wait_for(opening, self._connect_timeout)
                link = cast(_Link, opened)
                await self._hello(link)
            except (TimeoutError, OSError) as error:
                raise redis.ConnectionError(f"Error connecting to {self._where}: {error!r}") from None
            self._link = link
            return link

    async def _hello(self, link: _Link) -> None:
        """HELLO (RESP3) or AUTH (RESP2), then SELECT, as redis-py's connection sends them on
        connecting: replies then come in the shapes the threads' connections get them."""
        username, password = self._options.get("username"), self._options.get("password")
        credentials = (username or "default", password) if password else ()
        commands: list[Any] = []
        if self._protocol == 3:
            commands.append(("HELLO", "3", "AUTH", *credentials) if credentials else ("HELLO", "3"))
        elif password:
            commands.append(("AUTH", username, password) if username else ("AUTH", password))
        if int(self._options.get("db") or 0):
            commands.append(("SELECT", str(self._options["db"])))
        first = [link.send(hiredis.pack_command(words)) for words in commands]
        for future in first:
            reply = await asyncio.wait_for(future, self._connect_timeout)
            if isinstance(reply, Exception):
                link.transport.close()  # type: ignore[union-attr]
                raise reply
