"""The rollup pass: 5-minute, 30-minute, 1-hour, 6-hour and 1-day rows of every series, kept
up to date.

Runs in the worker (``MaintenanceThread``) every ``ROLLUP_EVERY_S``, in small transactions,
never in a run's own transaction (ingest stays fast). Two things make a bucket due:

- **The watermark advances.** Every 5-minute bucket before ``rolled_up_to_us`` is rolled up.
  Each pass moves it to ``floor(now - SETTLE, 5 min)`` and computes the buckets it passed
  over from the raw samples, for every series measured in them (its first pass: for every
  series). ``SETTLE`` leaves time for runs in progress
  to commit, so a bucket is normally computed once, when it closes.
- **A late run.** The pass follows the event log (``events.id > cursor``; ids follow commit
  order, see ``netstats.events``). A ``run`` event names each measurement's destination and
  ``started_at``: a measurement in a bucket already rolled up makes that (job, destination,
  bucket) dirty, and the pass recomputes it.

A bucket is always recomputed from scratch (rows replaced, never added to), so a pass can be
repeated or interrupted at any point without harm. The rows of each coarser tier enclosing a
recomputed 5-minute row are recomputed from the next finer tier's rows (half-hours from
5-minute rows, hours from half-hours, and so on): exact merges of counts, sums, minima,
maxima and histograms; gauges' rows by the database (``insert_gauge_rows``). If the cursor
fell behind the event log's retention (the worker was down longer than
``RETENTION_EVENTS_DAYS``), late runs may have been missed: the pass rebuilds the range the
lost events covered, and says so in the log.

Only one worker runs passes at a time: the pass holds a lease in ``rollup_state``.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from flask import current_app
from sqlalchemy import Table, case, delete, func, insert, select

from netstats.aggregates import Accumulator, Aggregates
from netstats.db import db, fetch_tuples, insert_ignoring, insert_rows, utcnow, write_transaction
from netstats.engine.storage import EPOCH, timestamp_us
from netstats.histogram import Histogram, pack_quantiles
from netstats.models import (
    Event,
    Job,
    Measurement,
    RollupState,
    Series,
    rollups_1d,
    rollups_1h,
    rollups_5m,
    rollups_6h,
    rollups_30m,
    samples,
)

log = logging.getLogger(__name__)

US = 1_000_000
# Runs still committing this long after a bucket ends are in its first rollup.
SETTLE_US = 60 * US
# Events read per query, and series per query of samples or rows.
EVENT_BATCH = 2000
SERIES_CHUNK = 1000
# A pass over a long range (the first pass over existing data, a rebuild, a worker back after
# a while) goes this much time at a time: at most 1 000 series x 72 rows per transaction.
REBUILD_CHUNK_US = 6 * 3_600 * US
# A run commits at most about this long after its measurements began (timeout, retries):
# when events were lost, the rebuild starts this long before the last pass.
LOST_MARGIN_US = 3_600 * US
# How long a worker's claim on the passes lasts without renewal.
LEASE_US = 60 * US
_OWNER = random.getrandbits(62)
# A pending tier's start: after every bucket (readers take none of its rows).
NEVER = 2**62


@dataclass(frozen=True)
class Tier:
    """A rollup tier: its name, its step in microseconds and its table."""

    name: str
    step_us: int
    table: Table


# Finest first; each tier's rows are computed from the previous tier's (its step divides
# theirs). The 30-minute and 6-hour tiers keep the rows a chart merges near ``points``: a
# year at 1 000 points reads 6-hour rows (1 460), not 1-hour ones (8 760).
TIERS = (
    Tier("5m", 300 * US, rollups_5m),
    Tier("30m", 1_800 * US, rollups_30m),
    Tier("1h", 3_600 * US, rollups_1h),
    Tier("6h", 21_600 * US, rollups_6h),
    Tier("1d", 86_400 * US, rollups_1d),
)
TIER_BY_NAME = {t.name: t for t in TIERS}
FINEST = TIERS[0]


def floor_to(us: int, step: int) -> int:
    """``us`` rounded down to a multiple of ``step`` (UTC-aligned buckets)."""
    return us - us % step


def ceil_to(us: int, step: int) -> int:
    """``us`` rounded up to a multiple of ``step``."""
    return -floor_to(-us, step)


@dataclass
class PassReport:
    """What a pass did."""

    events: int = 0
    late_buckets: int = 0
    rows: int = 0
    watermark_us: int | None = None
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)


# --- state -----------------------------------------------------------------------------------


def read_state() -> dict[str, int]:
    """The pass's state by key (``cursor``, ``pass_us``, ``rolled_up_to_us``...)."""
    return {row.key: row.value for row in db.session.scalars(select(RollupState))}


