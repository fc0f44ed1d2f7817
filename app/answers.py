"""An answer as a WSGI server takes it: a status, its header lines and the body's bytes.

The hot views (app/api/parsing.py's `lean`) and every error (app/errors.py) answer with one of these.
Flask gets it as a Response (`to_response`); the fast path (app/api/fast.py) hands it to the server
as it is, without building a Response at all. Both give the same bytes: the status line werkzeug
writes, Content-Type (none for an empty body), Content-Length, then the answer's own headers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Response
from werkzeug.http import HTTP_STATUS_CODES

from app import jsontext

JSON = "application/json"


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header_lines(self) -> list[tuple[str, str]]:
        """Every header line, as werkzeug would send them for the same Response."""
        lines = [("Content-Type", self.content_type)] if self.content_type else []
        lines.append(("Content-Length", str(len(self.body))))
        lines.extend(self.headers)
        return lines


def json_answer(
    body: Any, headers: Iterable[tuple[str, str]] = (), *, status: int = 200, caller_json: bool = False
) -> Answer:
    """A JSON answer, byte for byte as Flask's jsonify writes it (sorted keys, no spaces, non-ASCII
    escaped, a final newline), in a few microseconds where jsonify takes tens and a response schema's
    dump hundreds. `caller_json`: the body holds JSON a caller chose, such as metaData.data (see
    app/jsontext.py)."""
    data = jsontext.dumps(body, sort_keys=True, caller_json=caller_json) + b"\n"
    return Answer(status, data, JSON, list(headers))


def empty_answer(status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Answer:
    """No body, and so no Content-Type (Flask's default would claim HTML)."""
    return Answer(status, b"", None, list(headers))


def to_response(answer: Answer) -> Response:
    """The same answer as a Flask Response, for views Flask runs."""
    response = Response(answer.body, status=answer.status, headers=answer.headers, content_type=answer.content_type)
    if answer.content_type is None:
        del response.headers["Content-Type"]
    return response


def status_line(status: int) -> str:
    """`404 NOT FOUND`: the status line werkzeug writes for a code."""
    return _STATUS_LINES.get(status) or f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}"


_STATUS_LINES = {code: f"{code} {reason.upper()}" for code, reason in HTTP_STATUS_CODES.items()}
