"""Error pages in the look of the app: 403, 404, 500 and the rest, for pages (never the API)."""

from __future__ import annotations

import logging

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from netstats.db import db
from netstats.errors import NetstatsError

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad request",
    401: "Login needed",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed here",
    409: "Conflict",
    413: "Too large",
    422: "Invalid input",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Unavailable",
}
ICONS = {403: "shield-lock", 404: "signpost-split", 429: "hourglass-split", 500: "bug"}


def render_error_page(status: int, message: str):
    """The error page for ``status``; plain text if even the template fails (a broken app)."""
    try:
        page = render_template(
            "error.html",
            status=status,
            title=TITLES.get(status, "Error"),
            icon=ICONS.get(status, "exclamation-octagon"),
            message=message,
        )
    except Exception:
        log.exception("the error page for %s could not be rendered", status)
        return message, status
    return page, status


def netstats_error_page(exc: NetstatsError):
    """A core error raised while building a page (no such destination, not an admin...)."""
    db.session.rollback()
    return render_error_page(exc.status, exc.message)


def csrf_error_page(exc: CSRFError):
    """A form without its token: most often a page left open across a restart or logout."""
    message = f"{exc.description} Go back, reload the page and send the form again."
    return render_error_page(400, message)


def init_app(app: Flask) -> None:
    app.extensions["netstats_error_page"] = render_error_page
