"""REDIS_URL read once, at start-up: one node, a Sentinel-watched master, or a Cluster.

    redis://[[user]:password@]host[:port][/db]        one node (rediss:// with TLS)
    unix://[[user]:password@]/path/to/socket[?db=n]    one node on a Unix socket
    redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/<master name>[/db]
    redis+cluster://[[user]:password@]host[:port][,host[:port]...]
    (rediss+sentinel://, rediss+cluster://: the same with TLS)

The user and password are the data nodes' (the master's and its replicas', or every cluster node's);
sentinels are asked without them. Every problem is a ValueError whose message names it, in one line,
never repeating the password.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from redis.connection import parse_url

NODE, SENTINEL, CLUSTER = "node", "sentinel", "cluster"
_SCHEMES = {
    "redis": (NODE, False),
    "rediss": (NODE, True),
    "unix": (NODE, False),
    "redis+sentinel": (SENTINEL, False),
    "rediss+sentinel": (SENTINEL, True),
    "redis+cluster": (CLUSTER, False),
    "rediss+cluster": (CLUSTER, True),
}
_DEFAULT_PORT = {NODE: 6379, SENTINEL: 26379, CLUSTER: 6379}


@dataclass(frozen=True)
class RedisTarget:
    kind: str  # NODE | SENTINEL | CLUSTER
    url: str  # as given (NODE: handed to redis-py whole)
    tls: bool = False
    hosts: tuple[tuple[str, int], ...] = ()  # SENTINEL: the sentinels; CLUSTER: the startup nodes
    master: str = ""  # SENTINEL: the monitored master's name
    db: int = 0
    username: str | None = None
    password: str | None = None


def parse(url: str) -> RedisTarget:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in _SCHEMES:
        known = ", ".join(f"{s}://" for s in _SCHEMES)
        raise ValueError(f"REDIS_URL must start with one of {known}")
    kind, tls = _SCHEMES[scheme.lower()]
    if kind == NODE:
        return _node(url, tls)
    userinfo, at, location = rest.rpartition("@")
    netloc, _, path = location.partition("/")
    path, _, query = path.partition("?")
    if query:
        raise ValueError(f"REDIS_URL: {scheme}:// takes no query options")
    hosts = tuple(_host_port(part, _DEFAULT_PORT[kind]) for part in netloc.split(","))
    username, password = _credentials(userinfo) if at else (None, None)
    parts = [unquote(p) for p in path.split("/")] if path else []
    if kind == CLUSTER:
        if parts and parts != [""]:
            raise ValueError("REDIS_URL: a redis+cluster:// URL has no path (a Cluster has only database 0)")
        return RedisTarget(kind, url, tls, hosts, username=username, password=password)
    if not parts or not parts[0]:
        raise ValueError("REDIS_URL: a redis+sentinel:// URL names its master: .../<master name>[/<db>]")
    if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
        raise ValueError("REDIS_URL: after the master name a redis+sentinel:// URL takes only a database number")
    db = int(parts[1]) if len(parts) == 2 else 0
    return RedisTarget(kind, url, tls, hosts, parts[0], db, username, password)


def _node(url: str, tls: bool) -> RedisTarget:
    try:
        options = parse_url(url)
        split = urlsplit(url)
        if split.scheme != "unix":
            if not split.hostname:
                raise ValueError("REDIS_URL names no host")
            _ = split.port  # raises on a port that is not a number in range
            if split.path not in ("", "/") and not split.path[1:].isdigit():
                raise ValueError("REDIS_URL: the path of a redis:// URL is a database number")
    except ValueError as error:
        raise ValueError(_without_secret(str(error), url)) from None
    return RedisTarget(NODE, url, tls, db=int(options.get("db") or 0))


def _host_port(part: str, default_port: int) -> tuple[str, int]:
    if not part:
        raise ValueError("REDIS_URL: an empty host in the host list")
    if part.startswith("["):  # [IPv6]:port
        host, bracket, after = part[1:].partition("]")
        if not bracket:
            raise ValueError(f"REDIS_URL: malformed host {part!r}")
        port_text = after[1:] if after.startswith(":") else ""
        if after and not after.startswith(":"):
            raise ValueError(f"REDIS_URL: malformed host {part!r}")
    else:
        host, _, port_text = part.partition(":")
    if not host:
        raise ValueError(f"REDIS_URL: malformed host {part!r}")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"REDIS_URL: port of {host!r} must be a number from 1 to 65535")
    return host, int(port_text)


def _credentials(userinfo: str) -> tuple[str | None, str | None]:
    user, colon, password = userinfo.partition(":")
    return (unquote(user) or None), (unquote(password) if colon else None)


def _without_secret(message: str, url: str) -> str:
    password = urlsplit(url).password if "@" in url else None
    text = message.replace(password, "***") if password else message
    return text if text.startswith("REDIS_URL") else f"REDIS_URL: {text}"
