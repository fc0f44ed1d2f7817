"""`refreshd`: the operator's command line, on the service's own domain objects (app.build_services with
Settings.from_env, so REDIS_URL and the REFRESHD_* settings mean what they mean to the service).

    refreshd create-api-key [--tenant-id ID] [--description TEXT]
    refreshd revoke-user USER_ID [--application-id ID]
    refreshd revoke-application APPLICATION_ID
    refreshd import FILE.jsonl [--batch N] [--progress/--no-progress]
    refreshd tail-events [--from-start] [--limit N]
    refreshd doctor

What it changes is recorded like any API call: events name the actor `{"type": "cli", "id": <OS user>}`.
Exit status: 0 done, 1 refused or a problem found (the reason on stderr), 2 a usage error.
"""

from __future__ import annotations

import argparse
import getpass
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis

from app import events
from app.apikeys import ApiKey
from app.caller import Caller
from app.config import Settings, SettingsError
from app.errors import ApiError
from app.ids import random_uuid
from app.store.tokens import RevokeCount

if TYPE_CHECKING:
    from app import Services

OPERATOR = ApiKey(id="cli", tenant_id=None, endpoints={}, key_manager=True)  # may create any key


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        if args.command == "doctor":
            return _doctor(settings)
        if not settings.redis_url:
            return _fail("REDIS_URL is not set: point the command at the service's Redis")
        from app import build_services

        result: int = args.run(build_services(settings), args)
        return result
    except SettingsError as error:
        return _fail(str(error))
    except ApiError as error:
        return _fail(_describe(error))
    except (redis.ConnectionError, redis.TimeoutError) as error:
        return _fail(f"Redis is unavailable ({type(error).__name__}): run `refreshd doctor`")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="refreshd", description="refreshd's operator commands (see the README)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Callable[[Services, argparse.Namespace], int], text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        sub.set_defaults(run=run)
        return sub

    key = command("create-api-key", _create_api_key, "create an API key with every permission; print it once")
    key.add_argument("--tenant-id", help="limit the key to this tenant")
    key.add_argument("--description", default="created with refreshd create-api-key")
    user = command("revoke-user", _revoke_user, "revoke every session of a user (of one application)")
    user.add_argument("user_id")
    user.add_argument("--application-id")
    application = command("revoke-application", _revoke_application, "revoke every session of an application")
    application.add_argument("application_id")
    load = command("import", _import, "import refresh tokens from a JSON-lines file")
    load.add_argument("file")
    load.add_argument("--batch", type=int, default=1000, help="lines per import (1000)")
    load.add_argument("--progress", action=argparse.BooleanOptionalAction, help="progress bar (default: on a tty)")
    tail = command("tail-events", _tail_events, "print events as they happen, one JSON line each")
    tail.add_argument("--from-start", action="store_true", help="every retained event first")
    tail.add_argument("--limit", type=int, help="stop after this many events")
    commands.add_parser("doctor", help="check the Redis at REDIS_URL", description=__doc__)
    return parser


def _caller() -> Caller:
    return Caller("cli", getpass.getuser(), None, "", "refreshd-cli", random_uuid())


def _create_api_key(services: Services, args: argparse.Namespace) -> int:
    request: dict[str, Any] = {"keyManager": True, "metaData": {"attributes": {"description": args.description}}}
    if args.tenant_id:
        request["tenantId"] = args.tenant_id
    created = services.api_keys.create(OPERATOR, None, request)
    print(f"created API key {created['id']} (every permission); its value, shown only now:", file=sys.stderr)
    print(created["key"])
    return 0


def _revoke_user(services: Services, args: argparse.Namespace) -> int:
    count = services.tokens.revoke(
        _caller(), token=None, user_id=_uuid("user_id", args.user_id), application_id=args.application_id, info=None
    )
    return _print_count(count)


def _revoke_application(services: Services, args: argparse.Namespace) -> int:
    count = services.tokens.revoke_application(_caller(), _uuid("application_id", args.application_id), None)
    return _print_count(count)


def _print_count(count: RevokeCount) -> int:
    print(f"invalidated {count.invalidated} tokens ({count.previously_invalidated} were already invalidated)")
    return 0


def _import(services: Services, args: argparse.Namespace) -> int:
    from app.importer import Importer, ProgressBar

    if not 1 <= args.batch <= 10_000:
        return _fail("--batch must be between 1 and 10000")
    try:
        with open(args.file, encoding="utf-8") as counting:
            total = sum(1 for _ in counting)
        source = open(args.file, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as error:
        return _fail(f"cannot read {args.file}: {error.strerror}")
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    bar = ProgressBar(total, sys.stderr) if show else None
    with source:
        summary = Importer(services.tokens, _caller(), args.batch).run(source, bar or (lambda done: None))
    if bar:
        bar.finish()
    for number, reason in summary.rejected:
        print(f"line {number}: rejected: {reason}", file=sys.stderr)
    print(f"imported {summary.accepted} tokens; rejected {len(summary.rejected)} lines")
    return 1 if summary.rejected else 0


def _tail_events(services: Services, args: argparse.Namespace) -> int:
    streams = services.event_streams
    positions = dict.fromkeys(range(16), "0-0") if args.from_start else streams.latest_ids()
    print("refreshd: following the event streams (Ctrl-C stops)", file=sys.stderr, flush=True)
    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    # a blocking read must come back before the client's read timeout would call Redis unavailable
    block_ms = max(1, min(500, int(services.settings.redis_read_timeout * 500)))
    printed = 0
    try:
        while not stopping.is_set() and (args.limit is None or printed < args.limit):
            for _, _, fields in streams.read_after(positions, 100, block_ms):
                print(events.dumps(events.read(fields)), flush=True)
                printed += 1
                if args.limit is not None and printed >= args.limit:
                    break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _doctor(settings: Settings) -> int:
    from app.doctor import PROBLEM, examine
    from app.store.connection import connect

    if not settings.redis_url:
        return _fail("REDIS_URL is not set: the service would run on its embedded, non-durable store")
    client = connect(settings)
    kwargs = client.connection_pool.connection_kwargs
    where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')} db {kwargs.get('db', 0)}"
    findings = examine(client, str(where))
    for finding in findings:
        print(f"{finding.level:7s} {finding.text}")
    problems = sum(f.level == PROBLEM for f in findings)
    print(
        f"doctor: {problems} problem{'s' if problems != 1 else ''} found" if problems else "doctor: no problems found"
    )
    return 1 if problems else 0


def _uuid(name: str, value: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise SystemExit(_fail(f"{name} must be a UUID")) from None


def _describe(error: ApiError) -> str:
    body = error.body() or {}
    messages = [e["message"] for errors in (body.get("fieldErrors") or {}).values() for e in errors]
    messages += [e["message"] for e in body.get("generalErrors") or []]
    return " ".join(messages) or {401: "not allowed", 404: "not found"}.get(error.status, f"refused ({error.status})")


def _fail(message: str) -> int:
    print(f"refreshd: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
