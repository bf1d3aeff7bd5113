"""Configuration defaults and the derived settings computed from them."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Config, Flask

SECRET_KEY_FILE = "secret_key"  # noqa: S105 (a file name)


class ConfigError(Exception):
    """A setting cannot be used; the message names it and says what is accepted."""


def defaults(instance_path: str) -> dict[str, Any]:
    """The settings every installation starts from; the README documents each one."""
    return {
        # Where the data lives; a SQLAlchemy URL. Default: SQLite in the instance folder.
        "DATABASE_URL": None,
        # Where Huey keeps its queue: a redis:// URL, or empty for SqliteHuey in instance/.
        "HUEY_URL": None,
        # The queue's name: the SqliteHuey queue and the Redis key prefix (huey.*.<name>).
        "HUEY_NAME": "netstats",
        # Runs one `netstats worker` executes at once (its consumer's worker threads).
        "WORKER_THREADS": 8,
        # Directory of one-file plugins loaded beside the installed ones.
        "PLUGINS_DIR": os.path.join(instance_path, "plugins"),
        # Print every plugin hook call and its result (debugging plugins).
        "TRACE_PLUGINS": False,
        # Largest request body the API and forms accept, in bytes.
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        # Page size limits for list endpoints.
        "DEFAULT_PER_PAGE": 50,
        "MAX_PER_PAGE": 500,
        # Failed logins allowed per account name, and per client address, within the window
        # (seconds); beyond, the login page answers 429 until the oldest failure expires.
        "LOGIN_MAX_FAILURES_PER_NAME": 5,
        "LOGIN_MAX_FAILURES_PER_ADDRESS": 20,
        "LOGIN_FAILURE_WINDOW_S": 900,
        # SQLite: how long a writer waits for the lock before giving up, in milliseconds.
        "SQLITE_BUSY_TIMEOUT_MS": 10_000,
        # Days the event log keeps its events; a stream resuming from an older id gets a reset.
        "RETENTION_EVENTS_DAYS": 7,
        # Live updates (docs/live.md), per web process: the recent events kept in memory for
        # streams that resume (at most this many, and this many MB), how often the log is
        # read on SQLite without Redis (seconds), the keep-alive period of a stream (seconds;
        # the caller's token or login is checked again at each), and the open streams one
        # process accepts before it answers 503.
        "LIVE_RING_EVENTS": 10_000,
        "LIVE_RING_MB": 32,
        "LIVE_POLL_S": 0.5,
        "LIVE_KEEPALIVE_S": 15,
        "LIVE_MAX_STREAMS": 3000,
    }


def instance_path() -> str:
    """The instance folder: ``NETSTATS_INSTANCE_PATH``, else Flask's default for the package
    (``instance/`` beside a source checkout, ``<prefix>/var/netstats-instance`` installed)."""
    from flask.sansio.scaffold import find_package

    if os.environ.get("NETSTATS_INSTANCE_PATH"):
        return os.environ["NETSTATS_INSTANCE_PATH"]
    prefix, package_path = find_package("netstats")
    if prefix is None:
        return os.path.join(package_path, "instance")
    return os.path.join(prefix, "var", "netstats-instance")


def settings(instance: str, test_config: dict[str, Any] | None = None) -> Config:
    """The settings, layered: defaults, then ``instance/config.py`` (or ``test_config`` when
    given), then ``NETSTATS_*`` environment variables. The app and the commands that need no
    app (``netstats probe``) read them the same way."""
    config = Config(instance)
    config.from_mapping(defaults(instance))
    if test_config is None:
        config.from_pyfile("config.py", silent=True)
    else:
        config.from_mapping(test_config)
    config.from_prefixed_env("NETSTATS")
    return config


def finalize(app: Flask) -> None:
    """Derive settings that depend on others: the database URI and the secret key."""
    url = app.config.get("DATABASE_URL") or "sqlite:///" + os.path.join(
        app.instance_path, "netstats.sqlite"
    )
    app.config["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(url)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)


def normalize_database_url(url: str) -> str:
    """Accept the ``postgres://`` and ``postgresql://`` spellings and use psycopg 3 for both."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def instance_secret_key(instance_path: str) -> str:
    """Read the secret key from the instance folder, generating it on first use."""
    path = Path(instance_path) / SECRET_KEY_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    # Written beside, then linked into place: two processes starting at once agree on one key.
    tmp = path.with_name(f".{SECRET_KEY_FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()
