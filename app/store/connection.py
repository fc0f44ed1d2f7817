"""Connecting to Redis, or to the embedded in-process store when no REDIS_URL is set."""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import threading
import weakref
from time import monotonic, perf_counter
from typing import IO, Any

import greenlet
import hiredis
import redis
from redis._parsers.hiredis import NOT_ENOUGH_DATA, _HiredisParser
from redis._parsers.socket import SERVER_CLOSED_CONNECTION_ERROR
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.client import Pipeline
from redis.cluster import (
    ClusterDownError,
    ClusterNode,
    ClusterPipeline,
    PipelineStrategy,
    RedisCluster,
    SlotNotCoveredError,
)
from redis.connection import AbstractConnection
from redis.exceptions import AskError, RedisClusterException, TryAgainError
from redis.retry import Retry
from redis.sentinel import Sentinel

from app import metrics
from app.config import Settings
from app.store import bridge, urls

log = logging.getLogger(__name__)

EMBEDDED_NOTICE = (
    "REDIS_URL is not set: refreshd is running on its EMBEDDED IN-PROCESS STORE. Nothing is durable: "
    "every token, key and event is lost when this process stops, and it must run as a single process. "
    "Set REDIS_URL for anything but a trial."
)


def connect(settings: Settings) -> redis.Redis:
    """A client whose pool connects lazily (so it is safe to create before a server forks): one node,
    the master a Sentinel names, or a Cluster, as REDIS_URL says (app/store/urls.py).

    Timeouts turn a stalled Redis into a fast error (503). A broken pooled connection is retried
    once on a fresh one (Redis restarted); a timeout is not retried, since a write may have landed.
    """
    if not settings.redis_url:
        import fakeredis

        _hold_embedded_lock()
        log.warning(EMBEDDED_NOTICE)
        return fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    target = urls.parse(settings.redis_url)
    timeouts: dict[str, Any] = {
        "socket_connect_timeout": settings.redis_connect_timeout,
        "socket_timeout": settings.redis_read_timeout,
    }
    if target.kind == urls.CLUSTER:
        return connect_cluster(target, timeouts)  # type: ignore[return-value]
    node_options: dict[str, Any] = {
        **timeouts,
        "decode_responses": True,
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
        "health_check_interval": 30,
    }
    if target.kind == urls.SENTINEL:
        sentinels = Sentinel(list(target.hosts), sentinel_kwargs={**timeouts, "ssl": target.tls}, ssl=target.tls)
        client = sentinels.master_for(
            target.master,
            redis_class=ThreadConnectionRedis,
            db=target.db,
            username=target.username,
            password=target.password,
            **node_options,
        )
        return client
    return ThreadConnectionRedis.from_url(settings.redis_url, **node_options)


class ClusterUnavailable(redis.ConnectionError):
    """The Cluster cannot serve a slot now (a failover under way, a slot not covered): a 503."""


# What a Cluster answers while it moves a slot to a promoted replica; after the client's retries the
# request is refused as if Redis were unreachable (a 503, outcome unknown: none of these ran it).
IN_TRANSITION = (ClusterDownError, SlotNotCoveredError, TryAgainError, AskError, RedisClusterException)


def unavailable(error: BaseException) -> BaseException:
    if isinstance(error, IN_TRANSITION) and not isinstance(error, ClusterUnavailable):
        return ClusterUnavailable(f"cluster in transition: {type(error).__name__}")
    return error


class ClusterClient(RedisCluster):
    """redis-py's Cluster client, retrying (after a fresh look at the topology: a failover, a slot
    moved) only what cannot have run: a refused connection, a cluster down or a slot not covered. A
    timeout is not retried, as on one node, since a write may have landed. What still fails while a
    failover is under way is a ClusterUnavailable (a ConnectionError: a 503)."""

    ERRORS_ALLOW_RETRY = (redis.ConnectionError, ClusterDownError, SlotNotCoveredError)  # type: ignore[assignment]

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().execute_command(*args, **kwargs)
        except IN_TRANSITION as error:
            raise unavailable(error) from error

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> ClusterPipeline:
        pipe = super().pipeline(transaction, shard_hint)
        pipe.__class__ = _Pipeline
        return pipe


class _Pipeline(ClusterPipeline):
    """A Cluster pipeline that routes scripts and stream reads by their first key itself: redis-py
    would ask a node (COMMAND GETKEYS) for every such command queued, a round trip each."""

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if "target_nodes" not in kwargs and isinstance(self._execution_strategy, PipelineStrategy):
            key = _routing_key(args)
            if key is not None:
                kwargs["target_nodes"] = self.get_node_from_key(key)
        return super().execute_command(*args, **kwargs)

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        try:
            results = super().execute(raise_on_error)
        except IN_TRANSITION as error:
            raise unavailable(error) from error
        return [unavailable(r) if isinstance(r, BaseException) else r for r in results]


