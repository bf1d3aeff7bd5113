"""The web UI: server-rendered pages, one small blueprint per part, under the parent ``web``.

Pages read through the same service functions as the API. Forms post to the pages and are
loaded by the API's own marshmallow schemas (``netstats.web.forms`` only turns form strings
into the JSON types those schemas expect); with JavaScript on, the same forms are sent to the
API by ``static/js/api.js`` instead. Either way one set of rules decides.

Every page needs a login except the login page and static files; API paths answer for
themselves (401 JSON). Forms carry a CSRF token (Flask-WTF); the API is exempt from that
check for Bearer tokens, and ``netstats.auth`` checks the token on session-authenticated
API calls that change data.
"""

from __future__ import annotations

from flask import Blueprint, Flask, g, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from netstats.auth import login_manager
from netstats.errors import NetstatsError

csrf = CSRFProtect()

# Reachable without a login (/metrics checks its own access: netstats.prometheus.access).
PUBLIC_ENDPOINTS = frozenset({"static", "web.auth.login", "prometheus.metrics"})
API_PREFIX = "/api/"

# Only this server: scripts, styles, fonts, images (Bootstrap's inline SVG icons are data:
# URLs) and fetch/SSE. No inline script or style, so an injected tag cannot run.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def _require_login():
    if (
        request.endpoint in PUBLIC_ENDPOINTS
        or request.path.startswith(API_PREFIX)
        or current_user.is_authenticated
    ):
        return None
    return login_manager.unauthorized()


def _note_live_position() -> None:
    """A page's event stream starts after the last event its data includes: noted before
    the view reads anything (``static/js/live.js`` reads it from the page)."""
    from netstats.live import current_position

    if request.method == "GET" and current_user.is_authenticated:
        g.live_after = current_position()


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def init_app(app: Flask) -> None:
    """Install CSRF protection, the login rule, the pages and the HTML error pages."""
    from netstats.web import (
        analytics,
        auth,
        dashboard,
        destinations,
        errors,
        jobs,
        reports,
        runs,
        ui,
    )

    csrf.init_app(app)
    login_manager.login_view = "web.auth.login"
    login_manager.login_message = "Please log in to see this page."
    login_manager.login_message_category = "info"

    # A fresh parent per app (a blueprint cannot gain children once registered); its
    # error handler turns the core's errors raised by any page into pages.
    web = Blueprint("web", __name__)
    for child in (
        analytics.bp,
        auth.bp,
        dashboard.bp,
        destinations.bp,
        jobs.bp,
        reports.bp,
        runs.bp,
    ):
        web.register_blueprint(child)
    web.before_request(_note_live_position)
    web.register_error_handler(NetstatsError, errors.netstats_error_page)
    web.register_error_handler(CSRFError, errors.csrf_error_page)
    app.register_blueprint(web)
    app.before_request(_require_login)
    app.after_request(_security_headers)
    ui.init_app(app)
    errors.init_app(app)
