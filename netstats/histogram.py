"""Mergeable log-linear histograms of positive values (RTTs, query times), pure numpy.

The layout is fixed (Prometheus/OpenTelemetry "schema 5"): bucket ``i`` covers
``(2^((i-1)/32), 2^(i/32)]`` in the value's unit (ms), so a value's bucket is
``ceil(32 * log2(v))``. Values at or below zero, and below ``ZERO_BELOW``, count in a zero
bucket. A bucket is represented by ``2 * GAMMA^i / (1 + GAMMA)`` (DDSketch's midpoint), which
is within ``RELATIVE_ERROR`` (1.08 %) of every value the bucket holds, so any quantile
estimated from the histogram is within 1.08 % of the exact one (see ``quantiles``).

Histograms of the same layout merge by adding counts, exactly and in any order: a 1-hour
rollup is the sum of its twelve 5-minute histograms. Encoded (``encode``) as a 9-byte header
(int32 index of the first non-empty bucket, uint8 count width 1/2/4, uint32 zero count) and
the dense counts from the first to the last non-empty bucket, little-endian. ``merge_groups``
decodes and merges thousands of encoded histograms into groups (a chart's buckets) in a few
vectorized numpy operations.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SCALE = 32
GAMMA = 2.0 ** (1 / SCALE)
RELATIVE_ERROR = (GAMMA - 1) / (GAMMA + 1)
ZERO_BELOW = 2.0**-30
# The quantiles every rollup row caches, and every series read returns.
QUANTILES = (0.0, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99, 1.0)
QUANTILE_NAMES = ("p0", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "p100")

_HEADER = struct.Struct("<iBI")
_WIDTHS = {1: "<u1", 2: "<u2", 4: "<u4"}
_MIDPOINT = 2.0 / (1.0 + GAMMA)


def upper_bound(index: np.ndarray | int) -> np.ndarray:
    """The upper (inclusive) boundary of bucket ``index``: ``2^(index/32)``."""
    return np.exp2(np.asarray(index, dtype=np.float64) / SCALE)


def representative(index: np.ndarray | int) -> np.ndarray:
    """The value standing for bucket ``index``: ``2 * GAMMA^index / (1 + GAMMA)``."""
    return upper_bound(index) * _MIDPOINT


def bucket_index(values: np.ndarray) -> np.ndarray:
    """The bucket of each (positive, at least ``ZERO_BELOW``) value.

    ``ceil(32 * log2(v))``, corrected by one where floating point puts a value on the wrong
    side of a boundary as ``upper_bound`` computes it, so that boundaries are exact.
    """
    v = np.asarray(values, dtype=np.float64)
    index = np.ceil(np.log2(v) * SCALE).astype(np.int64)
    index -= v <= upper_bound(index - 1)
    index += v > upper_bound(index)
    return index


@dataclass
class Histogram:
    """Counts per bucket from ``offset`` on (dense), plus the zero bucket's count."""

    offset: int = 0
    counts: np.ndarray = None  # type: ignore[assignment]
    zero: int = 0

    def __post_init__(self) -> None:
        if self.counts is None:
            self.counts = np.zeros(0, dtype=np.int64)

    @classmethod
    def of(cls, values: Sequence[float] | np.ndarray) -> Histogram:
        """The histogram of ``values``."""
        v = np.asarray(values, dtype=np.float64)
        positive = v[v >= ZERO_BELOW]
        zero = int(v.size - positive.size)
        if positive.size == 0:
            return cls(0, np.zeros(0, dtype=np.int64), zero)
        index = bucket_index(positive)
        low = int(index.min())
        return cls(low, np.bincount(index - low).astype(np.int64), zero)

    @property
    def total(self) -> int:
        """How many values the histogram counts."""
        return int(self.counts.sum()) + self.zero

    def merge(self, other: Histogram) -> Histogram:
        """The histogram of both sets of values (exact: counts add)."""
        if other.counts.size == 0:
            return Histogram(self.offset, self.counts.copy(), self.zero + other.zero)
        if self.counts.size == 0:
            return Histogram(other.offset, other.counts.copy(), self.zero + other.zero)
        low = min(self.offset, other.offset)
        high = max(self.offset + self.counts.size, other.offset + other.counts.size)
        counts = np.zeros(high - low, dtype=np.int64)
        counts[self.offset - low : self.offset - low + self.counts.size] += self.counts
        counts[other.offset - low : other.offset - low + other.counts.size] += other.counts
        return Histogram(low, counts, self.zero + other.zero)

    def encode(self) -> bytes:
        """The stored form: header, then the counts from the first to the last non-empty bucket."""
        nonzero = np.flatnonzero(self.counts)
        if nonzero.size == 0:
            return _HEADER.pack(0, 1, self.zero)
        first, last = int(nonzero[0]), int(nonzero[-1])
        counts = self.counts[first : last + 1]
        peak = int(counts.max())
        width = 1 if peak <= 0xFF else 2 if peak <= 0xFFFF else 4
        header = _HEADER.pack(self.offset + first, width, self.zero)
        return header + counts.astype(_WIDTHS[width]).tobytes()

    @classmethod
    def decode(cls, blob: bytes) -> Histogram:
        """The histogram ``encode`` wrote."""
        offset, width, zero = _HEADER.unpack_from(blob)
        counts = np.frombuffer(blob, dtype=_WIDTHS[width], offset=_HEADER.size)
        return cls(offset, counts.astype(np.int64), zero)

    def quantiles(
        self, minimum: float, maximum: float, qs: Sequence[float] = QUANTILES
    ) -> np.ndarray:
        """Estimated quantiles ``qs`` of the values counted, given their exact min and max."""
        offset, dense, zeros = self.offset, self.counts[None, :], np.array([self.zero])
        return dense_quantiles(offset, dense, zeros, np.array([minimum]), np.array([maximum]), qs)[
            0
        ]


