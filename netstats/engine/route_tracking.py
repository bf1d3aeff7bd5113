"""Route change detection in the run's own write transaction.

``write_outcome`` hands every run's measurements here; those whose details carry ``hops`` (a
traceroute) feed the detector of their (job, destination) (``netstats.routes``). Its state
lives in ``routes``, what it finds in ``route_changes``, and a change also goes to the event
log, so a route change commits with the trace that completed it, or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from flask import current_app
from sqlalchemy import select

from netstats import events
from netstats.collectors import Measurement
from netstats.db import db
from netstats.models import RouteChange, RouteState
from netstats.routes import Change, DetectorState, Signature, Trace, observe, signature_of


class RouteCounts(NamedTuple):
    """What one run's trace of one destination added: traces taken in, changes, flaps."""

    traces: int
    changes: int
    flaps: int


def track_routes(
    job_id: int, measured: Sequence[tuple[int, Measurement]], ids: Sequence[int], now: datetime
) -> dict[int, RouteCounts]:
    """Feed the run's traces to their detectors and store what changed, in the caller's
    transaction. Measurements without hops, failed ones and traces where no TTL answered
    leave the detector as it was. Returns, per destination whose trace it took in, how many
    traces, changes and flaps (for ``netstats.engine.totals``)."""
    traces: dict[int, Trace] = {}
    for mid, (destination_id, m) in zip(ids, measured, strict=True):
        if m.status != "ok" or not isinstance(m.details, dict) or "hops" not in m.details:
            continue
        reached = m.metrics.get("reached") if isinstance(m.metrics, dict) else None
        found = signature_of(
            m.details["hops"], None if reached is None else reached == 1, m.address
        )
        if found is not None:
            traces[destination_id] = Trace(mid, m.started_at, found)
    if not traces:
        return {}
    k = current_app.config["ROUTE_CHANGE_TRACES"]
    rows = {
        row.destination_id: row
        for row in db.session.scalars(
            select(RouteState)
            .where(RouteState.job_id == job_id, RouteState.destination_id.in_(list(traces)))
            .with_for_update()
        )
    }
    counts = {}
    for destination_id, trace in traces.items():
        row = rows.get(destination_id)
        state, found = observe(_state_of(row), trace, k)
        if row is None:
            row = RouteState(job_id=job_id, destination_id=destination_id)
            db.session.add(row)
        _store_state(row, state, now)
        for change in found:
            _record(job_id, destination_id, change, now)
        kinds = [change.kind for change in found]
        counts[destination_id] = RouteCounts(1, kinds.count("change"), kinds.count("flap"))
    db.session.flush()
    return counts


def _state_of(row: RouteState | None) -> DetectorState:
    if row is None:
        return DetectorState()
    return DetectorState(
        current=Signature.from_json(row.current),
        since=row.since,
        candidate=tuple(Trace.from_json(t) for t in row.candidate),
        flaps=row.flap_count,
    )


def _store_state(row: RouteState, state: DetectorState, now: datetime) -> None:
    row.current = state.current.to_json()
    row.since = state.since
    row.candidate = [t.to_json() for t in state.candidate]
    row.candidate_count = len(state.candidate)
    row.flap_count = state.flaps
    row.updated_at = now


def _record(job_id: int, destination_id: int, change: Change, now: datetime) -> None:
    row = RouteChange(
        job_id=job_id,
        destination_id=destination_id,
        kind=change.kind,
        at=change.at,
        measurement_ids=[t.measurement_id for t in change.traces],
        old_route=change.old.to_json(),
        new_route=change.new.to_json(),
        first_ttl=change.first_ttl,
        last_ttl=change.last_ttl,
        hops=[h.to_json() for h in change.hops],
    )
    db.session.add(row)
    if change.kind != "change":
        return
    db.session.flush()  # the row's id, for the event
    events.append(
        "route_change",
        {
            "route_change_id": row.id,
            "job_id": job_id,
            "destination_id": destination_id,
            "at": change.at.isoformat(),
            "first_ttl": change.first_ttl,
            "last_ttl": change.last_ttl,
            "hops": row.hops,
            "measurement_ids": row.measurement_ids,
        },
        now,
    )
