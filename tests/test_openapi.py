"""The committed spec is what the code generates: regenerate with `make openapi` when this fails."""

from __future__ import annotations

import json
from pathlib import Path

from app import openapi

SPEC = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def test_committed_openapi_matches_the_code():
    assert json.loads(SPEC.read_text()) == json.loads(openapi.render()), "run `make openapi` and commit the result"


def test_the_spec_documents_fusionauths_error_shape_and_the_revoke_endpoint():
    spec = json.loads(SPEC.read_text())
    delete = spec["paths"]["/api/jwt/refresh"]["delete"]
    assert "200" in delete["responses"] and "400" in delete["responses"]
    assert "fieldErrors" in spec["components"]["schemas"]["Errors"]["properties"]


def test_the_app_serves_its_spec(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert "/api/jwt/refresh/{token_id}" in response.json["paths"]


def test_the_interactive_docs_load_their_assets_locally(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and b"/api/swagger-ui/swagger-ui-bundle.js" in page.data
    asset = client.get("/api/swagger-ui/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000
    assert client.get("/api/swagger-ui/../../etc/passwd").status_code == 404
