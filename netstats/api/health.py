"""The health check: the one call that needs no login."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import text

from netstats import __version__
from netstats.auth import public
from netstats.db import db
from netstats.schemas.common import health_schema

bp = Blueprint("health", __name__)


@bp.get("/health", endpoint="health")
@public
def health():
    """Health check.
    ---
    get:
      tags: [meta]
      summary: Is the service up and its database reachable? No authentication needed.
      security: []
      responses:
        200:
          description: Up.
          content: {application/json: {schema: HealthSchema}}
        503:
          description: The database does not answer.
          content: {application/json: {schema: HealthSchema}}
    """
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:  # the check must answer, whatever the database says
        database = f"error: {exc.__class__.__name__}"
    status = 200 if database == "ok" else 503
    body = {"status": "ok" if status == 200 else "degraded", "database": database}
    return health_schema.dump({**body, "version": __version__}), status
