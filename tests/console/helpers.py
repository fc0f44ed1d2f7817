"""The console through Flask's test client, as a browser without JavaScript would use it: a cookie
jar, forms posted with the CSRF token the last page rendered."""

from __future__ import annotations

import html
import re
from typing import Any

from tests.api.helpers import KEY
from tests.conftest import API_KEY

CSRF = re.compile(r'name="csrfToken" value="([^"]+)"')
ROW = re.compile(r'data-refresh-token-id="([^"]+)"')
FLASH = re.compile(r'class="flash flash-(\w+)"[^>]*>([^<]*)<')


class Console:
    def __init__(self, app: Any):
        self.http = app.test_client()  # keeps cookies, as a browser does
        self.csrf = ""

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.http.get(path, **kwargs)
        found = CSRF.search(response.get_data(as_text=True))
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True) -> Any:
        form = dict(data or {})
        if csrf:
            form["csrfToken"] = self.csrf
        return self.http.post(path, data=form)

    def sign_in(self, key: str = API_KEY) -> Any:
        self.get("/admin/login")
        return self.post("/admin/login", {"apiKey": key})

    def follow(self, response: Any) -> Any:
        assert response.status_code == 303, response.get_data(as_text=True)
        return self.get(response.headers["Location"])


def rows(response: Any) -> list[str]:
    return ROW.findall(response.get_data(as_text=True))


def flashes(response: Any) -> list[tuple[str, str]]:
    return [(kind, html.unescape(text)) for kind, text in FLASH.findall(response.get_data(as_text=True))]


def new_key(client: Any, **api_key: Any) -> dict[str, Any]:
    """A key created through the API (the bootstrap key is the creator)."""
    response = client.post("/api/api-key", json={"apiKey": api_key}, headers=KEY)
    assert response.status_code == 200, response.json
    return dict(response.json["apiKey"])
