"""A collector's fan-out over daemon threads: results in order, errors raised, no thread kept."""

from __future__ import annotations

import threading

import pytest

from netstats.wire.threads import map_in_daemon_threads


def test_results_come_in_the_order_of_the_items_whatever_finishes_first():
    release = threading.Event()
    seen: list[threading.Thread] = []

    def slow_first(n: int) -> int:
        seen.append(threading.current_thread())
        if n == 0:
            release.wait(5)  # item 0 finishes last: the others run meanwhile and set it free
        elif n == 9:
            release.set()
        return n * n

    assert map_in_daemon_threads(slow_first, list(range(10)), 3, "sq") == [n * n for n in range(10)]
    assert all(t.daemon and t.name.startswith("sq-") for t in seen)
    assert len(set(seen)) <= 3
    assert not [t for t in threading.enumerate() if t.name.startswith("sq-")]


def test_the_first_error_in_item_order_is_raised_once_every_item_is_done():
    done = []

    def fail_on_odd(n: int) -> int:
        done.append(n)
        if n % 2:
            raise ValueError(f"odd {n}")
        return n

    with pytest.raises(ValueError, match="odd 1"):
        map_in_daemon_threads(fail_on_odd, list(range(8)), 4, "odd")
    assert sorted(done) == list(range(8))


def test_no_items_no_threads():
    assert map_in_daemon_threads(str, [], 4, "none") == []
