"""Window arithmetic: when a job is open and the exact times its runs are planned for.

Pure functions of a job's schedule fields (``interval_s``, ``starts_at``, ``ends_at``,
``windows``, ``timezone``, ``id``); no database, no clock. Every planner computes the same
times for the same job, which is what makes ``job_runs`` unique on (job, scheduled time)
enough to prevent a doubled run.

The rules, in one place:

- A window ``{"days": ["mon", ...], "start": "HH:MM", "end": "HH:MM"}`` opens on each listed
  day at ``start`` in the job's time zone and closes at ``end`` the same day, or the next day
  when ``end`` is not after ``start`` (``22:00``-``06:00`` crosses midnight; ``00:00``-``00:00``
  is a whole day). Overlapping or touching windows merge into one open period.
- Wall-clock times are converted with the zone's rules of that date: a time skipped by a DST
  change (02:30 on a spring-forward night) opens at the first minute that exists; a time
  that occurs twice (fall-back night) means its first occurrence.
- The active period ``[starts_at, ends_at)`` clips the open periods.
- Inside an open period, runs fall every ``interval_s`` seconds from the period's opening (or
  from ``starts_at`` when the period is clipped by it). A job open all the time runs on a
  grid anchored at ``starts_at`` or, without one, at the Unix epoch plus a per-job phase: jobs
  with the same interval are spread over it instead of all firing at the same instant.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import Any, Protocol
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A weekly pattern with no opening in this many consecutive days never opens.
_NEVER_OPEN_DAYS = 8
# Merged windows with any gap in the week last at most a week plus a DST shift; longer
# means open all the time.
_ALWAYS_OPEN = timedelta(days=7, hours=3)
_GOLDEN = (math.sqrt(5) - 1) / 2


JOB_STATES = ("active", "paused", "outside_window", "disabled")


class Schedulable(Protocol):
    """The fields of a job that decide when it runs (``netstats.models.Job`` has them)."""

    id: int | None
    interval_s: int
    starts_at: datetime | None
    ends_at: datetime | None
    windows: Sequence[dict[str, Any]]
    timezone: str
    enabled: bool
    paused: bool


@dataclass(frozen=True)
class Window:
    """One recurring window: weekday numbers (Monday = 0) and wall-clock bounds."""

    days: frozenset[int]
    start: time
    end: time

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Window:
        """Parse the stored form ``{"days": [...], "start": "HH:MM", "end": "HH:MM"}``."""
        return cls(
            days=frozenset(DAYS.index(d) for d in data["days"]),
            start=parse_hhmm(data["start"]),
            end=parse_hhmm(data["end"]),
        )


@dataclass(frozen=True)
class Period:
    """A stretch of open time ``[start, end)`` in UTC; ``None`` is unbounded."""

    start: datetime | None
    end: datetime | None


def parse_hhmm(text: str) -> time:
    """``"HH:MM"`` (00:00 to 23:59) as a time; ValueError otherwise."""
    hours, sep, minutes = text.partition(":")
    if not sep or len(hours) != 2 or len(minutes) != 2 or not (hours + minutes).isdigit():
        raise ValueError(f"{text!r} is not HH:MM")
    return time(int(hours), int(minutes))


def phase(job_id: int | None, interval_s: int) -> timedelta:
    """The offset of a job's grid within its interval: well spread over ids, stable per job."""
    if not job_id:
        return timedelta(0)
    fraction = (job_id * _GOLDEN) % 1.0
    return timedelta(milliseconds=round(fraction * interval_s * 1000))


def local_to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time on a date in ``zone``, by the module's DST rules."""
    naive = datetime.combine(day, wall)
    # A skipped time does not survive the round trip; walk to the first minute that exists.
    for _ in range(24 * 60):
        aware = naive.replace(tzinfo=zone, fold=0)
        if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive:
            return aware.astimezone(UTC)
        naive += timedelta(minutes=1)
    raise ValueError(f"no valid wall-clock time after {day} {wall} in {zone.key}")


def _occurrences(windows: Sequence[Window], day: date, zone: ZoneInfo) -> list[Period]:
    """The periods of the windows that open on local date ``day``."""
    found = []
    for window in windows:
        if day.weekday() not in window.days:
            continue
        closes_on = day if window.end > window.start else day + timedelta(days=1)
        found.append(
            Period(local_to_utc(day, window.start, zone), local_to_utc(closes_on, window.end, zone))
        )
    return sorted(found, key=lambda p: p.start)


