"""Probe pacing: per-target interval, global rate cap, round-robin order."""

from __future__ import annotations

import itertools

import pytest

from netstats.wire.pacing import schedule


def test_one_target_is_paced_by_interval():
    slots = schedule(1, 4, 0.5, 100)
    assert [s.offset for s in slots] == pytest.approx([0, 0.5, 1.0, 1.5])


def test_targets_go_round_robin_spread_by_the_rate():
    slots = schedule(3, 2, 1.0, 10)
    assert [(s.target, s.probe) for s in slots] == [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]
    assert [s.offset for s in slots] == pytest.approx([0, 0.1, 0.2, 1.0, 1.1, 1.2])


def test_rate_cap_holds_when_targets_outnumber_the_interval():
    slots = schedule(1000, 3, 0.1, 1000)
    offsets = [s.offset for s in slots]
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert min(gaps) >= 0.001 - 1e-12
    assert offsets[-1] == pytest.approx(2.999)
    for target in (0, 500, 999):
        mine = [s.offset for s in slots if s.target == target]
        assert all(b - a >= 0.1 for a, b in itertools.pairwise(mine))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        schedule(1, 1, 1.0, 0)
