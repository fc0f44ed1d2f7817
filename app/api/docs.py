"""Swagger UI's assets, served from the installed flask-swagger-ui package: the interactive docs at
/api/docs work with no network access (flask-smorest would otherwise load them from a CDN)."""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, send_from_directory

from app.errors import empty

DIST = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
ALLOWED = {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"}

assets = Blueprint("swagger_assets", __name__)


@assets.get("/api/swagger-ui/<name>")
def swagger_asset(name: str) -> Response:
    if name not in ALLOWED:
        return empty(404)
    return send_from_directory(DIST, name, max_age=86400)