def _save_state(values: dict[str, int]) -> None:
    table = RollupState.__table__
    db.session.execute(insert_ignoring(table), [{"key": k, "value": v} for k, v in values.items()])
    for key, value in values.items():
        db.session.execute(table.update().where(table.c.key == key).values(value=value))


def claim_lease(now_us: int) -> bool:
    """Take (or renew) this process's lease on the passes; False if another worker holds it."""
    with write_transaction():
        state = read_state()
        owner, until = state.get("lease_owner"), state.get("lease_until_us", 0)
        if owner not in (None, _OWNER) and until > now_us:
            return False
        _save_state({"lease_owner": _OWNER, "lease_until_us": now_us + LEASE_US})
    return True


def held_from(state: dict[str, int] | None = None) -> dict[str, int | None]:
    """From when each tier holds every bucket its finer tier has, by tier name: None for
    always (built with the others), a time (µs) for a tier added to built ones (its rows were
    built from the finer tier's, which began then), or ``NEVER`` while it is still pending
    (the next pass builds it). Readers take a tier's rows only from there on."""
    state = read_state() if state is None else state
    held: dict[str, int | None] = {}
    for tier in TIERS:
        if f"pending_{tier.name}" in state:
            held[tier.name] = NEVER
        else:
            held[tier.name] = state.get(f"held_{tier.name}")
    return held


def rolled_up_to() -> int | None:
    """Every 5-minute bucket before this time (µs) is rolled up; None before the first pass."""
    return db.session.scalar(select(RollupState.value).where(RollupState.key == "rolled_up_to_us"))


# --- computing rows --------------------------------------------------------------------------


def _series_kinds(series_ids: Iterable[int] | None = None) -> dict[int, str]:
    stmt = select(Series.id, Series.kind)
    if series_ids is not None:
        stmt = stmt.where(Series.id.in_(list(series_ids)))
    return dict(db.session.execute(stmt).all())


def _chunks(items: Sequence[int], size: int = SERIES_CHUNK) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def _rows_of(
    keys: np.ndarray, aggregates: Aggregates, step: int, distribution: bool
) -> list[tuple]:
    """Rollup rows (tuples in ``ROW_COLUMNS`` order) from the aggregates of groups keyed
    (series id, bucket index)."""
    empty = (aggregates.n == 0).tolist()

    def nullable(values: np.ndarray) -> list:
        return [None if e else v for v, e in zip(values.tolist(), empty, strict=True)]

    columns = [
        keys[:, 0].tolist(),
        (keys[:, 1] * step).tolist(),
        aggregates.count.tolist(),
        aggregates.n.tolist(),
        nullable(aggregates.sum),
        nullable(aggregates.sumsq),
        nullable(aggregates.min),
        nullable(aggregates.max),
        aggregates.first_us.tolist(),
        aggregates.last_us.tolist(),
        aggregates.ok.tolist(),
        aggregates.error.tolist(),
        aggregates.timeout.tolist(),
    ]
    if distribution:
        offsets, dense, zeros = aggregates.histograms
        hists = [
            Histogram(int(offsets[g]), dense[g], int(zeros[g])).encode() for g in range(len(keys))
        ]
        quantiles = [pack_quantiles(q) for q in aggregates.quantiles]
    else:
        hists = quantiles = [None] * len(keys)
    return list(zip(*columns, hists, quantiles, strict=True))


