"""One page of a SELECT, for the API's lists and the pages' tables alike."""

from __future__ import annotations

import math
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, select

from netstats.db import db
from netstats.errors import Invalid


def paginate(stmt: Select, args: dict[str, Any]) -> dict[str, Any]:
    """One page of ``stmt``: its ``items`` (rows) with total and page counts, as the page
    schemas (``netstats.schemas.common.PageSchema``) dump it.

    ``args`` holds the loaded ``page`` and ``per_page`` (default and maximum are settings).
    """
    per_page = args.get("per_page") or current_app.config["DEFAULT_PER_PAGE"]
    limit = current_app.config["MAX_PER_PAGE"]
    if per_page > limit:
        raise Invalid(f"per_page may be at most {limit}.", {"per_page": [f"At most {limit}."]})
    page = args.get("page", 1)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return {
        "items": items,
        "total": total,
        "page": page,
        "per_page": per_page,
        "pages": math.ceil(total / per_page) if total else 0,
    }
