"""The database handle, dialect tuning and the write-transaction helper."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, Engine, Table, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeDecorator

from netstats.errors import Invalid
from netstats.runtime import under_gevent


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


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def init_app(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            _tune_sqlite(engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])


def init_migrations(app: Flask) -> None:
    """Give ``app`` the Alembic migrations (Flask-Migrate), for the commands that migrate.

    Not part of every app: Alembic costs every web and worker process time and memory.
    """
    from flask_migrate import Migrate

    if "migrate" not in app.extensions:
        Migrate(app, db, directory=_migrations_dir(), render_as_batch=True)


def _migrations_dir() -> str:
    """The Alembic revisions, shipped inside the package so that an installed wheel migrates."""
    from pathlib import Path

    return str(Path(__file__).resolve().parent / "migrations")


# Under gevent, SQLite's own busy wait (a sleep inside the C library) would stop every
# greenlet of the process: it waits at most this long, and netstats waits the rest.
COOPERATIVE_BUSY_MS = 5


def _tune_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """WAL, a busy timeout, foreign keys, and transactions that SQLAlchemy begins itself.

    pysqlite's own implicit BEGIN is turned off so that ``begin_write()`` can issue
    ``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes fails with
    "database is locked" whatever the busy timeout, when another writer got in between.
    Under gevent a writer waits for the lock in short tries with cooperative sleeps between
    them, so that the process's other requests and streams go on meanwhile.
    """
    yielding = under_gevent()
    library_wait_ms = min(busy_timeout_ms, COOPERATIVE_BUSY_MS) if yielding else busy_timeout_ms

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(library_wait_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        immediate = conn.get_execution_options().get("netstats_write", False)
        if immediate and yielding:
            _begin_immediate_yielding(conn, busy_timeout_ms / 1000)
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _begin_immediate_yielding(conn, timeout_s: float) -> None:
    """``BEGIN IMMEDIATE``, tried again after short (cooperative) sleeps while the database
    is locked, for at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    pause = 0.002
    while True:
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            if "locked" not in str(exc.orig) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def begin_write() -> None:
    """Start the session's transaction as a write transaction (IMMEDIATE on SQLite).

    Call before the first statement of a unit of work that will write. If the session's
    transaction has already begun, this changes nothing.
    """
    db.session.connection(execution_options={"netstats_write": True})


@contextmanager
def write_transaction() -> Iterator[None]:
    """A unit of work that writes: begun as a write transaction, committed at the end of the
    block, rolled back if anything (an exception, a signal) leaves it early.

    The session's transaction must not have begun yet (see ``begin_write``).
    """
    begin_write()
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def insert_ignoring(table: Table, *conflict_columns) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the session's dialect (SQLite or PostgreSQL).

    ``conflict_columns`` name the unique index that decides; none means any conflict.
    """
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns) or None)


def insert_rows(table: Table, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """Insert many rows given as tuples in ``columns`` order, in the session's transaction.

    A plain DB-API executemany: SQLAlchemy's per-row parameter processing costs more than the
    insert itself at the rates of ``samples`` and the rollups. Only for columns whose values
    the driver takes as they are (numbers, bytes, None).
    """
    if not rows:
        return
    connection = db.session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    marks = ", ".join([mark] * len(columns))
    # Names from the table's definition, never from input.
    sql = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})"  # noqa: S608
    connection.exec_driver_sql(sql, list(rows))


def fetch_tuples(stmt) -> list[tuple]:
    """The rows of a Core SELECT as plain tuples from the DB-API cursor, in the session's
    transaction.

    For the read side's bulk reads of numbers and blobs (tens of thousands of rows per
    chart): SQLAlchemy's result rows cost several microseconds each, more than the database.
    No result processing: only for columns the driver returns as they are.
    """
    connection = db.session.connection()
    compiled = stmt.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    if compiled.positiontup is not None:
        params = [params[name] for name in compiled.positiontup]
    cursor = connection.connection.cursor()
    try:
        cursor.execute(str(compiled), params)
        return cursor.fetchall()
    finally:
        cursor.close()


@contextmanager
def unique_or(conflict: Callable[[], Exception]) -> Iterator[None]:
    """Changes made in the block are flushed in a savepoint; if a unique index refuses them,
    only the savepoint is undone and ``conflict()`` is raised. The caller's transaction and
    its earlier changes stand (services whose caller commits never roll it back).

    Make the changes inside the block: changes pending before it are flushed as it begins.
    """
    try:
        with db.session.begin_nested():
            yield
            db.session.flush()
    except IntegrityError:
        raise conflict() from None


def contains_pattern(text: str, field: str = "q") -> str:
    """A LIKE pattern matching ``text`` anywhere, its wildcards escaped (``escape="\\"``).

    A NUL is refused (422 naming ``field``): SQLite's LIKE ends the pattern there, so that
    ``%<NUL>%`` would match every row, and PostgreSQL refuses it in text.
    """
    if "\x00" in text:
        raise Invalid(
            "A search must not contain NUL.", {field: ["Must not contain NUL characters."]}
        )
    escaped = text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    return f"%{escaped}%"
