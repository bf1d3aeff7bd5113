"""``netstats up``: a first look in one command: set up the instance, then web and worker.

The web server is ``netstats serve`` with one process (gunicorn with a gevent worker, as in
production), started as a fresh process of its own so that gevent patches the standard
library before the app is imported; the worker is a second process beside it.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

ADMIN_NAME = "admin"


def initialise_instance() -> str | None:
    """Migrate the database; on first run load the sample config and create the admin.

    Returns the admin's new password, or None when the instance had users already.
    """
    import secrets
    from importlib.resources import files

    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from netstats.auth import create_user
    from netstats.config_file import import_config
    from netstats.db import db, init_migrations, write_transaction
    from netstats.models import Destination, Job, User

    init_migrations(current_app)
    upgrade()
    db.session.remove()  # start the writes below on a fresh connection
    password = None
    with write_transaction():
        if not db.session.scalar(select(func.count()).select_from(User)):
            password = secrets.token_urlsafe(12)
            create_user(ADMIN_NAME, password, admin=True)
    empty = not db.session.scalar(select(func.count()).select_from(Destination)) and not (
        db.session.scalar(select(func.count()).select_from(Job))
    )
    db.session.commit()  # the import begins its own write transaction
    if empty:
        import_config(files("netstats").joinpath("sample_config.yaml").read_text())
    return password


def _die_with_parent() -> None:
    """Linux: a child gets SIGTERM if `netstats up` itself is killed outright."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


@click.command("up")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--worker/--no-worker", default=True, help="Also run a worker (default: yes).")
@with_appcontext
def up_command(host: str, port: int, worker: bool) -> None:
    """Set up the instance (first run: schema, sample config, admin) and run web + worker."""
    from netstats.db import db

    password = initialise_instance()
    db.session.remove()
    db.engine.dispose()  # the children open their own connections
    url = f"http://{host}:{port}/"
    click.echo(f"netstats: instance {current_app.instance_path}")
    if password:
        click.echo(f"netstats: created user '{ADMIN_NAME}' with password: {password}")
        click.echo("netstats: (shown only now; change it with `netstats users passwd admin`)")
    children = []
    # SIGTERM ends `up` like Ctrl-C does, so that web server and worker are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if worker:
            children.append(_start("worker"))
        web = _start("serve", "--host", host, "--port", str(port), "--workers", "1")
        children.append(web)
        click.echo(f"netstats: open {url}  (Ctrl-C stops web and worker)")
        try:
            code = web.wait()
        except KeyboardInterrupt:  # Ctrl-C reached the children too: they are stopping
            code = 0
        if code:
            raise click.ClickException(f"the web server stopped (exit code {code})")
    finally:
        for child in reversed(children):
            _stop(child)


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "netstats", *args], preexec_fn=_die_with_parent)


def _stop(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=15)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