def _group(series: np.ndarray, bucket: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group index of each (series, bucket) pair, and the distinct pairs in order."""
    pairs = np.stack([series, bucket], axis=1)
    keys, groups = np.unique(pairs, axis=0, return_inverse=True)
    return keys, groups.ravel()


def rows_from_samples(kinds: dict[int, str], lo: int, hi: int) -> list[tuple]:
    """5-minute rows of the series ``kinds`` (id -> kind) for buckets in [lo, hi)."""
    step = FINEST.step_us
    out: list[tuple] = []
    for kind in ("gauge", "distribution"):
        ids = sorted(i for i, k in kinds.items() if k == kind)
        distribution = kind == "distribution"
        columns = [samples.c.series_id, samples.c.ts_us, samples.c.value, samples.c.status]
        if distribution:
            columns.append(samples.c.raw)
        for chunk in _chunks(ids):
            stmt = select(*columns).where(
                samples.c.series_id.in_(chunk), samples.c.ts_us >= lo, samples.c.ts_us < hi
            )
            result = db.session.execute(stmt).all()
            if not result:
                continue
            series = np.fromiter((r[0] for r in result), np.int64, len(result))
            ts = np.fromiter((r[1] for r in result), np.int64, len(result))
            values = np.array([r[2] for r in result], dtype=np.float64)
            status = np.fromiter((r[3] for r in result), np.int64, len(result))
            keys, groups = _group(series, ts // step)
            acc = Accumulator(len(keys), distribution)
            acc.add_samples(
                groups, ts, values, status, [r[4] for r in result] if distribution else None
            )
            out.extend(_rows_of(keys, acc.finish(want_histograms=distribution), step, distribution))
    return out


ROW_COLUMNS = (
    "series_id",
    "start_us",
    "count",
    "n",
    "sum",
    "sumsq",
    "min",
    "max",
    "first_us",
    "last_us",
    "ok",
    "error",
    "timeout",
    "hist",
    "quantiles",
)


def rows_from_tier(
    finer: Tier, coarser: Tier, kinds: dict[int, str], lo: int, hi: int
) -> list[tuple]:
    """``coarser`` rows of the series ``kinds`` for buckets in [lo, hi), from ``finer`` rows."""
    out: list[tuple] = []
    table = finer.table
    for kind in ("gauge", "distribution"):
        ids = sorted(i for i, k in kinds.items() if k == kind)
        distribution = kind == "distribution"
        for chunk in _chunks(ids):
            stmt = select(*(table.c[name] for name in ROW_COLUMNS)).where(
                table.c.series_id.in_(chunk), table.c.start_us >= lo, table.c.start_us < hi
            )
            result = db.session.execute(stmt).all()
            if not result:
                continue
            columns = {name: [r[i] for r in result] for i, name in enumerate(ROW_COLUMNS)}
            series = np.asarray(columns["series_id"], dtype=np.int64)
            starts = np.asarray(columns["start_us"], dtype=np.int64)
            keys, groups = _group(series, starts // coarser.step_us)
            columns = {
                k: np.array(v, dtype=np.float64) if k in ("min", "max") else v
                for k, v in columns.items()
            }
            acc = Accumulator(len(keys), distribution)
            acc.add_rows(groups, columns)
            out.extend(
                _rows_of(
                    keys, acc.finish(want_histograms=distribution), coarser.step_us, distribution
                )
            )
    return out


def _status_sum(column, code: int):
    return func.sum(case((column == code, 1), else_=0))


def insert_gauge_rows(tier: Tier, finer: Tier | None, series_ids: Sequence[int], lo: int, hi: int):
    """``tier`` rows of gauge series for buckets in [lo, hi), computed and written by the
    database (``INSERT ... SELECT ... GROUP BY``) from the samples (``finer`` None) or the
    ``finer`` tier's rows, in the caller's transaction; returns the rows written.

    A gauge row is sums, extremes and counts, which SQL merges as the Python path would: no
    sample or row crosses over to Python (a ping round has twelve gauges to one
    distribution)."""
    if not series_ids:
        return 0
    step = tier.step_us
    if finer is None:
        c = samples.c
        time = c.ts_us
        columns = [
            func.count(),
            func.count(c.value),
            func.sum(c.value),
            func.sum(c.value * c.value),
            func.min(c.value),
            func.max(c.value),
            func.min(c.ts_us),
            func.max(c.ts_us),
            _status_sum(c.status, 0),
            _status_sum(c.status, 1),
            _status_sum(c.status, 2),
        ]
    else:
        c = finer.table.c
        time = c.start_us
        columns = [
            func.sum(c.count),
            func.sum(c.n),
            func.sum(c.sum),
            func.sum(c.sumsq),
            func.min(c.min),
            func.max(c.max),
            func.min(c.first_us),
            func.max(c.last_us),
            func.sum(c.ok),
            func.sum(c.error),
            func.sum(c.timeout),
        ]
    bucket = (time // step) * step
    query = (
        select(c.series_id, bucket, *columns)
        .where(c.series_id.in_(list(series_ids)), time >= lo, time < hi)
        .group_by(c.series_id, bucket)
    )
    stmt = insert(tier.table).from_select(list(ROW_COLUMNS[:-2]), query)
    return db.session.execute(stmt).rowcount


def _replace(table: Table, series_ids: Sequence[int], lo: int, hi: int, rows: list[tuple]) -> None:
    """Replace ``table``'s rows of ``series_ids`` in [lo, hi) by ``rows``, in the caller's
    transaction."""
    for chunk in _chunks(sorted(series_ids)):
        db.session.execute(
            delete(table).where(
                table.c.series_id.in_(chunk), table.c.start_us >= lo, table.c.start_us < hi
            )
        )
    insert_rows(table, ROW_COLUMNS, rows)


def recompute(kinds: dict[int, str], lo: int, hi: int, closed_before: int) -> int:
    """Recompute every tier's rows of the series ``kinds`` (id -> kind) over [lo, hi)
    (5-minute aligned): the 5-minute rows from the samples, then each coarser tier's
    enclosing rows from the finer tier's, each only once it has closed (it ends by
    ``closed_before``, the watermark): readers take a coarser row only then, and until then
    it would be recomputed every pass for nothing. One write transaction per chunk of
    series for all its tiers (a commit costs more than a tier's rows of a pass's window:
    measured, five tiers in five transactions each were most of a pass). Returns the rows
    written."""
    if lo >= hi:
        return 0
    written = 0
    for chunk in _chunks(sorted(kinds)):
        part = {i: kinds[i] for i in chunk}
        # Distributions (histograms) in Python, gauges by the database.
        distributions = {i: k for i, k in part.items() if k == "distribution"}
        gauges = [i for i, k in part.items() if k != "distribution"]
        db.session.rollback()
        with write_transaction():
            finer = None
            for tier in TIERS:
                a, b = floor_to(lo, tier.step_us), ceil_to(hi, tier.step_us)
                if finer is not None:
                    b = min(b, floor_to(closed_before, tier.step_us))
                if a >= b:
                    break
                if finer is None:
                    rows = rows_from_samples(distributions, a, b)
                else:
                    rows = rows_from_tier(finer, tier, distributions, a, b)
                _replace(tier.table, chunk, a, b, rows)
                written += insert_gauge_rows(tier, finer, gauges, a, b) + len(rows)
                finer = tier
    return written


def backfill_pending(state: dict[str, int], closed_before: int) -> list[str]:
    """Build the tiers a migration added to built ones (``pending_<name>`` in the state)
    from their finer tier's rows, a day at a time, finest first; then the tier holds from
    the finer tier's first row (``held_<name>``). Returns a note per tier built."""
    notes = []
    for i, tier in enumerate(TIERS):
        if i == 0 or f"pending_{tier.name}" not in state:
            continue
        finer = TIERS[i - 1]
        first = db.session.scalar(select(func.min(finer.table.c.start_us)))
        db.session.rollback()
        start = ceil_to(first, tier.step_us) if first is not None else None
        end = floor_to(closed_before, tier.step_us)
        written = 0
        kinds = _series_kinds()
        db.session.rollback()
        at = start
        while at is not None and at < end:
            stop = min(end, floor_to(at, REBUILD_CHUNK_US * 4) + REBUILD_CHUNK_US * 4)
            for chunk in _chunks(sorted(kinds)):
                part = {k: kinds[k] for k in chunk}
                rows = rows_from_tier(finer, tier, part, at, stop)
                db.session.rollback()
                with write_transaction():
                    _replace(tier.table, chunk, at, stop, rows)
                written += len(rows)
            at = stop
        held = end if start is None else start
        with write_transaction():
            db.session.execute(
                delete(RollupState.__table__).where(
                    RollupState.__table__.c.key == f"pending_{tier.name}"
                )
            )
            _save_state({f"held_{tier.name}": held})
        state.pop(f"pending_{tier.name}", None)
        state[f"held_{tier.name}"] = held
        note = f"rollup tier {tier.name} built from the {finer.name} rows: {written} rows"
        log.info(note)
        notes.append(note)
    return notes