def _routing_key(args: tuple[Any, ...]) -> Any:
    name = str(args[0]).upper()
    if name in ("EVALSHA", "EVAL") and int(args[2]) > 0:
        return args[3]
    if name in ("XREADGROUP", "XREAD"):
        words = [a.decode() if isinstance(a, bytes) else str(a) for a in args]
        return args[words.index("STREAMS") + 1] if "STREAMS" in words else None
    return None


CLUSTER_RETRIES = 3  # with the backoff below: about a second of failover absorbed before a 503


def connect_cluster(target: urls.RedisTarget, timeouts: dict[str, Any]) -> ClusterClient:
    return ClusterClient(
        startup_nodes=[ClusterNode(host, port) for host, port in target.hosts],
        decode_responses=True,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), CLUSTER_RETRIES),
        username=target.username,
        password=target.password,
        ssl=target.tls,
        health_check_interval=30,
        **timeouts,
    )


def is_cluster(client: object) -> bool:
    return isinstance(client, RedisCluster)


class ThreadConnectionRedis(redis.Redis):
    """redis-py's client, sending each command on a connection of the calling thread's own.

    redis-py checks a connection out of its pool for every command (a lock, a pid check, a poll of
    the socket for stale data) and runs observability hooks around it: about 30 us of CPU a
    command, a fifth of a hot request. Each thread here keeps one connection instead (a new one
    after a fork), with the same settings, timeouts and health checks: a ConnectionError is retried
    once on a fresh connection (the pooled connection of a restarted Redis), a timeout is not (a
    write may have landed), and any error but an error reply drops the connection, so a reply that
    never arrived cannot be read by the next command. Pipelines and pub/sub still use the pool.

    A command whose reply redis-py hands back as hiredis parsed it (no response callback, no options
    but `keys`: every script call, GET, MGET) is written and read on the socket here (`_exchange`) as
    redis-py's connection and parser would, errors and RESP3 push messages included, without their
    dozen Python calls (~16k instructions a command); anything else, and a connection whose own
    reading does more (Sentinel's turns a demoted master's READONLY into a reconnect), goes through
    redis-py.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._observe = metrics.instruments().redis_command
        self._own = threading.local()
        # weak: a thread that ends (Granian retires idle ones) takes its connection with it, closed
        self._opened: weakref.WeakSet[AbstractConnection] = weakref.WeakSet()
        self._opened_lock = threading.Lock()
        self._plain: dict[str, bool] = {}  # command name -> its reply is hiredis's, as it is
        self.bridged = False  # set by the web process when its event loop sends this client's commands

    def execute_command(self, *args: Any, **options: Any) -> Any:
        started = perf_counter()
        try:
            if self.bridged and type(greenlet.getcurrent()) is bridge.Bridged:
                packed = self._plain_packed(args, options)
                if packed is not None:  # the web process's event loop sends it (app/store/bridge.py)
                    return bridge.round_trip(packed)
            own = self._thread_state()
            connection = own.connection
            try:
                return self._send(connection, own.direct, args, options)
            except redis.ConnectionError:  # a dead connection (Redis restarted): once more, on a fresh one
                return self._send(connection, own.direct, args, options)
        except redis.RedisError as error:
            metrics.redis_error(error)
            raise
        finally:
            self._observe(args[0], perf_counter() - started)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        return TimedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)

    def _send(
        self, connection: AbstractConnection, direct: bool, args: tuple[Any, ...], options: dict[str, Any]
    ) -> Any:
        try:
            if connection._sock is None:
                # connect() as the pool does: a Sentinel-managed connection asks the sentinels for the
                # master there (sending on an unconnected one would dial its default, localhost:6379)
                connection.connect()
            packed = _packed(args)
            if packed is None:
                connection.send_command(*args, **options)
            elif direct and self._plain_command(args[0], options):
                return _exchange(connection, packed)
            else:
                connection.send_packed_command(packed)
            return self.parse_response(connection, args[0], **options)
        except redis.ResponseError:
            raise  # an error reply: it was read whole
        except BaseException:
            connection.disconnect()
            raise

    def _plain_packed(self, args: tuple[Any, ...], options: dict[str, Any]) -> bytes | None:
        """A command _exchange would send and read itself, packed; None for any other."""
        if not self._plain_command(args[0], options):
            return None
        packed = _packed(args)
        return packed[0] if packed else None

    def _plain_command(self, command: str, options: dict[str, Any]) -> bool:
        """Whether redis-py would hand back this command's reply as hiredis parsed it."""
        return (not options or options.keys() == _KEYS_ONLY) and self._plain_reply(command)

    def _plain_reply(self, command: str) -> bool:
        plain = self._plain.get(command)
        if plain is None:
            plain = self._plain[command] = command not in self.response_callbacks
        return plain

    def _thread_state(self) -> Any:
        own = self._own
        if getattr(own, "pid", None) != os.getpid():
            pool = self.connection_pool
            own.connection = connection = pool.connection_class(**pool.connection_kwargs)
            own.direct = _reads_plainly(connection)
            own.pid = os.getpid()
            with self._opened_lock:
                self._opened.add(connection)
        return own

    def close(self) -> None:
        with self._opened_lock:
            opened, self._opened = list(self._opened), weakref.WeakSet()
        for connection in opened:
            connection.disconnect()
        super().close()


