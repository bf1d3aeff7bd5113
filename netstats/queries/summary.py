"""The summary of a job over a range, per destination: the one function the analytics page,
the API (``GET /api/v1/jobs/<id>/summary``) and the report's summary sheet call, so that none
of them can disagree with another. ``/metrics`` exposes counters instead (``totals``), from
which Prometheus computes any range itself with the same definitions (loss from the sums).

Definitions (DESIGN.md, "Data out"): runs by status are the destination's measurements by
status; availability is the share of them that are ok; loss is ``100 x (1 - Σreceived /
Σsent)`` over the range, never a mean of per-round percentages; the headline distribution's
statistics come from every value of the range (exact from raw samples while they exist,
within the histogram's bound from rollups, and labelled so); stddev is the population
standard deviation from the sums; jitter is the mean of the rounds' ``jitter_ms``.

A fixed number of queries whatever the number of destinations: the series, then one per
rollup tier and one of raw samples (``netstats.queries.series.aggregate``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select

from netstats.db import db
from netstats.engine.rollups import TIERS, held_from, read_state
from netstats.engine.storage import EPOCH, timestamp_us
from netstats.histogram import QUANTILE_NAMES
from netstats.models import Destination, Job, Series
from netstats.plugins import get_plugins
from netstats.queries.series import aggregate, cover

_P = {name: i for i, name in enumerate(QUANTILE_NAMES)}


@dataclass(frozen=True)
class DestinationSummary:
    """One destination's figures over the range (None where there is nothing to say)."""

    destination_id: int
    destination: str
    runs: int
    ok: int
    error: int
    timeout: int
    availability_pct: float | None
    sent: int | None
    received: int | None
    loss_pct: float | None
    metric: str | None
    unit: str
    values: int
    min: float | None
    mean: float | None
    p5: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None
    stddev: float | None
    jitter_ms: float | None
    first_at: datetime | None
    last_at: datetime | None
    quantiles_exact: bool | None