# --- the pass --------------------------------------------------------------------------------


def _samples_cutoff_us(now_us: int) -> int | None:
    """Samples before this are past retention: their buckets are never recomputed."""
    days = int(current_app.config.get("RETENTION_SAMPLES_DAYS") or 0)
    return None if days <= 0 else now_us - days * 86_400 * US


def _measurements_cutoff_us(now_us: int) -> int | None:
    days = int(current_app.config.get("RETENTION_MEASUREMENTS_DAYS") or 0)
    return None if days <= 0 else now_us - days * 86_400 * US


def _measured_pairs(lo_us: int, hi_us: int) -> set[tuple[int, int]]:
    """(job, destination) pairs with a measurement started in [lo, hi): an index range per
    job (``ix_measurements_job_started``)."""
    stmt = (
        select(Measurement.job_id, Measurement.destination_id)
        .where(
            Measurement.job_id.in_(select(Job.id)),
            Measurement.started_at >= EPOCH + timedelta(microseconds=lo_us),
            Measurement.started_at < EPOCH + timedelta(microseconds=hi_us),
            Measurement.destination_id.is_not(None),
        )
        .distinct()
    )
    return {(j, d) for j, d in db.session.execute(stmt)}


def oldest_sample_us() -> int | None:
    """The time of the oldest sample of any series (µs), None without any. One index seek
    per series."""
    first = (
        select(func.min(samples.c.ts_us)).where(samples.c.series_id == Series.id).scalar_subquery()
    )
    return db.session.scalar(select(func.min(first)))


