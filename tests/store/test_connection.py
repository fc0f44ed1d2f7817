"""The service's Redis client keeps one connection per thread (and per process) and recovers from a
restarted server, a stalled reply and an error reply as redis-py's pooled client does."""

from __future__ import annotations

import datetime
import gc
import ipaddress
import os
import threading
import time
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from redis.exceptions import NoScriptError
from redis.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection

from app.config import Settings
from app.store.connection import ThreadConnectionRedis, _reads_plainly, connect
from app.store.lua import LeanScript
from tests.conftest import RedisServer, free_port


def client_for(server: RedisServer, **overrides: float) -> redis.Redis:
    client = connect(Settings(redis_url=server.url, **overrides))  # type: ignore[arg-type]
    assert isinstance(client, ThreadConnectionRedis)
    return client


def client_ids(client: redis.Redis, threads: int) -> set[int]:
    seen: set[int] = set()

    def ask() -> None:
        for _ in range(3):
            seen.add(int(client.client_id()))

    workers = [threading.Thread(target=ask) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return seen


def test_each_thread_talks_on_a_connection_of_its_own(redis_server: RedisServer) -> None:
    client = client_for(redis_server)
    assert client.set("k", "v") is True and client.get("k") == "v"  # replies parsed as redis-py parses them
    assert len({int(client.client_id()) for _ in range(5)}) == 1
    assert len(client_ids(client, 4)) == 4
    client.close()


def test_a_forked_child_opens_its_own_connection(redis_server: RedisServer) -> None:
    client = client_for(redis_server)
    parent = int(client.client_id())
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        os.write(writer, str(client.client_id()).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = int(os.read(reader, 64))
    assert child != parent and int(client.client_id()) == parent


def test_a_restarted_server_is_reached_again_by_the_next_command(tmp_path: object) -> None:
    server = RedisServer()
    try:
        client = client_for(server)
        client.set("k", "1")
        server = server.restart()
        assert client.ping() is True  # the dead connection is retried once on a fresh one
    finally:
        server.stop()


def test_a_stalled_reply_is_a_timeout_and_the_next_command_gets_its_own_reply(redis_server: RedisServer) -> None:
    client = client_for(redis_server, redis_read_timeout=0.2)
    started = time.monotonic()
    with pytest.raises(redis.TimeoutError):
        client.blpop(["nothing"], timeout=0.5)
    assert time.monotonic() - started < 0.45
    time.sleep(0.4)  # the late +OK arrives on the dropped connection, never read
    client.set("after", "x")
    assert client.get("after") == "x"


def test_an_error_reply_keeps_the_connection(redis_server: RedisServer) -> None:
    client = client_for(redis_server)
    before = int(client.client_id())
    with pytest.raises(redis.ResponseError):
        client.execute_command("NO-SUCH-COMMAND")
    assert int(client.client_id()) == before


def test_a_thread_that_ends_closes_its_connection(redis_server: RedisServer) -> None:
    client = client_for(redis_server)
    watcher = redis.Redis.from_url(redis_server.url)
    before = len(watcher.client_list())
    for _ in range(5):
        worker = threading.Thread(target=client.ping)
        worker.start()
        worker.join()
    gc.collect()
    assert len(watcher.client_list()) <= before + 1
    watcher.close()


def test_scripts_and_commands_are_sent_as_redis_py_sends_them_and_survive_a_script_flush(
    redis_server: RedisServer,
) -> None:
    """hiredis packs plain arguments at once (app/store/connection.py's _packed); anything else goes
    through redis-py's packer; a script Redis forgot is loaded again and the call repeated."""
    client = client_for(redis_server)
    echo = LeanScript(client, "return {KEYS[1], ARGV[1], ARGV[2], ARGV[3]}")
    assert echo(keys=["k"], args=[1.5e-07, 2**70, b"raw"]) == ["k", "1.5e-07", str(2**70), "raw"]
    client.script_flush()
    assert echo(keys=["k"], args=["x", 2, "y"]) == ["k", "x", "2", "y"]
    assert client.script_exists(echo.sha) == [True]  # SCRIPT LOAD, a command of two words, went through
    key = f"packed:{os.getpid()}:{time.monotonic_ns()}"
    with pytest.raises(redis.DataError):
        client.set(key, True)  # type: ignore[arg-type]  # refused as redis-py refuses it, nothing sent
    assert client.get(key) is None


def _redis_py_reading_refused(monkeypatch: pytest.MonkeyPatch, client: redis.Redis) -> None:
    """redis-py's own reading of a command's reply by `client` fails the test (its connection's
    handshake still reads through it): what still works was read directly. Only this client's: the
    class's method is also every other thread's, and a background thread of an earlier test (an
    embedded store's webhook delivery) failing in the middle of a pipeline's replies would leave the
    rest unread on its pooled connection, for its next command to read as its own."""

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("read through redis-py")

    monkeypatch.setattr(client, "parse_response", refused)


def test_a_script_call_is_read_directly_and_answers_as_redis_py_would(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_for(redis_server)
    echo = LeanScript(client, "return {KEYS[1], ARGV[1], 7, {'nested', ARGV[2]}, redis.status_reply('OK')}")
    expected = echo(keys=["k"], args=["é", b"raw"])  # through redis-py: the script is not loaded yet
    assert expected == ["k", "é", 7, ["nested", "raw"], "OK"]
    _redis_py_reading_refused(monkeypatch, client)
    assert echo(keys=["k"], args=["é", b"raw"]) == expected
    assert client.get("nothing") is None and client.execute_command("EVAL", "return nil", 0) is None
    big = "x" * 200_000  # a reply longer than the parser's buffer, read in pieces
    assert client.execute_command("EVAL", "return ARGV[1]", 0, big) == big


def test_an_error_reply_read_directly_is_raised_and_keeps_the_connection(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_for(redis_server)
    before = int(client.client_id())
    _redis_py_reading_refused(monkeypatch, client)
    with pytest.raises(redis.ResponseError, match="refused here"):
        client.execute_command("EVAL", "return redis.error_reply('refused here')", 0)
    with pytest.raises(NoScriptError):
        client.execute_command("EVALSHA", "0" * 40, 0)
    monkeypatch.undo()
    assert int(client.client_id()) == before


def test_a_stalled_direct_read_is_a_timeout_and_the_next_command_gets_its_own_reply(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_for(redis_server, redis_read_timeout=0.2)
    _redis_py_reading_refused(monkeypatch, client)
    started = time.monotonic()
    with pytest.raises(redis.TimeoutError):
        client.execute_command("WAIT", 1, 500)  # no replica: Redis answers after 500 ms
    assert time.monotonic() - started < 0.45
    time.sleep(0.4)  # the late reply arrives on the dropped connection, never read
    assert client.execute_command("EVAL", "return ARGV[1]", 0, "mine") == "mine"


def test_a_restarted_server_is_reached_again_by_the_next_script_call(monkeypatch: pytest.MonkeyPatch) -> None:
    server = RedisServer()
    try:
        client = client_for(server)
        assert client.execute_command("EVAL", "return 1", 0) == 1
        server = server.restart()
        _redis_py_reading_refused(monkeypatch, client)
        assert client.execute_command("EVAL", "return 2", 0) == 2  # retried once on a fresh connection
        server.stop()
        with pytest.raises(redis.ConnectionError):
            client.execute_command("EVAL", "return 3", 0)
    finally:
        server.stop()


def test_a_sentinel_managed_connection_is_read_by_redis_py() -> None:
    """Its read_response turns a demoted master's READONLY into a reconnect: never bypassed."""
    pool = SentinelConnectionPool("mymaster", Sentinel([("127.0.0.1", 1)]))
    assert not _reads_plainly(SentinelManagedConnection(connection_pool=pool))
    assert _reads_plainly(redis.Connection(protocol=2)) and _reads_plainly(redis.Connection(protocol=3))


def _self_signed(directory: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 that is its own authority, and its key: PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


def test_script_calls_over_tls_and_a_unix_socket_are_read_directly_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rediss:// (managed Redis) and unix:// connections: the same direct reading, the same answers,
    a stalled reply a timeout."""
    cert, key = _self_signed(tmp_path)
    tls_port, unix_path = free_port(), str(tmp_path / "redis.sock")
    server = RedisServer(
        *("--tls-port", str(tls_port), "--tls-cert-file", cert, "--tls-key-file", key),
        *("--tls-ca-cert-file", cert, "--tls-auth-clients", "no", "--unixsocket", unix_path),
    )
    try:
        for url in (f"rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={cert}", f"unix://{unix_path}?db=0"):
            client = connect(Settings(redis_url=url, redis_read_timeout=0.2))
            echo = LeanScript(client, "return {KEYS[1], ARGV[1]}")
            assert echo(keys=["k"], args=["x" * 100_000]) == ["k", "x" * 100_000]
            with monkeypatch.context() as patched:
                _redis_py_reading_refused(patched, client)
                assert echo(keys=["k"], args=["é"]) == ["k", "é"]
                with pytest.raises(redis.TimeoutError):
                    client.execute_command("WAIT", 1, 500)
                assert client.execute_command("EVAL", "return ARGV[1]", 0, "after") == "after"
            client.close()
    finally:
        server.stop()
