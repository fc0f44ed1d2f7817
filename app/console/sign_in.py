"""Signing in and out with an API key, and the console's home page."""

from __future__ import annotations

from flask import Response, flash, g, request, session, url_for

from app import auth
from app.console.common import bp, caller, can, page, safe_next, see_other, services
from app.console.session import sign_in


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    """The key is checked once here; the session keeps only its id (looked up again on every request)."""
    target = request.values.get("next", "")
    if request.method == "GET":
        if g.console_key is not None:
            return see_other(safe_next(target))
        return page("login.html", next=target)
    presented = request.form.get("apiKey", "").strip()
    key = auth.authenticate(presented) if presented else None  # failures count towards the abuse limit
    if key is None:
        return page("login.html", 401, next=target, error="That API key is not valid.")
    sign_in(key.id)
    return see_other(safe_next(target))


@bp.post("/logout")
def logout() -> Response:
    session.clear()
    flash("You are signed out.", "ok")
    return see_other(url_for("console.login"))


@bp.get("/")
def home() -> Response:
    applications = services().registry.applications(caller().tenant_id) if can("GET", "/api/application") else None
    return page("home.html", applications=applications)
