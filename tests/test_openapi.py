"""GET /api/v1/openapi.json describes every API route and is a valid OpenAPI 3 document."""

from __future__ import annotations

import re

from openapi_spec_validator import validate


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_document_is_valid_openapi(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    validate(response.json)


def test_every_api_route_and_method_is_documented(app, client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        documented = paths.get(_openapi_path(rule.rule), {})
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method.lower() not in documented:
                missing.append(f"{method} {rule.rule}")
    assert missing == []


def test_every_operation_documents_its_responses_and_auth(client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            assert operation.get("responses"), f"{method} {path} documents no response"


def test_every_json_success_answer_is_dumped_by_the_schema_the_document_names(app, client):
    """The document is true by construction: a view's 2xx body schema is its @responds."""
    doc = client.get("/api/v1/openapi.json").json
    undeclared = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or rule.endpoint == "api.openapi.document":
            continue
        view = app.view_functions[rule.endpoint]
        path = doc["paths"][_openapi_path(rule.rule)]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            responses = path[method.lower()]["responses"]
            for status, response in responses.items():
                json_body = response.get("content", {}).get("application/json")
                if not str(status).startswith("2") or json_body is None:
                    continue
                declared = getattr(view, "netstats_response", None)
                if rule.endpoint == "api.health.health":
                    continue  # dumps HealthSchema itself: it answers 503 with the same body
                if declared is None or declared[0] != int(status):
                    undeclared.append(f"{method} {rule.rule} {status}")
    assert undeclared == []
