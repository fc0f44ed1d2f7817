# ruff: noqa: E501  (expected bodies are kept whole, as the wire carries them)
"""Error bodies of the hot endpoints, byte for byte as they were before the fast parsing and rendering.

Recorded from the marshmallow/webargs/jsonify implementation: bad UUIDs, over-long tokens, malformed
or non-object JSON, content types, invalid eventInfo and metaData, query-then-body precedence, and
that parsing still comes before authentication.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import API_KEY

K = {"Authorization": API_KEY}
U = "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
app_id = "0b6c1f7e-2a3d-4e5f-8a9b-1c2d3e4f5a6b"
big = "a" * 1025

CASES = [
    # (name, method, path, kwargs)
    ("rv empty token", "DELETE", "/api/jwt/refresh?token=", {"headers": K}),
    ("rv long token", "DELETE", f"/api/jwt/refresh?token={big}", {"headers": K}),
    ("rv bad user", "DELETE", "/api/jwt/refresh?userId=nope", {"headers": K}),
    ("rv bad app", "DELETE", "/api/jwt/refresh?applicationId=nope", {"headers": K}),
    ("rv bad user and app", "DELETE", "/api/jwt/refresh?userId=nope&applicationId=x", {"headers": K}),
    ("rv upper user", "DELETE", f"/api/jwt/refresh?userId={U.upper()}", {"headers": K}),
    ("rv hex user", "DELETE", f"/api/jwt/refresh?userId={U.replace('-', '')}", {"headers": K}),
    ("rv nothing", "DELETE", "/api/jwt/refresh", {"headers": K}),
    ("rv unknown token", "DELETE", "/api/jwt/refresh?token=abc", {"headers": K}),
    ("rv repeated token", "DELETE", "/api/jwt/refresh?token=&token=abc", {"headers": K}),
    (
        "rv malformed json",
        "DELETE",
        "/api/jwt/refresh",
        {"headers": K, "data": "{bad", "content_type": "application/json"},
    ),
    ("rv json list", "DELETE", "/api/jwt/refresh", {"headers": K, "json": [1]}),
    ("rv json null", "DELETE", "/api/jwt/refresh", {"headers": K, "data": "null", "content_type": "application/json"}),
    ("rv json string", "DELETE", "/api/jwt/refresh", {"headers": K, "data": '"x"', "content_type": "application/json"}),
    ("rv json empty", "DELETE", "/api/jwt/refresh", {"headers": K, "data": "", "content_type": "application/json"}),
    ("rv json ws", "DELETE", "/api/jwt/refresh", {"headers": K, "data": "  ", "content_type": "application/json"}),
    (
        "rv bad utf8",
        "DELETE",
        "/api/jwt/refresh",
        {"headers": K, "data": b'{"token": "\xff"}', "content_type": "application/json"},
    ),
    ("rv token int", "DELETE", "/api/jwt/refresh", {"headers": K, "json": {"token": 5}}),
    ("rv token null", "DELETE", "/api/jwt/refresh", {"headers": K, "json": {"token": None}}),
    ("rv token empty body", "DELETE", "/api/jwt/refresh", {"headers": K, "json": {"token": ""}}),
    ("rv body user bad", "DELETE", "/api/jwt/refresh", {"headers": K, "json": {"userId": "x"}}),
    ("rv body user int", "DELETE", "/api/jwt/refresh", {"headers": K, "json": {"userId": 12}}),
    ("rv eventInfo str", "DELETE", "/api/jwt/refresh", {"headers": K, "json": {"token": "abc", "eventInfo": "x"}}),
    ("rv eventInfo list", "DELETE", "/api/jwt/refresh", {"headers": K, "json": {"token": "abc", "eventInfo": [1]}}),
    (
        "rv eventInfo lat",
        "DELETE",
        "/api/jwt/refresh",
        {"headers": K, "json": {"token": "abc", "eventInfo": {"location": {"latitude": 100}}}},
    ),
    (
        "rv eventInfo nan",
        "DELETE",
        "/api/jwt/refresh",
        {
            "headers": K,
            "data": '{"token": "abc", "eventInfo": {"location": {"latitude": NaN}}}',
            "content_type": "application/json",
        },
    ),
    (
        "rv eventInfo data big",
        "DELETE",
        "/api/jwt/refresh",
        {"headers": K, "json": {"token": "abc", "eventInfo": {"data": {"x": "a" * 9000}}}},
    ),
    (
        "rv eventInfo ua int",
        "DELETE",
        "/api/jwt/refresh",
        {"headers": K, "json": {"token": "abc", "eventInfo": {"userAgent": 5, "ipAddress": "a" * 65, "os": None}}},
    ),
    (
        "rv eventInfo several",
        "DELETE",
        "/api/jwt/refresh",
        {"headers": K, "json": {"userId": "bad", "token": 7, "eventInfo": {"deviceName": ["x"], "location": "here"}}},
    ),
    ("rv unknown fields", "DELETE", "/api/jwt/refresh", {"headers": K, "json": {"foo": 1, "token": "abc"}}),
    (
        "rv text plain json",
        "DELETE",
        "/api/jwt/refresh",
        {"headers": K, "data": '{"token": 5}', "content_type": "text/plain"},
    ),
    (
        "rv vnd json",
        "DELETE",
        "/api/jwt/refresh",
        {"headers": K, "data": '{"token": 5}', "content_type": "application/vnd.x+json"},
    ),
    (
        "rv json charset",
        "DELETE",
        "/api/jwt/refresh",
        {"headers": K, "data": '{"token": 5}', "content_type": "application/json; charset=utf-8"},
    ),
    ("rv query bad body bad", "DELETE", "/api/jwt/refresh?userId=x", {"headers": K, "json": {"token": 5}}),
    ("rv form token", "DELETE", "/api/jwt/refresh", {"headers": K, "data": {"token": ""}}),
    ("rv form token ok", "DELETE", "/api/jwt/refresh", {"headers": K, "data": {"token": "abc"}}),
    ("rv noauth bad", "DELETE", "/api/jwt/refresh?userId=x", {}),
    ("rv noauth ok", "DELETE", "/api/jwt/refresh?token=abc", {}),
    ("rv user ok", "DELETE", f"/api/jwt/refresh?userId={U}", {"headers": K}),
    ("rv user app ok", "DELETE", f"/api/jwt/refresh?userId={U}&applicationId={app_id}", {"headers": K}),
    ("rv user unknown app", "DELETE", f"/api/jwt/refresh?userId={U}&applicationId={U}", {"headers": K}),
    (
        "rv body user ok",
        "DELETE",
        "/api/jwt/refresh",
        {"headers": K, "json": {"userId": U, "eventInfo": {"deviceName": "x"}}},
    ),
    (
        "rv body user eventinfo null",
        "DELETE",
        "/api/jwt/refresh",
        {"headers": K, "json": {"userId": U, "eventInfo": None}},
    ),
    ("rvid bad id", "DELETE", "/api/jwt/refresh/nope", {"headers": K}),
    ("rvid unknown id", "DELETE", f"/api/jwt/refresh/{U}", {"headers": K}),
    ("rvid upper id", "DELETE", f"/api/jwt/refresh/{U.upper()}", {"headers": K}),
    (
        "rvid malformed",
        "DELETE",
        f"/api/jwt/refresh/{U}",
        {"headers": K, "data": "{", "content_type": "application/json"},
    ),
    ("rvid eventInfo bad", "DELETE", f"/api/jwt/refresh/{U}", {"headers": K, "json": {"eventInfo": {"deviceType": 1}}}),
    ("rvid eventInfo bad noauth", "DELETE", f"/api/jwt/refresh/{U}", {"json": {"eventInfo": {"deviceType": 1}}}),
    ("rvid noauth", "DELETE", f"/api/jwt/refresh/{U}", {}),
    ("rvid bad id bad body", "DELETE", "/api/jwt/refresh/nope", {"headers": K, "json": {"eventInfo": 1}}),
    ("ls no user", "GET", "/api/jwt/refresh", {"headers": K}),
    ("ls bad user", "GET", "/api/jwt/refresh?userId=x", {"headers": K}),
    ("ls empty user", "GET", "/api/jwt/refresh?userId=", {"headers": K}),
    ("ls limit 0", "GET", f"/api/jwt/refresh?userId={U}&limit=0", {"headers": K}),
    ("ls limit abc", "GET", f"/api/jwt/refresh?userId={U}&limit=abc", {"headers": K}),
    ("ls limit big", "GET", f"/api/jwt/refresh?userId={U}&limit=10001", {"headers": K}),
    ("ls limit float", "GET", f"/api/jwt/refresh?userId={U}&limit=2.5", {"headers": K}),
    ("ls limit plus", "GET", f"/api/jwt/refresh?userId={U}&limit=+3", {"headers": K}),
    ("ls limit space", "GET", f"/api/jwt/refresh?userId={U}&limit=%203", {"headers": K}),
    ("ls limit ok", "GET", f"/api/jwt/refresh?userId={U}&limit=3", {"headers": K}),
    ("ls cursor long", "GET", f"/api/jwt/refresh?userId={U}&cursor={'1' * 129}", {"headers": K}),
    ("ls cursor bad", "GET", f"/api/jwt/refresh?userId={U}&cursor=abc", {"headers": K}),
    ("ls app bad", "GET", f"/api/jwt/refresh?userId={U}&applicationId=zz", {"headers": K}),
    ("ls app unknown", "GET", f"/api/jwt/refresh?userId={U}&applicationId={U}", {"headers": K}),
    ("ls ok", "GET", f"/api/jwt/refresh?userId={U}", {"headers": K}),
    ("ls noauth", "GET", f"/api/jwt/refresh?userId={U}", {}),
    ("ls noauth bad", "GET", "/api/jwt/refresh?userId=x", {}),
    ("get bad id", "GET", "/api/jwt/refresh/nope", {"headers": K}),
    ("get unknown", "GET", f"/api/jwt/refresh/{U}", {"headers": K}),
    ("get noauth", "GET", f"/api/jwt/refresh/{U}", {}),
    ("ex empty", "POST", "/api/jwt/refresh", {"json": {}}),
    ("ex no body", "POST", "/api/jwt/refresh", {}),
    ("ex empty token", "POST", "/api/jwt/refresh", {"json": {"refreshToken": ""}}),
    ("ex long token", "POST", "/api/jwt/refresh", {"json": {"refreshToken": big}}),
    ("ex int token", "POST", "/api/jwt/refresh", {"json": {"refreshToken": 1}}),
    ("ex null token", "POST", "/api/jwt/refresh", {"json": {"refreshToken": None}}),
    ("ex unknown token", "POST", "/api/jwt/refresh", {"json": {"refreshToken": "abc"}}),
    ("ex ttl 0", "POST", "/api/jwt/refresh", {"json": {"refreshToken": "abc", "timeToLiveInSeconds": 0}}),
    ("ex ttl str", "POST", "/api/jwt/refresh", {"json": {"refreshToken": "abc", "timeToLiveInSeconds": "5"}}),
    ("ex ttl strbad", "POST", "/api/jwt/refresh", {"json": {"refreshToken": "abc", "timeToLiveInSeconds": "x"}}),
    ("ex ttl float", "POST", "/api/jwt/refresh", {"json": {"refreshToken": "abc", "timeToLiveInSeconds": 5.5}}),
    ("ex ttl bool", "POST", "/api/jwt/refresh", {"json": {"refreshToken": "abc", "timeToLiveInSeconds": True}}),
    ("ex token too long", "POST", "/api/jwt/refresh", {"json": {"token": "a" * 16385}}),
    ("ex malformed", "POST", "/api/jwt/refresh", {"data": "{", "content_type": "application/json"}),
    (
        "ex cookie",
        "POST",
        "/api/jwt/refresh",
        {"headers": {"Cookie": "refresh_token=abc"}, "json": {"refreshToken": 5}},
    ),
    (
        "ex eventinfo bad",
        "POST",
        "/api/jwt/refresh",
        {"json": {"refreshToken": "abc", "eventInfo": {"location": {"zipcode": 5}}}},
    ),
    (
        "ex tenant bad",
        "POST",
        "/api/jwt/refresh",
        {"headers": {"X-FusionAuth-TenantId": "x"}, "json": {"refreshToken": "abc"}},
    ),
    ("mint empty", "POST", "/api/user/refresh-token", {"headers": K, "json": {}}),
    ("mint no body", "POST", "/api/user/refresh-token", {"headers": K}),
    ("mint bad ids", "POST", "/api/user/refresh-token", {"headers": K, "json": {"userId": "x", "applicationId": 5}}),
    ("mint unknown app", "POST", "/api/user/refresh-token", {"headers": K, "json": {"userId": U, "applicationId": U}}),
    (
        "mint meta bad",
        "POST",
        "/api/user/refresh-token",
        {
            "headers": K,
            "json": {
                "userId": U,
                "applicationId": app_id,
                "metaData": {"device": {"name": 5, "lastAccessedInstant": "x"}, "scopes": "x"},
            },
        },
    ),
    (
        "mint scopes items",
        "POST",
        "/api/user/refresh-token",
        {"headers": K, "json": {"userId": U, "applicationId": app_id, "metaData": {"scopes": [1, "a" * 256]}}},
    ),
    (
        "mint scopes many",
        "POST",
        "/api/user/refresh-token",
        {"headers": K, "json": {"userId": U, "applicationId": app_id, "metaData": {"scopes": ["a"] * 101}}},
    ),
    (
        "mint data big",
        "POST",
        "/api/user/refresh-token",
        {"headers": K, "json": {"userId": U, "applicationId": app_id, "metaData": {"data": {"x": "a" * 9000}}}},
    ),
    (
        "mint data list",
        "POST",
        "/api/user/refresh-token",
        {"headers": K, "json": {"userId": U, "applicationId": app_id, "metaData": {"data": [1]}}},
    ),
    (
        "mint meta list",
        "POST",
        "/api/user/refresh-token",
        {"headers": K, "json": {"userId": U, "applicationId": app_id, "metaData": [1]}},
    ),
    (
        "mint device null",
        "POST",
        "/api/user/refresh-token",
        {"headers": K, "json": {"userId": U, "applicationId": U, "metaData": {"device": None}}},
    ),
    (
        "mint eventinfo bad",
        "POST",
        "/api/user/refresh-token",
        {"headers": K, "json": {"userId": U, "applicationId": app_id, "eventInfo": {"ipAddress": 1}}},
    ),
    ("mint noauth bad", "POST", "/api/user/refresh-token", {"json": {}}),
    ("mint noauth", "POST", "/api/user/refresh-token", {"json": {"userId": U, "applicationId": app_id}}),
    ("val none", "GET", "/api/jwt/validate", {}),
    ("val bad", "GET", "/api/jwt/validate", {"headers": {"Authorization": "Bearer abc"}}),
    ("val cookie bad", "GET", "/api/jwt/validate", {"headers": {"Cookie": "access_token=abc"}}),
]

EXPECTED = {
    "rv empty token": (
        400,
        '{"fieldErrors":{"token":[{"code":"[tooLong]token","message":"Length must be between 1 and 1024."}]}}\n',
    ),
    "rv long token": (
        400,
        '{"fieldErrors":{"token":[{"code":"[tooLong]token","message":"Length must be between 1 and 1024."}]}}\n',
    ),
    "rv bad user": (400, '{"fieldErrors":{"userId":[{"code":"[invalid]userId","message":"Not a valid UUID."}]}}\n'),
    "rv bad app": (
        400,
        '{"fieldErrors":{"applicationId":[{"code":"[invalid]applicationId","message":"Not a valid UUID."}]}}\n',
    ),
    "rv bad user and app": (
        400,
        '{"fieldErrors":{"applicationId":[{"code":"[invalid]applicationId","message":"Not a valid UUID."}],"userId":[{"code":"[invalid]userId","message":"Not a valid UUID."}]}}\n',
    ),
    "rv upper user": (
        200,
        '{"errors":[],"invalidatedTokens":0,"previouslyInvalidatedTokens":0,"refreshTokenIds":[]}\n',
    ),
    "rv hex user": (200, '{"errors":[],"invalidatedTokens":0,"previouslyInvalidatedTokens":0,"refreshTokenIds":[]}\n'),
    "rv nothing": (
        400,
        '{"generalErrors":[{"code":"[invalid]","message":"You must specify a token, a userId or an applicationId."}]}\n',
    ),
    "rv unknown token": (404, ""),
    "rv repeated token": (
        400,
        '{"fieldErrors":{"token":[{"code":"[tooLong]token","message":"Length must be between 1 and 1024."}]}}\n',
    ),
    "rv malformed json": (400, '{"generalErrors":[{"code":"[invalid]","message":"Your JSON was invalid."}]}\n'),
    "rv json list": (
        400,
        '{"fieldErrors":{"request":[{"code":"[invalid]request","message":"Invalid input type."}]}}\n',
    ),
    "rv json null": (
        400,
        '{"fieldErrors":{"request":[{"code":"[invalid]request","message":"Invalid input type."}]}}\n',
    ),
    "rv json string": (
        400,
        '{"fieldErrors":{"request":[{"code":"[invalid]request","message":"Invalid input type."}]}}\n',
    ),
    "rv json empty": (
        400,
        '{"generalErrors":[{"code":"[invalid]","message":"You must specify a token, a userId or an applicationId."}]}\n',
    ),
    "rv json ws": (400, '{"generalErrors":[{"code":"[invalid]","message":"Your JSON was invalid."}]}\n'),
    "rv bad utf8": (400, '{"generalErrors":[{"code":"[invalid]","message":"Your JSON was invalid."}]}\n'),
    "rv token int": (400, '{"fieldErrors":{"token":[{"code":"[invalid]token","message":"Not a valid string."}]}}\n'),
    "rv token null": (
        400,
        '{"fieldErrors":{"token":[{"code":"[invalid]token","message":"Field may not be null."}]}}\n',
    ),
    "rv token empty body": (
        400,
        '{"fieldErrors":{"token":[{"code":"[tooLong]token","message":"Length must be between 1 and 1024."}]}}\n',
    ),
    "rv body user bad": (
        400,
        '{"fieldErrors":{"userId":[{"code":"[invalid]userId","message":"Not a valid UUID."}]}}\n',
    ),
    "rv body user int": (
        400,
        '{"fieldErrors":{"userId":[{"code":"[invalid]userId","message":"Not a valid UUID."}]}}\n',
    ),
    "rv eventInfo str": (
        400,
        '{"fieldErrors":{"eventInfo":[{"code":"[invalid]eventInfo","message":"Invalid input type."}]}}\n',
    ),
    "rv eventInfo list": (
        400,
        '{"fieldErrors":{"eventInfo":[{"code":"[invalid]eventInfo","message":"Invalid input type."}]}}\n',
    ),
    "rv eventInfo lat": (
        400,
        '{"fieldErrors":{"eventInfo.location.latitude":[{"code":"[invalid]eventInfo.location.latitude","message":"Must be greater than or equal to -90 and less than or equal to 90."}]}}\n',
    ),
    "rv eventInfo nan": (
        400,
        '{"fieldErrors":{"eventInfo.location.latitude":[{"code":"[invalid]eventInfo.location.latitude","message":"Special numeric values (nan or infinity) are not permitted."}]}}\n',
    ),
    "rv eventInfo data big": (
        400,
        '{"fieldErrors":{"eventInfo.data":[{"code":"[tooLong]eventInfo.data","message":"Longer than the limit of 8192 bytes when encoded as JSON."}]}}\n',
    ),
    "rv eventInfo ua int": (
        400,
        '{"fieldErrors":{"eventInfo.ipAddress":[{"code":"[tooLong]eventInfo.ipAddress","message":"Longer than maximum length 64."}],"eventInfo.userAgent":[{"code":"[invalid]eventInfo.userAgent","message":"Not a valid string."}]}}\n',
    ),
    "rv eventInfo several": (
        400,
        '{"fieldErrors":{"eventInfo.deviceName":[{"code":"[invalid]eventInfo.deviceName","message":"Not a valid string."}],"eventInfo.location":[{"code":"[invalid]eventInfo.location","message":"Invalid input type."}],"token":[{"code":"[invalid]token","message":"Not a valid string."}],"userId":[{"code":"[invalid]userId","message":"Not a valid UUID."}]}}\n',
    ),
    "rv unknown fields": (404, ""),
    "rv text plain json": (
        400,
        '{"generalErrors":[{"code":"[invalid]","message":"You must specify a token, a userId or an applicationId."}]}\n',
    ),
    "rv vnd json": (400, '{"fieldErrors":{"token":[{"code":"[invalid]token","message":"Not a valid string."}]}}\n'),
    "rv json charset": (400, '{"fieldErrors":{"token":[{"code":"[invalid]token","message":"Not a valid string."}]}}\n'),
    "rv query bad body bad": (
        400,
        '{"fieldErrors":{"userId":[{"code":"[invalid]userId","message":"Not a valid UUID."}]}}\n',
    ),
    "rv form token": (
        400,
        '{"fieldErrors":{"token":[{"code":"[tooLong]token","message":"Length must be between 1 and 1024."}]}}\n',
    ),
    "rv form token ok": (404, ""),
    "rv noauth bad": (400, '{"fieldErrors":{"userId":[{"code":"[invalid]userId","message":"Not a valid UUID."}]}}\n'),
    "rv noauth ok": (401, ""),
    "rv user ok": (200, '{"errors":[],"invalidatedTokens":0,"previouslyInvalidatedTokens":0,"refreshTokenIds":[]}\n'),
    "rv user app ok": (
        200,
        '{"errors":[],"invalidatedTokens":0,"previouslyInvalidatedTokens":0,"refreshTokenIds":[]}\n',
    ),
    "rv user unknown app": (
        400,
        '{"fieldErrors":{"applicationId":[{"code":"[invalid]applicationId","message":"No application exists with Id [3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d]."}]}}\n',
    ),
    "rv body user ok": (
        200,
        '{"errors":[],"invalidatedTokens":0,"previouslyInvalidatedTokens":0,"refreshTokenIds":[]}\n',
    ),
    "rv body user eventinfo null": (
        200,
        '{"errors":[],"invalidatedTokens":0,"previouslyInvalidatedTokens":0,"refreshTokenIds":[]}\n',
    ),
    "rvid bad id": (404, ""),
    "rvid unknown id": (404, ""),
    "rvid upper id": (404, ""),
    "rvid malformed": (400, '{"generalErrors":[{"code":"[invalid]","message":"Your JSON was invalid."}]}\n'),
    "rvid eventInfo bad": (
        400,
        '{"fieldErrors":{"eventInfo.deviceType":[{"code":"[invalid]eventInfo.deviceType","message":"Not a valid string."}]}}\n',
    ),
    "rvid eventInfo bad noauth": (
        400,
        '{"fieldErrors":{"eventInfo.deviceType":[{"code":"[invalid]eventInfo.deviceType","message":"Not a valid string."}]}}\n',
    ),
    "rvid noauth": (401, ""),
    "rvid bad id bad body": (
        400,
        '{"fieldErrors":{"eventInfo":[{"code":"[invalid]eventInfo","message":"Invalid input type."}]}}\n',
    ),
    "ls no user": (
        400,
        '{"fieldErrors":{"userId":[{"code":"[missing]userId","message":"Missing data for required field."}]}}\n',
    ),
    "ls bad user": (400, '{"fieldErrors":{"userId":[{"code":"[invalid]userId","message":"Not a valid UUID."}]}}\n'),
    "ls empty user": (400, '{"fieldErrors":{"userId":[{"code":"[invalid]userId","message":"Not a valid UUID."}]}}\n'),
    "ls limit 0": (
        400,
        '{"fieldErrors":{"limit":[{"code":"[invalid]limit","message":"Must be greater than or equal to 1 and less than or equal to 10000."}]}}\n',
    ),
    "ls limit abc": (400, '{"fieldErrors":{"limit":[{"code":"[invalid]limit","message":"Not a valid integer."}]}}\n'),
    "ls limit big": (
        400,
        '{"fieldErrors":{"limit":[{"code":"[invalid]limit","message":"Must be greater than or equal to 1 and less than or equal to 10000."}]}}\n',
    ),
    "ls limit float": (400, '{"fieldErrors":{"limit":[{"code":"[invalid]limit","message":"Not a valid integer."}]}}\n'),
    "ls limit plus": (200, '{"refreshTokens":[]}\n'),
    "ls limit space": (200, '{"refreshTokens":[]}\n'),
    "ls limit ok": (200, '{"refreshTokens":[]}\n'),
    "ls cursor long": (
        400,
        '{"fieldErrors":{"cursor":[{"code":"[tooLong]cursor","message":"Longer than maximum length 128."}]}}\n',
    ),
    "ls cursor bad": (
        400,
        '{"fieldErrors":{"cursor":[{"code":"[invalid]cursor","message":"The cursor is not one this service returned."}]}}\n',
    ),
    "ls app bad": (
        400,
        '{"fieldErrors":{"applicationId":[{"code":"[invalid]applicationId","message":"Not a valid UUID."}]}}\n',
    ),
    "ls app unknown": (
        400,
        '{"fieldErrors":{"applicationId":[{"code":"[invalid]applicationId","message":"No application exists with Id [3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d]."}]}}\n',
    ),
    "ls ok": (200, '{"refreshTokens":[]}\n'),
    "ls noauth": (401, ""),
    "ls noauth bad": (400, '{"fieldErrors":{"userId":[{"code":"[invalid]userId","message":"Not a valid UUID."}]}}\n'),
    "get bad id": (404, ""),
    "get unknown": (404, ""),
    "get noauth": (401, ""),
    "ex empty": (
        400,
        '{"fieldErrors":{"refreshToken":[{"code":"[missing]refreshToken","message":"You must specify a refresh token."}]}}\n',
    ),
    "ex no body": (
        400,
        '{"fieldErrors":{"refreshToken":[{"code":"[missing]refreshToken","message":"You must specify a refresh token."}]}}\n',
    ),
    "ex empty token": (
        400,
        '{"fieldErrors":{"refreshToken":[{"code":"[tooLong]refreshToken","message":"Length must be between 1 and 1024."}]}}\n',
    ),
    "ex long token": (
        400,
        '{"fieldErrors":{"refreshToken":[{"code":"[tooLong]refreshToken","message":"Length must be between 1 and 1024."}]}}\n',
    ),
    "ex int token": (
        400,
        '{"fieldErrors":{"refreshToken":[{"code":"[invalid]refreshToken","message":"Not a valid string."}]}}\n',
    ),
    "ex null token": (
        400,
        '{"fieldErrors":{"refreshToken":[{"code":"[missing]refreshToken","message":"You must specify a refresh token."}]}}\n',
    ),
    "ex unknown token": (
        400,
        '{"fieldErrors":{"refreshToken":[{"code":"[invalid]refreshToken","message":"The refresh token is invalid, revoked or expired."}]}}\n',
    ),
    "ex ttl 0": (
        400,
        '{"fieldErrors":{"timeToLiveInSeconds":[{"code":"[invalid]timeToLiveInSeconds","message":"Must be greater than or equal to 1."}]}}\n',
    ),
    "ex ttl str": (  # a JSON body's integer is a JSON integer (app.schemas.common.Wire)
        400,
        '{"fieldErrors":{"timeToLiveInSeconds":[{"code":"[invalid]timeToLiveInSeconds","message":"Not a valid integer."}]}}\n',
    ),
    "ex ttl strbad": (
        400,
        '{"fieldErrors":{"timeToLiveInSeconds":[{"code":"[invalid]timeToLiveInSeconds","message":"Not a valid integer."}]}}\n',
    ),
    "ex ttl float": (  # a JSON body's integer is a JSON integer (app.schemas.common.Wire)
        400,
        '{"fieldErrors":{"timeToLiveInSeconds":[{"code":"[invalid]timeToLiveInSeconds","message":"Not a valid integer."}]}}\n',
    ),
    "ex ttl bool": (
        400,
        '{"fieldErrors":{"timeToLiveInSeconds":[{"code":"[invalid]timeToLiveInSeconds","message":"Not a valid integer."}]}}\n',
    ),
    "ex token too long": (
        400,
        '{"fieldErrors":{"token":[{"code":"[tooLong]token","message":"Longer than maximum length 16384."}]}}\n',
    ),
    "ex malformed": (400, '{"generalErrors":[{"code":"[invalid]","message":"Your JSON was invalid."}]}\n'),
    "ex cookie": (
        400,
        '{"fieldErrors":{"refreshToken":[{"code":"[invalid]refreshToken","message":"Not a valid string."}]}}\n',
    ),
    "ex eventinfo bad": (
        400,
        '{"fieldErrors":{"eventInfo.location.zipcode":[{"code":"[invalid]eventInfo.location.zipcode","message":"Not a valid string."}]}}\n',
    ),
    "ex tenant bad": (
        400,
        '{"fieldErrors":{"X-FusionAuth-TenantId":[{"code":"[invalid]X-FusionAuth-TenantId","message":"The tenant header must be a UUID."}]}}\n',
    ),
    "mint empty": (
        400,
        '{"fieldErrors":{"applicationId":[{"code":"[missing]applicationId","message":"Missing data for required field."}],"userId":[{"code":"[missing]userId","message":"Missing data for required field."}]}}\n',
    ),
    "mint no body": (
        400,
        '{"fieldErrors":{"applicationId":[{"code":"[missing]applicationId","message":"Missing data for required field."}],"userId":[{"code":"[missing]userId","message":"Missing data for required field."}]}}\n',
    ),
    "mint bad ids": (
        400,
        '{"fieldErrors":{"applicationId":[{"code":"[invalid]applicationId","message":"Not a valid UUID."}],"userId":[{"code":"[invalid]userId","message":"Not a valid UUID."}]}}\n',
    ),
    "mint unknown app": (
        400,
        '{"fieldErrors":{"applicationId":[{"code":"[invalid]applicationId","message":"No application exists with Id [3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d]."}]}}\n',
    ),
    "mint meta bad": (
        400,
        '{"fieldErrors":{"metaData.device.lastAccessedInstant":[{"code":"[invalid]metaData.device.lastAccessedInstant","message":"Not a valid integer."}],"metaData.device.name":[{"code":"[invalid]metaData.device.name","message":"Not a valid string."}],"metaData.scopes":[{"code":"[invalid]metaData.scopes","message":"Not a valid list."}]}}\n',
    ),
    "mint scopes items": (
        400,
        '{"fieldErrors":{"metaData.scopes.0":[{"code":"[invalid]metaData.scopes.0","message":"Not a valid string."}],"metaData.scopes.1":[{"code":"[tooLong]metaData.scopes.1","message":"Longer than maximum length 255."}]}}\n',
    ),
    "mint scopes many": (
        400,
        '{"fieldErrors":{"metaData.scopes":[{"code":"[tooLong]metaData.scopes","message":"Longer than maximum length 100."}]}}\n',
    ),
    "mint data big": (
        400,
        '{"fieldErrors":{"metaData.data":[{"code":"[tooLong]metaData.data","message":"Longer than the limit of 8192 bytes when encoded as JSON."}]}}\n',
    ),
    "mint data list": (
        400,
        '{"fieldErrors":{"metaData.data":[{"code":"[invalid]metaData.data","message":"Not a valid mapping type."}]}}\n',
    ),
    "mint meta list": (
        400,
        '{"fieldErrors":{"metaData":[{"code":"[invalid]metaData","message":"Invalid input type."}]}}\n',
    ),
    "mint device null": (
        400,
        '{"fieldErrors":{"applicationId":[{"code":"[invalid]applicationId","message":"No application exists with Id [3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d]."}]}}\n',
    ),
    "mint eventinfo bad": (
        400,
        '{"fieldErrors":{"eventInfo.ipAddress":[{"code":"[invalid]eventInfo.ipAddress","message":"Not a valid string."}]}}\n',
    ),
    "mint noauth bad": (
        400,
        '{"fieldErrors":{"applicationId":[{"code":"[missing]applicationId","message":"Missing data for required field."}],"userId":[{"code":"[missing]userId","message":"Missing data for required field."}]}}\n',
    ),
    "mint noauth": (401, ""),
    "val none": (401, ""),
    "val bad": (401, ""),
    "val cookie bad": (401, ""),
}


@pytest.fixture
def with_application(client: Any) -> Any:
    response = client.post(f"/api/application/{app_id}", json={"application": {"name": "x"}}, headers=K)
    assert response.status_code == 200
    return client


@pytest.mark.parametrize(("name", "method", "path", "kwargs"), CASES, ids=[case[0] for case in CASES])
def test_hot_endpoints_answer_bad_input_exactly_as_before(
    with_application: Any, name: str, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    response = with_application.open(path, method=method, **kwargs)
    assert (response.status_code, response.get_data(as_text=True)) == EXPECTED[name]
    if response.get_data():
        assert response.mimetype == "application/json"