def _float(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _time(us: int) -> datetime | None:
    return None if us < 0 else EPOCH + timedelta(microseconds=int(us))


def summarize_range(
    job: Job, start: datetime, end: datetime, destinations: Sequence[int] | None = None
) -> list[DestinationSummary]:
    """Per destination of ``job`` with series (or of ``destinations``), by name: its figures
    over [start, end)."""
    start_us, end_us = timestamp_us(start), timestamp_us(end)
    return summarize_buckets(
        job, start_us, end_us, start_us, max(end_us - start_us, 1), 1, destinations
    )[0]


def summarize_buckets(
    job: Job,
    start_us: int,
    end_us: int,
    base_us: int,
    step_us: int,
    buckets: int,
    destinations: Sequence[int] | None = None,
) -> list[list[DestinationSummary]]:
    """``summarize_range`` of each of ``buckets`` buckets of [start_us, end_us) at once
    (bucket i: from ``base_us + i * step_us`` for ``step_us``, clipped to the range), with
    the queries of one call: the Daily sheet's days of a UTC report are one call, not one a
    day. Each bucket's figures are exactly what ``summarize_range`` gives for it when the
    buckets are aligned to the rollup tiers (a UTC day is)."""
    collector = get_plugins().collectors.get(job.collector)
    declared = [] if collector is None else [m.name for m in collector.metrics]
    units = {} if collector is None else {m.name: m.unit for m in collector.metrics}
    headline = collector.headline if collector is not None else None
    stmt = (
        select(Series.id, Series.destination_id, Series.metric, Series.kind, Destination.name)
        .join(Destination, Destination.id == Series.destination_id)
        .where(Series.job_id == job.id)
    )
    if destinations is not None:
        stmt = stmt.where(Series.destination_id.in_(list(destinations)))
    by_destination: dict[int, dict[str, tuple[int, str]]] = {}
    names: dict[int, str] = {}
    for sid, destination_id, metric, kind, name in db.session.execute(stmt):
        by_destination.setdefault(destination_id, {})[metric] = (sid, kind)
        names[destination_id] = name
    # Per destination: the series whose rounds are counted (the headline distribution, else
    # the first declared metric it has), and sent, received and jitter where present.
    wanted: dict[int, str] = {}
    roles: dict[int, dict[str, int]] = {}
    for destination_id, series in by_destination.items():
        order = [headline, *declared, *sorted(series)]
        rounds = next((m for m in order if m in series), None)
        role = {"rounds": series[rounds][0]} if rounds else {}
        for metric in ("sent", "received", "jitter_ms"):
            if metric in series:
                role[metric] = series[metric][0]
        if headline in series:
            role["headline"] = series[headline][0]
        roles[destination_id] = role
        for sid, kind in series.values():
            if sid in role.values():
                wanted[sid] = kind
    state = read_state()
    where = cover(start_us, end_us, TIERS[-1], state.get("rolled_up_to_us"), held_from(state))
    merged = aggregate(sorted(wanted.items()), where, base_us, step_us, buckets)
    order = sorted(by_destination, key=lambda d: names[d])
    return [
        [_summary(d, names[d], roles[d], merged, i, headline, units) for d in order]
        for i in range(buckets)
    ]


def _summary(destination_id, name, role, merged, i, headline, units) -> DestinationSummary:
    """One destination's figures in bucket ``i`` of the merged aggregates."""
    rounds = merged.get(role.get("rounds"))
    runs = int(rounds.count[i]) if rounds else 0
    ok = int(rounds.ok[i]) if rounds else 0
    sent = merged.get(role.get("sent"))
    received = merged.get(role.get("received"))
    total_sent = int(np.rint(sent.sum[i])) if sent is not None and sent.n[i] else None
    total_received = (
        int(np.rint(received.sum[i])) if received is not None and received.n[i] else None
    )
    loss = None
    if total_sent and total_received is not None:
        loss = 100.0 * (total_sent - total_received) / total_sent
    head = merged.get(role.get("headline"))
    stats = _distribution(head, i)
    jitter = merged.get(role.get("jitter_ms"))
    return DestinationSummary(
        destination_id=destination_id,
        destination=name,
        runs=runs,
        ok=ok,
        error=int(rounds.error[i]) if rounds else 0,
        timeout=int(rounds.timeout[i]) if rounds else 0,
        availability_pct=100.0 * ok / runs if runs else None,
        sent=total_sent,
        received=total_received,
        loss_pct=loss,
        metric=headline if head is not None else None,
        unit=units.get(headline or "", "") if head is not None else "",
        jitter_ms=(
            float(jitter.sum[i] / jitter.n[i]) if jitter is not None and jitter.n[i] else None
        ),
        first_at=_time(rounds.first_us[i]) if runs else None,
        last_at=_time(rounds.last_us[i]) if runs else None,
        **stats,
    )


def _distribution(head, i: int = 0) -> dict:
    empty = {
        "values": 0,
        "min": None,
        "mean": None,
        "p5": None,
        "p50": None,
        "p95": None,
        "p99": None,
        "max": None,
        "stddev": None,
        "quantiles_exact": None,
    }
    if head is None or not head.n[i]:
        return empty
    n = int(head.n[i])
    mean = float(head.sum[i] / n)
    variance = max(float(head.sumsq[i] / n) - mean * mean, 0.0)
    q = head.quantiles[i]
    return {
        "values": n,
        "min": _float(head.min[i]),
        "mean": mean,
        "p5": _float(q[_P["p5"]]),
        "p50": _float(q[_P["p50"]]),
        "p95": _float(q[_P["p95"]]),
        "p99": _float(q[_P["p99"]]),
        "max": _float(head.max[i]),
        "stddev": math.sqrt(variance),
        "quantiles_exact": bool(head.exact[i]),
    }
