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


WRITES = {"post", "put", "patch", "delete"}
PUBLIC = {"/api/v1/health", "/api/v1/openapi.json"}


def _operations(doc):
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_every_operation_documents_401_and_every_write_403(client):
    doc = client.get("/api/v1/openapi.json").json
    missing = []
    for path, method, operation in _operations(doc):
        responses = {str(s) for s in operation["responses"]}
        if path not in PUBLIC and "401" not in responses:
            missing.append(f"{method} {path} 401")
        if method in WRITES and "403" not in responses:
            missing.append(f"{method} {path} 403")
        if "requestBody" in operation and not {"400", "413", "415"} <= responses:
            missing.append(f"{method} {path} 400/413/415")
        path_params = [p for p in operation.get("parameters", []) if p["in"] == "path"]
        if path_params and "404" not in responses:
            missing.append(f"{method} {path} 404")
    assert missing == []


def test_the_documented_401_403_and_415_are_what_the_server_answers(app, client, reader):
    assert client.get("/api/v1/destinations").status_code == 401
    assert reader.post("/destinations", json={"name": "a", "host": "::1"}).status_code == 403
    from tests.conftest import _issue_token

    writer = {"Authorization": f"Bearer {_issue_token(app, 'w', True, 'write')}"}
    answer = client.post("/api/v1/destinations", data="name=a", headers=writer)
    assert answer.status_code == 415 and answer.json["error"]["code"] == "unsupported_media_type"


def test_per_page_documents_its_maximum_from_the_setting(app, client):
    doc = client.get("/api/v1/openapi.json").json
    limits = [
        p["schema"].get("maximum")
        for _, _, operation in _operations(doc)
        for p in operation.get("parameters", [])
        if p["name"] == "per_page"
    ]
    assert limits and set(limits) == {app.config["MAX_PER_PAGE"]}


def test_host_syntax_is_documented_and_everything_it_admits_is_accepted(api, client):
    doc = client.get("/api/v1/openapi.json").json
    host = doc["components"]["schemas"]["Destination"]["properties"]["host"]
    pattern = re.compile(host["pattern"])
    samples = ["example.net", "a-1.b", "127.0.0.1", "::1", "[fe80::1]", "1:2:3:4:5:6:7:8", "::"]
    for i, sample in enumerate(samples):
        assert pattern.match(sample), sample
        answer = api.post("/destinations", json={"name": f"h{i}", "host": sample})
        assert answer.status_code == 201, (sample, answer.json)
    for refused in [
        "1.2.3",
        "256.0.0.1",  # not an address (octet past 255): parsed and refused, never contacted
        "a..b",
        "-a",
        "xn--zz",
        "[::1",
        "1::2::3",
        "1:2:3:4:5:6:7::8",
    ]:
        assert not pattern.match(refused), refused
        answer = api.post("/destinations", json={"name": "r", "host": refused})
        assert answer.status_code == 422, refused


def test_a_405_answers_with_its_allow_header(api):
    answer = api.open("PUT", "/destinations")
    assert answer.status_code == 405 and answer.json["error"]["code"] == "method_not_allowed"
    assert set(answer.headers["Allow"].split(", ")) >= {"GET", "POST"}
    answer = api.open("PUT", "/destinations/1")
    assert {"GET", "PATCH", "DELETE"} <= set(answer.headers["Allow"].split(", "))


def test_every_operation_with_query_arguments_documents_422_and_414(client):
    doc = client.get("/api/v1/openapi.json").json
    missing = [
        f"{method} {path}"
        for path, method, operation in _operations(doc)
        if any(p["in"] == "query" for p in operation.get("parameters", []))
        and not {"414", "422"} <= {str(s) for s in operation["responses"]}
    ]
    assert missing == []
    assert "422" in doc["paths"]["/api/v1/destinations/{destination_id}"]["delete"]["responses"]


def test_a_patch_body_documents_no_required_field_as_the_server_accepts_none(api, client):
    doc = client.get("/api/v1/openapi.json").json
    for path, name in (("/api/v1/destinations/{destination_id}", "DestinationPatch"),
                       ("/api/v1/jobs/{job_id}", "JobPatch")):  # fmt: skip
        body = doc["paths"][path]["patch"]["requestBody"]["content"]["application/json"]
        assert body["schema"]["$ref"] == f"#/components/schemas/{name}"
        assert "required" not in doc["components"]["schemas"][name], name
    assert doc["components"]["schemas"]["Destination"]["required"]
    destination = api.post("/destinations", json={"name": "lo", "host": "127.0.0.1"}).json
    changed = api.patch(f"/destinations/{destination['id']}", json={"description": "d"})
    assert changed.status_code == 200 and changed.json["name"] == "lo"
