"""The web process's HTTP/1.1 protocol (the Procfile's `uvicorn --http app.api.protocol:HttpProtocol`):
uvicorn's httptools protocol, but for its answer to a request it cannot parse (bytes that are no
HTTP, invalid UTF-8 in the target, a malformed header), which is a 400 in FusionAuth's error shape
like every other refusal of the service, not uvicorn's plain-text line."""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from app.errors import general_answer

UNREADABLE = general_answer(400, "[invalid]", "The HTTP request could not be read.").body


class HttpProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        head = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            head.extend([name, b": ", value, b"\r\n"])
        head.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(UNREADABLE)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
            ]
        )
        self.transport.write(b"".join(head) + UNREADABLE)
        self.transport.close()