def rebuild(lo_us: int, hi_us: int) -> int:
    """Recompute every series' rows over [lo, hi) from the raw samples, a day at a time.

    Returns the rows written. The part before the samples' retention is left alone (its raw
    samples are gone: recomputing it would lose the rollups)."""
    now_us = timestamp_us(utcnow())
    cutoff = _samples_cutoff_us(now_us)
    if cutoff is not None:
        lo_us = max(lo_us, ceil_to(cutoff, FINEST.step_us))
    lo_us, hi_us = floor_to(lo_us, FINEST.step_us), ceil_to(hi_us, FINEST.step_us)
    kinds = _series_kinds()
    mark = rolled_up_to()
    db.session.rollback()
    closed_before = floor_to(now_us - SETTLE_US, FINEST.step_us) if mark is None else mark
    written = 0
    start = lo_us
    while start < hi_us:
        end = min(hi_us, floor_to(start, REBUILD_CHUNK_US) + REBUILD_CHUNK_US)
        written += recompute(kinds, start, end, closed_before)
        db.session.rollback()
        start = end
    return written


def _read_events(cursor: int) -> tuple[list[tuple[int, dict]], int]:
    """Run events after ``cursor`` (id, payload), and the last id read (any kind)."""
    found: list[tuple[int, dict]] = []
    last = cursor
    while True:
        stmt = (
            select(Event.id, Event.kind, Event.payload)
            .where(Event.id > last)
            .order_by(Event.id)
            .limit(EVENT_BATCH)
        )
        batch = db.session.execute(stmt).all()
        found.extend((row.id, row.payload) for row in batch if row.kind == "run")
        if batch:
            last = batch[-1].id
        if len(batch) < EVENT_BATCH:
            return found, last


def _late_buckets(
    events: list[tuple[int, dict]], before_us: int
) -> dict[int, set[tuple[int, int]]]:
    """(job, destination) pairs by 5-minute bucket, for measurements in buckets before
    ``before_us`` (those the watermark has passed)."""
    dirty: dict[int, set[tuple[int, int]]] = defaultdict(set)
    for _, payload in events:
        job_id = payload.get("job_id")
        for m in payload.get("measurements", ()):
            started = m.get("started_at")
            if started is None or job_id is None:
                continue
            us = timestamp_us(datetime.fromisoformat(started))
            bucket = floor_to(us, FINEST.step_us)
            if bucket < before_us:
                dirty[bucket].add((job_id, m["destination_id"]))
    return dirty


def _kinds_of_pairs(pairs: set[tuple[int, int]]) -> dict[int, str]:
    """The series (id -> kind) of the (job, destination) pairs: by job and destination ids
    in SQL (an index range per job), the pairs picked in Python (a row-value IN list is a
    scan of ``series`` on SQLite)."""
    jobs = sorted({j for j, _ in pairs})
    destinations = sorted({d for _, d in pairs})
    stmt = select(Series.id, Series.kind, Series.job_id, Series.destination_id).where(
        Series.job_id.in_(jobs), Series.destination_id.in_(destinations)
    )
    return {i: k for i, k, j, d in fetch_tuples(stmt) if (j, d) in pairs}


