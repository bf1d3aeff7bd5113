"""The counters of ``GET /metrics``, kept in the run's own transaction.

A Prometheus counter must never go down, in any web process, across restarts, whatever
retention deletes. So netstats does not derive its counters from the measurements, the
samples or the rollups (all pruned, and a sum over years of them would be slow): every run
adds its rounds to one ``totals`` row per (job, destination) and its final state to one
``run_totals`` row per (job, state), in the transaction that stores the run. Nothing prunes
these rows; they go only with their job or destination (docs/prometheus.md).

Each run touches its rows with one ``INSERT ... ON CONFLICT DO UPDATE`` (SQLite and
PostgreSQL), in a fixed order (destination id), so two runs of one job writing at once wait
for each other rather than deadlock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import case
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from netstats.collectors import Measurement
from netstats.db import db
from netstats.engine.route_tracking import RouteCounts
from netstats.models import RunTotals, Totals

ADDED = (
    "rounds_ok",
    "rounds_error",
    "rounds_timeout",
    "sent",
    "received",
    "traces",
    "route_changes",
    "route_flaps",
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NEWEST = ("last_started_us", "last_status", "last_duration_ms", "last_metrics")


def _insert():
    dialect = db.session.get_bind().dialect.name
    return pg_insert if dialect == "postgresql" else sqlite_insert


def _count(value) -> int:
    """A ``sent`` or ``received`` metric as a count: whole, not negative, else 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return 0
    return max(0, int(value))


def count_rounds(
    job_id: int,
    measured: Sequence[tuple[int, Measurement]],
    metrics: Sequence[Mapping[str, float | int | None]],
    started_us: Sequence[int],
    routes: Mapping[int, RouteCounts],
) -> None:
    """Add a run's rounds (``measured``: destination id and measurement, with its cleaned
    metrics and start time in µs) and what the route detector found in them (``routes``, by
    destination) to the totals, in the caller's transaction."""
    rows: dict[int, dict] = {}
    for (destination_id, m), values, us in zip(measured, metrics, started_us, strict=True):
        row = rows.get(destination_id)
        if row is None:
            row = rows[destination_id] = {"job_id": job_id, "destination_id": destination_id}
            row.update(dict.fromkeys(ADDED, 0))
            row["last_started_us"] = None
        row[f"rounds_{m.status}"] += 1
        row["sent"] += _count(values.get("sent"))
        row["received"] += _count(values.get("received"))
        if row["last_started_us"] is None or us >= row["last_started_us"]:
            row.update(
                last_started_us=us,
                last_status=m.status,
                last_duration_ms=float(m.duration_ms),
                last_metrics=dict(values),
            )
    for destination_id, found in routes.items():
        if destination_id in rows:
            row = rows[destination_id]
            row["traces"] += found.traces
            row["route_changes"] += found.changes
            row["route_flaps"] += found.flaps
    if not rows:
        return
    table = Totals.__table__
    stmt = _insert()(table)
    newer = stmt.excluded.last_started_us >= table.c.last_started_us
    update = {name: table.c[name] + stmt.excluded[name] for name in ADDED}
    update.update(
        {name: case((newer, stmt.excluded[name]), else_=table.c[name]) for name in NEWEST}
    )
    stmt = stmt.on_conflict_do_update(index_elements=["job_id", "destination_id"], set_=update)
    db.session.execute(stmt, [rows[d] for d in sorted(rows)])


def count_runs(finished: Mapping[tuple[int, str], int], at: datetime) -> None:
    """Add finished runs, counted by (job id, final state), ended at ``at``, to the run
    totals, in the caller's transaction."""
    if not finished:
        return
    us = (at - EPOCH) // timedelta(microseconds=1)
    table = RunTotals.__table__
    stmt = _insert()(table)
    later = stmt.excluded.last_finished_us > table.c.last_finished_us
    stmt = stmt.on_conflict_do_update(
        index_elements=["job_id", "status"],
        set_={
            "count": table.c["count"] + stmt.excluded["count"],
            "last_finished_us": case(
                (later, stmt.excluded.last_finished_us), else_=table.c.last_finished_us
            ),
        },
    )
    rows = [
        {"job_id": job_id, "status": status, "count": n, "last_finished_us": us}
        for (job_id, status), n in sorted(finished.items())
    ]
    db.session.execute(stmt, rows)


def count_run(job_id: int, status: str, at: datetime) -> None:
    """Add one finished run of ``job_id`` to the run totals, in the caller's transaction."""
    count_runs(Counter({(job_id, status): 1}), at)
