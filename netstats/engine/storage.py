"""Writing a run's outcome: measurements, metric samples, final state and event, all at once.

Everything a finished run produces goes into one transaction, so a reader (or an SSE client
following the event log) sees all of it or none of it. Samples go in as one SQLAlchemy Core
executemany: ORM objects cost about five times as much per row. A gauge's sample is its
value; a distribution's sample is the round's values packed (``raw``) with their mean as the
value, written even when the round has none (every probe lost is still a round). Rollups are
not touched here: the rollup pass follows the ``run`` events (``netstats.engine.rollups``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from netstats import events
from netstats.collectors import Measurement
from netstats.db import db, fetch_tuples, insert_ignoring, insert_rows, write_transaction
from netstats.engine import totals
from netstats.engine.route_tracking import track_routes
from netstats.histogram import pack_values
from netstats.models import STATUS_CODES, JobRun, Series, samples
from netstats.models import Measurement as MeasurementRow
from netstats.plugins import get_plugins

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SAMPLE_COLUMNS = ("series_id", "ts_us", "measurement_id", "value", "status", "raw")


class RunLost(Exception):
    """The run is no longer this worker's to finish (deleted with its job, or abandoned)."""


@dataclass(frozen=True)
class RunRef:
    """What a finished run's rows need to know of it."""

    id: int
    job_id: int
    scheduled_at: datetime


@dataclass(frozen=True)
class Outcome:
    """How a run ended and what it measured (one measurement per destination id)."""

    status: str
    error: str | None = None
    reason: str | None = None
    measurements: Sequence[tuple[int, Measurement]] = ()


def timestamp_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch (the ``samples.ts_us`` unit)."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def clean_metrics(metrics: dict[str, Any]) -> dict[str, float | int | None]:
    """Keep the numeric metrics of a plugin's answer; NaN and infinities become gaps.

    Integers stay integers (a count of probes is 5, not 5.0).
    """
    cleaned: dict[str, float | int | None] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or isinstance(value, bool):
            continue
        if value is None or isinstance(value, int):
            cleaned[name] = value
        elif isinstance(value, float):
            cleaned[name] = value if math.isfinite(value) else None
    return cleaned


def write_outcome(run: RunRef, worker: str, outcome: Outcome, now: datetime) -> list[int]:
    """Finish ``run`` with ``outcome`` in one transaction; return the new measurement ids.

    Raises ``RunLost`` (after rolling back) when the run is no longer running under
    ``worker``; database errors propagate with nothing written.
    """
    with write_transaction():
        claimed = db.session.execute(
            update(JobRun)
            .where(JobRun.id == run.id, JobRun.status == "running", JobRun.worker == worker)
            .values(
                status=outcome.status,
                error=outcome.error,
                reason=outcome.reason,
                finished_at=now,
            )
        )
        if claimed.rowcount != 1:
            raise RunLost(f"run {run.id} is no longer running under {worker}")
        # Each measurement's metrics cleaned once: its row, its samples, the counters, the event.
        metrics = [clean_metrics(m.metrics) for _, m in outcome.measurements]
        ids = _insert_measurements(run, outcome.measurements, metrics)
        _insert_samples(run.job_id, outcome.measurements, ids, metrics)
        routes = track_routes(run.job_id, outcome.measurements, ids, now)
        totals.count_rounds(
            run.job_id,
            outcome.measurements,
            metrics,
            [timestamp_us(m.started_at) for _, m in outcome.measurements],
            routes,
        )
        add_run_event(run, outcome, ids, now, metrics)
    return ids


def add_run_event(
    run: RunRef,
    outcome: Outcome,
    ids: Sequence[int],
    now: datetime,
    metrics: Sequence[dict[str, float | int | None]] | None = None,
) -> None:
    """Append the run's ending to the event log and count it in the run totals
    (``netstats.engine.totals``), in the caller's transaction. Every way a run ends passes
    here (stored, ended early, abandoned), except the planner's missed runs, which it counts
    itself.

    The payload is enough for a page to redraw without a query of its own; the rollup pass
    reads each measurement's destination and ``started_at`` from it to know which buckets
    to recompute. ``metrics``: each measurement's ``clean_metrics``, when the caller has
    them already.
    """
    if metrics is None:
        metrics = [clean_metrics(m.metrics) for _, m in outcome.measurements]
    payload = {
        "run_id": run.id,
        "job_id": run.job_id,
        "status": outcome.status,
        "reason": outcome.reason,
        "error": outcome.error,
        "scheduled_at": run.scheduled_at.isoformat(),
        "finished_at": now.isoformat(),
        "measurements": [
            {
                "id": mid,
                "destination_id": destination_id,
                "started_at": m.started_at.isoformat(),
                "status": m.status,
                "metrics": cleaned,
            }
            for mid, (destination_id, m), cleaned in zip(
                ids, outcome.measurements, metrics, strict=True
            )
        ],
    }
    events.append("run", payload, now)
    totals.count_run(run.job_id, outcome.status, now)


