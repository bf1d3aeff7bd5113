"""GET /api/v1/openapi.json: the OpenAPI 3 document, generated from the views and schemas.

Each view documents itself in its docstring (the YAML after ``---``: parameters, request
body, error responses); its success response comes from its ``@responds`` declaration, the
schema that dumps what it sends. apispec turns the marshmallow schemas into components.
"""

from __future__ import annotations

import re

from flask import Blueprint, Flask, current_app

from netstats import __version__
from netstats.auth import public

bp = Blueprint("openapi", __name__)

ERROR_RESPONSES = {
    "BadRequest": "Malformed JSON or a malformed request.",
    "Unauthorized": "No token, or a bad or revoked one.",
    "Forbidden": "The token or user may only read.",
    "NotFound": "No such object.",
    "Conflict": "Clashes with existing data (a duplicate name, an object in use).",
    "TooLarge": "The request body is larger than the limit.",
    "Invalid": "Validation failed; `fields` names each bad field.",
    "UnsupportedMediaType": "The body is not `application/json`.",
}
# Not the application's answer but gunicorn's (a plain-text body): a request line over its
# 4 094 bytes, which only a query string can make that long.
URI_TOO_LONG = {"description": "The request line (path and query) is longer than 4 094 bytes."}
WRITES = {"post", "put", "patch", "delete"}
_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _component_name(schema) -> str:
    """``DestinationSchema`` is the component ``Destination``."""
    from apispec.ext.marshmallow.common import resolve_schema_cls

    return resolve_schema_cls(schema).__name__.removesuffix("Schema")


def _operations(view, methods: set[str]) -> dict:
    """The view's documented operations, with the response its ``@responds`` declares."""
    from apispec import yaml_utils

    operations = yaml_utils.load_operations_from_docstring(view.__doc__ or "")
    declared = getattr(view, "netstats_response", None)
    for method in methods:
        operation = operations.setdefault(method, {})
        operation.setdefault("summary", (view.__doc__ or "").strip().splitlines()[0])
        responses = operation.setdefault("responses", {})
        if declared is not None:
            status, schema, description = declared
            responses[status] = {
                "description": description,
                "content": {"application/json": {"schema": schema}},
            }
        for status, name in _answers_of_every(view, method, operation):
            responses.setdefault(status, {"$ref": f"#/components/responses/{name}"})
    return operations


def _answers_of_every(view, method: str, operation: dict) -> list[tuple[int, str]]:
    """The error answers every operation of its kind can give, whatever its docstring says:
    401 without a valid token (unless public); 403 for a read token on a write; 404 for an
    id in the path that names nothing; 422 for a query argument that fails validation (and
    gunicorn's 414 for a query too long to read); 400, 413 and 415 for a body that is not
    JSON, too large, or of another content type."""
    answers = []
    if not getattr(view, "netstats_public", False):
        answers.append((401, "Unauthorized"))
        if method in WRITES:
            answers.append((403, "Forbidden"))
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        answers.append((404, "NotFound"))
    if any(p.get("in") == "query" for p in operation.get("parameters", [])):
        answers += [(422, "Invalid"), (414, "UriTooLong")]
    if "requestBody" in operation:
        answers += [(400, "BadRequest"), (413, "TooLarge"), (415, "UnsupportedMediaType")]
    return answers


def _settings_into(document: dict, app: Flask) -> dict:
    """Limits that are settings, written into the parameters they bound (``per_page``)."""
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and parameter.get("name") == "per_page":
                    parameter["schema"]["maximum"] = app.config["MAX_PER_PAGE"]
    return document


def build_spec(app: Flask) -> dict:
    """Generate the OpenAPI document for every /api/v1 route of ``app``."""
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    spec = APISpec(
        title="netstats API",
        version=__version__,
        openapi_version="3.0.3",
        info={
            "description": "Destinations, jobs, runs and measurements. Every call except "
            "/health needs `Authorization: Bearer <token>` (or a login session); a token "
            "of read scope may only GET. Errors are JSON: "
            '`{"error": {"code", "message", "fields"}}`.'
        },
        plugins=[MarshmallowPlugin(schema_name_resolver=_component_name)],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.options["security"] = [{"bearer": []}]
    for name, description in ERROR_RESPONSES.items():
        spec.components.response(
            name,
            {
                "description": description,
                "content": {"application/json": {"schema": "ErrorSchema"}},
            },
        )
    spec.components.response("UriTooLong", URI_TOO_LONG)
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith("api."):
            continue
        methods = {m.lower() for m in rule.methods - {"HEAD", "OPTIONS"}}
        path = _CONVERTER.sub(r"{\1}", rule.rule)
        paths.setdefault(path, {}).update(_operations(app.view_functions[rule.endpoint], methods))
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return _settings_into(spec.to_dict(), app)


@bp.get("/openapi.json", endpoint="document")
@public
def openapi_document():
    """The OpenAPI document.
    ---
    get:
      tags: [meta]
      summary: This API described in OpenAPI 3; no authentication needed.
      security: []
      responses:
        200: {description: The document., content: {application/json: {schema: {type: object}}}}
    """
    spec = current_app.extensions.get("netstats_openapi")
    if spec is None:
        spec = current_app.extensions["netstats_openapi"] = build_spec(current_app)
    return spec


def init_app(app: Flask) -> None:
    app.extensions.pop("netstats_openapi", None)
