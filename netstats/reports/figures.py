"""The figures of a report's sheets, from the read side only: the summary (``summarize_range``,
the function behind ``GET /api/v1/jobs/<id>/summary``, so the sheet equals the API), the same
per day of the report's zone, the events (status and route changes) and the outages derived
from the status changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from netstats.db import utcnow
from netstats.engine.storage import timestamp_us
from netstats.queries.measurements import status_changes
from netstats.queries.routes import route_changes
from netstats.queries.summary import DestinationSummary, summarize_buckets, summarize_range
from netstats.reports.definition import Report, ReportJob

DAY_US = 86_400_000_000

OK = "ok"


@dataclass
class Outages:
    """A destination's outages over the range: maximal spans of measurements not ok, from the
    first one not ok to the next ok one (or the end of the range while it lasts)."""

    count: int = 0
    total: timedelta = timedelta(0)
    longest: timedelta | None = None
    longest_start: datetime | None = None
    longest_end: datetime | None = None

    def add(self, start: datetime, end: datetime) -> None:
        span = end - start
        self.count += 1
        self.total += span
        if self.longest is None or span > self.longest:
            self.longest, self.longest_start, self.longest_end = span, start, end


@dataclass(frozen=True)
class Event:
    """One line of the Events sheet."""

    at: datetime
    job: str
    destination_id: int
    kind: str  # "status" or the route detector's kind ("change", "flap")
    before: str
    after: str
    detail: str


@dataclass(frozen=True)
class SummaryRow:
    """One destination of one job: the summary function's figures plus outages and route
    changes."""

    job: ReportJob
    summary: DestinationSummary
    outages: Outages
    route_changes: int | None


def _range_end(report: Report) -> datetime:
    return min(report.end, utcnow())


def job_events(report: Report, job: ReportJob) -> tuple[list[Event], dict[int, Outages]]:
    """The job's status changes and route changes, in time order, and its outages per
    destination (every destination with a measurement in the range has an entry)."""
    events: list[Event] = []
    outages: dict[int, Outages] = {}
    down_since: dict[int, datetime] = {}
    name = job.job.name
    for change in status_changes(job.job.id, report.start, report.end, job.destination_ids):
        d = change.destination_id
        found = outages.setdefault(d, Outages())
        if change.after != OK and (change.before is None or change.before == OK):
            down_since[d] = change.at
        elif change.after == OK and d in down_since:
            found.add(down_since.pop(d), change.at)
        if change.before is not None:
            events.append(
                Event(change.at, name, d, "status", change.before, change.after, change.error or "")
            )
    end = _range_end(report)
    for d, since in down_since.items():
        outages[d].add(since, max(end, since))
    if job.job.collector == "traceroute":
        for change in route_changes(job.job.id, report.start, report.end, job.destination_ids):
            events.append(
                Event(
                    change.at,
                    name,
                    change.destination_id,
                    "route " + change.kind,
                    _route(change.old_route),
                    _route(change.new_route),
                    f"hops {change.first_ttl}-{change.last_ttl} differ",
                )
            )
    events.sort(key=lambda e: e.at)
    return events, outages


def _route(route) -> str:
    """A route signature (``{"hops": [[address, ...] per TTL]}``) as ``a > b|c > *``."""
    hops = (route or {}).get("hops") or []
    return " > ".join("|".join(h) if h else "*" for h in hops)


def summary_rows(report: Report) -> tuple[list[SummaryRow], list[Event]]:
    """The Summary sheet's rows (job by job, destinations by name) and the Events sheet's."""
    rows: list[SummaryRow] = []
    events: list[Event] = []
    for job in report.jobs:
        found, outages = job_events(report, job)
        events.extend(found)
        changes: dict[int, int] = {}
        if job.job.collector == "traceroute":
            for e in found:
                if e.kind == "route change":
                    changes[e.destination_id] = changes.get(e.destination_id, 0) + 1
        for summary in summarize_range(job.job, report.start, report.end, job.destination_ids):
            rows.append(
                SummaryRow(
                    job=job,
                    summary=summary,
                    outages=outages.get(summary.destination_id, Outages()),
                    route_changes=(
                        changes.get(summary.destination_id, 0)
                        if job.job.collector == "traceroute"
                        else None
                    ),
                )
            )
    events.sort(key=lambda e: e.at)
    return rows, events


def data_span(rows: list[SummaryRow]) -> tuple[datetime, datetime] | None:
    """The first and last measurement the summary rows saw (None: none)."""
    firsts = [r.summary.first_at for r in rows if r.summary.first_at is not None]
    lasts = [r.summary.last_at for r in rows if r.summary.last_at is not None]
    return (min(firsts), max(lasts)) if firsts and lasts else None


def report_days(
    report: Report, span: tuple[datetime, datetime] | None = None
) -> list[tuple[date, datetime, datetime]]:
    """The report's days in its zone: (day, start, end) in UTC, clipped to the range, and
    to ``span`` (the days with data) when given: a ten-year range of a month's data asks
    for 31 days, not 3 650."""
    zone = report.zone
    first, last_moment = report.start, report.end - timedelta(microseconds=1)
    if span is not None:
        first, last_moment = max(first, span[0]), min(last_moment, span[1])
    day = first.astimezone(zone).date()
    last = last_moment.astimezone(zone).date()
    days = []
    while day <= last:
        start = datetime.combine(day, time(0), tzinfo=zone).astimezone(report.start.tzinfo)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(
            report.start.tzinfo
        )
        days.append((day, max(start, report.start), min(end, report.end)))
        day += timedelta(days=1)
    return days


def daily_rows(
    report: Report,
    span: tuple[datetime, datetime] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[date, ReportJob, DestinationSummary]]:
    """Per day of the report's zone (within ``span``), per job and destination: the summary
    of that day (from the rollups where they cover it, as the summary API would answer for
    that day)."""
    days = report_days(report, span)
    if days and _uniform_days(report):
        yield from _daily_rows_bucketed(report, days, progress)
        return
    for index, (day, start, end) in enumerate(days):
        for job in report.jobs:
            for summary in summarize_range(job.job, start, end, job.destination_ids):
                if summary.runs:
                    yield day, job, summary
        if progress is not None:
            progress(index + 1, len(days))


def _uniform_days(report: Report) -> bool:
    """Whether the zone's days are the UTC days (24 hours from UTC midnight, tier-aligned):
    then one ``summarize_buckets`` call per job gives every day."""
    return getattr(report.zone, "key", None) in ("UTC", "Etc/UTC", "Etc/GMT", "GMT")


def _daily_rows_bucketed(
    report: Report,
    days: list[tuple[date, datetime, datetime]],
    progress: Callable[[int, int], None] | None,
) -> Iterator[tuple[date, ReportJob, DestinationSummary]]:
    """``daily_rows`` for UTC days: one query per tier per job for all the days."""
    first, last = days[0], days[-1]
    base = datetime.combine(first[0], time(0), tzinfo=UTC)
    start_us, end_us = timestamp_us(first[1]), timestamp_us(last[2])
    found = [
        summarize_buckets(
            job.job, start_us, end_us, timestamp_us(base), DAY_US, len(days), job.destination_ids
        )
        for job in report.jobs
    ]
    for index, (day, _start, _end) in enumerate(days):
        for job, buckets in zip(report.jobs, found, strict=True):
            for summary in buckets[index]:
                if summary.runs:
                    yield day, job, summary
        if progress is not None:
            progress(index + 1, len(days))
