"""What a report is: jobs, optionally some of their destinations, a range (a preset or from/to)
in an IANA time zone, and a format. Defined once from the arguments ``ReportArgs`` loaded, for
the page, the API and the CLI alike; every error names its field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select

from netstats.collectors import Metric
from netstats.db import db, utcnow
from netstats.errors import Invalid
from netstats.models import Destination, Job, Series
from netstats.plugins import get_plugins
from netstats.schemas.fields import ID_MAX, RANGE_EARLIEST, RANGE_LATEST
from netstats.selection import measured_destinations

DEFAULT_PRESET = "last_24h"
SPANS = {
    "last_24h": timedelta(hours=24),
    "last_7d": timedelta(days=7),
    "last_30d": timedelta(days=30),
}


@dataclass(frozen=True)
class ReportJob:
    """One job of a report, the destinations asked for (None: every one with data, as the
    summary API answers) and the metrics its collector declares."""

    job: Job
    destination_ids: tuple[int, ...] | None
    metrics: tuple[Metric, ...]


@dataclass(frozen=True)
class Report:
    """A validated report definition; ``start`` and ``end`` are aware UTC times."""

    jobs: tuple[ReportJob, ...]
    start: datetime
    end: datetime
    zone: ZoneInfo
    format: str
    preset: str | None

    @property
    def filename(self) -> str:
        """``netstats-<job>-<from>-<to>.<format>``, safe in a Content-Disposition header."""
        name = "+".join(j.job.name for j in self.jobs)
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:60] or "report"
        local = [m.astimezone(self.zone).strftime("%Y%m%dT%H%M") for m in (self.start, self.end)]
        return f"netstats-{name}-{local[0]}-{local[1]}.{self.format}"

    def local(self, moment: datetime) -> datetime:
        """``moment`` as a naive wall time in the report's zone (Excel has no time zones)."""
        return moment.astimezone(self.zone).replace(tzinfo=None)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def preset_range(preset: str, now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a preset at ``now``; days and months are the zone's."""
    today = now.astimezone(zone).date()
    if preset in SPANS:
        return now - SPANS[preset], now
    if preset == "today":
        return _midnight(today, zone), now
    if preset == "yesterday":
        return _midnight(today - timedelta(days=1), zone), _midnight(today, zone)
    first = today.replace(day=1)
    if preset == "this_month":
        return _midnight(first, zone), now
    if preset == "last_month":
        previous = (first - timedelta(days=1)).replace(day=1)
        return _midnight(previous, zone), _midnight(first, zone)
    raise ValueError(f"unknown preset {preset!r}")


def _in_zone(moment: datetime, zone: ZoneInfo, field: str) -> datetime:
    """An aware time as it is; a naive one is a wall time in ``zone``; in UTC. Raises
    ``Invalid`` naming ``field`` outside the range bounds every range API takes
    (``RANGE_EARLIEST`` to ``RANGE_LATEST``)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        moment = None
    if moment is None or not RANGE_EARLIEST <= moment <= RANGE_LATEST:
        message = f"Must fall between {RANGE_EARLIEST:%Y-%m-%d} and {RANGE_LATEST:%Y-%m-%d} UTC."
        raise Invalid(f"{field} out of range.", {field: [message]})
    return moment


def _lookup(model, token: str):
    """The row a token names: an id when it is ASCII digits, else a name; None when there is
    none (an id past the column's range included: it names no row, and PostgreSQL would
    refuse the comparison)."""
    if token.isascii() and token.isdigit():
        number = int(token)
        if number > ID_MAX:
            return None
        return db.session.get(model, number)
    return db.session.scalar(select(model).where(model.name == token))


def _jobs(tokens: Sequence[str]) -> list[Job]:
    jobs: list[Job] = []
    for token in tokens:
        job = _lookup(Job, token)
        if job is None:
            raise Invalid(f"No job {token!r}.", {"job": [f"Unknown job {token!r}."]})
        if job.id not in {j.id for j in jobs}:
            jobs.append(job)
    return jobs


def _destinations(jobs: list[Job], tokens: Sequence[str]) -> dict[int, tuple[int, ...] | None]:
    """Per job, the ids of the destinations asked for that it measures or has data of."""
    if not tokens:
        return {job.id: None for job in jobs}
    wanted: list[Destination] = []
    for token in tokens:
        destination = _lookup(Destination, token)
        if destination is None:
            raise Invalid(
                f"No destination {token!r}.", {"destination": [f"Unknown destination {token!r}."]}
            )
        wanted.append(destination)
    ids = [d.id for d in wanted]
    with_data = {
        (job_id, destination_id)
        for job_id, destination_id in db.session.execute(
            select(Series.job_id, Series.destination_id)
            .where(or_(*(Series.job_id == j.id for j in jobs)), Series.destination_id.in_(ids))
            .distinct()
        )
    }
    chosen: dict[int, tuple[int, ...] | None] = {}
    covered: set[int] = set()
    for job in jobs:
        measured = {d.id for d in measured_destinations(job)}
        mine = tuple(d for d in ids if d in measured or (job.id, d) in with_data)
        chosen[job.id] = mine
        covered.update(mine)
    for destination in wanted:
        if destination.id not in covered:
            names = ", ".join(j.name for j in jobs)
            raise Invalid(
                f"Destination {destination.name!r} is not measured by {names}.",
                {"destination": [f"Not a destination of the jobs: {destination.name!r}."]},
            )
    return chosen


def define_report(args: dict[str, Any], now: datetime | None = None) -> Report:
    """The report the loaded ``ReportArgs`` describe. Raises ``Invalid`` naming the field:
    an unknown job or destination, a destination no job measures, ``from`` not before ``to``."""
    now = now or utcnow()
    zone = ZoneInfo(args.get("tz") or "UTC")
    preset = args.get("preset")
    if "from_" in args:
        start = _in_zone(args["from_"], zone, "from")
        end = _in_zone(args["to"], zone, "to") if args.get("to") else now
    elif "to" in args:
        raise Invalid("to needs a from.", {"from": ["Required with to."]})
    else:
        preset = preset or DEFAULT_PRESET
        start, end = preset_range(preset, now, zone)
    if start >= end:
        raise Invalid("from must be before to.", {"from": ["Must be before to."]})
    jobs = _jobs(args["job"])
    chosen = _destinations(jobs, args.get("destination") or [])
    plugins = get_plugins().collectors
    return Report(
        jobs=tuple(
            ReportJob(
                job=job,
                destination_ids=chosen[job.id],
                metrics=tuple(plugins[job.collector].metrics) if job.collector in plugins else (),
            )
            for job in jobs
            if chosen[job.id] != ()
        ),
        start=start,
        end=end,
        zone=zone,
        format=args.get("format") or "xlsx",
        preset=preset,
    )
