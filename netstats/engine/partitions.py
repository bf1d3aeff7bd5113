"""PostgreSQL time partitions of ``samples`` (daily) and ``rollups_5m`` (monthly).

Retention drops a whole partition once everything in it is past its time, instead of
deleting millions of rows. Each table has a DEFAULT partition that takes rows outside every
range (a clock far off, data imported from long ago), so a write never fails for want of a
partition; when a partition is created for a range the DEFAULT partition already holds
rows of, those rows move into it first. The worker creates partitions ahead
(``ensure_partitions``); the migration creates the current ones. SQLite has no partitions:
everything here is a no-op there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, text

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# table -> (partition key column, period)
PARTITIONED = {"samples": ("ts_us", "day"), "rollups_5m": ("start_us", "month")}
# Partitions the worker keeps ready beyond the current one.
AHEAD = {"day": 3, "month": 1}
_NAME = re.compile(r"^(samples|rollups_5m)_(p\d{6}|p\d{8}|default)$")
_BOUND = re.compile(r"FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)")


def is_partition(name: str) -> bool:
    """Whether a table name is one of the partitions made here (the models do not list them)."""
    return bool(_NAME.match(name))


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's ``include_name`` hook: compare the models with the database, partitions aside."""
    return not (type_ == "table" and name is not None and is_partition(name))


@dataclass(frozen=True)
class Partition:
    name: str
    lower_us: int
    upper_us: int


def _us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def period_of(moment: datetime, period: str) -> tuple[str, datetime, datetime]:
    """The partition suffix and the [start, end) of the period holding ``moment`` (UTC)."""
    moment = moment.astimezone(UTC)
    if period == "day":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return f"p{start:%Y%m%d}", start, start + timedelta(days=1)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return f"p{start:%Y%m}", start, end


def partitions(conn: Connection, table: str) -> list[Partition]:
    """The range partitions of ``table`` (DEFAULT excluded), oldest first."""
    rows = conn.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = :table AND p.relnamespace = to_regnamespace(current_schema())"
        ),
        {"table": table},
    )
    found = []
    for name, bound in rows:
        match = _BOUND.search(bound or "")
        if match:
            found.append(Partition(name, int(match.group(1)), int(match.group(2))))
    return sorted(found, key=lambda p: p.lower_us)


def create_default(conn: Connection, table: str) -> None:
    """The DEFAULT partition of ``table``, if missing."""
    conn.execute(
        text(f'CREATE TABLE IF NOT EXISTS "{table}_default" PARTITION OF "{table}" DEFAULT')
    )


def ensure_partition(conn: Connection, table: str, moment: datetime) -> str | None:
    """The partition of ``table`` holding ``moment``, created if missing; its name when created.

    Rows of its range already in the DEFAULT partition move into it first (PostgreSQL
    refuses to attach a range the DEFAULT partition holds rows of).
    """
    column, period = PARTITIONED[table]
    suffix, start, end = period_of(moment, period)
    name = f"{table}_{suffix}"
    lower, upper = _us(start), _us(end)
    if any(p.name == name for p in partitions(conn, table)):
        return None
    # Serialize with other workers creating the same partition, and with writers.
    conn.execute(text(f'LOCK TABLE "{table}" IN SHARE ROW EXCLUSIVE MODE'))
    if any(p.name == name for p in partitions(conn, table)):
        return None
    conn.execute(text(f'CREATE TABLE "{name}" (LIKE "{table}" INCLUDING DEFAULTS)'))
    conn.execute(
        text(
            # Names from PARTITIONED and period_of only, never from input.
            f'WITH moved AS (DELETE FROM "{table}_default" WHERE {column} >= :lower '  # noqa: S608
            f'AND {column} < :upper RETURNING *) INSERT INTO "{name}" SELECT * FROM moved'
        ),
        {"lower": lower, "upper": upper},
    )
    attach = (
        f'ALTER TABLE "{table}" ATTACH PARTITION "{name}" FOR VALUES FROM ({lower}) TO ({upper})'
    )
    conn.execute(text(attach))
    return name


def ensure_partitions(conn: Connection, now: datetime) -> list[str]:
    """Every partitioned table's current partition and those ``AHEAD`` of it; the new names.

    No-op (an empty list) on SQLite.
    """
    if conn.dialect.name != "postgresql":
        return []
    created = []
    for table, (_, period) in PARTITIONED.items():
        moment = now
        for _ in range(AHEAD[period] + 1):
            name = ensure_partition(conn, table, moment)
            if name:
                created.append(name)
            moment = period_of(moment, period)[2]
    return created


def drop_partitions_before(conn: Connection, table: str, cutoff_us: int) -> list[str]:
    """Drop the partitions of ``table`` whose whole range lies before ``cutoff_us``."""
    if conn.dialect.name != "postgresql":
        return []
    dropped = []
    for partition in partitions(conn, table):
        if partition.upper_us <= cutoff_us:
            conn.execute(text(f'DROP TABLE "{partition.name}"'))
            dropped.append(partition.name)
    return dropped