def dense_by_group(
    groups: np.ndarray,
    index: np.ndarray,
    counts: np.ndarray,
    count: int,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sparse (group, bucket index, count) entries as dense rows, each group from its own
    lowest bucket: ``(offsets, dense)``, ``dense[g, j]`` the count of bucket
    ``offsets[g] + j``. Per-group offsets keep the rows narrow when groups (series) have
    values in far apart ranges. ``bounds``: each group's lowest and highest bucket, when the
    caller knows them (else computed from the entries)."""
    groups = np.asarray(groups, dtype=np.int64)
    offsets = np.zeros(count, dtype=np.int64)
    if index.size == 0:
        return offsets, np.zeros((count, 0), dtype=np.int64)
    if bounds is None:
        low = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
        high = np.full(count, np.iinfo(np.int64).min, dtype=np.int64)
        np.minimum.at(low, groups, index)
        np.maximum.at(high, groups, index)
    else:
        low, high = bounds
    present = low <= high
    offsets[present] = low[present]
    span = int((high[present] - low[present]).max()) + 1
    keys = groups * span + (index - offsets[groups])
    dense = np.bincount(keys, weights=counts, minlength=count * span)
    return offsets, dense.astype(np.int64).reshape(count, span)


def merge_groups(
    blobs: Sequence[bytes], groups: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode encoded histograms and add them up by group (``groups[i]`` in ``range(count)``).

    Returns ``(offsets, counts, zeros)``: ``counts[g]`` the dense counts of group ``g`` from
    bucket ``offsets[g]`` on, ``zeros[g]`` its zero-bucket count. Vectorized: no Python loop
    over the histograms.
    """
    rows, index, values, zero_rows = decode_many(blobs)
    groups = np.asarray(groups, dtype=np.int64)
    zeros = np.bincount(groups, weights=zero_rows, minlength=count).astype(np.int64)
    if rows.size == 0:
        return np.zeros(count, dtype=np.int64), np.zeros((count, 0), dtype=np.int64), zeros
    # Entries come row by row, each row's buckets ascending: a row's bounds are its first
    # and last entries, and a group's bounds the extremes of its rows' (a few thousand rows,
    # not the million entries).
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    ends = np.r_[starts[1:], rows.size] - 1
    row_groups = groups[rows[starts]]
    low = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
    high = np.full(count, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(low, row_groups, index[starts])
    np.maximum.at(high, row_groups, index[ends])
    offsets, dense = dense_by_group(groups[rows], index, values, count, (low, high))
    return offsets, dense, zeros


def add_values(
    offsets: np.ndarray,
    counts: np.ndarray,
    zeros: np.ndarray,
    values: np.ndarray,
    groups: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add raw ``values`` (``groups[i]`` the group of ``values[i]``) into grouped dense counts."""
    values = np.asarray(values, dtype=np.float64)
    groups = np.asarray(groups, dtype=np.int64)
    count = counts.shape[0]
    positive = values >= ZERO_BELOW
    zeros = zeros + np.bincount(groups[~positive], minlength=count)
    held_groups, held_columns = np.nonzero(counts)
    held_index = np.broadcast_to(offsets, (count,))[held_groups] + held_columns
    all_groups = np.concatenate([held_groups, groups[positive]])
    all_index = np.concatenate([held_index, bucket_index(values[positive])])
    all_counts = np.concatenate([counts[held_groups, held_columns], np.ones(positive.sum())])
    offsets, dense = dense_by_group(all_groups, all_index, all_counts, count)
    return offsets, dense, zeros


def decode_many(blobs: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every bucket of every encoded histogram at once.

    Returns ``(rows, index, counts, zeros)``: the bucket ``index[k]`` of histogram
    ``rows[k]`` holds ``counts[k]`` values; ``zeros[r]`` is histogram ``r``'s zero count.
    """
    n = len(blobs)
    empty = np.zeros(0, dtype=np.int64)
    if n == 0:
        return empty, empty, empty, empty
    size = _HEADER.size
    lengths = np.fromiter(map(len, blobs), dtype=np.int64, count=n)
    buf = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    starts = np.cumsum(lengths) - lengths
    header = buf[starts[:, None] + np.arange(size)]
    offsets = np.ascontiguousarray(header[:, 0:4]).view("<i4").ravel().astype(np.int64)
    widths = header[:, 4]
    zeros = np.ascontiguousarray(header[:, 5:9]).view("<u4").ravel().astype(np.int64)
    if (widths == 1).all():
        # The common case (counts under 256): the counts are every byte but the headers.
        body = np.ones(buf.size, dtype=bool)
        body[(starts[:, None] + np.arange(size)).ravel()] = False
        counts = buf[body].astype(np.int64)
        sizes = lengths - size
        element = np.arange(counts.size, dtype=np.int64) - np.repeat(
            np.cumsum(sizes) - sizes, sizes
        )
        rows = np.repeat(np.arange(n, dtype=np.int64), sizes)
        return rows, offsets[rows] + element, counts, zeros
    parts = []
    for width in np.unique(widths).tolist():
        chosen = np.flatnonzero(widths == width) if len(parts) or (widths != width).any() else None
        picked = blobs if chosen is None else [blobs[i] for i in chosen.tolist()]
        rows = np.arange(n, dtype=np.int64) if chosen is None else chosen.astype(np.int64)
        lengths = np.fromiter(map(len, picked), dtype=np.int64, count=len(picked))
        sizes = (lengths - size) // width
        counts = np.frombuffer(b"".join([b[size:] for b in picked]), dtype=_WIDTHS[width])
        element = np.arange(counts.size, dtype=np.int64) - np.repeat(
            np.cumsum(sizes) - sizes, sizes
        )
        rows = np.repeat(rows, sizes)
        parts.append((rows, offsets[rows] + element, counts.astype(np.int64)))
    if len(parts) == 1:
        return (*parts[0], zeros)
    rows, index, counts = (np.concatenate(column) for column in zip(*parts, strict=True))
    return rows, index, counts, zeros


def dense_quantiles(
    offset: int | np.ndarray,
    counts: np.ndarray,
    zeros: np.ndarray,
    minimum: np.ndarray,
    maximum: np.ndarray,
    qs: Sequence[float] = QUANTILES,
) -> np.ndarray:
    """Quantiles ``qs`` of each group (row) of dense counts: shape (groups, len(qs)); row
    ``g`` counts buckets from ``offset`` on (one offset, or one per row).

    Rank ``r = q * (n - 1)`` as DESIGN's linear interpolation between order statistics: the
    order statistics ``floor(r)`` and ``ceil(r)`` are estimated by their buckets'
    representatives (the zero bucket by 0) and interpolated, then clamped to the group's
    exact ``[minimum, maximum]``; q = 0 and q = 1 are the exact minimum and maximum. Groups
    without values give NaN.
    """
    groups, span = counts.shape
    row_offsets = np.broadcast_to(np.asarray(offset, dtype=np.int64), (groups,))[:, None]
    qs = np.asarray(qs, dtype=np.float64)
    full = np.concatenate([np.asarray(zeros, dtype=np.int64)[:, None], counts], axis=1)
    cumulative = np.cumsum(full, axis=1)
    n = cumulative[:, -1]
    rank = qs[None, :] * np.maximum(n - 1, 0)[:, None]
    low = np.floor(rank)
    high = np.ceil(rank)
    # Rows made globally ascending so that one searchsorted finds every row's bucket.
    stride = int(n.max()) + 1 if groups else 1
    shift = (np.arange(groups, dtype=np.int64) * stride)[:, None]
    flat = (cumulative + shift).ravel()

    def value_at(order: np.ndarray) -> np.ndarray:
        position = np.searchsorted(flat, (order + shift).ravel(), side="right")
        column = position.reshape(order.shape) - np.arange(groups)[:, None] * (span + 1)
        column = np.clip(column, 0, span)
        values = representative(row_offsets + column - 1)
        return np.where(column == 0, 0.0, values)

    estimate = value_at(low) + (value_at(high) - value_at(low)) * (rank - low)
    minimum = np.asarray(minimum, dtype=np.float64)[:, None]
    maximum = np.asarray(maximum, dtype=np.float64)[:, None]
    estimate = np.clip(estimate, minimum, maximum)
    estimate = np.where(qs[None, :] == 0.0, minimum, estimate)
    estimate = np.where(qs[None, :] == 1.0, maximum, estimate)
    return np.where((n > 0)[:, None], estimate, np.nan)


def exact_quantiles(sorted_values: np.ndarray, qs: Sequence[float] = QUANTILES) -> np.ndarray:
    """Exact quantiles by linear interpolation between order statistics (DESIGN's definition)."""
    v = np.asarray(sorted_values, dtype=np.float64)
    if v.size == 0:
        return np.full(len(qs), np.nan)
    return np.quantile(v, np.asarray(qs), method="linear")


def grouped_exact_quantiles(
    values: np.ndarray, groups: np.ndarray, count: int, qs: Sequence[float] = QUANTILES
) -> np.ndarray:
    """Exact quantiles of the values of each group: shape (count, len(qs)); NaN where empty."""
    values = np.asarray(values, dtype=np.float64)
    groups = np.asarray(groups, dtype=np.int64)
    order = np.lexsort((values, groups))
    ordered = values[order]
    sizes = np.bincount(groups, minlength=count)
    starts = np.cumsum(sizes) - sizes
    rank = np.asarray(qs)[None, :] * np.maximum(sizes - 1, 0)[:, None]
    low = np.floor(rank).astype(np.int64)
    high = np.ceil(rank).astype(np.int64)
    if ordered.size == 0:
        return np.full((count, len(qs)), np.nan)
    at_low = ordered[np.minimum(starts[:, None] + low, ordered.size - 1)]
    at_high = ordered[np.minimum(starts[:, None] + high, ordered.size - 1)]
    result = at_low + (at_high - at_low) * (rank - low)
    return np.where((sizes > 0)[:, None], result, np.nan)


def pack_quantiles(values: np.ndarray) -> bytes:
    """The cached quantiles of a rollup row: float32, little-endian."""
    return np.asarray(values, dtype="<f4").tobytes()


def unpack_quantiles(blobs: Sequence[bytes]) -> np.ndarray:
    """Cached quantiles of many rows: shape (rows, 10)."""
    if not blobs:
        return np.zeros((0, len(QUANTILES)))
    flat = np.frombuffer(b"".join(blobs), dtype="<f4").astype(np.float64)
    return flat.reshape(len(blobs), len(QUANTILES))


def pack_values(values: Sequence[float]) -> bytes:
    """A round's raw values as stored in ``samples.raw``: float64, little-endian."""
    if isinstance(values, np.ndarray):
        return np.asarray(values, dtype="<f8").tobytes()
    # A round's handful of floats: struct is several times quicker than numpy for these.
    return struct.pack(f"<{len(values)}d", *values)


def unpack_values(blobs: Sequence[bytes | None]) -> tuple[np.ndarray, np.ndarray]:
    """The raw values of many rounds: ``(values, rows)``, ``rows[k]`` the round of ``values[k]``."""
    blobs = [b or b"" for b in blobs]
    if not blobs:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    sizes = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs)) // 8
    values = np.frombuffer(b"".join(blobs), dtype="<f8")
    return values, np.repeat(np.arange(len(blobs), dtype=np.int64), sizes)
