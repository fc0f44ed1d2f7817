"""Write the OpenAPI document the code generates: `python -m app.openapi openapi/openapi.json`."""

from __future__ import annotations

import json
import sys
from typing import Any

from app import create_app
from app.config import Settings


def spec() -> dict[str, Any]:
    """The spec as flask-smorest builds it from the routes and schemas (embedded store: no Redis)."""
    app = create_app(Settings())
    with app.app_context():
        document: dict[str, Any] = app.extensions["refreshd_api"].spec.to_dict()
    return document


def render() -> str:
    return json.dumps(spec(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    with open(sys.argv[1], "w") as out:
        out.write(render())
