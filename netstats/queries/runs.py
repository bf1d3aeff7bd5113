"""A job's runs over a range, by time bucket: how many ended in each state, how late they
started and how long they took.

The status distribution of the analytics page (stacked bars per bucket and a doughnut for
the whole range) and its lateness and duration charts come from here, one query whatever the
range: the runs' times are read as numbers (epoch microseconds computed by the database) and
bucketed with numpy. Runs are placed by ``scheduled_at``; lateness is ``started_at -
scheduled_at`` (``job_runs.lateness_ms``, as the runs list shows it), duration ``finished_at
- started_at``, both only for runs that started (and finished).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import Float, cast, func, select

from netstats.db import db, fetch_tuples
from netstats.engine.storage import EPOCH, timestamp_us
from netstats.models import RUN_STATES, Job, JobRun

US = 1_000_000
# Bucket lengths a chart may get, in seconds: the shortest that keeps the buckets under
# ``points`` is used (aligned to multiples of it from the epoch, UTC).
STEPS_S = (
    1,
    5,
    10,
    30,
    60,
    300,
    600,
    900,
    1800,
    3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86_400,
    7 * 86_400,
    30 * 86_400,
    365 * 86_400,
)


@dataclass(frozen=True)
class RunStatus:
    """Runs per bucket and state, and the runs' lateness and duration per bucket."""

    start: datetime
    end: datetime
    step_ms: int
    t: list[int]
    statuses: dict[str, list[int]]
    totals: dict[str, int]
    lateness_mean_ms: list[float | None]
    lateness_max_ms: list[float | None]
    duration_mean_ms: list[float | None]
    duration_max_ms: list[float | None]


def step_for(start_us: int, end_us: int, points: int) -> int:
    """The bucket length (µs) for [start, end) in at most ``points`` buckets."""
    for step_s in STEPS_S:
        step = step_s * US
        if -(-end_us // step) - start_us // step <= points:
            return step
    return STEPS_S[-1] * US


def _epoch_us(column):
    """The timestamp column as epoch microseconds, computed by the database (a number, so the
    rows need no datetime parsing)."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        return func.floor(func.extract("epoch", column) * US)
    # SQLite stores "YYYY-MM-DD HH:MM:SS.ffffff": julianday keeps about a millisecond, so
    # whole seconds come from strftime and the fraction from the text.
    return cast(func.strftime("%s", column), Float) * US + func.coalesce(
        cast(func.substr(column, 21, 6), Float), 0
    )


def run_status(job: Job, start: datetime, end: datetime, points: int) -> RunStatus:
    """The runs of ``job`` scheduled in [start, end), widened to whole buckets of at most
    ``points`` buckets: per bucket and state the number of runs, and the mean and max of
    lateness and duration (None for a bucket without a started run)."""
    start_us, end_us = timestamp_us(start), timestamp_us(end)
    step = step_for(start_us, end_us, points)
    first, last = start_us // step * step, -(-end_us // step) * step
    n = (last - first) // step
    lo, hi = EPOCH + timedelta(microseconds=first), EPOCH + timedelta(microseconds=last)
    stmt = select(
        _epoch_us(JobRun.scheduled_at),
        JobRun.status,
        JobRun.lateness_ms,
        _epoch_us(JobRun.finished_at) - _epoch_us(JobRun.started_at),
    ).where(JobRun.job_id == job.id, JobRun.scheduled_at >= lo, JobRun.scheduled_at < hi)
    rows = fetch_tuples(stmt)
    states = list(RUN_STATES)
    statuses = {s: np.zeros(n, dtype=np.int64) for s in states}
    lateness = _Stat(n)
    duration = _Stat(n)
    if rows:
        at = np.fromiter((r[0] for r in rows), dtype=np.float64, count=len(rows))
        bucket = np.clip(((at.astype(np.int64) - first) // step), 0, n - 1)
        status = np.array([r[1] for r in rows], dtype=object)
        for s in set(status):
            if s not in statuses:  # a state newer than this code: counted apart
                statuses[s] = np.zeros(n, dtype=np.int64)
            statuses[s] += np.bincount(bucket[status == s], minlength=n)
        lateness.add(bucket, np.array([_nan(r[2]) for r in rows], dtype=np.float64))
        duration.add(bucket, np.array([_nan(r[3]) for r in rows], dtype=np.float64) / 1000)
    return RunStatus(
        start=lo,
        end=hi,
        step_ms=step // 1000,
        t=list(range(first // 1000, last // 1000, step // 1000)),
        statuses={s: v.tolist() for s, v in statuses.items()},
        totals={s: int(v.sum()) for s, v in statuses.items()},
        lateness_mean_ms=lateness.means(),
        lateness_max_ms=lateness.maxima(),
        duration_mean_ms=duration.means(),
        duration_max_ms=duration.maxima(),
    )


def _nan(value) -> float:
    return np.nan if value is None else float(value)


class _Stat:
    """Mean and max per bucket of values where present (NaN: absent)."""

    def __init__(self, n: int):
        self.sum = np.zeros(n)
        self.count = np.zeros(n, dtype=np.int64)
        self.max = np.full(n, -np.inf)

    def add(self, bucket: np.ndarray, values: np.ndarray) -> None:
        present = ~np.isnan(values)
        b, v = bucket[present], values[present]
        n = len(self.sum)
        self.sum += np.bincount(b, weights=v, minlength=n)
        self.count += np.bincount(b, minlength=n)
        np.maximum.at(self.max, b, v)

    def means(self) -> list[float | None]:
        return [None if c == 0 else float(s / c) for s, c in zip(self.sum, self.count, strict=True)]

    def maxima(self) -> list[float | None]:
        return [None if c == 0 else float(m) for m, c in zip(self.max, self.count, strict=True)]
