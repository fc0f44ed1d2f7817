"""`refreshd import FILE`: refresh tokens from a JSON-lines file, one FusionAuth import object a line
(`{"token", "userId", "applicationId", "startInstant", "insertInstant"?, "metaData"?}`, the items of
`POST /api/user/refresh-token/import`), through the same TokenService.import_tokens.

Lines go in batches; a bad line (not JSON, a field wrong, an unknown application, already expired, a
token that exists or repeats) is reported by its number and left out, and its batch goes in without
it. Each token is written whole by one atomic step, so nothing is ever half-imported; the values are
stored by digest only, and no message here ever shows one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from marshmallow import ValidationError

from app import jsontext
from app.caller import Caller
from app.errors import BadRequest
from app.schemas.tokens import ImportedToken
from app.tokens import TokenService

BATCH = 1000
ROUNDS = 3  # a batch is retried without its refused lines; a concurrent import may refuse more
INDEX = re.compile(r"^refreshTokens\[(\d+)\]\.?(.*)$")


@dataclass
class Summary:
    accepted: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # line number, why


class Importer:
    def __init__(self, tokens: TokenService, caller: Caller, batch: int = BATCH):
        self._tokens, self._caller, self._batch = tokens, caller, batch
        self._schema = ImportedToken()

    def run(self, lines: Iterable[str], progress: Callable[[int], None] = lambda done: None) -> Summary:
        """Import every good line; `progress` hears how many lines have been handled after each batch."""
        summary = Summary()
        done = 0
        for chunk in _chunks(enumerate(lines, start=1), self._batch):
            good = []
            for number, text in chunk:
                if not text.strip():
                    continue
                item = self._parse(text)
                if isinstance(item, str):
                    summary.rejected.append((number, item))
                else:
                    good.append((number, item))
            self._import(good, summary)
            done += len(chunk)
            progress(done)
        return summary

    def _parse(self, text: str) -> dict[str, Any] | str:
        try:
            value = jsontext.loads(text)
        except ValueError:
            return "not JSON"
        if not isinstance(value, dict):
            return "not a JSON object"
        try:
            loaded: dict[str, Any] = self._schema.load(value)
        except ValidationError as error:
            return "; ".join(f"{name}: {_first(messages)}" for name, messages in sorted(_flat(error.messages)))
        return loaded

    def _import(self, good: list[tuple[int, dict[str, Any]]], summary: Summary) -> None:
        for _ in range(ROUNDS):
            if not good:
                return
            try:
                summary.accepted += self._tokens.import_tokens(self._caller, [item for _, item in good])
                return
            except BadRequest as refused:
                bad = _refused_lines(refused, good)
            if not bad:  # a refusal naming no line (a concurrent import): the whole batch again
                continue
            summary.rejected += sorted(bad.items())
            good = [(number, item) for number, item in good if number not in bad]
        summary.rejected += [(number, "refused again and again (concurrent imports?)") for number, _ in good]


def _refused_lines(refused: BadRequest, good: list[tuple[int, dict[str, Any]]]) -> dict[int, str]:
    bad: dict[int, str] = {}
    for name, errors in refused.field_errors.items():
        match = INDEX.match(name)
        if match and int(match.group(1)) < len(good):
            bad[good[int(match.group(1))][0]] = f"{match.group(2) or 'token'}: {errors[0]['message']}"
    return bad


def _chunks(items: Iterator[tuple[int, str]] | Iterable[tuple[int, str]], size: int) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _flat(messages: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flat(value, f"{prefix}{key}." if isinstance(value, dict) else f"{prefix}{key}")
    else:
        yield prefix.rstrip(".") or "line", messages


def _first(messages: Any) -> str:
    return str(messages[0] if isinstance(messages, list) and messages else messages)


class ProgressBar:
    """`[#####-----] 5000/10000 lines` on one line of a terminal, redrawn in place."""

    def __init__(self, total: int, out: IO[str], width: int = 30):
        self._total, self._out, self._width = max(total, 1), out, width

    def __call__(self, done: int) -> None:
        filled = self._width * min(done, self._total) // self._total
        self._out.write(f"\rimporting [{'#' * filled}{'-' * (self._width - filled)}] {done}/{self._total} lines")
        self._out.flush()

    def finish(self) -> None:
        self._out.write("\n")
        self._out.flush()
