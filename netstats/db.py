"""The database handle, dialect tuning and the write-transaction helper."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, has_request_context, request
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, Engine, event
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """A timestamp stored as naive UTC and returned timezone-aware, the same on every dialect."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; netstats stores aware UTC timestamps")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    registry = registry(type_annotation_map={datetime: UTCDateTime()})


db = SQLAlchemy(model_class=Base)
migrate = Migrate()

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def init_app(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=_migrations_dir(), render_as_batch=True)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            _tune_sqlite(engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])


def _migrations_dir() -> str:
    """The Alembic revisions, shipped inside the package so that an installed wheel migrates."""
    from pathlib import Path

    return str(Path(__file__).resolve().parent / "migrations")


def _tune_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """WAL, a busy timeout, foreign keys, and transactions that SQLAlchemy begins itself.

    pysqlite's own implicit BEGIN is turned off so that ``begin_write()`` can issue
    ``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes fails with
    "database is locked" whatever the busy timeout, when another writer got in between.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # A request that may write (POST, PATCH, DELETE...) writes from its first statement.
        immediate = conn.get_execution_options().get("netstats_write", False) or (
            has_request_context() and request.method not in SAFE_METHODS
        )
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def begin_write() -> None:
    """Start the session's transaction as a write transaction (IMMEDIATE on SQLite).

    Call before the first statement of a unit of work that will write. If the session's
    transaction has already begun, this changes nothing.
    """
    db.session.connection(execution_options={"netstats_write": True})
