"""/api/v1/collectors: what can be measured, with each collector's parameters as JSON Schema."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint

from netstats.api.body import responds
from netstats.errors import NotFound
from netstats.plugins import get_plugins
from netstats.schemas.collectors import collector_list_schema, collector_schema

bp = Blueprint("collectors", __name__)


@bp.get("/collectors", endpoint="list")
@responds(collector_list_schema, description="The collectors.")
def list_collectors():
    """List the installed collectors.
    ---
    get:
      tags: [collectors]
      summary: Every collector with its parameters (JSON Schema) and metrics.
    """
    plugins = get_plugins()
    return {
        "items": [plugins.describe(name) for name in plugins.collectors],
        "errors": [asdict(e) for e in plugins.errors],
    }


@bp.get("/collectors/<name>", endpoint="get")
@responds(collector_schema, description="The collector.")
def get_collector(name: str):
    """Get one collector.
    ---
    get:
      tags: [collectors]
      parameters: [{in: path, name: name, required: true, schema: {type: string}}]
      responses:
        404: {$ref: "#/components/responses/NotFound"}
    """
    if name not in get_plugins().collectors:
        raise NotFound(f"No collector {name!r}.")
    return get_plugins().describe(name)
