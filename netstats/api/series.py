"""/api/v1/series: the series of a job, and their data over a range."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint
from sqlalchemy import select

from netstats.api.body import load_args, responds
from netstats.db import db, utcnow
from netstats.errors import Invalid
from netstats.histogram import QUANTILE_NAMES
from netstats.models import Destination, Job, Series
from netstats.plugins import get_plugins
from netstats.queries.series import find_series, series_data
from netstats.schemas.series import (
    series_data_args,
    series_data_schema,
    series_list_args,
    series_list_schema,
)
from netstats.selection import measured_destinations

bp = Blueprint("series", __name__)
DEFAULT_RANGE = timedelta(hours=24)


@bp.get("/series", endpoint="list")
@responds(series_list_schema, description="The series, by job, destination and metric.")
def list_series():
    """List series: one metric of one destination measured by one job.
    ---
    get:
      tags: [series]
      summary: Filter by job, destinations and metrics; each with its unit and kind.
      parameters: [{in: query, schema: SeriesListArgs}]
      responses:
        422: {$ref: "#/components/responses/Invalid"}
    """
    args = load_args(series_list_args)
    return {
        "items": find_series(
            job=args.get("job"), destination=args.get("destination"), metric=args.get("metric")
        )
    }


@bp.get("/series/data", endpoint="data")
@responds(series_data_schema, description="Per series, its buckets as parallel arrays.")
def series_data_view():
    """A metric of one or more destinations of a job over a range.
    ---
    get:
      tags: [series]
      summary: At most `points` buckets per series, from raw samples or rollup tiers.
      description: >
        Buckets are aligned to multiples of `step_ms` from the epoch (UTC) and the range is
        widened to whole buckets; an empty bucket is null in every array. Quantiles are
        exact from raw samples, else within the rollup histogram's bound (`quantiles`).
      parameters: [{in: query, schema: SeriesDataArgs}]
      responses:
        422: {$ref: "#/components/responses/Invalid"}
    """
    args = load_args(series_data_args)
    end = args.get("to") or utcnow()
    start = args.get("from_") or end - DEFAULT_RANGE
    if start >= end:
        raise Invalid("from must be before to.", {"from": ["Must be before to."]})
    job = db.session.get(Job, args["job"])
    if job is None:
        raise Invalid(f"No job {args['job']}.", {"job": [f"Unknown job {args['job']}."]})
    metric = args["metric"]
    found = {
        s.destination_id: s.id
        for s in db.session.scalars(
            select(Series).where(Series.job_id == job.id, Series.metric == metric)
        )
    }
    collector = get_plugins().collectors.get(job.collector)
    declared = set() if collector is None else {m.name for m in collector.metrics}
    if metric not in declared and not found:
        known = ", ".join(sorted(declared)) or "none"
        raise Invalid(
            f"Job {job.id} ({job.collector}) has no metric {metric!r}.",
            {"metric": [f"Unknown metric for {job.collector}; known: {known}."]},
        )
    measured = {d.id for d in measured_destinations(job)}
    unknown = [d for d in args["destination"] if d not in measured and d not in found]
    if unknown:
        raise Invalid(
            f"Job {job.id} does not measure destination {unknown[0]}.",
            {"destination": [f"Not a destination of job {job.id}: {unknown[0]}."]},
        )
    ids = [found[d] for d in args["destination"] if d in found]
    answer = series_data(
        ids, start, end, args["points"], args["resolution"], interval_s=job.interval_s
    )
    by_destination = {s["destination_id"]: s for s in answer["series"]}
    missing = [d for d in args["destination"] if d not in by_destination]
    names = (
        dict(
            db.session.execute(
                select(Destination.id, Destination.name).where(Destination.id.in_(missing))
            ).all()
        )
        if missing
        else {}
    )
    metrics = {} if collector is None else {m.name: m for m in collector.metrics}
    answer["series"] = [
        by_destination.get(d)
        or _no_data(job, d, names.get(d, ""), metrics.get(metric), metric, answer)
        for d in args["destination"]
    ]
    return answer


def _no_data(job: Job, destination_id: int, name: str, declared, metric: str, answer: dict) -> dict:
    """A destination of the job without any sample of the metric yet: every bucket empty."""
    step = answer["step_ms"]
    start = int(answer["from"].timestamp() * 1000)
    end = int(answer["to"].timestamp() * 1000)
    t = list(range(start, end, step))
    kind = declared.kind if declared else "gauge"
    columns = ["count", "min", "max", "mean", "ok", "error", "timeout"]
    if kind == "distribution":
        columns += list(QUANTILE_NAMES)
    return {
        "id": None,
        "job_id": job.id,
        "destination_id": destination_id,
        "destination": name,
        "metric": metric,
        "unit": declared.unit if declared else "",
        "kind": kind,
        "t": t,
        **{c: [None] * len(t) for c in columns},
    }
