"""A report's measurement rows, one per measurement with every metric its collector declares,
read in chunks through the read side (``netstats.queries.measurements``): what the CSV and
the Measurements sheet both write, with the same columns and headers (units included).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import or_, select

from netstats.db import db
from netstats.models import Destination, Series
from netstats.queries.measurements import (
    MeasurementRow,
    count_measurements,
    flat_measurements,
    measurement_rows,
)
from netstats.reports.definition import Report

FIXED_COLUMNS = ("time", "job", "destination", "target", "address", "status", "error")


@dataclass(frozen=True)
class Columns:
    """The measurement columns of a report: the fixed ones, ``duration_ms``, then the metrics
    of its jobs' collectors in the order they declare them."""

    metrics: tuple[str, ...]
    units: dict[str, str]

    def headers(self, time_label: str) -> list[str]:
        """Header cells; a unit follows its name in parentheses."""
        fixed = [f"time ({time_label})", *FIXED_COLUMNS[1:], "duration (ms)"]
        return fixed + [_with_unit(m, self.units.get(m, "")) for m in self.metrics]


def _with_unit(name: str, unit: str) -> str:
    return f"{name} ({unit})" if unit else name


def columns(report: Report) -> Columns:
    """The metric columns of ``report``: the union of its collectors' metrics, in order."""
    metrics: dict[str, str] = {}
    for job in report.jobs:
        for metric in job.metrics:
            if metric.kind == "gauge":
                metrics.setdefault(metric.name, metric.unit)
    return Columns(metrics=tuple(metrics), units=metrics)


def destination_names(report: Report) -> dict[int, str]:
    """Names of the destinations the report's jobs have data of (one query)."""
    if not report.jobs:
        return {}
    stmt = (
        select(Destination.id, Destination.name)
        .join(Series, Series.destination_id == Destination.id)
        .where(or_(*(Series.job_id == j.job.id for j in report.jobs)))
        .distinct()
    )
    return {d: name for d, name in db.session.execute(stmt)}


def count_rows(report: Report) -> int:
    """How many measurement rows the report has (one count per job)."""
    return sum(
        count_measurements(j.job.id, report.start, report.end, j.destination_ids)
        for j in report.jobs
    )


def report_rows(report: Report) -> Iterator[tuple[str, MeasurementRow]]:
    """(job name, measurement) for every measurement of the report: job by job, in time
    order within a job."""
    for job in report.jobs:
        name = job.job.name
        for row in measurement_rows(job.job.id, report.start, report.end, job.destination_ids):
            yield name, row


def report_chunks(report: Report) -> Iterator[tuple[str, list[tuple]]]:
    """(job name, chunk of ``flat_measurements`` tuples) for every measurement of the
    report, job by job, in time order within a job: what the bulk writers (CSV, the
    Measurements sheet) read."""
    for job in report.jobs:
        name = job.job.name
        for chunk in flat_measurements(job.job.id, report.start, report.end, job.destination_ids):
            yield name, chunk
