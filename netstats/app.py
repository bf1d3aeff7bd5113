"""The application factory: configuration, extensions, plugins, then the API and the pages."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, request


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask application.

    Configuration is layered (``netstats.config.settings``): defaults in code, then
    ``instance/config.py`` (or ``test_config`` when given), then ``NETSTATS_*`` environment
    variables. The commands live on the ``netstats`` group (``netstats.cli``), not here.
    """
    from netstats import (
        api,
        auth,
        config,
        db,
        error_handlers,
        events,
        models,  # noqa: F401 (its tables)
        plugins,
        url_ids,
        web,
    )
    from netstats.engine import queue
    from netstats.prometheus import init_app as init_metrics

    app = Flask("netstats", instance_path=config.instance_path(), instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(config.settings(app.instance_path, test_config))
    config.finalize(app)
    app.json.sort_keys = False  # keep the field order of our schemas in responses

    db.init_app(app)
    queue.init_app(app)
    events.init_app(app)
    app.before_request(_write_requests_write_from_the_start)
    auth.init_app(app)
    plugins.init_app(app)
    error_handlers.init_app(app)
    url_ids.init_app(app)
    api.init_app(app)
    web.init_app(app)
    init_metrics(app)  # GET /metrics
    # The API checks the CSRF token of session calls that change data itself (netstats.auth);
    # a Bearer token carries no cookie to forge.
    for blueprint in (api.bp, *api.CHILDREN):
        web.csrf.exempt(blueprint)

    return app


def _write_requests_write_from_the_start() -> None:
    """A request that may write (POST, PATCH, DELETE...) holds the write lock from its first
    statement: on SQLite a transaction that reads and then writes can fail "database is
    locked" whatever the busy timeout, when another writer got in between."""
    from netstats.auth import READ_METHODS
    from netstats.db import begin_write

    if request.method not in READ_METHODS:
        begin_write()
