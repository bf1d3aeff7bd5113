"""Configuration defaults and the derived settings computed from them."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Config, Flask

SECRET_KEY_FILE = "secret_key"  # noqa: S105 (a file name)
# Settings that must be whole numbers of at least 1.
POSITIVE_INTEGERS = ("ROUTE_CHANGE_TRACES", "ROUTE_MAX_TRACES", "REPORT_REQUEST_ROWS")


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
        # The login rate limit (netstats.web.ratelimit), over a sliding window in seconds.
        # Failures for one name from one address, and from one address over all names,
        # past which that address is refused (429) until the oldest failure expires:
        "LOGIN_MAX_FAILURES_PER_NAME_AND_ADDRESS": 5,
        "LOGIN_MAX_FAILURES_PER_ADDRESS": 20,
        # Failures for one name from anywhere before each further attempt for it waits
        # after the last failure: 1 s, doubling per failure up to the maximum (seconds).
        # A name is slowed down, never locked: its owner waits at most that long.
        "LOGIN_MAX_FAILURES_PER_NAME": 5,
        "LOGIN_NAME_DELAY_MAX_S": 60,
        "LOGIN_FAILURE_WINDOW_S": 900,
        # Cookies: the session and remember cookies are not sent with another site's
        # requests (Lax) nor readable by scripts (HttpOnly, Flask's and Flask-Login's
        # default). Behind HTTPS, set SESSION_COOKIE_SECURE and REMEMBER_COOKIE_SECURE.
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # A page's CSRF token is valid for the whole session: dashboards stay open for hours.
        "WTF_CSRF_TIME_LIMIT": None,
        # `netstats config import`: the largest file read, in bytes, and the most values it
        # may stand for with its aliases expanded (a 500-byte file can stand for 10^9).
        "CONFIG_IMPORT_MAX_BYTES": 16 * 1024 * 1024,
        "CONFIG_IMPORT_MAX_VALUES": 1_000_000,
        # SQLite: how long a writer waits for the lock before giving up, in milliseconds.
        "SQLITE_BUSY_TIMEOUT_MS": 10_000,
        # Consecutive traces on a new path that make a route change (fewer are a flap).
        "ROUTE_CHANGE_TRACES": 3,
        # Most traces one route history or hop-by-time answer reads; beyond, every n-th.
        "ROUTE_MAX_TRACES": 2000,
        # Days the event log keeps its events; a stream resuming from an older id gets a reset.
        "RETENTION_EVENTS_DAYS": 7,
        # Reports page: a workbook with more measurements than this is built by the worker
        # and offered for download when ready (docs/reports.md).
        "REPORT_REQUEST_ROWS": 100_000,
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
        # Retention in days, 0 = forever (docs/series.md): measurements with their details,
        # raw samples, each rollup tier, finished runs (kept at least as long as their
        # measurements); the event log's is above. The worker prunes in small batches.
        "RETENTION_MEASUREMENTS_DAYS": 35,
        "RETENTION_SAMPLES_DAYS": 35,
        "RETENTION_5M_DAYS": 100,
        "RETENTION_30M_DAYS": 365,
        "RETENTION_1H_DAYS": 730,
        "RETENTION_6H_DAYS": 0,
        "RETENTION_1D_DAYS": 0,
        "RETENTION_RUNS_DAYS": 100,
        # Seconds between two rollup passes of the worker, and between two retention passes.
        "ROLLUP_EVERY_S": 5.0,
        "RETENTION_EVERY_S": 300.0,
        # GET /metrics (docs/prometheus.md): client networks that may scrape without a token
        # (a list, or a string of addresses and networks separated by commas or spaces;
        # empty = a token is always needed), and how long a web process keeps its answer
        # (seconds, 0 = never; keep it below the scrape interval).
        "METRICS_ALLOW_NETWORKS": "",
        "METRICS_CACHE_S": 5.0,
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
    """Derive settings that depend on others (the database URI, the secret key) and keep the
    instance's SQLite files private: they hold password and token hashes."""
    url = app.config.get("DATABASE_URL") or "sqlite:///" + os.path.join(
        app.instance_path, "netstats.sqlite"
    )
    app.config["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(url)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)
    for name in POSITIVE_INTEGERS:
        value = app.config.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a whole number of at least 1, not {value!r}")
    database = sqlite_file(app.config["SQLALCHEMY_DATABASE_URI"])
    if database:
        make_private(database)  # the queue's file: netstats.engine.queue.build_huey


def sqlite_file(url: str) -> str | None:
    """The file of an SQLite database URL; None for another database or an in-memory one."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def make_private(path: str) -> None:
    """Create an SQLite file readable by its owner only, or make an existing one so, with
    its -wal and -shm files (SQLite gives those the database file's mode when it makes them).

    Created empty before SQLite opens it, it is never readable by others, not even for a
    moment; SQLite takes an empty file for an empty database.
    """
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        return  # SQLite will say the folder is missing
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for name in (path, f"{path}-wal", f"{path}-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(name, 0o600)


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
