"""The CSV of a report: one row per measurement with every metric, RFC 4180 (comma, CRLF,
quotes where needed), times in ISO 8601 UTC, a header with units; streamed: rows leave in
blocks as they are read, so memory stays constant whatever the length of the range.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator

from netstats.reports.cells import csv_text
from netstats.reports.definition import Report
from netstats.reports.rows import columns, destination_names, report_rows

BLOCK_ROWS = 2000


def _utc(moment) -> str:
    # isoformat of an aware UTC time ends in +00:00; Z says the same in fewer characters.
    return moment.isoformat().replace("+00:00", "Z")


def csv_chunks(report: Report, progress: Callable[[int], None] | None = None) -> Iterator[str]:
    """The report's CSV in pieces of about ``BLOCK_ROWS`` rows; ``progress(n)`` after each
    block with the rows written so far."""
    cols = columns(report)
    names = destination_names(report)
    safe_names = {d: csv_text(n) for d, n in names.items()}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(cols.headers("UTC"))
    metrics = cols.metrics
    written = 0
    job_text = ""
    last_job = None
    for job, row in report_rows(report):
        if job is not last_job:
            last_job, job_text = job, csv_text(job)
        values = row.metrics
        writer.writerow(
            [
                _utc(row.started_at),
                job_text,
                safe_names.get(row.destination_id, ""),
                csv_text(row.target),
                csv_text(row.address),
                row.status,
                csv_text(row.error),
                row.duration_ms,
                *[values.get(m) for m in metrics],
            ]
        )
        written += 1
        if written % BLOCK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if progress is not None:
                progress(written)
    yield buffer.getvalue()
    if progress is not None:
        progress(written)
