"""Bucket aggregates of a series: raw samples and rollup rows merged into groups, pure numpy.

The rollup pass uses it to build a tier's rows (from samples, or from the finer tier's rows)
and the read side to merge rows and samples into a chart's buckets, so both compute every
statistic the same way. Everything is vectorized over the groups: no Python loop per row.

Quantiles of a group come from, in order of preference: the exact raw values when only raw
samples fall in it; the cached quantiles of its one rollup row when that row is all it has;
else the merged histogram (netstats.histogram: within 1.08 %), clamped to the exact min/max.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from netstats import histogram

STATUS_COLUMNS = ("ok", "error", "timeout")
SUM_COLUMNS = ("count", "n", "sum", "sumsq", *STATUS_COLUMNS)


def _reduce(
    groups: np.ndarray, values: np.ndarray, count: int, ufunc: np.ufunc, empty: float
) -> np.ndarray:
    """``ufunc`` (minimum, maximum) of ``values`` by group; ``empty`` for groups without any."""
    out = np.full(count, empty, dtype=np.float64)
    if values.size == 0:
        return out
    order = np.argsort(groups, kind="stable")
    g, v = groups[order], values[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    out[g[starts]] = ufunc.reduceat(v, starts)
    return out


@dataclass
class Aggregates:
    """The merged statistics of ``count`` groups; arrays of length ``count``.

    ``min``/``max``/``mean`` are NaN where a group has no value; ``quantiles`` (groups x 10,
    NaN where empty) only for a distribution; ``exact[g]`` says whether group g's quantiles
    came from raw values only; ``histograms`` is the merged (offset, dense, zeros) when
    asked for.
    """

    count: np.ndarray
    n: np.ndarray
    sum: np.ndarray
    sumsq: np.ndarray
    min: np.ndarray
    max: np.ndarray
    first_us: np.ndarray
    last_us: np.ndarray
    ok: np.ndarray
    error: np.ndarray
    timeout: np.ndarray
    quantiles: np.ndarray | None = None
    exact: np.ndarray | None = None
    histograms: tuple[int, np.ndarray, np.ndarray] | None = None

    @property
    def mean(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n > 0, self.sum / np.maximum(self.n, 1), np.nan)


@dataclass
class Accumulator:
    """Collects raw samples and rollup rows by group, then merges them (``finish``)."""

    count: int
    distribution: bool
    _sums: dict[str, np.ndarray] = field(default_factory=dict)
    _mins: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    _maxs: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    _firsts: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    _lasts: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    _raw: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    _rows: list[tuple[np.ndarray, list[bytes | None], list[bytes | None]]] = field(
        default_factory=list
    )

    def __post_init__(self) -> None:
        self._sums = {name: np.zeros(self.count, dtype=np.float64) for name in SUM_COLUMNS}
        self._raw_rounds = np.zeros(self.count, dtype=np.int64)
        self._tier_rows = np.zeros(self.count, dtype=np.int64)

    def _add(self, name: str, groups: np.ndarray, weights: np.ndarray | None = None) -> None:
        self._sums[name] += np.bincount(groups, weights=weights, minlength=self.count)

    def add_samples(
        self,
        groups: np.ndarray,
        ts_us: np.ndarray,
        values: np.ndarray,
        status: np.ndarray,
        raw: Sequence[bytes | None] | None = None,
    ) -> None:
        """Raw samples: ``groups[i]`` is sample i's group; ``values`` float (NaN for NULL);
        ``raw`` the packed values of a distribution's rounds."""
        groups = np.asarray(groups, dtype=np.int64)
        if groups.size == 0:
            return
        ts_us = np.asarray(ts_us, dtype=np.int64)
        status = np.asarray(status, dtype=np.int64)
        self._add("count", groups)
        self._raw_rounds += np.bincount(groups, minlength=self.count)
        for code, name in enumerate(STATUS_COLUMNS):
            self._add(name, groups[status == code])
        self._firsts.append((groups, ts_us.astype(np.float64)))
        self._lasts.append((groups, ts_us.astype(np.float64)))
        if self.distribution:
            flat, rows = histogram.unpack_values(raw or [])
            value_groups = groups[rows]
        else:
            flat = np.asarray(values, dtype=np.float64)
            keep = ~np.isnan(flat)
            flat, value_groups = flat[keep], groups[keep]
        self._add("n", value_groups)
        self._add("sum", value_groups, flat)
        self._add("sumsq", value_groups, flat * flat)
        self._mins.append((value_groups, flat))
        self._maxs.append((value_groups, flat))
        if self.distribution:
            self._raw.append((value_groups, flat))

    def add_rows(
        self, groups: np.ndarray, rows: dict[str, Sequence], merged: np.ndarray | None = None
    ) -> None:
        """Rollup rows (columns by name, as the tier tables have them) into ``groups``.

        Rows already merged by bucket (in SQL) say how many rows each merged in ``merged``.
        ``sumsq``, ``first_us`` and ``last_us`` may be left out (a chart does not need them);
        ``hist`` and ``quantiles`` may come here or by ``add_histograms``.
        """
        groups = np.asarray(groups, dtype=np.int64)
        if groups.size == 0:
            return
        for name in SUM_COLUMNS:
            if name in rows:
                column = np.asarray(rows[name], dtype=np.float64)
                self._add(name, groups, np.nan_to_num(column))
        weights = None if merged is None else np.asarray(merged, dtype=np.float64)
        self._tier_rows += np.rint(
            np.bincount(groups, weights=weights, minlength=self.count)
        ).astype(np.int64)
        for target, name in ((self._mins, "min"), (self._maxs, "max")):
            column = np.asarray(rows[name], dtype=np.float64)
            keep = ~np.isnan(column)
            target.append((groups[keep], column[keep]))
        if "first_us" in rows:
            self._firsts.append((groups, np.asarray(rows["first_us"], dtype=np.float64)))
            self._lasts.append((groups, np.asarray(rows["last_us"], dtype=np.float64)))
        if self.distribution and "hist" in rows:
            self._rows.append((groups, list(rows["hist"]), list(rows["quantiles"])))

    def add_histograms(
        self,
        groups: np.ndarray,
        hists: Sequence[bytes | None],
        cached: Sequence[bytes | None] | None = None,
    ) -> None:
        """The histograms (and cached quantiles, if read) of rollup rows whose other columns
        came by ``add_rows`` (merged)."""
        groups = np.asarray(groups, dtype=np.int64)
        if groups.size:
            self._rows.append((groups, list(hists), None if cached is None else list(cached)))

    def _extreme(self, parts, ufunc, empty) -> np.ndarray:
        if not parts:
            return np.full(self.count, empty)
        groups = np.concatenate([g for g, _ in parts])
        values = np.concatenate([v for _, v in parts])
        return _reduce(groups, values, self.count, ufunc, empty)

    def finish(self, want_histograms: bool = False) -> Aggregates:
        """The merged statistics of every group."""
        sums = {name: np.rint(v).astype(np.int64) for name, v in self._sums.items()}
        result = Aggregates(
            count=sums["count"],
            n=sums["n"],
            sum=self._sums["sum"],
            sumsq=self._sums["sumsq"],
            min=self._extreme(self._mins, np.minimum, np.nan),
            max=self._extreme(self._maxs, np.maximum, np.nan),
            first_us=self._extreme(self._firsts, np.minimum, -1).astype(np.int64),
            last_us=self._extreme(self._lasts, np.maximum, -1).astype(np.int64),
            ok=sums["ok"],
            error=sums["error"],
            timeout=sums["timeout"],
        )
        if self.distribution:
            self._quantiles(result, want_histograms)
        return result

    def _quantiles(self, result: Aggregates, want_histograms: bool) -> None:
        count = self.count
        raw_only = self._tier_rows == 0
        # A group made of one rollup row and nothing else is drawn from its cached quantiles
        # (when they were read: a chart merging several rows per bucket does not read them).
        single = (self._tier_rows == 1) & (self._raw_rounds == 0)
        for groups, _, cached in self._rows:
            if cached is None:
                single[groups] = False
        quantiles = np.full((count, len(histogram.QUANTILES)), np.nan)
        decode = ~single if not want_histograms else np.ones(count, dtype=bool)
        blobs: list[bytes] = []
        blob_groups: list[np.ndarray] = []
        for groups, hists, cached in self._rows:
            wanted = decode[groups]
            if wanted.all():
                chosen_groups, chosen_blobs = groups, hists
            else:
                picked = np.flatnonzero(wanted)
                chosen_groups, chosen_blobs = groups[picked], [hists[i] for i in picked.tolist()]
            present = np.fromiter(map(bool, chosen_blobs), dtype=bool, count=len(chosen_blobs))
            blobs.extend(filter(None, chosen_blobs))
            blob_groups.append(chosen_groups[present])
            ones = np.flatnonzero(single[groups]) if cached is not None else np.zeros(0, np.int64)
            if ones.size:
                packed = [cached[i] or _NAN_QUANTILES for i in ones.tolist()]
                quantiles[groups[ones]] = histogram.unpack_quantiles(packed)
        groups_of_blobs = np.concatenate(blob_groups) if blob_groups else np.zeros(0, np.int64)
        offset, dense, zeros = histogram.merge_groups(blobs, groups_of_blobs, count)
        if self._raw:
            values = np.concatenate([v for _, v in self._raw])
            value_groups = np.concatenate([g for g, _ in self._raw])
            offset, dense, zeros = histogram.add_values(offset, dense, zeros, values, value_groups)
            exact = histogram.grouped_exact_quantiles(values, value_groups, count)
            quantiles[raw_only] = exact[raw_only]
        merged = decode & ~raw_only
        if merged.any():
            offsets = np.broadcast_to(np.asarray(offset, dtype=np.int64), (count,))
            estimated = histogram.dense_quantiles(
                offsets[merged],
                dense[merged],
                zeros[merged],
                result.min[merged],
                result.max[merged],
            )
            quantiles[merged] = estimated
        quantiles[result.n == 0] = np.nan
        result.quantiles = quantiles
        result.exact = raw_only
        if want_histograms:
            result.histograms = (offset, dense, zeros)


_NAN_QUANTILES = histogram.pack_quantiles(np.full(len(histogram.QUANTILES), np.nan))
