"""Shared fixtures: an app on a temporary instance, on SQLite and (when configured) PostgreSQL.

Parts a test needs are named by markers (lab, postgres, redis, browser). Where a part is
missing the test skips and says what is missing; with ``CI=true`` that skip is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

# A developer's own settings must not reach the tests (their database, their plugins).
for _key in [
    k for k in os.environ if k.startswith("NETSTATS_") and not k.startswith("NETSTATS_TEST_")
]:
    del os.environ[_key]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PART_MARKERS = ("lab", "postgres", "redis", "browser")
PG_URL = os.environ.get("NETSTATS_TEST_DATABASE_URL", "")


def require(available: bool, reason: str) -> None:
    """Skip the test for lack of a part; in CI, fail instead: CI has every part."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI=true and a required part is missing: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and any(item.get_closest_marker(m) for m in PART_MARKERS):
        report.outcome = "failed"
        report.longrepr = (
            f"CI=true: a test that needs {PART_MARKERS} was skipped: {report.longrepr}"
        )


# --- databases -----------------------------------------------------------------------------


def _migrate(url: str, instance: Path) -> None:
    from flask_migrate import upgrade

    from netstats.app import create_app
    from netstats.db import init_migrations

    app = create_app({"DATABASE_URL": url, "TESTING": True})
    init_migrations(app)
    with app.app_context():
        upgrade()
        from netstats.db import db

        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated once; each test gets a copy."""
    instance = tmp_path_factory.mktemp("template")
    path = instance / "template.sqlite"
    os.environ["NETSTATS_INSTANCE_PATH"] = str(instance)
    try:
        _migrate(f"sqlite:///{path}", instance)
    finally:
        del os.environ["NETSTATS_INSTANCE_PATH"]
    return path


@pytest.fixture(scope="session")
def pg_schema_url(tmp_path_factory):
    """A PostgreSQL schema private to this test run, migrated once, dropped at the end."""
    require(bool(PG_URL), "PostgreSQL not configured: set NETSTATS_TEST_DATABASE_URL")
    from netstats.config import normalize_database_url

    base = normalize_database_url(PG_URL)
    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(base)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        require(False, f"PostgreSQL at {PG_URL} is not reachable: {exc.orig}")
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    instance = tmp_path_factory.mktemp("pg-template")
    os.environ["NETSTATS_INSTANCE_PATH"] = str(instance)
    try:
        _migrate(url, instance)
    finally:
        del os.environ["NETSTATS_INSTANCE_PATH"]
    yield url
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def _truncate_all(url: str) -> None:
    from netstats.db import db

    engine = sa.create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """The database of one test: a fresh SQLite copy, or the run's PostgreSQL schema, emptied."""
    if request.param == "sqlite":
        path = tmp_path / "instance" / "netstats.sqlite"
        path.parent.mkdir(exist_ok=True)
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_schema_url")
    _truncate_all(url)
    return url


@pytest.fixture
def instance_path(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "instance"
    path.mkdir(exist_ok=True)
    monkeypatch.setenv("NETSTATS_INSTANCE_PATH", str(path))
    return path


@pytest.fixture
def app(database_url, instance_path):
    from netstats.app import create_app

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "PLUGINS_DIR": str(instance_path / "plugins"),
        }
    )
    yield app
    from netstats.db import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def cli_runner(app):
    """A CLI runner for the ``netstats`` command, its commands running in ``app``."""
    from flask.testing import FlaskCliRunner

    from netstats.cli import main

    class Runner(FlaskCliRunner):
        def invoke(self, cli=None, args=None, **kwargs):
            return super().invoke(cli or main, args, **kwargs)

    return Runner(app)


@pytest.fixture
def runner(app):
    return cli_runner(app)


# --- the network lab -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def lab_available() -> None:
    """Skip (fail in CI) unless this run may build network namespaces."""
    from tests.lab.netns import lab_unavailable_reason

    reason = lab_unavailable_reason()
    require(reason is None, reason or "")


# --- API callers -----------------------------------------------------------------------------


class ApiClient:
    """The test client with a Bearer token: ``api.get("/destinations")`` means /api/v1/..."""

    def __init__(self, client, token: str | None):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def open(self, method: str, path: str, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.open("/api/v1" + path, method=method, headers=headers, **kwargs)

    def get(self, path, **kw):
        return self.open("GET", path, **kw)

    def post(self, path, **kw):
        return self.open("POST", path, **kw)

    def patch(self, path, **kw):
        return self.open("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.open("DELETE", path, **kw)


def _issue_token(app, user: str, admin: bool, scope: str) -> str:
    from netstats.auth import create_token, create_user
    from netstats.db import db

    with app.app_context():
        account = create_user(user, "correct horse battery", admin=admin)
        _, secret = create_token(account, scope=scope)
        db.session.commit()
    return secret


@pytest.fixture
def api(app, client) -> ApiClient:
    """An admin with a write token."""
    return ApiClient(client, _issue_token(app, "admin", True, "write"))


@pytest.fixture
def reader(app, client) -> ApiClient:
    """A viewer with a read token."""
    return ApiClient(client, _issue_token(app, "viewer", False, "read"))
