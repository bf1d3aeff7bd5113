"""Reports: the form (jobs, destinations, a preset or a custom range in a time zone, a format)
and the download it asks for, through the same definition as the API and the CLI."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select

from netstats.db import db
from netstats.errors import Invalid
from netstats.models import Destination, Job
from netstats.reports.background import (
    needs_worker,
    queue_report,
    ready_file,
    recent_report_files,
)
from netstats.reports.definition import define_report
from netstats.reports.download import XLSX_TYPE, report_response
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
    files = recent_report_files()
    page = render_template(
        "reports.html",
        jobs=jobs,
        destinations=destinations,
        presets=[(p, PRESET_LABELS[p]) for p in PRESETS],
        zones=time_zones(),
        args=request.args,
        errors=errors or {},
        files=files,
        pending=any(f.state in ("queued", "building") for f in files),
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
        arguments = report_args.load(raw)
        report = define_report(arguments)
    except ValidationError as exc:
        return _page(exc.messages, 422)
    except Invalid as exc:
        return _page(exc.fields or {"job": [exc.message]}, 422)
    if needs_worker(report, current_app.config["REPORT_REQUEST_ROWS"]):
        queue_report(raw, report, getattr(current_user, "id", None))
        flash(
            f"{report.filename} has more measurements than a page should wait for: the worker "
            "is building it. It appears below when ready.",
            "info",
        )
        return redirect(url_for(".index"))
    return report_response(report, stream_with_context)


@bp.get("/files/<id:report_id>")
def file(report_id: int):
    """A report the worker built."""
    row, path = ready_file(report_id)
    kind = XLSX_TYPE if row.format == "xlsx" else "text/csv"
    return send_file(path, mimetype=kind, as_attachment=True, download_name=row.name)
