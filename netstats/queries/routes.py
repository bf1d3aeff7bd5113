"""Traceroute over time: the route history and the hop-by-time matrix of a (job, destination).

Both read the traces of the range in one statement, streamed, from the measurements' details
(kept for the raw retention). A range of more than ``ROUTE_MAX_TRACES`` traces is read every
n-th trace (the same statement numbers the traces and keeps every n-th), and the answer says
so (``traces``, ``traces_read``, ``sampled_every``). Route changes and flaps come whole from
``route_changes``, written by the detector as the traces arrived.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import case, func, select

from netstats.db import db
from netstats.models import Measurement, RouteChange, RouteState
from netstats.routes import Trace, distinct_routes, runs, signature_of
from netstats.stats import percentile

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Column widths of the hop-by-time matrix, in seconds: the first that gives at most the points
# asked (and at least the job's interval, so that a column is not mostly empty); whole days
# beyond the last.
BUCKET_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)
DAY = 86400
# Most changes and flaps an answer lists (newest first); the counts cover them all.
MAX_LISTED_CHANGES = 1000


@dataclass
class _Read:
    """What the trace statement reported besides the rows."""

    total: int = 0
    stride: int = 1
    read: int = 0


def _traces(job_id: int, destination_id: int, start: datetime, end: datetime, read: _Read):
    """The successful measurements of the range in time order: every one, or every n-th when
    there are more than ROUTE_MAX_TRACES. One statement: a window numbers them and counts
    them; the outer query keeps every n-th and fetches only their details."""
    cap = current_app.config["ROUTE_MAX_TRACES"]
    numbered = (
        select(
            Measurement.id,
            (func.row_number().over(order_by=(Measurement.started_at, Measurement.id)) - 1).label(
                "n"
            ),
            func.count().over().label("total"),
        )
        .where(
            Measurement.job_id == job_id,
            Measurement.destination_id == destination_id,
            Measurement.status == "ok",
            Measurement.started_at >= start,
            Measurement.started_at < end,
        )
        .subquery()
    )
    stride = case((numbered.c.total > cap, (numbered.c.total + cap - 1) // cap), else_=1)
    stmt = (
        select(
            Measurement.id,
            Measurement.started_at,
            Measurement.address,
            Measurement.metrics,
            Measurement.details,
            numbered.c.total,
            stride.label("stride"),
        )
        .join(numbered, numbered.c.id == Measurement.id)
        .where(numbered.c.n % stride == 0)
        .order_by(Measurement.started_at, Measurement.id)
        .execution_options(yield_per=200)
    )
    for row in db.session.execute(stmt):
        read.total, read.stride, read.read = row.total, row.stride, read.read + 1
        yield row


def _hops(details: Any) -> list[Any]:
    hops = details.get("hops") if isinstance(details, Mapping) else None
    return hops if isinstance(hops, list) else []


def _reached(metrics: Any) -> bool | None:
    value = metrics.get("reached") if isinstance(metrics, Mapping) else None
    return None if value is None else value == 1


def _signed(rows) -> Iterator[Trace]:
    for row in rows:
        found = signature_of(_hops(row.details), _reached(row.metrics), row.address)
        if found is not None:
            yield Trace(row.id, row.started_at, found)


def _read_summary(read: _Read) -> dict[str, int]:
    return {"traces": read.total, "traces_read": read.read, "sampled_every": read.stride}


def route_history(job_id: int, destination_id: int, start: datetime, end: datetime) -> dict:
    """The route history of a (job, destination) over [start, end).

    - ``runs``: the traces compressed into runs of one path (``netstats.routes.runs``), newest
      first, each with its first and last time, trace count and route;
    - ``routes``: the distinct routes of those runs, with their share of the traces read;
    - ``changes`` and ``flaps``: as the detector recorded them, newest first, with the hops
      that differ;
    - ``counts``: changes, flaps, distinct routes and the dominant route's share (%);
    - ``current``: the detector's state now (current route, since when, traces pending on
      a new path, flaps counted in all).

    Four queries, whatever the range: the traces, the changes listed, their counts, the state.
    """
    read = _Read()
    found = runs(_signed(_traces(job_id, destination_id, start, end, read)))
    routes = distinct_routes(found)
    per_route = Counter()
    for run in found:
        per_route[run.route] += run.count
    traced = sum(per_route.values())
    in_range = (
        RouteChange.job_id == job_id,
        RouteChange.destination_id == destination_id,
        RouteChange.at >= start,
        RouteChange.at < end,
    )
    listed = db.session.scalars(
        select(RouteChange)
        .where(*in_range)
        .order_by(RouteChange.at.desc(), RouteChange.id.desc())
        .limit(2 * MAX_LISTED_CHANGES)
    ).all()
    counted = dict(
        db.session.execute(
            select(RouteChange.kind, func.count()).where(*in_range).group_by(RouteChange.kind)
        ).all()
    )
    state = db.session.get(RouteState, (job_id, destination_id))
    return {
        "job_id": job_id,
        "destination_id": destination_id,
        "start": start,
        "end": end,
        **_read_summary(read),
        "counts": {
            "changes": counted.get("change", 0),
            "flaps": counted.get("flap", 0),
            "distinct_routes": len(routes),
            "dominant_route_pct": 100.0 * max(per_route.values()) / traced if traced else None,
        },
        "current": state,
        "routes": [
            {
                "id": index + 1,
                **route.to_json(),
                "traces": per_route[index],
                "share_pct": 100.0 * per_route[index] / traced,
                "first_at": min(r.first.at for r in found if r.route == index),
                "last_at": max(r.last.at for r in found if r.route == index),
            }
            for index, route in enumerate(routes)
        ],
        "runs": [
            {
                "route": run.route + 1,
                **run.signature.to_json(),
                "first_at": run.first.at,
                "last_at": run.last.at,
                "traces": run.count,
                "first_measurement_id": run.first.measurement_id,
                "last_measurement_id": run.last.measurement_id,
            }
            for run in reversed(found)
        ],
        "changes": [c for c in listed if c.kind == "change"][:MAX_LISTED_CHANGES],
        "flaps": [c for c in listed if c.kind == "flap"][:MAX_LISTED_CHANGES],
    }


def bucket_seconds(span: timedelta, points: int, at_least_s: float = 1) -> int:
    """The column width for about ``points`` columns over ``span``: a round step (1 s, 2 s,
    5 s, ... 6 h, then whole days), never narrower than ``at_least_s``."""
    wanted = max(span.total_seconds() / points, at_least_s, 1)
    for step in BUCKET_STEPS:
        if step >= wanted:
            return step
    return DAY * math.ceil(wanted / DAY)


@dataclass
class _Cell:
    sent: int = 0
    received: int = 0
    rtts: list[float] = field(default_factory=list)
    addresses: Counter = field(default_factory=Counter)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _add_hop(cell: _Cell, hop: Mapping[str, Any]) -> None:
    probes = [p for p in hop.get("probes") or () if isinstance(p, Mapping)]
    sent, received = _count(hop.get("sent")), _count(hop.get("received"))
    if sent is None or received is None or received > sent:
        sent = len(probes)
        received = sum(1 for p in probes if p.get("rtt_ms") is not None)
    cell.sent += sent
    cell.received += received
    for probe in probes:
        rtt = probe.get("rtt_ms")
        if isinstance(rtt, int | float) and not isinstance(rtt, bool) and math.isfinite(rtt):
            cell.rtts.append(float(rtt))
        if isinstance(probe.get("address"), str):
            cell.addresses[probe["address"]] += 1
    if not probes:
        cell.addresses.update(a for a in hop.get("addresses") or () if isinstance(a, str))


def hop_matrix(
    job_id: int,
    destination_id: int,
    start: datetime,
    end: datetime,
    points: int,
    interval_s: float = 1,
) -> dict:
    """Rows TTL, columns time buckets of [start, end): per cell the probes sent and received,
    the loss in % of their sums, the median RTT of the probes answered, and the addresses
    that answered (most frequent first). Columns start at multiples of the width since the
    Unix epoch (UTC), so two requests over overlapping ranges share their columns.

    Each row also names its most frequent address over the range (``address``). Lists are
    aligned with ``t``; a cell without probes is null (empty for addresses).
    """
    width_s = bucket_seconds(end - start, points, interval_s)
    width = timedelta(seconds=width_s)
    origin = EPOCH + width * ((start - EPOCH) // width)
    columns = max(1, math.ceil((end - origin) / width))
    cells: dict[tuple[int, int], _Cell] = {}
    read = _Read()
    for row in _traces(job_id, destination_id, start, end, read):
        column = (row.started_at - origin) // width
        for hop in _hops(row.details):
            if not isinstance(hop, Mapping):
                continue
            ttl = hop.get("ttl")
            if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= 255:
                continue
            _add_hop(cells.setdefault((ttl, column), _Cell()), hop)
    ttls = sorted({ttl for ttl, _ in cells})
    rows = []
    for ttl in ttls:
        line = [cells.get((ttl, c)) for c in range(columns)]
        seen: Counter = Counter()
        for cell in line:
            if cell is not None:
                seen.update(cell.addresses)
        rows.append(
            {
                "ttl": ttl,
                "address": seen.most_common(1)[0][0] if seen else None,
                "sent": [c.sent if c else None for c in line],
                "received": [c.received if c else None for c in line],
                "loss_pct": [
                    100.0 * (c.sent - c.received) / c.sent if c and c.sent else None for c in line
                ],
                "rtt_median_ms": [
                    percentile(sorted(c.rtts), 0.5) if c and c.rtts else None for c in line
                ],
                "addresses": [[a for a, _ in c.addresses.most_common()] if c else [] for c in line],
            }
        )
    return {
        "job_id": job_id,
        "destination_id": destination_id,
        "start": start,
        "end": end,
        "bucket_s": width_s,
        **_read_summary(read),
        "t": [origin + width * c for c in range(columns)],
        "hops": rows,
    }


def route_changes(
    job_id: int, start: datetime, end: datetime, destinations: Sequence[int] | None = None
) -> list[RouteChange]:
    """The route changes and flaps the detector recorded for ``job_id`` in [start, end) (of
    ``destinations`` if given), oldest first: one query. Reports list them and count them
    per destination."""
    stmt = select(RouteChange).where(
        RouteChange.job_id == job_id, RouteChange.at >= start, RouteChange.at < end
    )
    if destinations is not None:
        stmt = stmt.where(RouteChange.destination_id.in_(list(destinations)))
    return list(db.session.scalars(stmt.order_by(RouteChange.at, RouteChange.id)))
