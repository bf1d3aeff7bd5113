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
from werkzeug.exceptions import RequestEntityTooLarge

from netstats.errors import NetstatsError
from netstats.schemas.common import query_dict
from netstats.schemas.fields import refuse_bad_text

# Deeper documents are refused: no schema of ours nests further, and every recursive walk
# (the decoder's, marshmallow's, the JSON column's) would otherwise risk RecursionError.
MAX_DEPTH = 32


def load_body(schema: Schema, optional: bool = False) -> dict[str, Any]:
    """The JSON body loaded by ``schema``: 400 if it is not JSON or nests deeper than
    ``MAX_DEPTH``, 413 past the size limit, 415 for another content type, 422 naming each
    bad field (NUL and lone surrogates included, anywhere in the document). ``optional``:
    no body at all (none sent, with or without Content-Length) loads as ``{}``."""
    if not body_bytes() and optional:
        return {}
    try:
        data = request.get_json(silent=False)  # malformed JSON -> 400, wrong content type -> 415
    except RecursionError:
        raise _too_deep() from None
    if _depth(data) > MAX_DEPTH:
        raise _too_deep()
    refuse_bad_text(data)
    return schema.load(data)


def body_bytes() -> bytes:
    """The request body, read once (later reads get it from the cache).

    A chunked body has no Content-Length for werkzeug to check against the limit: it is
    cut at the limit instead, so a body that reaches the limit is too large (413), not
    the truncated JSON it would otherwise be parsed as (400).
    """
    data = request.get_data(cache=True)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(data) >= limit:
        raise RequestEntityTooLarge()
    return data


def _too_deep() -> NetstatsError:
    return NetstatsError(f"The JSON body nests deeper than {MAX_DEPTH} levels.")


def _depth(data: Any) -> int:
    """How deep ``data`` nests (a scalar 0, ``[]`` 1), without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:
                items = value.values() if isinstance(value, dict) else value
                stack.extend((item, level + 1) for item in items)
    return deepest


def load_args(schema: Schema) -> dict[str, Any]:
    """The query string loaded by ``schema`` (repeated keys become lists where it says List);
    422 naming an argument that holds a NUL."""
    data = query_dict(schema, request.args)
    refuse_bad_text(data)
    return schema.load(data)


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
