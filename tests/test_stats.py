"""The metric definitions of DESIGN.md, on rounds whose figures are worked out by hand."""

from __future__ import annotations

import math

import pytest

from netstats.stats import percentile, summarize


def test_round_with_loss_and_duplicates():
    m = summarize([1.0, None, 3.0, 2.0, None], duplicates=2)
    assert (m["sent"], m["received"], m["duplicates"]) == (5, 3, 2)
    assert m["loss_pct"] == 40.0  # duplicates never count as received
    assert (m["rtt_min_ms"], m["rtt_avg_ms"], m["rtt_max_ms"]) == (1.0, 2.0, 3.0)
    assert m["rtt_mdev_ms"] == pytest.approx(math.sqrt(2 / 3))  # population, as iputils
    assert m["rtt_median_ms"] == 2.0
    assert m["rtt_p95_ms"] == pytest.approx(2.9)  # 2 + 0.9 * (3 - 2)
    # jitter over received RTTs in send order: |3-1|, |2-3| -> 1.5
    assert m["jitter_ms"] == 1.5
    # J = 0 + (2 - 0)/16 = 0.125; J = 0.125 + (1 - 0.125)/16
    assert m["jitter_rfc3550_ms"] == pytest.approx(0.125 + 0.875 / 16)


def test_percentile_interpolates_between_order_statistics():
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 0.5) == 25.0
    assert percentile(values, 0.95) == pytest.approx(38.5)
    assert percentile(values, 0.0) == 10.0 and percentile(values, 1.0) == 40.0
    assert percentile([7.0], 0.95) == 7.0


def test_all_lost_has_full_loss_and_no_rtt():
    m = summarize([None, None, None])
    assert m["loss_pct"] == 100.0 and m["received"] == 0
    assert all(m[k] is None for k in ("rtt_avg_ms", "rtt_p95_ms", "jitter_ms", "rtt_mdev_ms"))


def test_one_reply_has_rtts_but_no_jitter():
    m = summarize([4.0])
    assert m["rtt_avg_ms"] == 4.0 and m["rtt_mdev_ms"] == 0.0
    assert m["jitter_ms"] is None and m["jitter_rfc3550_ms"] is None


def test_nothing_sent_is_not_a_division_by_zero():
    assert summarize([])["loss_pct"] is None
