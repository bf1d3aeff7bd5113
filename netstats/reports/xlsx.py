"""The XLSX workbook of a report, written with openpyxl's write-only mode (rows go to a
temporary file as they come; memory stays flat): Summary, Daily, Events, Measurements (up to
``MEASUREMENT_CAP`` rows), Charts (native line charts: daily p50 and p95, loss on a second
axis) and About (parameters, range, zone, metric definitions).

Every sheet has a frozen header row, an autofilter, units in its headers, Excel datetimes in
the report's zone, number formats (ms with three decimals, percentages) and column widths.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import LineChart, Reference, Series
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from netstats import __version__
from netstats.db import utcnow
from netstats.reports.cells import xlsx_text
from netstats.reports.definition import Report
from netstats.reports.figures import Event, SummaryRow, daily_rows, data_span, summary_rows
from netstats.reports.rows import columns, destination_names, report_chunks
from netstats.reports.sheet_xml import RowWriter, splice

MEASUREMENT_CAP = 200_000
MAX_CHARTS = 50
MS = "0.000"
PCT = "0.00%"
COUNT = "#,##0"
DATETIME = "yyyy-mm-dd hh:mm:ss"
PRECISE_TIME = "yyyy-mm-dd hh:mm:ss.000"
DAY = "yyyy-mm-dd"
DURATION = "[h]:mm:ss"

DEFINITIONS = (
    ("runs", "Measurements of the destination in the range, by status (ok, error, timeout)."),
    ("availability", "Share of the measurements whose status is ok (ping: at least one reply)."),
    ("loss", "1 - received / sent over the range, never a mean of per-round percentages."),
    (
        "min .. max",
        "The collector's headline distribution (ping: every reply's RTT): exact from raw "
        "samples while they exist, else from rollup histograms within 1.08 % ('quantiles').",
    ),
    ("stddev", "Population standard deviation of the headline distribution."),
    ("jitter", "Mean of the rounds' jitter_ms (mean absolute difference of consecutive RTTs)."),
    (
        "outages",
        "Spans of measurements not ok: from the first one not ok to the next ok one (or the "
        "end of the range while one lasts).",
    ),
    ("route changes", "Traceroute: path changes the route detector confirmed in the range."),
    (
        "total row",
        "Sums of counts; availability and loss from the summed counts; min of the minima, "
        "max of the maxima, mean weighted by values; quantiles, stddev and jitter do not add "
        "up across destinations and are left empty.",
    ),
)

Progress = Callable[[str, int, int], None]


class _Sheet:
    """A write-only sheet with a header row, column formats and widths, an autofilter over
    what was written, and the header frozen."""

    def __init__(
        self, workbook: Workbook, title: str, headers: Sequence[tuple[str, str | None, int]]
    ):
        self.ws = workbook.create_sheet(title)
        self.formats = [fmt for _, fmt, _ in headers]
        for index, (_, _, width) in enumerate(headers, 1):
            self.ws.column_dimensions[get_column_letter(index)].width = width
        self.ws.freeze_panes = "A2"
        bold = Font(bold=True)
        header = []
        for name, _, _ in headers:
            cell = WriteOnlyCell(self.ws, value=name)
            cell.font = bold
            header.append(cell)
        self.ws.append(header)
        self.rows = 1

    def append(self, values: Sequence[Any]) -> None:
        cells = []
        for value, fmt in zip(values, self.formats, strict=False):
            if isinstance(value, str):
                cells.append(xlsx_text(self.ws, value))
            elif fmt is None or value is None:
                cells.append(value)
            else:
                cell = WriteOnlyCell(self.ws, value=value)
                cell.number_format = fmt
                cells.append(cell)
        self.ws.append(cells)
        self.rows += 1

    def note(self, text: str) -> None:
        self.ws.append([xlsx_text(self.ws, text)])
        self.rows += 1

    def close(self, filter_rows: int | None = None) -> None:
        last = get_column_letter(len(self.formats))
        self.ws.auto_filter.ref = f"A1:{last}{max(filter_rows or self.rows, 1)}"


def _pct(value: float | None) -> float | None:
    return None if value is None else value / 100.0


def _summary_headers(unit: str) -> list[tuple[str, str | None, int]]:
    u = f" ({unit})" if unit else ""
    return [
        ("job", None, 18),
        ("destination", None, 22),
        ("runs", COUNT, 9),
        ("ok", COUNT, 9),
        ("error", COUNT, 8),
        ("timeout", COUNT, 8),
        ("availability (%)", PCT, 13),
        ("sent", COUNT, 10),
        ("received", COUNT, 10),
        ("loss (%)", PCT, 10),
        ("metric", None, 12),
        ("values", COUNT, 10),
        (f"min{u}", MS, 11),
        (f"p5{u}", MS, 11),
        (f"p50{u}", MS, 11),
        (f"mean{u}", MS, 11),
        (f"p95{u}", MS, 11),
        (f"p99{u}", MS, 11),
        (f"max{u}", MS, 11),
        (f"stddev{u}", MS, 11),
        ("jitter (ms)", MS, 11),
        ("quantiles", None, 12),
        ("outages", COUNT, 9),
        ("outage total (h:mm:ss)", DURATION, 13),
        ("longest outage (h:mm:ss)", DURATION, 13),
        ("longest outage start", DATETIME, 20),
        ("longest outage end", DATETIME, 20),
        ("route changes", COUNT, 9),
        ("first", DATETIME, 20),
        ("last", DATETIME, 20),
    ]


def summary_values(report: Report, row: SummaryRow) -> list[Any]:
    """One Summary row's cells, as the workbook stores them (percentages as fractions)."""
    s, o = row.summary, row.outages

    def local(moment):
        return None if moment is None else report.local(moment)

    quantiles = (
        None if s.quantiles_exact is None else ("exact" if s.quantiles_exact else "approximate")
    )
    return [
        row.job.job.name,
        s.destination,
        s.runs,
        s.ok,
        s.error,
        s.timeout,
        _pct(s.availability_pct),
        s.sent,
        s.received,
        _pct(s.loss_pct),
        s.metric,
        s.values,
        s.min,
        s.p5,
        s.p50,
        s.mean,
        s.p95,
        s.p99,
        s.max,
        s.stddev,
        s.jitter_ms,
        quantiles,
        o.count,
        o.total,
        o.longest,
        local(o.longest_start),
        local(o.longest_end),
        row.route_changes,
        local(s.first_at),
        local(s.last_at),
    ]


