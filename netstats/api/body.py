"""What every API view shares: loading the body and the query string, dumping the answer.

A view declares its answer with ``@responds(schema, status)``: the value it returns is dumped
by that schema, and the OpenAPI document (``netstats.api.openapi``) names the same schema for
that status, so the document cannot drift from what the API sends.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request
from marshmallow import Schema

from netstats.schemas.common import query_dict


def load_body(schema: Schema) -> dict[str, Any]:
    """The JSON body loaded by ``schema``: 400 if it is not JSON, 422 naming each bad field."""
    data = request.get_json(silent=False)  # malformed JSON -> 400, wrong content type -> 415
    return schema.load(data)


def load_args(schema: Schema) -> dict[str, Any]:
    """The query string loaded by ``schema`` (repeated keys become lists where it says List)."""
    return schema.load(query_dict(schema, request.args))


def responds(schema: Schema, status: int = 200, description: str = "OK.") -> Callable:
    """Dump what the view returns (a value, or ``(value, headers)``) with ``schema``."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            result = view(*args, **kwargs)
            headers: dict[str, str] = {}
            if isinstance(result, tuple):
                result, headers = result
            return schema.dump(result), status, headers

        wrapper.netstats_response = (status, schema, description)
        return wrapper

    return decorate
