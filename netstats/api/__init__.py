"""The REST API under /api/v1: one module per resource, and the helpers they share."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, Flask, current_app, request
from marshmallow import Schema
from sqlalchemy import Select, func, select

from netstats.auth import authorize_request
from netstats.db import db
from netstats.errors import Invalid

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _authenticate():
    view = current_app.view_functions.get(request.endpoint)
    if not getattr(view, "netstats_public", False):
        authorize_request()


def load_body(schema: Schema) -> dict[str, Any]:
    """The JSON body loaded by ``schema``: 400 if it is not JSON, 422 naming each bad field."""
    data = request.get_json(silent=False)  # malformed JSON -> 400, wrong content type -> 415
    return schema.load(data)


def load_args(schema: Schema) -> dict[str, Any]:
    """The query string loaded by ``schema`` (repeated keys become lists where it says List)."""
    data: dict[str, Any] = {}
    for key in request.args:
        field = schema.fields.get(key)
        values = request.args.getlist(key)
        data[key] = (
            values if field is not None and field.__class__.__name__ == "List" else values[-1]
        )
    return schema.load(data)


def paginate(stmt: Select, args: dict[str, Any], item_schema: Schema) -> dict[str, Any]:
    """One page of ``stmt``: ``items`` dumped by ``item_schema``, with total and page counts."""
    per_page = args.get("per_page") or current_app.config["DEFAULT_PER_PAGE"]
    limit = current_app.config["MAX_PER_PAGE"]
    if per_page > limit:
        raise Invalid(f"per_page may be at most {limit}.", {"per_page": [f"At most {limit}."]})
    page = args.get("page", 1)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return {
        "items": item_schema.dump(items, many=True),
        "total": total,
        "page": page,
        "per_page": per_page,
        "pages": math.ceil(total / per_page) if total else 0,
    }


def init_app(app: Flask) -> None:
    from netstats.api import (  # noqa: F401 (routes)
        collectors,
        destinations,
        health,
        jobs,
        openapi,
        probe,
        runs,
    )

    app.register_blueprint(bp)
    openapi.init_app(app)
