"""Series and their points over a range: raw samples for short ranges, rollups for long ones.

``find_series`` lists series (one metric of one destination for one job) with unit and kind.
``series_data`` answers "what happened to these series over this range" in at most about
``points`` buckets per series, from the coarsest rollup tier that still gives that
resolution, stitched with finer tiers and raw samples for the part not rolled up yet, so a
fresh measurement shows at once. One query per tier (and one of raw samples) for all the
series asked, whatever their number and the range. docs/series.md explains the rules.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from flask import current_app
from sqlalchemy import and_, case, func, or_, select, tuple_

from netstats.aggregates import Accumulator, Aggregates
from netstats.db import db, fetch_tuples, utcnow
from netstats.engine.rollups import TIERS, Tier, ceil_to, floor_to, held_from, read_state
from netstats.engine.storage import EPOCH, timestamp_us
from netstats.errors import Invalid
from netstats.histogram import QUANTILE_NAMES, RELATIVE_ERROR
from netstats.models import Destination, Job, Series, samples
from netstats.plugins import get_plugins

US = 1_000_000
DAY_US = 86_400 * US
RESOLUTIONS = ("raw", *(t.name for t in TIERS))
TIER_STEPS = {t.name: t.step_us for t in TIERS}
DEFAULT_POINTS = 1000
MAX_POINTS = 10_000
APPROXIMATE = f"approximate (±{RELATIVE_ERROR * 100:.2f} %)"
# Retention settings of the raw samples and of each tier, in days (0: kept forever).
RETENTION_SETTINGS = {
    "raw": "RETENTION_SAMPLES_DAYS",
    "5m": "RETENTION_5M_DAYS",
    "30m": "RETENTION_30M_DAYS",
    "1h": "RETENTION_1H_DAYS",
    "6h": "RETENTION_6H_DAYS",
    "1d": "RETENTION_1D_DAYS",
}


@dataclass(frozen=True)
class SeriesInfo:
    """A series with what a client needs to label it."""

    id: int
    job_id: int
    destination_id: int
    destination: str
    metric: str
    unit: str
    kind: str


def metric_units(collector: str) -> dict[str, str]:
    """Units of the collector's declared metrics by name (empty when it is not installed)."""
    found = get_plugins().collectors.get(collector)
    return {} if found is None else {m.name: m.unit for m in found.metrics}


def find_series(
    job: int | None = None,
    destination: int | Sequence[int] | None = None,
    metric: str | Sequence[str] | None = None,
) -> list[SeriesInfo]:
    """The series matching every filter given (a job id, destination ids, metric names),
    ordered by job, destination name and metric; unit from the collector's declaration
    ("" for a metric it does not declare). One query."""
    stmt = (
        select(Series, Destination.name, Job.collector)
        .join(Destination, Destination.id == Series.destination_id)
        .join(Job, Job.id == Series.job_id)
        .order_by(Series.job_id, Destination.name, Series.metric)
    )
    if job is not None:
        stmt = stmt.where(Series.job_id == job)
    if destination is not None:
        ids = [destination] if isinstance(destination, int) else list(destination)
        stmt = stmt.where(Series.destination_id.in_(ids))
    if metric is not None:
        names = [metric] if isinstance(metric, str) else list(metric)
        stmt = stmt.where(Series.metric.in_(names))
    units: dict[str, dict[str, str]] = {}
    found = []
    for series, name, collector in db.session.execute(stmt):
        if collector not in units:
            units[collector] = metric_units(collector)
        found.append(
            SeriesInfo(
                id=series.id,
                job_id=series.job_id,
                destination_id=series.destination_id,
                destination=name,
                metric=series.metric,
                unit=units[collector].get(series.metric, ""),
                kind=series.kind,
            )
        )
    return found


# --- which rows cover a range ----------------------------------------------------------------


@dataclass(frozen=True)
class Cover:
    """Where the data of [start, end) comes from: per tier name (and "raw"), time ranges."""

    pieces: dict[str, list[tuple[int, int]]]

    @property
    def source(self) -> str:
        used = {name for name, ranges in self.pieces.items() if ranges}
        if used <= {"raw"}:
            return "raw"
        return "rollup" if "raw" not in used else "mixed"


