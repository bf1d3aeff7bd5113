"""Window arithmetic on its own: no database, no clock, no worker."""

from __future__ import annotations

import time as clock
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from netstats.scheduling import is_open, next_runs, parse_hhmm, runs_between

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


@dataclass
class Job:
    interval_s: int
    windows: list[dict[str, Any]] = field(default_factory=list)
    timezone: str = "UTC"
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    id: int | None = 7


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: ZoneInfo, *args) -> datetime:
    return datetime(*args, tzinfo=zone)


def wall(times: list[datetime], zone: ZoneInfo) -> list[str]:
    return [t.astimezone(zone).strftime("%a %H:%M") for t in times]


# --- crossing midnight ---------------------------------------------------------------------


def test_window_crossing_midnight_runs_until_it_closes_the_next_day():
    job = Job(3600, [{"days": ["fri"], "start": "22:00", "end": "02:00"}], "Europe/Paris")
    # 2026-05-08 is a Friday.
    runs = next_runs(job, local(PARIS, 2026, 5, 8, 12, 0), 5)
    assert wall(runs, PARIS) == ["Fri 22:00", "Fri 23:00", "Sat 00:00", "Sat 01:00", "Fri 22:00"]
    assert runs[4].astimezone(PARIS).date().isoformat() == "2026-05-15"


def test_window_crossing_midnight_is_open_after_midnight_only_for_the_day_it_opened():
    job = Job(60, [{"days": ["fri"], "start": "22:00", "end": "02:00"}], "Europe/Paris")
    assert is_open(job, local(PARIS, 2026, 5, 9, 1, 30))  # Saturday 01:30, Friday's window
    assert not is_open(job, local(PARIS, 2026, 5, 9, 2, 0))  # closed at 02:00 sharp
    assert not is_open(job, local(PARIS, 2026, 5, 9, 23, 0))  # Saturday has no window
    assert not is_open(job, local(PARIS, 2026, 5, 8, 21, 59))
    assert is_open(job, local(PARIS, 2026, 5, 8, 22, 0))


def test_start_equal_to_end_is_a_whole_day():
    job = Job(6 * 3600, [{"days": ["wed"], "start": "00:00", "end": "00:00"}])
    runs = next_runs(job, utc(2026, 5, 4), 5)  # a Monday
    expected = ["Wed 00:00", "Wed 06:00", "Wed 12:00", "Wed 18:00", "Wed 00:00"]
    assert wall(runs, ZoneInfo("UTC")) == expected


def test_overlapping_windows_merge_into_one_period_with_one_grid():
    job = Job(
        2 * 3600,
        [
            {"days": ["mon"], "start": "09:00", "end": "12:00"},
            {"days": ["mon"], "start": "11:00", "end": "14:00"},
        ],
    )
    runs = runs_between(job, utc(2026, 5, 4), utc(2026, 5, 5))
    assert wall(runs, ZoneInfo("UTC")) == ["Mon 09:00", "Mon 11:00", "Mon 13:00"]


# --- DST -----------------------------------------------------------------------------------


def test_runs_keep_their_wall_clock_time_across_a_dst_change():
    days = ["sat", "sun", "mon"]
    job = Job(600, [{"days": days, "start": "09:00", "end": "09:10"}], "Europe/Paris")
    # Paris moves from UTC+1 to UTC+2 on Sunday 2026-03-29.
    runs = next_runs(job, local(PARIS, 2026, 3, 28, 0, 0), 3)
    assert wall(runs, PARIS) == ["Sat 09:00", "Sun 09:00", "Mon 09:00"]
    assert [t.hour for t in runs] == [8, 7, 7]  # in UTC


def test_spring_forward_night_window_is_an_hour_shorter():
    job = Job(3600, [{"days": ["sun"], "start": "01:00", "end": "05:00"}], "Europe/Paris")
    runs = runs_between(job, utc(2026, 3, 28), utc(2026, 3, 30))
    # 02:00 to 03:00 does not exist that night: three real hours, three runs.
    assert wall(runs, PARIS) == ["Sun 01:00", "Sun 03:00", "Sun 04:00"]


def test_window_opening_in_the_skipped_hour_opens_when_the_clock_jumps():
    job = Job(1800, [{"days": ["sun"], "start": "02:30", "end": "04:00"}], "America/New_York")
    # New York skips 02:00-03:00 on 2026-03-08.
    runs = runs_between(job, utc(2026, 3, 7), utc(2026, 3, 9))
    assert [t.astimezone(NEW_YORK).strftime("%H:%M") for t in runs] == ["03:00", "03:30"]


