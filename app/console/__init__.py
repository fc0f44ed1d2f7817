"""The admin console at /admin/: server-rendered pages over the same domain services as the API,
signed in with an API key and limited by its permissions and tenant scope."""

from __future__ import annotations

from flask import Blueprint


def blueprint() -> Blueprint:
    """The console's blueprint with every page registered (register it with app.register_blueprint)."""
    from app.console import applications, events, sign_in, users  # noqa: F401  (they add their routes)
    from app.console.common import bp

    return bp
