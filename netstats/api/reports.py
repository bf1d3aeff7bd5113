"""/api/v1/reports: a report of jobs over a range, as XLSX or CSV, streamed."""

from __future__ import annotations

from flask import Blueprint, Response, stream_with_context

from netstats.api.body import load_args
from netstats.reports.definition import define_report
from netstats.reports.download import report_response
from netstats.schemas.reports import report_args

bp = Blueprint("reports", __name__)


@bp.get("/reports", endpoint="get")
def report_view() -> Response:
    """A report: Summary, Daily, Events, Measurements, Charts and About sheets, or a CSV.
    ---
    get:
      tags: [reports]
      summary: XLSX (default) or CSV of jobs over a preset or from/to range in a time zone.
      description: >
        The Summary sheet has the figures of `GET /jobs/{id}/summary` for the same range, one
        row per destination and a total row; Daily the same per day of `tz`; Events the status
        and route changes; Measurements every measurement up to 200 000 rows (the CSV has
        them all: one row per measurement with every metric, ISO 8601 UTC times, streamed).
        Text that could start a formula is never written as one.
      parameters: [{in: query, schema: ReportArgs}]
      responses:
        200:
          description: The file, as an attachment.
          content:
            application/vnd.openxmlformats-officedocument.spreadsheetml.sheet:
              schema: {type: string, format: binary}
            text/csv:
              schema: {type: string}
        422: {$ref: "#/components/responses/Invalid"}
    """
    report = define_report(load_args(report_args))
    return report_response(report, stream_with_context)