def test_fall_back_night_window_is_an_hour_longer():
    job = Job(3600, [{"days": ["sun"], "start": "01:00", "end": "04:00"}], "Europe/Paris")
    # Paris repeats 02:00-03:00 on 2026-10-25: four real hours, four runs.
    runs = runs_between(job, utc(2026, 10, 24), utc(2026, 10, 26))
    assert len(runs) == 4
    assert runs[-1] - runs[0] == timedelta(hours=3)
    assert wall(runs, PARIS) == ["Sun 01:00", "Sun 02:00", "Sun 02:00", "Sun 03:00"]


def test_ambiguous_wall_clock_time_means_its_first_occurrence():
    job = Job(3600, [{"days": ["sun"], "start": "02:30", "end": "03:30"}], "Europe/Paris")
    runs = runs_between(job, utc(2026, 10, 24), utc(2026, 10, 26))
    # 02:30 CEST (00:30 UTC) to 03:30 CET (02:30 UTC): two real hours.
    assert [t.strftime("%H:%M") for t in runs] == ["00:30", "01:30"]


# --- active period ---------------------------------------------------------------------------


def test_period_start_anchors_the_grid_and_nothing_runs_before_it():
    starts = utc(2026, 6, 1, 12, 0, 7)
    job = Job(10, starts_at=starts)
    assert next_runs(job, utc(2026, 6, 1), 3) == [
        starts,
        starts + timedelta(seconds=10),
        starts + timedelta(seconds=20),
    ]
    assert not is_open(job, starts - timedelta(microseconds=1))
    assert is_open(job, starts)


def test_period_end_is_exclusive_and_nothing_is_planned_after_it():
    starts, ends = utc(2026, 6, 1, 12), utc(2026, 6, 1, 12, 1)
    job = Job(20, starts_at=starts, ends_at=ends)
    assert next_runs(job, utc(2026, 6, 1), 10) == [
        starts,
        starts + timedelta(seconds=20),
        starts + timedelta(seconds=40),
    ]
    assert next_runs(job, ends, 10) == []
    assert not is_open(job, ends)


def test_period_clips_windows_and_a_clipped_window_starts_its_grid_at_the_period_start():
    starts = utc(2026, 5, 4, 9, 25)  # a Monday, inside the window
    job = Job(1800, [{"days": ["mon"], "start": "09:00", "end": "11:00"}], starts_at=starts)
    runs = runs_between(job, utc(2026, 5, 4), utc(2026, 5, 5))
    assert [t.strftime("%H:%M") for t in runs] == ["09:25", "09:55", "10:25", "10:55"]


# --- no windows ------------------------------------------------------------------------------


def test_empty_window_set_means_always_open_on_a_stable_grid():
    job = Job(10)
    first = next_runs(job, utc(2026, 6, 1, 12), 5)
    assert all(b - a == timedelta(seconds=10) for a, b in pairwise(first))
    assert is_open(job, utc(1999, 1, 1)) and is_open(job, utc(2099, 1, 1))
    # Asking later gives the same instants: two planners agree on every run time.
    later = next_runs(job, first[2] - timedelta(milliseconds=1), 3)
    assert later == first[2:5]


def test_jobs_with_the_same_interval_are_spread_over_it():
    after = utc(2026, 6, 1)
    offsets = {
        (next_runs(Job(10, id=i), after, 1)[0] - after).total_seconds() for i in range(1, 101)
    }
    assert len(offsets) > 90
    assert min(offsets) < 0.5 and max(offsets) > 9.5


def test_planned_times_inside_a_window_do_not_depend_on_when_you_ask():
    job = Job(700, [{"days": ["tue"], "start": "08:00", "end": "12:00"}], "Europe/Paris")
    whole = runs_between(job, utc(2026, 5, 5), utc(2026, 5, 6))
    from_inside = runs_between(job, whole[3] - timedelta(seconds=1), utc(2026, 5, 6))
    assert from_inside == whole[3:]


# --- never open ------------------------------------------------------------------------------


def test_window_with_no_days_never_opens_and_says_so_quickly():
    job = Job(1, [{"days": [], "start": "00:00", "end": "23:59"}])
    began = clock.monotonic()
    assert next_runs(job, utc(2026, 1, 1), 5) == []
    assert not is_open(job, utc(2026, 1, 1, 12))
    assert clock.monotonic() - began < 0.5


def test_period_ending_before_it_starts_never_opens():
    job = Job(1, starts_at=utc(2026, 1, 2), ends_at=utc(2026, 1, 1))
    assert next_runs(job, utc(2025, 1, 1), 5) == []


def test_windows_entirely_outside_the_period_never_open():
    job = Job(
        60,
        [{"days": ["sat"], "start": "10:00", "end": "11:00"}],
        starts_at=utc(2026, 5, 4),  # Monday
        ends_at=utc(2026, 5, 8),  # Friday
    )
    assert next_runs(job, utc(2026, 5, 1), 5) == []


# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["9:00", "24:00", "12:60", "noon", "12-30", "", "1200"])
def test_bad_wall_clock_times_are_refused(text):
    with pytest.raises(ValueError):
        parse_hhmm(text)
