"""The REST API under /api/v1: a parent blueprint (authentication) with a child per resource.

Every call needs a Bearer token or a login session, except the views marked ``@public``
(the health check). Views load their input with ``netstats.api.body`` and declare their
answer's schema with ``@responds``, which the OpenAPI document reuses.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, request

from netstats.api import (
    collectors,
    destinations,
    events,
    health,
    jobs,
    openapi,
    probe,
    reports,
    routes,
    runs,
    series,
)
from netstats.auth import authorize_request, current_principal

bp = Blueprint("api", __name__, url_prefix="/api/v1")
CHILDREN = tuple(
    m.bp
    for m in (
        collectors,
        destinations,
        events,
        health,
        jobs,
        openapi,
        probe,
        reports,
        routes,
        runs,
        series,
    )
)
for _child in CHILDREN:
    bp.register_blueprint(_child)


@bp.before_request
def _authenticate():
    view = current_app.view_functions.get(request.endpoint)
    if not getattr(view, "netstats_public", False):
        authorize_request()


def _authenticate_unrouted():
    """A URL under /api/v1 that no route takes (an id out of range, a method a path has not)
    is authenticated first too: without a valid token it is 401, like every other call, and
    only then the 404 or 405 of the routing. A blueprint's own hook never runs for it (no
    route, no blueprint), hence this one on the app."""
    if request.routing_exception is not None and request.path.startswith(bp.url_prefix + "/"):
        current_principal()


def init_app(app: Flask) -> None:
    app.before_request(_authenticate_unrouted)
    app.register_blueprint(bp)
    openapi.init_app(app)