def retention_start_us(
    name: str, now_us: int, held: dict[str, int | None] | None = None
) -> int | None:
    """The oldest time the raw samples (``raw``) or a tier still hold: its retention, and
    for a tier added to built ones, from when it was built (``held``); None: everything."""
    days = int(current_app.config.get(RETENTION_SETTINGS[name]) or 0)
    oldest = None if days <= 0 else now_us - days * DAY_US
    since = (held or {}).get(name)
    if since is not None:
        oldest = since if oldest is None else max(oldest, since)
    return oldest


def cover(
    start: int,
    end: int,
    coarsest: Tier | None,
    watermark: int | None,
    held: dict[str, int | None] | None = None,
) -> Cover:
    """Split [start, end) into tier ranges and raw ranges.

    Whole buckets of the coarsest tier allowed before its cutoff (the watermark floored to
    its step) come from it; what is left on either side from the next finer tier, and so
    on; what no tier holds yet (from the 5-minute cutoff on) from the raw samples. ``held``:
    from when each tier holds its buckets (``rollups.held_from``; a tier added to built ones
    holds only from the finer tier's first row): before that, the finer tiers answer.
    """
    pieces: dict[str, list[tuple[int, int]]] = {t.name: [] for t in TIERS}
    pieces["raw"] = []
    allowed = [] if coarsest is None else [t for t in TIERS if t.step_us <= coarsest.step_us]
    todo = [(start, end)]
    for tier in reversed(allowed):
        cutoff = floor_to(watermark, tier.step_us) if watermark is not None else None
        left = []
        for a, b in todo:
            if cutoff is None:
                left.append((a, b))
                continue
            lo, hi = ceil_to(a, tier.step_us), min(floor_to(b, tier.step_us), cutoff)
            since = (held or {}).get(tier.name)
            if since is not None:
                lo = max(lo, ceil_to(since, tier.step_us))
            if lo >= hi:
                left.append((a, b))
                continue
            pieces[tier.name].append((lo, hi))
            if a < lo:
                left.append((a, lo))
            if hi < b:
                left.append((hi, b))
        todo = left
    pieces["raw"] = [(a, b) for a, b in todo if a < b]
    return Cover(pieces)


def _in_ranges(series_column, series_ids: Sequence[int], column, ranges: list[tuple[int, int]]):
    """Rows of the series with ``column`` in any of the ranges: one term per range, each with
    the series, so that every term is an index range per series (SQLite: a MULTI-INDEX OR;
    one span over far apart ranges would read everything between them)."""
    ids = list(series_ids)
    terms = [and_(series_column.in_(ids), column >= a, column < b) for a, b in ranges]
    return terms[0] if len(terms) == 1 else or_(*terms)


SCALAR_COLUMNS = (
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
)
_MERGE = {"min": func.min, "max": func.max, "first_us": func.min, "last_us": func.max}


def _columns(result: list, names: Sequence[str]) -> dict:
    """Query rows as arrays by column name (lists for the blobs; NULL is NaN in floats)."""
    columns = list(zip(*result, strict=True)) if result else [()] * len(names)
    out = {}
    for name, column in zip(names, columns, strict=True):
        if name in ("hist", "quantiles", "raw"):
            out[name] = list(column)
        elif name in ("sum", "sumsq", "min", "max", "value"):
            out[name] = np.array(column, dtype=np.float64)
        else:
            out[name] = np.array(column, dtype=np.int64)
    return out


