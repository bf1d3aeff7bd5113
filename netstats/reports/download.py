"""A report as an HTTP download, for the API and the reports page: the CSV streamed as it is
read; the workbook built into a temporary file (a ZIP is written at its end) and streamed from
it in blocks, the file gone when the answer ends."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator

from flask import Response

from netstats.reports.csv_export import csv_chunks
from netstats.reports.definition import Report

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BLOCK = 64 * 1024


def _file_blocks(handle) -> Iterator[bytes]:
    try:
        while block := handle.read(BLOCK):
            yield block
    finally:
        handle.close()


def report_response(report: Report, wrap: Callable = lambda g: g) -> Response:
    """The report as an attachment; ``wrap`` keeps the request context for a generator
    (Flask's ``stream_with_context``) where the CSV reads while it streams."""
    headers = {
        "Content-Disposition": f'attachment; filename="{report.filename}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    if report.format == "csv":
        return Response(wrap(csv_chunks(report)), mimetype="text/csv", headers=headers)
    # openpyxl (27 MB) is imported by the first workbook, not by every web process.
    from netstats.reports.xlsx import write_workbook

    handle = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _file_blocks when sent
    try:
        write_workbook(report, handle)
        size = handle.tell()
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    headers["Content-Length"] = str(size)
    return Response(_file_blocks(handle), mimetype=XLSX_TYPE, headers=headers)