def _total_values(rows: list[SummaryRow]) -> list[Any]:
    def total(values):
        present = [v for v in values if v is not None]
        return sum(present) if present else None

    summaries = [r.summary for r in rows]
    runs = sum(s.runs for s in summaries)
    ok = sum(s.ok for s in summaries)
    sent = total(s.sent for s in summaries)
    received = total(s.received for s in summaries)
    values = sum(s.values for s in summaries)
    mins = [s.min for s in summaries if s.min is not None]
    maxes = [s.max for s in summaries if s.max is not None]
    weighted = [(s.mean, s.values) for s in summaries if s.mean is not None]
    longest = [r.outages.longest for r in rows if r.outages.longest is not None]
    changes = [r.route_changes for r in rows if r.route_changes is not None]
    return [
        "Total",
        f"{len(rows)} destinations",
        runs,
        ok,
        sum(s.error for s in summaries),
        sum(s.timeout for s in summaries),
        ok / runs if runs else None,
        sent,
        received,
        (sent - received) / sent if sent and received is not None else None,
        None,
        values,
        min(mins) if mins else None,
        None,
        None,
        sum(m * n for m, n in weighted) / values if weighted and values else None,
        None,
        None,
        max(maxes) if maxes else None,
        None,
        None,
        None,
        sum(r.outages.count for r in rows),
        sum((r.outages.total for r in rows), timedelta(0)),
        max(longest) if longest else None,
        None,
        None,
        sum(changes) if changes else None,
        None,
        None,
    ]


def _unit(report: Report) -> str:
    for job in report.jobs:
        for metric in job.metrics:
            if metric.kind == "distribution":
                return metric.unit
    return ""


def write_summary(workbook: Workbook, report: Report) -> tuple[list[Event], tuple | None]:
    """The Summary sheet (one row per job and destination, then the total); returns the
    events for the Events sheet (read in the same pass) and the span of the data."""
    rows, events = summary_rows(report)
    sheet = _Sheet(workbook, "Summary", _summary_headers(_unit(report)))
    for row in rows:
        sheet.append(summary_values(report, row))
    sheet.close()
    bold = Font(bold=True)
    total = []
    for value, fmt in zip(_total_values(rows), sheet.formats, strict=True):
        cell = WriteOnlyCell(sheet.ws, value=value)
        cell.font = bold
        if fmt is not None and value is not None and not isinstance(value, str):
            cell.number_format = fmt
        total.append(cell)
    sheet.ws.append(total)
    return events, data_span(rows)


DAILY_HEADERS = [
    ("day", DAY, 12),
    ("job", None, 18),
    ("destination", None, 22),
    ("runs", COUNT, 9),
    ("ok", COUNT, 9),
    ("availability (%)", PCT, 13),
    ("sent", COUNT, 10),
    ("received", COUNT, 10),
    ("loss (%)", PCT, 10),
    ("min (ms)", MS, 11),
    ("p50 (ms)", MS, 11),
    ("mean (ms)", MS, 11),
    ("p95 (ms)", MS, 11),
    ("p99 (ms)", MS, 11),
    ("max (ms)", MS, 11),
    ("jitter (ms)", MS, 11),
]


