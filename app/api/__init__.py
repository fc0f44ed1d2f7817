"""HTTP only: one blueprint per resource family. Parse, call one domain function, render."""

from __future__ import annotations

from flask_smorest import Blueprint


def blueprints() -> list[Blueprint]:
    from app.api import admin, elastic, events, graph, jwt, keys, oauth, status, users, webhooks

    return [
        *(jwt.blp, users.blp, admin.blp, keys.blp, oauth.blp, graph.blp, elastic.blp),
        *(events.blp, webhooks.blp, status.blp),
    ]