_KEYS_ONLY = {"keys"}  # the one option redis-py's command methods pass that its reading ignores (a cache's)


def _reads_plainly(connection: AbstractConnection) -> bool:
    """Whether redis-py would read this connection's replies with nothing but its hiredis parser: a
    TCP, TLS or Unix connection (not Sentinel's, whose read_response does more)."""
    return (
        type(connection).read_response is AbstractConnection.read_response
        and type(connection).send_packed_command is AbstractConnection.send_packed_command
        and isinstance(connection._parser, _HiredisParser)
    )


def _exchange(connection: Any, packed: list[bytes]) -> Any:  # an AbstractConnection, its private parts read
    """Send a packed command and read its reply as redis-py's Connection and _HiredisParser do: the
    health check first when due; a socket timeout a TimeoutError, a broken socket a ConnectionError;
    a RESP3 push message (an invalidation, a maintenance notice) handed to the parser's handlers
    before the reply; an error reply raised (LOADING as the ConnectionError redis-py makes it)."""
    if connection.health_check_interval and monotonic() > connection.next_health_check:
        connection.check_health()
    sock, parser = connection._sock, connection._parser
    reader, buffer, push = parser._reader, parser._buffer, parser._hiredis_PushNotificationType
    try:
        sock.sendall(packed[0])
        while True:
            reply = reader.gets()
            while reply is NOT_ENOUGH_DATA:
                size = sock.recv_into(buffer)
                if not size:
                    raise redis.ConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
                reader.feed(buffer, 0, size)
                reply = reader.gets()
            if push is None or not isinstance(reply, push):
                break
            parser.handle_push_response(reply)
    except TimeoutError:  # socket.timeout
        raise redis.TimeoutError(f"Timeout talking to {connection._host_error()}") from None
    except OSError as error:
        raise redis.ConnectionError(f"Error talking to {connection._host_error()}: {error.args}") from None
    if connection.health_check_interval:
        connection.next_health_check = monotonic() + connection.health_check_interval
    if isinstance(reply, (redis.ResponseError, redis.ConnectionError)):
        raise reply
    if type(reply) is list and reply and isinstance(reply[0], redis.ConnectionError):
        raise reply[0]
    return reply


def _packed(args: tuple[Any, ...]) -> list[bytes] | None:
    """A command of str, bytes and numbers packed by hiredis at once, as redis-py's packer would pack
    it after looking at every argument (~15 us a script call); None for anything else (a command name
    of two words, such as SCRIPT LOAD, which redis-py splits; other argument types)."""
    if type(args[0]) is not str or " " in args[0]:
        return None
    try:
        return [hiredis.pack_command(args)]
    except TypeError:
        return None


class TimedPipeline(Pipeline):
    """A pipeline whose round trip is timed and whose failure is counted (app/metrics.py)."""

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        started = perf_counter()
        try:
            return super().execute(raise_on_error)
        except redis.RedisError as error:
            metrics.redis_error(error)
            raise
        finally:
            metrics.instruments().redis_command("pipeline", perf_counter() - started)


_lock_file: IO[str] | None = None


def _hold_embedded_lock() -> None:
    """The embedded store lives in one process: a second process (another worker) refuses to start,
    since it would silently see different data."""
    global _lock_file
    if _lock_file is not None:
        return
    path = os.path.join(tempfile.gettempdir(), f"refreshd-embedded-{os.getuid()}-{os.getcwd().replace('/', '_')}.lock")
    handle = open(path, "w")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise RuntimeError(
            "the embedded store (no REDIS_URL) runs in a single process: another refreshd "
            "process in this directory holds it. Run one worker, or set REDIS_URL."
        ) from None
    _lock_file = handle