def write_daily(workbook: Workbook, report: Report, span, progress: Progress | None = None):
    """The Daily sheet, by job, destination and day of ``span`` (so that each destination's
    days are one block a chart can point at); returns the sheet, the blocks (title, first
    row, last row) and the writer of its rows, to splice in when the workbook is saved."""
    step = None if progress is None else lambda i, n: progress("daily", i, n)
    found = list(daily_rows(report, span, step)) if span is not None else []
    found.sort(key=lambda r: (r[1].job.name, r[2].destination, r[0]))
    sheet = _Sheet(workbook, "Daily", DAILY_HEADERS)
    # The rows by the fast writer (spliced in when the workbook is saved): openpyxl's cells
    # took most of a year's Daily sheet (20 destinations: 7 300 rows).
    rows = RowWriter(len(DAILY_HEADERS), [_style_id(sheet.ws, f) for f in sheet.formats])
    blocks: list[tuple[str, int, int]] = []
    for day, job, s in found:
        row = rows.row
        rows.append(
            [
                datetime.combine(day, time(0)),
                job.job.name,
                s.destination,
                s.runs,
                s.ok,
                _pct(s.availability_pct),
                s.sent,
                s.received,
                _pct(s.loss_pct),
                s.min,
                s.p50,
                s.mean,
                s.p95,
                s.p99,
                s.max,
                s.jitter_ms,
            ]
        )
        title = f"{job.job.name} / {s.destination}"
        if blocks and blocks[-1][0] == title:
            blocks[-1] = (title, blocks[-1][1], row)
        else:
            blocks.append((title, row, row))
    sheet.close(filter_rows=rows.last_row)
    return sheet.ws, blocks, rows


def write_charts(workbook: Workbook, daily, blocks) -> None:
    """One native line chart per destination: daily p50 and p95 (ms), loss on a second axis."""
    ws = workbook.create_sheet("Charts")
    ws.column_dimensions["A"].width = 40
    if not blocks:
        ws.append(["No daily figures in the range."])
        return
    for index, (title, first, last) in enumerate(blocks[:MAX_CHARTS]):
        days = Reference(daily, min_col=1, min_row=first, max_row=last)
        rtt = LineChart()
        rtt.title = title
        rtt.y_axis.title = "RTT (ms)"
        rtt.y_axis.majorGridlines = None
        rtt.x_axis.title = "day"
        rtt.x_axis.number_format = DAY
        for col, name in ((11, "p50 (ms)"), (13, "p95 (ms)")):
            series = Series(Reference(daily, min_col=col, min_row=first, max_row=last), title=name)
            rtt.series.append(series)
        rtt.set_categories(days)
        loss = LineChart()
        loss.series.append(
            Series(Reference(daily, min_col=9, min_row=first, max_row=last), title="loss (%)")
        )
        loss.y_axis.axId = 200
        loss.y_axis.title = "loss"
        loss.y_axis.number_format = "0%"
        loss.y_axis.crosses = "max"
        rtt += loss
        rtt.height, rtt.width = 8, 24
        ws.add_chart(rtt, f"A{1 + index * 17}")
    if len(blocks) > MAX_CHARTS:
        ws.append([f"Charts of the first {MAX_CHARTS} of {len(blocks)} destinations."])


EVENT_HEADERS = [
    ("time", PRECISE_TIME, 24),
    ("job", None, 18),
    ("destination", None, 22),
    ("event", None, 14),
    ("from", None, 30),
    ("to", None, 30),
    ("detail", None, 40),
]


def write_events(workbook: Workbook, report: Report, events: list[Event], names) -> None:
    """The Events sheet: status changes and route changes, in time order."""
    sheet = _Sheet(workbook, "Events", EVENT_HEADERS)
    for e in events:
        sheet.append(
            [
                report.local(e.at),
                e.job,
                names.get(e.destination_id, ""),
                e.kind,
                e.before,
                e.after,
                e.detail,
            ]
        )
    sheet.close()


def _style_id(ws, fmt: str | None) -> int:
    """The workbook's style id of a number format (registered by asking)."""
    if fmt is None:
        return 0
    cell = WriteOnlyCell(ws, value=0)
    cell.number_format = fmt
    return cell.style_id


