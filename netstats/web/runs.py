"""The run page: one run with every measurement it wrote (ping probes, DNS answers, and for
traceroute the mtr-style hop table the CLI prints)."""

from __future__ import annotations

from flask import Blueprint, render_template

from netstats.jobs import get_run
from netstats.plugins import get_plugins
from netstats.stats import hop_table

bp = Blueprint("runs", __name__, url_prefix="/runs")


@bp.get("/<bigid:run_id>")
def detail(run_id: int):
    """One run, its job, and its measurements in the order they were written."""
    run = get_run(run_id)
    measurements = sorted(run.measurements, key=lambda m: m.id)
    return render_template(
        "runs/detail.html",
        run=run,
        job=run.job,
        collector=get_plugins().collectors.get(run.job.collector),
        measurements=measurements,
        hop_tables={m.id: hop_table(m.details["hops"]) for m in measurements if _hops(m)},
    )


def _hops(measurement) -> bool:
    return isinstance(measurement.details, dict) and bool(measurement.details.get("hops"))
