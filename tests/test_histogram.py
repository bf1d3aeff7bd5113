"""The log-linear histogram: its buckets, its error bound, merging and encoding."""

from __future__ import annotations

import numpy as np
import pytest

from netstats import histogram as h


def test_bucket_boundaries_are_upper_inclusive_powers_of_two_to_the_32nd():
    # Bucket i covers (2^((i-1)/32), 2^(i/32)]: 1 ms closes bucket 0, 2 ms closes bucket 32.
    values = np.array([1.0, np.nextafter(1.0, 2), 2.0, np.nextafter(2.0, 3), 0.5, 1024.0])
    assert h.bucket_index(values).tolist() == [0, 1, 32, 33, -32, 320]
    # Every computed boundary belongs to the bucket below it, the next float to the one above.
    for i in range(-200, 200):
        edge = float(h.upper_bound(i))
        assert h.bucket_index(np.array([edge, np.nextafter(edge, np.inf)])).tolist() == [i, i + 1]


def test_zero_and_tiny_values_count_in_the_zero_bucket():
    hist = h.Histogram.of([0.0, -1.0, 2.0**-31, 2.0**-30, 1.0])
    assert hist.zero == 3
    assert hist.total == 5
    assert int(hist.counts.sum()) == 2


def test_representative_is_within_the_bound_of_both_ends_of_its_bucket():
    for i in (-100, 0, 1, 57, 300):
        rep = float(h.representative(i))
        low, high = float(h.upper_bound(i - 1)), float(h.upper_bound(i))
        assert low < rep < high
        assert (rep - low) / low == pytest.approx(h.RELATIVE_ERROR, rel=1e-9)
        assert (high - rep) / high == pytest.approx(h.RELATIVE_ERROR, rel=1e-9)
    assert abs(h.RELATIVE_ERROR - 0.010830) < 1e-6


def test_quantiles_on_hand_worked_data():
    # Five values, one per bucket: order statistics are the buckets' representatives,
    # clamped to the exact min and max; p50 = the third value's bucket.
    values = [1.0, 2.0, 4.0, 8.0, 16.0]
    hist = h.Histogram.of(values)
    q = hist.quantiles(1.0, 16.0, qs=(0.0, 0.25, 0.5, 1.0))
    rep = lambda i: float(h.representative(i))  # noqa: E731
    assert q[0] == 1.0 and q[3] == 16.0
    assert q[1] == pytest.approx(rep(32))  # rank 1: the value 2 ms
    assert q[2] == pytest.approx(rep(64))  # rank 2: the value 4 ms
    # Rank 0.5 * 4 = 2 exactly; rank 0.1 * 4 = 0.4 interpolates between ranks 0 and 1.
    (q10,) = hist.quantiles(1.0, 16.0, qs=(0.1,))
    assert q10 == pytest.approx(rep(0) + (rep(32) - rep(0)) * 0.4)


@pytest.mark.parametrize("seed", range(40))
def test_quantiles_within_the_bound_of_exact_ones_lognormal_and_bimodal(seed):
    rng = np.random.default_rng(seed)
    lognormal = rng.lognormal(np.log(rng.uniform(0.2, 200)), rng.uniform(0.01, 1.0), 3000)
    bimodal = np.concatenate(
        [rng.lognormal(np.log(20), 0.05, 2000), rng.lognormal(np.log(180), 0.2, 500)]
    )
    for values in (lognormal, bimodal):
        hist = h.Histogram.of(values)
        estimated = hist.quantiles(values.min(), values.max())
        exact = h.exact_quantiles(np.sort(values))
        assert np.max(np.abs(estimated - exact) / exact) <= h.RELATIVE_ERROR + 1e-12


def test_merge_is_exact_associative_and_order_free():
    rng = np.random.default_rng(7)
    parts = [rng.lognormal(1, 0.8, n) for n in (10, 0, 300, 45)]
    hists = [h.Histogram.of(p) for p in parts]
    left = hists[0].merge(hists[1]).merge(hists[2]).merge(hists[3])
    right = hists[3].merge(hists[2].merge(hists[0].merge(hists[1])))
    whole = h.Histogram.of(np.concatenate(parts))
    for merged in (left, right):
        assert merged.offset == whole.offset
        assert merged.counts.tolist() == whole.counts.tolist()
        assert merged.zero == whole.zero


@pytest.mark.parametrize("count", [1, 300, 70_000])  # 1-, 2- and 4-byte counts
def test_encode_decode_round_trip(count):
    values = np.concatenate([np.full(count, 3.0), [0.0, 0.4, 9000.0]])
    hist = h.Histogram.of(values)
    blob = hist.encode()
    back = h.Histogram.decode(blob)
    assert (back.offset, back.zero) == (hist.offset, hist.zero)
    assert back.counts.tolist() == hist.counts.tolist()
    assert h.Histogram.decode(h.Histogram().encode()).total == 0


def test_merge_groups_matches_merging_one_by_one():
    rng = np.random.default_rng(3)
    parts = [rng.lognormal(2, 0.5, rng.integers(0, 40)) for _ in range(200)]
    parts[5] = np.full(400, 7.0)  # a histogram of 2-byte counts among 1-byte ones
    blobs = [h.Histogram.of(p).encode() for p in parts]
    groups = np.arange(200) // 7
    offsets, dense, zeros = h.merge_groups(blobs, groups, 29)
    for g in range(29):
        expected = h.Histogram()
        for i in np.flatnonzero(groups == g):
            expected = expected.merge(h.Histogram.of(parts[i]))
        got = h.Histogram(int(offsets[g]), dense[g], int(zeros[g]))
        assert got.encode() == expected.encode()


def test_grouped_exact_quantiles_match_numpy():
    rng = np.random.default_rng(5)
    values = rng.normal(10, 2, 500)
    groups = rng.integers(0, 6, 500)
    got = h.grouped_exact_quantiles(values, groups, 7)
    for g in range(6):
        assert got[g] == pytest.approx(np.quantile(values[groups == g], h.QUANTILES))
    assert np.isnan(got[6]).all()


def test_raw_values_add_into_merged_groups_far_apart():
    rng = np.random.default_rng(9)
    low, high = rng.lognormal(-1, 0.2, 50), rng.lognormal(6, 0.2, 50)
    blobs = [h.Histogram.of(low[:25]).encode(), h.Histogram.of(high[:25]).encode()]
    offsets, dense, zeros = h.merge_groups(blobs, np.array([0, 1]), 2)
    assert dense.shape[1] < 60  # each group from its own lowest bucket
    offsets, dense, zeros = h.add_values(
        offsets,
        dense,
        zeros,
        np.concatenate([low[25:], high[25:], [0.0]]),
        np.repeat([0, 1, 1], [25, 25, 1]),
    )
    for g, values in ((0, low), (1, np.append(high, 0.0))):
        got = h.Histogram(int(offsets[g]), dense[g], int(zeros[g]))
        assert got.encode() == h.Histogram.of(values).encode()
    q = h.dense_quantiles(
        offsets, dense, zeros, np.array([low.min(), 0.0]), np.array([low.max(), high.max()])
    )
    exact = np.quantile(low, h.QUANTILES)
    assert np.all(np.abs(q[0] - exact) / exact <= h.RELATIVE_ERROR + 1e-12)