def write_measurements(
    workbook: Workbook,
    report: Report,
    names,
    progress: Progress | None = None,
    cap: int | None = MEASUREMENT_CAP,
) -> tuple[RowWriter, int, bool]:
    """The Measurements sheet: its header by openpyxl, its rows (up to ``cap``) by the fast
    writer, spliced in when the workbook is saved. Returns the writer, how many rows it holds
    and whether the range had more (then the sheet says so and points to the CSV)."""
    cols = columns(report)
    formats = [PRECISE_TIME, None, None, None, None, None, None, MS]
    widths = [24, 18, 22, 18, 16, 8, 24, 11]
    headers = cols.headers(str(report.zone.key))
    for metric in cols.metrics:
        formats.append(MS if cols.units.get(metric) == "ms" else None)
        widths.append(max(11, len(metric) + 6))
    sheet = _Sheet(workbook, "Measurements", list(zip(headers, formats, widths, strict=True)))
    rows = RowWriter(len(headers), [_style_id(sheet.ws, f) for f in formats])
    metrics = cols.metrics
    zone = report.zone
    utc = zone.key == "UTC"
    written = 0
    capped = False
    append = rows.append
    for job, chunk in report_chunks(report):
        if cap is not None and written + len(chunk) > cap:
            capped = True
            chunk = chunk[: cap - written]
        for t, d, target, address, status, error, duration, values in chunk:
            append(
                (
                    t if utc else t.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None),
                    job,
                    names.get(d, ""),
                    target,
                    address,
                    status,
                    error,
                    duration,
                    *map(values.get, metrics),
                )
            )
        written += len(chunk)
        if progress is not None:
            progress("measurements", written, cap or 0)
        if capped:
            break
    sheet.close(filter_rows=rows.last_row)
    if capped:
        rows.append(
            [
                f"Capped at {cap:,} measurements: the range has more. The CSV export "
                "(format=csv) has every one."
            ]
        )
    return rows, written, capped


def write_about(workbook: Workbook, report: Report, measurements: int, capped: bool) -> None:
    """The About sheet: what the report covers and what its figures mean."""
    ws = workbook.create_sheet("About")
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 100
    bold = Font(bold=True)

    def heading(text: str) -> None:
        cell = WriteOnlyCell(ws, value=text)
        cell.font = bold
        ws.append([cell])

    def pair(key: str, value: Any) -> None:
        ws.append([xlsx_text(ws, key), xlsx_text(ws, value) if isinstance(value, str) else value])

    heading("netstats report")
    pair("generated (UTC)", utcnow().replace(tzinfo=None, microsecond=0))
    pair("netstats", __version__)
    pair("time zone", report.zone.key)
    pair("preset", report.preset or "custom")
    pair(f"from ({report.zone.key})", report.local(report.start))
    pair(f"to ({report.zone.key}, excluded)", report.local(report.end))
    pair("from (UTC)", report.start.isoformat())
    pair("to (UTC)", report.end.isoformat())
    pair(
        "measurements sheet",
        f"{measurements:,} rows"
        + (f" (capped at {MEASUREMENT_CAP:,}: see the CSV)" if capped else ""),
    )
    ws.append([])
    for job in report.jobs:
        j = job.job
        heading(f"job {j.name}")
        pair("collector", j.collector)
        pair("interval (s)", j.interval_s)
        pair("parameters", json.dumps(j.params, sort_keys=True))
        pair("time zone of windows", j.timezone)
        pair("description", j.description or "")
        ws.append([])
    heading("definitions")
    for key, text in DEFINITIONS:
        pair(key, text)
    ws.append([])
    heading("metrics")
    seen = set()
    for job in report.jobs:
        for m in job.metrics:
            if m.name not in seen:
                seen.add(m.name)
                pair(f"{m.name} ({m.unit})", m.description)


def write_workbook(
    report: Report,
    target: str | IO[bytes],
    progress: Progress | None = None,
    cap: int | None = MEASUREMENT_CAP,
) -> int:
    """Write the report's workbook to ``target`` (a path or a binary file); returns the rows
    of its Measurements sheet (at most ``cap``; the benchmark lifts it). ``progress(stage,
    done, total)`` as it goes."""
    workbook = Workbook(write_only=True)
    names = destination_names(report)
    events, span = write_summary(workbook, report)
    daily, blocks, daily_rows_ = write_daily(workbook, report, span, progress)
    daily_path = f"xl/worksheets/sheet{len(workbook.worksheets)}.xml"
    write_events(workbook, report, events, names)
    rows, written, capped = write_measurements(workbook, report, names, progress, cap)
    sheet_path = f"xl/worksheets/sheet{len(workbook.worksheets)}.xml"
    try:
        write_charts(workbook, daily, blocks)
        write_about(workbook, report, written, capped)
        with tempfile.TemporaryFile() as saved:
            workbook.save(saved)
            saved.seek(0)
            splice(saved, {daily_path: daily_rows_, sheet_path: rows}, target)
    finally:
        rows.close()
        daily_rows_.close()
    return written