def rollup_pass(now: datetime | None = None) -> PassReport:
    """One pass: recompute the late buckets, advance the watermark. Safe to repeat.

    A unit of work of its own: it ends whatever transaction the session had open.
    """
    db.session.rollback()
    now = now or utcnow()
    now_us = timestamp_us(now)
    report = PassReport()
    if not claim_lease(now_us):
        report.skipped = "another worker holds the rollup lease"
        return report
    state = read_state()
    cursor = state.get("cursor")
    old_mark = state.get("rolled_up_to_us")
    if old_mark is not None:
        report.notes += backfill_pending(state, old_mark)
    oldest_event = db.session.scalar(select(func.min(Event.id)))
    newest_event = db.session.scalar(select(func.max(Event.id)))
    db.session.rollback()
    new_mark = floor_to(now_us - SETTLE_US, FINEST.step_us)
    cutoff = _samples_cutoff_us(now_us)

    first_pass = old_mark is None
    if first_pass:
        # First pass: the tiers are built from whatever samples exist, and the log's past is
        # already in them.
        cursor = newest_event or 0
        first = oldest_sample_us()
        db.session.rollback()
        old_mark = new_mark if first is None else floor_to(first, FINEST.step_us)
        if first is not None:
            note = f"first rollup pass: building the tiers from the samples since {_iso(old_mark)}"
            log.info(note)
            report.notes.append(note)
    events, last_id = _read_events(cursor)
    db.session.rollback()
    report.events = len(events)
    if oldest_event is not None and cursor is not None and oldest_event > cursor + 1:
        # Events after the cursor are gone; the late runs they named are unknown.
        lost_until = _event_time_us(oldest_event)
        last_pass = min(state.get("pass_us", old_mark), old_mark)
        lo = floor_to(last_pass - LOST_MARGIN_US, FINEST.step_us)
        hi = min(old_mark, ceil_to(lost_until, FINEST.step_us))
        if lo < hi:
            note = (
                f"rollup cursor {cursor} fell behind the event log (oldest event kept "
                f"{oldest_event}): rebuilding {_iso(lo)} to {_iso(hi)} from the raw samples"
            )
            log.warning(note)
            report.notes.append(note)
            report.rows += rebuild(lo, hi)

    dirty = _late_buckets(events, old_mark)
    for bucket in sorted(dirty):
        if cutoff is not None and bucket < cutoff:
            continue
        kinds = _kinds_of_pairs(dirty[bucket])
        db.session.rollback()
        report.rows += recompute(kinds, bucket, bucket + FINEST.step_us, new_mark)
        report.late_buckets += 1
    if new_mark > old_mark:
        start = old_mark if cutoff is None else max(old_mark, floor_to(cutoff, FINEST.step_us))
        measured_since = _measurements_cutoff_us(now_us)
        if first_pass or (measured_since is not None and start < measured_since):
            kinds = _series_kinds()
        else:
            # Only the series measured in the window, or in the hour or day it closes: idle
            # ones have nothing to roll up.
            since = start
            for tier in TIERS[1:]:
                if floor_to(new_mark, tier.step_us) > floor_to(start, tier.step_us):
                    since = floor_to(start, tier.step_us)
            pairs = _measured_pairs(since, new_mark)
            kinds = _kinds_of_pairs(pairs) if pairs else {}
        db.session.rollback()
        while start < new_mark and kinds:
            end = min(new_mark, floor_to(start, REBUILD_CHUNK_US) + REBUILD_CHUNK_US)
            report.rows += recompute(kinds, start, end, new_mark)
            db.session.rollback()
            start = end
    mark = max(new_mark, old_mark)
    with write_transaction():
        _save_state({"cursor": last_id, "pass_us": now_us, "rolled_up_to_us": mark})
    report.watermark_us = mark
    return report


def _event_time_us(event_id: int) -> int:
    at = db.session.scalar(select(Event.created_at).where(Event.id == event_id))
    return timestamp_us(at)


def _iso(us: int) -> str:
    return (EPOCH + timedelta(microseconds=us)).isoformat()