def _bucket(column, base: int, step: int):
    return ((column - base) // step).label("bucket")


def fetch_tier(
    tier: Tier,
    series_ids: Sequence[int],
    ranges: list[tuple[int, int]],
    base: int,
    step: int,
    names: Sequence[str] = SCALAR_COLUMNS,
) -> dict:
    """A tier's rows of the series over the ranges merged by (series, bucket) in SQL: the
    ``names`` columns added up (min and max, first and last, as such), and ``rows``, how
    many rows each bucket merged. One query; a bucket index is ``(start - base) // step``."""
    t = tier.table
    merged = [_MERGE.get(n, func.sum)(t.c[n]).label(n) for n in names]
    bucket = _bucket(t.c.start_us, base, step)
    stmt = (
        select(t.c.series_id, bucket, func.count().label("rows"), *merged)
        .where(_in_ranges(t.c.series_id, series_ids, t.c.start_us, ranges))
        .group_by(t.c.series_id, bucket)
    )
    return _columns(fetch_tuples(stmt), ["series_id", "bucket", "rows", *names])


def fetch_histograms(
    tier: Tier, series_ids: Sequence[int], ranges: list[tuple[int, int]], cached: bool = True
) -> dict:
    """A tier's histograms of distribution series, row by row, with their cached quantiles
    when ``cached`` (only worth reading when a bucket can be a single row)."""
    t = tier.table
    names = ["series_id", "start_us", "hist", *(["quantiles"] if cached else [])]
    stmt = select(*(t.c[n] for n in names)).where(
        _in_ranges(t.c.series_id, series_ids, t.c.start_us, ranges)
    )
    return _columns(fetch_tuples(stmt), names)


def fetch_gauge_samples(
    series_ids: Sequence[int], ranges: list[tuple[int, int]], base: int, step: int
) -> dict:
    """Raw samples of gauge series merged by (series, bucket) in SQL, as rollup columns."""
    c = samples.c
    bucket = _bucket(c.ts_us, base, step)

    def status(code: int):
        return func.sum(case((c.status == code, 1), else_=0))

    stmt = (
        select(
            c.series_id,
            bucket,
            func.count(),
            func.count(),
            func.count(c.value),
            func.sum(c.value),
            func.sum(c.value * c.value),
            func.min(c.value),
            func.max(c.value),
            func.min(c.ts_us),
            func.max(c.ts_us),
            status(0),
            status(1),
            status(2),
        )
        .where(_in_ranges(c.series_id, series_ids, c.ts_us, ranges))
        .group_by(c.series_id, bucket)
    )
    return _columns(fetch_tuples(stmt), ["series_id", "bucket", "rows", *SCALAR_COLUMNS])


def fetch_samples(series_ids: Sequence[int], ranges: list[tuple[int, int]]) -> dict:
    """Raw samples of the series over the ranges, row by row, as columns. One query."""
    c = samples.c
    stmt = select(c.series_id, c.ts_us, c.value, c.status, c.raw).where(
        _in_ranges(c.series_id, series_ids, c.ts_us, ranges)
    )
    return _columns(fetch_tuples(stmt), ["series_id", "ts_us", "value", "status", "raw"])


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off for a bulk read: fetching tens of thousands of rows
    allocates enough tuples to trigger full collections of the whole heap (measured: tens of
    milliseconds each), for objects that hold no cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def aggregate(
    series: Sequence[tuple[int, str]],
    cover_: Cover,
    base: int,
    step: int,
    buckets: int,
    names: Sequence[str] = SCALAR_COLUMNS,
) -> dict[int, Aggregates]:
    """Each series' aggregates per bucket (bucket ``(t - base) // step``, ``buckets`` of
    them) from what ``cover_`` names.

    Per tier used: one query of its rows merged by bucket in SQL (every series), and one of
    the distribution series' histograms; for the raw part: one query of the gauge samples
    merged in SQL and one of the distribution samples with their values. A fixed number,
    whatever the series and the range. ``names``: the scalar columns to read (a chart does
    without ``sumsq``, ``first_us`` and ``last_us``).
    """
    with _collector_paused():
        return _aggregate(series, cover_, base, step, buckets, names)


def _aggregate(
    series: Sequence[tuple[int, str]],
    cover_: Cover,
    base: int,
    step: int,
    buckets: int,
    names: Sequence[str],
) -> dict[int, Aggregates]:
    accumulators = {
        kind: Accumulator(len(series) * buckets, kind == "distribution")
        for kind in ("gauge", "distribution")
    }
    kinds = np.array([k == "distribution" for _, k in series], dtype=bool)
    gauges = [sid for sid, kind in series if kind != "distribution"]
    distributions = [sid for sid, kind in series if kind == "distribution"]

    keys = np.array([sid for sid, _ in series], dtype=np.int64)
    sorter = np.argsort(keys)

    def groups_of(series_ids: np.ndarray, bucket: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        position = sorter[np.searchsorted(keys, series_ids, sorter=sorter)]
        return position * buckets + np.clip(bucket, 0, buckets - 1), position

    def add_rows(rows: dict, tier_rows: bool) -> None:
        groups, position = groups_of(rows["series_id"], rows["bucket"])
        for kind, flag in (("gauge", False), ("distribution", True)):
            mask = kinds[position] == flag
            if mask.any():
                picked = {k: v[mask] for k, v in rows.items()}
                counts = picked["rows"] if tier_rows else None
                accumulators[kind].add_rows(groups[mask], picked, counts)

    for tier in TIERS:
        ranges = cover_.pieces[tier.name]
        if not ranges or not series:
            continue
        ids = [sid for sid, _ in series]
        add_rows(fetch_tier(tier, ids, ranges, base, step, names), True)
        if distributions:
            single_rows = step == tier.step_us
            hists = fetch_histograms(tier, distributions, ranges, cached=single_rows)
            groups, _ = groups_of(hists["series_id"], (hists["start_us"] - base) // step)
            accumulators["distribution"].add_histograms(
                groups, hists["hist"], hists.get("quantiles")
            )
    raw_ranges = cover_.pieces["raw"]
    if raw_ranges and gauges:
        add_rows(fetch_gauge_samples(gauges, raw_ranges, base, step), False)
    if raw_ranges and distributions:
        raw = fetch_samples(distributions, raw_ranges)
        groups, _ = groups_of(raw["series_id"], (raw["ts_us"] - base) // step)
        accumulators["distribution"].add_samples(
            groups, raw["ts_us"], raw["value"], raw["status"], raw["raw"]
        )
    finished = {kind: acc.finish() for kind, acc in accumulators.items()}
    return {
        sid: _slice(finished[kind], i * buckets, (i + 1) * buckets)
        for i, (sid, kind) in enumerate(series)
    }


def _slice(a: Aggregates, lo: int, hi: int) -> Aggregates:
    return Aggregates(
        count=a.count[lo:hi],
        n=a.n[lo:hi],
        sum=a.sum[lo:hi],
        sumsq=a.sumsq[lo:hi],
        min=a.min[lo:hi],
        max=a.max[lo:hi],
        first_us=a.first_us[lo:hi],
        last_us=a.last_us[lo:hi],
        ok=a.ok[lo:hi],
        error=a.error[lo:hi],
        timeout=a.timeout[lo:hi],
        quantiles=None if a.quantiles is None else a.quantiles[lo:hi],
        exact=None if a.exact is None else a.exact[lo:hi],
    )


# --- series_data -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """The buckets of an answer: resolution, step, and the widened range they cover."""

    resolution: str
    step_us: int
    start_us: int
    end_us: int

    @property
    def buckets(self) -> int:
        return (self.end_us - self.start_us) // self.step_us


def _aligned(start: int, end: int, step: int) -> tuple[int, int]:
    return floor_to(start, step), ceil_to(end, step)


def plan(
    start_us: int,
    end_us: int,
    points: int,
    interval_s: float,
    resolution: str = "auto",
    now_us: int | None = None,
    held: dict[str, int | None] | None = None,
) -> Plan:
    """Choose the resolution and step for [start, end) in at most ``points`` buckets.

    auto: the coarsest tier whose step is at most (end - start) / points, else raw (or the
    finest tier whose retention still holds ``start``); the step is that tier's step times
    the smallest integer keeping the buckets within ``points``, read from the coarsest tier
    whose step divides it; for raw, the job's interval or (end - start) / points,
    whichever is longer. A forced resolution that would need more
    than ``points`` buckets is refused (``Invalid`` naming ``resolution``).
    """
    now_us = timestamp_us(utcnow()) if now_us is None else now_us
    span = end_us - start_us
    if resolution == "auto":
        per_point = span / points
        chosen = "raw"
        for tier in TIERS:
            if tier.step_us <= per_point:
                chosen = tier.name
        names = list(RESOLUTIONS)
        while names.index(chosen) < len(names) - 1:
            oldest = retention_start_us(chosen, now_us, held)
            if oldest is None or start_us >= oldest:
                break
            chosen = names[names.index(chosen) + 1]
        fitted = _fit(chosen, start_us, end_us, points, interval_s)
        return _coarsest_dividing(fitted, now_us, held)
    result = _fit(resolution, start_us, end_us, points, interval_s, forced=True)
    if result.buckets > points:
        raise Invalid(
            f"Resolution {resolution} needs {result.buckets} buckets over this range, more "
            f"than points={points}: choose a coarser one, a shorter range or more points.",
            {"resolution": [f"Needs {result.buckets} buckets, more than points={points}."]},
        )
    return result


def _coarsest_dividing(chosen: Plan, now_us: int, held: dict[str, int | None] | None) -> Plan:
    """The same buckets from the coarsest tier whose step divides the step chosen (and that
    holds the range): 30-minute rows two by two make hours, which the 1-hour tier has
    already merged, one row a bucket (its cached quantiles, no histogram to merge)."""
    if chosen.resolution == "raw":
        return chosen
    for tier in reversed(TIERS):
        if tier.step_us <= TIER_STEPS[chosen.resolution]:
            break
        if chosen.step_us % tier.step_us:
            continue
        oldest = retention_start_us(tier.name, now_us, held)
        if oldest is None or chosen.start_us >= oldest:
            return Plan(tier.name, chosen.step_us, chosen.start_us, chosen.end_us)
    return chosen


def _buckets(start: int, end: int, step: int) -> int:
    """How many buckets of ``step``, aligned from the epoch, cover [start, end)."""
    lo, hi = _aligned(start, end, step)
    return (hi - lo) // step


def _fit(
    resolution: str, start: int, end: int, points: int, interval_s: float, forced: bool = False
) -> Plan:
    """The plan at ``resolution``: its own step when ``forced``, else the smallest multiple
    of it (raw: whole milliseconds from the job's interval on) within ``points`` buckets."""
    if resolution == "raw":
        step = max(int(interval_s * US), 1)
        if not forced:
            step = max(step, math.ceil((end - start) / points / 1000) * 1000)
            while _buckets(start, end, step) > points:
                step = math.ceil(step * 1.01 / 1000) * 1000
    else:
        tier_step = TIER_STEPS[resolution]
        k = 1 if forced else max(1, math.ceil((end - start) / points / tier_step))
        while not forced and _buckets(start, end, k * tier_step) > points:
            k += 1
        step = k * tier_step
    lo, hi = _aligned(start, end, step)
    return Plan(resolution, step, lo, hi)


def _companions(series: list[SeriesInfo]) -> dict[tuple[int, int], dict[str, int]]:
    """The ``sent`` and ``received`` series of each (job, destination) asked, by metric."""
    pairs = {(s.job_id, s.destination_id) for s in series}
    if not pairs:
        return {}
    stmt = select(Series.job_id, Series.destination_id, Series.metric, Series.id).where(
        tuple_(Series.job_id, Series.destination_id).in_(sorted(pairs)),
        Series.metric.in_(("sent", "received")),
    )
    found: dict[tuple[int, int], dict[str, int]] = {}
    for job_id, destination_id, metric, sid in db.session.execute(stmt):
        found.setdefault((job_id, destination_id), {})[metric] = sid
    return {k: v for k, v in found.items() if {"sent", "received"} <= v.keys()}


def _nullable(values: np.ndarray, present: np.ndarray, integer: bool = False) -> list:
    out = values.tolist()
    keep = present.tolist()
    if integer:
        return [int(v) if k else None for v, k in zip(out, keep, strict=True)]
    return [v if k and v == v else None for v, k in zip(out, keep, strict=True)]


def series_data(
    series_ids: Sequence[int],
    start: datetime,
    end: datetime,
    points: int = DEFAULT_POINTS,
    resolution: str = "auto",
    interval_s: float | None = None,
) -> dict:
    """Per series, columnar arrays over [start, end) in at most ``points`` buckets.

    Arrays: ``t`` (bucket start, epoch ms), ``count`` (rounds), ``min``, ``max``, ``mean``;
    for distributions ``p0 p5 p10 p25 p50 p75 p90 p95 p99 p100``; where the series' job and
    destination also have ``sent`` and ``received`` series (ping), ``sent``, ``received``
    and ``loss_pct`` = 100 x (sent - received) / sent; ``ok``, ``error``, ``timeout`` (rounds by
    status). An empty bucket is null in every array: gaps are never interpolated. The
    answer also says the ``resolution`` ("raw" or a tier: "5m", "30m", "1h", "6h", "1d"),
    ``step_ms``, the
    ``source`` ("raw", "rollup" or "mixed") and whether ``quantiles`` are exact (every
    bucket from raw values) or approximate (within the histogram's bound). The raw step is
    at least ``interval_s`` (default: the shortest interval of the series' jobs).
    """
    series = _series_by_id(series_ids)
    now_us = timestamp_us(utcnow())
    start_us, end_us = timestamp_us(start), timestamp_us(end)
    interval = interval_s or min((s[1] for s in series.values()), default=60)
    state = read_state()
    held = held_from(state)
    chosen = plan(start_us, end_us, points, interval, resolution, now_us, held)
    coarsest = next((t for t in TIERS if t.name == chosen.resolution), None)
    watermark = state.get("rolled_up_to_us")
    where = cover(chosen.start_us, chosen.end_us, coarsest, watermark, held)
    infos_list = [info for info, _ in series.values()]
    companions = _companions(infos_list)
    wanted: dict[int, str] = {info.id: info.kind for info in infos_list}
    for pair in companions.values():
        for sid in pair.values():
            wanted.setdefault(sid, "gauge")
    buckets = chosen.buckets
    base, step = chosen.start_us, chosen.step_us
    chart = [n for n in SCALAR_COLUMNS if n not in ("sumsq", "first_us", "last_us")]
    merged = aggregate(sorted(wanted.items()), where, base, step, buckets, chart)
    t_ms = ((base + np.arange(buckets, dtype=np.int64) * step) // 1000).tolist()
    answer_series = []
    all_exact = True
    any_distribution = False
    for sid in series_ids:
        info = series[sid][0]
        a = merged[sid]
        present = a.count > 0
        has_value = a.n > 0
        item = {
            "id": info.id,
            "job_id": info.job_id,
            "destination_id": info.destination_id,
            "destination": info.destination,
            "metric": info.metric,
            "unit": info.unit,
            "kind": info.kind,
            "t": t_ms,
            "count": _nullable(a.count, present, integer=True),
            "min": _nullable(a.min, has_value),
            "max": _nullable(a.max, has_value),
            "mean": _nullable(a.mean, has_value),
        }
        if info.kind == "distribution":
            any_distribution = True
            for j, name in enumerate(QUANTILE_NAMES):
                item[name] = _nullable(a.quantiles[:, j], has_value)
            if a.exact is not None and not bool(np.all(a.exact[has_value])):
                all_exact = False
        pair = companions.get((info.job_id, info.destination_id))
        if pair:
            sent, received = merged[pair["sent"]], merged[pair["received"]]
            has_sent = (sent.n > 0) & (sent.sum > 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                loss = 100.0 * (sent.sum - received.sum) / np.where(has_sent, sent.sum, 1.0)
            item["sent"] = _nullable(np.rint(sent.sum), sent.n > 0, integer=True)
            item["received"] = _nullable(np.rint(received.sum), received.n > 0, integer=True)
            item["loss_pct"] = _nullable(loss, has_sent)
        for name in ("ok", "error", "timeout"):
            item[name] = _nullable(getattr(a, name), present, integer=True)
        answer_series.append(item)
    quantiles = ("exact" if all_exact else APPROXIMATE) if any_distribution else None
    return {
        "from": _datetime(chosen.start_us),
        "to": _datetime(chosen.end_us),
        "resolution": chosen.resolution,
        "step_ms": step // 1000,
        "source": where.source,
        "quantiles": quantiles,
        "series": answer_series,
    }


def _series_by_id(series_ids: Iterable[int]) -> dict[int, tuple[SeriesInfo, float]]:
    """The series asked with their job's interval, in one query."""
    ids = list(series_ids)
    stmt = (
        select(Series, Destination.name, Job.collector, Job.interval_s)
        .join(Destination, Destination.id == Series.destination_id)
        .join(Job, Job.id == Series.job_id)
        .where(Series.id.in_(ids))
    )
    units: dict[str, dict[str, str]] = {}
    found = {}
    for s, name, collector, interval in db.session.execute(stmt):
        if collector not in units:
            units[collector] = metric_units(collector)
        info = SeriesInfo(
            s.id,
            s.job_id,
            s.destination_id,
            name,
            s.metric,
            units[collector].get(s.metric, ""),
            s.kind,
        )
        found[s.id] = (info, float(interval))
    missing = [i for i in ids if i not in found]
    if missing:
        raise Invalid(f"No series {missing[0]}.", {"series": [f"Unknown series {missing[0]}."]})
    return found


def _datetime(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)
