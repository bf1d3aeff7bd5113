"""The ``netstats`` command: Flask's CLI group around ``create_app()`` plus our commands."""

from __future__ import annotations

from flask import Flask
from flask.cli import FlaskGroup


def _create_app():
    from netstats.app import create_app

    return create_app()


def register_commands(app: Flask) -> None:
    """Attach netstats' own command groups to ``app.cli``."""
    from netstats.cli import config, plugins, up, users, worker

    config.register(app)
    plugins.register(app)
    up.register(app)
    users.register(app)
    worker.register(app)


main = FlaskGroup(
    create_app=_create_app,
    add_version_option=True,
    help="netstats: scheduled ping, traceroute and DNS measurements.",
)