def _window_periods(job: Schedulable, after: datetime) -> Iterator[Period]:
    """Merged window periods that end after ``after``, in order; stops if the job never opens.

    Merging starts a week before ``after`` so that the period containing ``after`` has the
    same opening whatever ``after`` is. A merged period longer than a week means the windows
    cover every hour: it is returned unbounded at the start.
    """
    zone = ZoneInfo(job.timezone)
    windows = [Window.from_dict(w) for w in job.windows]
    day = after.astimezone(zone).date() - timedelta(days=_NEVER_OPEN_DAYS)
    current: Period | None = None
    empty_days = 0
    while empty_days <= _NEVER_OPEN_DAYS:
        occurrences = _occurrences(windows, day, zone)
        empty_days = 0 if occurrences else empty_days + 1
        for occ in occurrences:
            if current is not None and occ.start <= current.end:
                current = Period(current.start, max(current.end, occ.end))
                continue
            if current is not None and current.end > after:
                yield current
            current = occ
        if current is not None and current.end - current.start > _ALWAYS_OPEN:
            yield Period(None, None)
            return
        day += timedelta(days=1)
        # Later occurrences open at the next local midnight or after: one that closes
        # before then is complete.
        if current is not None and current.end < local_to_utc(day, time(0, 0), zone):
            if current.end > after:
                yield current
            current = None


def open_periods(job: Schedulable, after: datetime) -> Iterator[Period]:
    """The job's open periods (windows clipped to its active period) that end after ``after``;
    none past the last day a datetime holds."""
    after = after.astimezone(UTC)
    lo = max(after, job.starts_at) if job.starts_at else after
    if job.ends_at is not None and lo >= job.ends_at:
        return
    periods = _window_periods(job, lo) if job.windows else iter([Period(None, None)])
    try:
        yield from _clipped(job, periods)
    except OverflowError:  # window arithmetic reached 9999-12-31
        return


def _clipped(job: Schedulable, periods: Iterator[Period]) -> Iterator[Period]:
    for period in periods:
        start = _latest(period.start, job.starts_at)
        end = _earliest(period.end, job.ends_at)
        if start is not None and end is not None and start >= end:
            if job.ends_at is not None and start >= job.ends_at:
                return
            continue
        yield Period(start, end)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def iter_runs(job: Schedulable, after: datetime) -> Iterator[datetime]:
    """Every planned run time at or after ``after``, in order (possibly endless, but never past
    the last time a datetime holds: 9999-12-31)."""
    after = after.astimezone(UTC)
    interval = timedelta(seconds=job.interval_s)
    try:
        for period in open_periods(job, after):
            anchor = (
                period.start if period.start is not None else EPOCH + phase(job.id, job.interval_s)
            )
            first = max(after, anchor)
            steps = -((anchor - first) // interval)  # ceiling division: first grid point >= first
            t = anchor + steps * interval
            while period.end is None or t < period.end:
                yield t
                t += interval
    except OverflowError:
        return


def next_runs(job: Schedulable, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` planned run times at or after ``after`` (fewer if the job ends)."""
    return list(islice(iter_runs(job, after), count))


def runs_between(job: Schedulable, start: datetime, end: datetime) -> list[datetime]:
    """The planned run times in ``[start, end)``."""
    times = []
    for t in iter_runs(job, start):
        if t >= end:
            break
        times.append(t)
    return times


def is_open(job: Schedulable, at: datetime) -> bool:
    """Whether ``at`` lies inside the job's active period and one of its windows."""
    for period in open_periods(job, at):
        return (period.start is None or period.start <= at) and (
            period.end is None or at < period.end
        )
    return False


def job_state(job: Schedulable, now: datetime) -> str:
    """``disabled``, ``paused``, ``outside_window`` (closed at ``now``) or ``active``."""
    if not job.enabled:
        return "disabled"
    if job.paused:
        return "paused"
    return "active" if is_open(job, now) else "outside_window"


def upcoming_runs(job: Schedulable, count: int, now: datetime) -> list[datetime]:
    """The next ``count`` run times after ``now`` by the schedule; none while disabled or paused."""
    if not job.enabled or job.paused:
        return []
    return next_runs(job, now, count)


def next_run_at(job: Schedulable, now: datetime) -> datetime | None:
    """When the job's next planned run falls, or None (disabled, paused, never again)."""
    times = upcoming_runs(job, 1, now)
    return times[0] if times else None
