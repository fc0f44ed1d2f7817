"""Shared wire objects: the base schema, EventInfo, errors."""

from __future__ import annotations

import json
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

SHORT = validate.Length(max=255)
LONG = validate.Length(max=2048)
MAX_DATA_BYTES = 8192
INSTANT = validate.Range(0, 253_402_300_799_999)  # epoch ms, up to the end of the year 9999


class Wire(Schema):
    """FusionAuth's clients may send fields we do not use: ignore them, as FusionAuth does.

    JSON has types, so a body's integer is a JSON integer (not 2.5, not "2") and its boolean a JSON
    boolean (not 0, not "yes"), as the OpenAPI spec says. Query strings have no types: their schemas
    (`Query`) read "10" and "true"."""

    typed = True  # False for a query string's arguments

    class Meta:
        unknown = EXCLUDE

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        if not self.typed:
            return
        if isinstance(field_obj, fields.Integer):
            field_obj.strict = True
        elif isinstance(field_obj, fields.Boolean):
            field_obj.truthy, field_obj.falsy = _Only(True), _Only(False)


class _Only(set[object]):
    """marshmallow's truthy/falsy set, holding exactly one object by identity: in a set, 0 is False."""

    def __init__(self, value: bool):
        super().__init__((value,))
        self.value = value

    def __contains__(self, item: object) -> bool:
        return item is self.value


class Query(Wire):
    """Query-string arguments: strings that read as integers and booleans."""

    typed = False


def bounded_data(value: Any) -> None:
    """A free-form `data` object must stay small: it is copied into events."""
    if len(json.dumps(value, separators=(",", ":"))) > MAX_DATA_BYTES:
        raise ValidationError(f"Longer than the limit of {MAX_DATA_BYTES} bytes when encoded as JSON.")


class Location(Wire):
    city = fields.String(validate=SHORT, allow_none=True)
    country = fields.String(validate=SHORT, allow_none=True)
    displayString = fields.String(validate=SHORT, allow_none=True)
    latitude = fields.Float(validate=validate.Range(-90, 90), allow_none=True, allow_nan=False)
    longitude = fields.Float(validate=validate.Range(-180, 180), allow_none=True, allow_nan=False)
    region = fields.String(validate=SHORT, allow_none=True)
    zipcode = fields.String(validate=SHORT, allow_none=True)


class EventInfo(Wire):
    """Who asked and from where: copied unchanged into the event (`info`)."""

    data = fields.Dict(validate=bounded_data, allow_none=True)
    deviceDescription = fields.String(validate=SHORT, allow_none=True)
    deviceName = fields.String(validate=SHORT, allow_none=True)
    deviceType = fields.String(validate=SHORT, allow_none=True)
    ipAddress = fields.String(validate=validate.Length(max=64), allow_none=True)
    location = fields.Nested(Location, allow_none=True)
    os = fields.String(validate=SHORT, allow_none=True)
    userAgent = fields.String(validate=LONG, allow_none=True)


class FieldErrorItem(Schema):
    code = fields.String()
    message = fields.String()


class Errors(Schema):
    """FusionAuth's error body: 400 (and 503 with generalErrors)."""

    fieldErrors = fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(FieldErrorItem)))
    generalErrors = fields.List(fields.Nested(FieldErrorItem))


class OAuthErrorBody(Schema):
    """RFC 6749 section 5.2: what the OAuth endpoints answer with a 400 or 401."""

    error = fields.String(required=True)
    error_description = fields.String()
    error_reason = fields.String()  # FusionAuth adds it