def _insert_measurements(
    run: RunRef, measured: Sequence[tuple[int, Measurement]], metrics: Sequence[dict]
) -> list[int]:
    if not measured:
        return []
    table = MeasurementRow.__table__
    rows = [
        {
            "run_id": run.id,
            "job_id": run.job_id,
            "destination_id": destination_id,
            "collector": m.collector,
            "target": m.target,
            "address": m.address,
            "started_at": m.started_at,
            "duration_ms": m.duration_ms,
            "status": m.status,
            "error": m.error,
            "metrics": cleaned,
            "details": m.details,
        }
        for (destination_id, m), cleaned in zip(measured, metrics, strict=True)
    ]
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(db.session.scalars(stmt, rows))


def _series_ids(job_id: int, keys: dict[tuple[int, str], str]) -> dict[tuple[int, str], int]:
    """Series ids by (destination id, metric), creating the missing ones with their kind."""
    destination_ids = {d for d, _ in keys}
    stmt = select(Series.destination_id, Series.metric, Series.id).where(
        Series.job_id == job_id, Series.destination_id.in_(destination_ids)
    )
    # Plain tuples: a run of 100 destinations reads 1 300 rows, ORM rows cost more.
    found = {(d, m): i for d, m, i in fetch_tuples(stmt)}
    missing = keys.keys() - found.keys()
    if missing:
        db.session.execute(
            insert_ignoring(Series.__table__),
            [
                {"destination_id": d, "job_id": job_id, "metric": m, "kind": keys[(d, m)]}
                for d, m in sorted(missing)
            ],
        )
        found = {(d, m): i for d, m, i in fetch_tuples(stmt)}
    return found


def declared_kinds(collector: str) -> dict[str, str]:
    """The kind of each metric the collector declares (empty if it is not installed)."""
    found = get_plugins().collectors.get(collector)
    return {} if found is None else {metric.name: metric.kind for metric in found.metrics}


def _values_of(m: Measurement, kinds: dict[str, str]) -> dict[str, list[float]]:
    """The round's distributions, with an empty list for each declared one it lacks."""
    values = {name: list(v) for name, v in m.distributions.items()}
    for name, kind in kinds.items():
        if kind == "distribution":
            values.setdefault(name, [])
    return values


def _insert_samples(
    job_id: int,
    measured: Sequence[tuple[int, Measurement]],
    ids: Sequence[int],
    metrics: Sequence[dict],
) -> None:
    kinds_by_collector: dict[str, dict[str, str]] = {}
    rounds = []
    for (d, m), cleaned in zip(measured, metrics, strict=True):
        if m.collector not in kinds_by_collector:
            kinds_by_collector[m.collector] = declared_kinds(m.collector)
        kinds = kinds_by_collector[m.collector]
        rounds.append((d, m, cleaned, _values_of(m, kinds), kinds))
    # A metric's kind is its declaration; an undeclared one is what the collector sent.
    keys = {}
    for d, _, cleaned, values, kinds in rounds:
        keys.update({(d, name): kinds.get(name, "gauge") for name in cleaned})
        keys.update({(d, name): kinds.get(name, "distribution") for name in values})
    if not keys:
        return
    series = _series_ids(job_id, keys)
    rows = []
    for mid, (d, m, cleaned, values, _) in zip(ids, rounds, strict=True):
        ts_us, status = timestamp_us(m.started_at), STATUS_CODES[m.status]
        rows.extend(
            (series[(d, name)], ts_us, mid, value, status, None) for name, value in cleaned.items()
        )
        for name, round_values in values.items():
            mean = sum(round_values) / len(round_values) if round_values else None
            rows.append((series[(d, name)], ts_us, mid, mean, status, pack_values(round_values)))
    insert_rows(samples, SAMPLE_COLUMNS, rows)
