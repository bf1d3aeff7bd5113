"""GET /api/v1/openapi.json: the OpenAPI 3 document, generated from the views and schemas.

Each view documents itself in its docstring (the YAML after ``---``); request and response
bodies name marshmallow schemas, which apispec turns into components.
"""

from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from apispec_webframeworks.flask import FlaskPlugin
from flask import Flask, current_app

from netstats import __version__
from netstats.api import bp
from netstats.auth import public

ERROR_RESPONSES = {
    "BadRequest": "Malformed JSON or a malformed request.",
    "Unauthorized": "No token, or a bad or revoked one.",
    "Forbidden": "The token or user may only read.",
    "NotFound": "No such object.",
    "Conflict": "Clashes with existing data (a duplicate name, an object in use).",
    "TooLarge": "The request body is larger than the limit.",
    "Invalid": "Validation failed; `fields` names each bad field.",
}


def _component_name(schema) -> str:
    """``DestinationSchema`` is the component ``Destination``."""
    return resolve_schema_cls(schema).__name__.removesuffix("Schema")


def build_spec(app: Flask) -> dict:
    """Generate the OpenAPI document for every /api/v1 route of ``app``."""
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
        plugins=[FlaskPlugin(), MarshmallowPlugin(schema_name_resolver=_component_name)],
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
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint.startswith(bp.name + "."):
            spec.path(view=app.view_functions[rule.endpoint], app=app)
    return spec.to_dict()


@bp.get("/openapi.json")
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
