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
from netstats.reports.rows import columns, destination_names, report_chunks


def csv_chunks(report: Report, progress: Callable[[int], None] | None = None) -> Iterator[str]:
    """The report's CSV in pieces of one read chunk each (``flat_measurements``);
    ``progress(n)`` after each piece with the rows written so far."""
    cols = columns(report)
    names = destination_names(report)
    safe_names = {d: csv_text(n) for d, n in names.items()}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(cols.headers("UTC"))
    metrics = cols.metrics
    # Hosts and addresses repeat row after row: each is made formula-safe once.
    safe: dict[str | None, str] = {}
    written = 0

    def text(value: str | None) -> str:
        found = safe.get(value)
        if found is None:
            found = csv_text(value)
            if len(safe) < 10_000:
                safe[value] = found
        return found

    for job, chunk in report_chunks(report):
        job_text = csv_text(job)

        writer.writerows(
            (
                # Naive UTC: isoformat gives no offset, Z says it is UTC.
                t.isoformat() + "Z",
                job_text,
                safe_names.get(d, ""),
                text(target),
                text(address),
                status,
                csv_text(error) if error else "",
                duration,
                *map(values.get, metrics),
            )
            for t, d, target, address, status, error, duration, values in chunk
        )
        written += len(chunk)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if progress is not None:
            progress(written)
    if buffer.tell():  # no rows: the header alone
        yield buffer.getvalue()
    if progress is not None:
        progress(written)
