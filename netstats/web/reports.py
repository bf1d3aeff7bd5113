"""Reports: the form (jobs, destinations, a preset or a custom range in a time zone, a format)
and the download it asks for, through the same definition as the API and the CLI."""

from __future__ import annotations

from flask import Blueprint, render_template, request, stream_with_context
from marshmallow import ValidationError
from sqlalchemy import select

from netstats.db import db
from netstats.errors import Invalid
from netstats.models import Destination, Job
from netstats.reports.definition import define_report
from netstats.reports.download import report_response
from netstats.schemas.common import query_dict
from netstats.schemas.reports import PRESETS, report_args
from netstats.web.jobs import time_zones

bp = Blueprint("reports", __name__, url_prefix="/reports")

PRESET_LABELS = {
    "last_24h": "Last 24 hours",
    "last_7d": "Last 7 days",
    "last_30d": "Last 30 days",
    "today": "Today",
    "yesterday": "Yesterday",
    "this_month": "This month",
    "last_month": "Last month",
}


def _page(errors: dict | None = None, status: int = 200):
    jobs = db.session.scalars(select(Job).order_by(Job.name)).all()
    destinations = db.session.scalars(select(Destination).order_by(Destination.name)).all()
    page = render_template(
        "reports.html",
        jobs=jobs,
        destinations=destinations,
        presets=[(p, PRESET_LABELS[p]) for p in PRESETS],
        zones=time_zones(),
        args=request.args,
        errors=errors or {},
    )
    return page, status


@bp.get("")
def index():
    """The report form, filled from the query string (the export buttons link here)."""
    return _page()


@bp.get("/download")
def download():
    """The report the form describes, as an attachment; the form again, with the errors
    beside their fields, when it describes none."""
    raw = query_dict(report_args, request.args, drop_empty=True)
    if raw.get("range") == "custom":
        raw.pop("preset", None)
    else:
        raw.pop("from", None)
        raw.pop("to", None)
    try:
        report = define_report(report_args.load(raw))
    except ValidationError as exc:
        return _page(exc.messages, 422)
    except Invalid as exc:
        return _page(exc.fields or {"job": [exc.message]}, 422)
    return report_response(report, stream_with_context)
