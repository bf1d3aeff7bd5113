"""Marshmallow schemas rendered as JSON Schema, for forms and API clients."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema


def params_json_schema(schema: type[Schema] | Schema) -> dict[str, Any]:
    """A collector's parameter schema as a self-contained JSON Schema object.

    Defaults, ranges (``minimum``/``maximum``), choices (``enum``) and lengths come from the
    schema's fields and validators.
    """
    plugin = MarshmallowPlugin(schema_name_resolver=lambda _schema: None)
    APISpec("params", "1", openapi_version="3.1.0", plugins=[plugin])  # sets up the converter
    instance = schema() if isinstance(schema, type) else schema
    result = plugin.converter.schema2jsonschema(instance)
    result.setdefault("properties", {})
    return result
