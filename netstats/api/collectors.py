"""/api/v1/collectors: what can be measured, with each collector's parameters as JSON Schema."""

from __future__ import annotations

from dataclasses import asdict

from netstats.api import bp
from netstats.errors import NotFound
from netstats.plugins import get_plugins
from netstats.schema_export import params_json_schema


def describe(name: str) -> dict:
    """One collector as the API shows it: name, title, source, params schema, metrics."""
    plugins = get_plugins()
    collector = plugins.collectors[name]
    return {
        "name": collector.name,
        "title": collector.title,
        "description": collector.description,
        "source": plugins.collector_source(name),
        "params": params_json_schema(collector.params),
        "metrics": [asdict(m) for m in collector.metrics],
    }


@bp.get("/collectors")
def list_collectors():
    """List the installed collectors.
    ---
    get:
      tags: [collectors]
      summary: Every collector with its parameters (JSON Schema) and metrics.
      responses:
        200:
          description: The collectors.
          content: {application/json: {schema: CollectorListSchema}}
    """
    plugins = get_plugins()
    return {
        "items": [describe(name) for name in plugins.collectors],
        "errors": [asdict(e) for e in plugins.errors],
    }


@bp.get("/collectors/<name>")
def get_collector(name: str):
    """Get one collector.
    ---
    get:
      tags: [collectors]
      parameters: [{in: path, name: name, required: true, schema: {type: string}}]
      responses:
        200: {description: The collector., content: {application/json: {schema: CollectorSchema}}}
        404: {$ref: "#/components/responses/NotFound"}
    """
    if name not in get_plugins().collectors:
        raise NotFound(f"No collector {name!r}.")
    return describe(name)
