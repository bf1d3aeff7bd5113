"""The job analytics page: over a range, the summary table per destination (the same
``summarize_range`` as ``GET /api/v1/jobs/<id>/summary``), comparisons, the status
distribution, lateness and duration of runs, traceroute paths, and export links.

The table is rendered here; the charts are drawn by ``static/js/analytics.js`` from the
series and status APIs, with the summary rows embedded as the API would send them.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, render_template, request
from marshmallow import ValidationError

from netstats.db import utcnow
from netstats.errors import Invalid
from netstats.jobs import get_job
from netstats.plugins import get_plugins
from netstats.queries.summary import summarize_range
from netstats.schemas.series import job_summary_schema, range_args
from netstats.selection import measured_destinations

bp = Blueprint("analytics", __name__, url_prefix="/jobs")

# The range picker: label and length.
RANGES = {
    "1h": ("1 h", timedelta(hours=1)),
    "6h": ("6 h", timedelta(hours=6)),
    "24h": ("24 h", timedelta(hours=24)),
    "7d": ("7 d", timedelta(days=7)),
    "30d": ("30 d", timedelta(days=30)),
    "1y": ("1 y", timedelta(days=365)),
}
DEFAULT_RANGE = "24h"
# Destinations drawn on the comparison chart when the page opens (the reader adds others).
COMPARED = 8


def _range():
    """The range asked: a preset (``range``), or ``from`` and ``to`` (custom); a bad value is
    a 422 naming the field."""
    preset = request.args.get("range")
    if preset is not None and preset not in RANGES:
        raise Invalid(
            f"Unknown range {preset!r}.", {"range": [f"One of {', '.join(RANGES)}, or from/to."]}
        )
    custom = {k: request.args[k] for k in ("from", "to") if request.args.get(k)}
    if custom and preset is None:
        try:
            args = range_args.load(custom)
        except ValidationError as exc:
            named = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.messages.items())
            raise Invalid(f"Invalid range ({named})", exc.messages) from None
        end = args.get("to") or utcnow()
        start = args.get("from_") or end - RANGES[DEFAULT_RANGE][1]
        if start >= end:
            raise Invalid("from must be before to.", {"from": ["Must be before to."]})
        return "custom", start, end
    preset = preset or DEFAULT_RANGE
    end = utcnow()
    return preset, end - RANGES[preset][1], end


@bp.get("/<id:job_id>/analytics")
def page(job_id: int):
    """The analytics of one job over the range asked."""
    job = get_job(job_id)
    preset, start, end = _range()
    collector = get_plugins().collectors.get(job.collector)
    rows = summarize_range(job, start, end)
    summary = job_summary_schema.dump(
        {"job_id": job.id, "from": start, "to": end, "destinations": rows}
    )
    destinations = measured_destinations(job)
    known = {d.id for d in destinations}
    # Destinations no longer measured still have their history in the summary.
    choices = [(d.id, d.name) for d in destinations] + [
        (r.destination_id, r.destination) for r in rows if r.destination_id not in known
    ]
    path_destination = request.args.get("path", type=int)
    if path_destination not in {c[0] for c in choices}:
        path_destination = choices[0][0] if choices else None
    return render_template(
        "jobs/analytics.html",
        job=job,
        collector=collector,
        ranges=RANGES,
        preset=preset,
        start=start,
        end=end,
        rows=rows,
        summary=summary,
        choices=choices,
        compared=COMPARED,
        metric=collector.headline if collector else None,
        unit=next((m.unit for m in collector.metrics if m.name == collector.headline), "")
        if collector
        else "",
        path_destination=next((d for d in destinations if d.id == path_destination), None),
    )
