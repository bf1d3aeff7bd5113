"""Round statistics with the definitions of DESIGN.md, shared by UI, API and exports.

Pure functions: no sockets, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between order statistics (NumPy's default, Excel's PERCENTILE.INC)."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    position = (len(sorted_values) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def ipdv_jitter(rtts: Sequence[float]) -> float | None:
    """Mean absolute difference of consecutive RTTs (IPDV, RFC 3393 style); None under two."""
    if len(rtts) < 2:
        return None
    return sum(abs(b - a) for a, b in pairwise(rtts)) / (len(rtts) - 1)


def rfc3550_jitter(rtts: Sequence[float]) -> float | None:
    """The RFC 3550 smoothed estimator J += (|D| - J) / 16 over consecutive RTTs."""
    if len(rtts) < 2:
        return None
    jitter = 0.0
    for a, b in pairwise(rtts):
        jitter += (abs(b - a) - jitter) / 16
    return jitter


def summarize(rtts: Sequence[float | None], duplicates: int = 0) -> dict[str, float | int | None]:
    """Ping metrics for one round.

    ``rtts`` has one entry per probe sent, in send order: the RTT in milliseconds, or None
    when no reply came. Duplicate replies are counted apart and never as received.
    """
    received = [r for r in rtts if r is not None]
    sent = len(rtts)
    metrics: dict[str, float | int | None] = {
        "sent": sent,
        "received": len(received),
        "duplicates": duplicates,
        "loss_pct": 100.0 * (sent - len(received)) / sent if sent else None,
    }
    if received:
        ordered = sorted(received)
        mean = sum(received) / len(received)
        metrics.update(
            rtt_min_ms=ordered[0],
            rtt_avg_ms=mean,
            rtt_max_ms=ordered[-1],
            rtt_mdev_ms=math.sqrt(sum((r - mean) ** 2 for r in received) / len(received)),
            rtt_median_ms=percentile(ordered, 0.5),
            rtt_p95_ms=percentile(ordered, 0.95),
        )
    else:
        metrics.update(
            rtt_min_ms=None,
            rtt_avg_ms=None,
            rtt_max_ms=None,
            rtt_mdev_ms=None,
            rtt_median_ms=None,
            rtt_p95_ms=None,
        )
    metrics["jitter_ms"] = ipdv_jitter(received)
    metrics["jitter_rfc3550_ms"] = rfc3550_jitter(received)
    return metrics


def hop_table(hops: Sequence[dict]) -> list[dict]:
    """An mtr-style table of one trace (``details["hops"]`` of a traceroute measurement): per
    TTL its addresses, probes sent, loss and the last, mean, best, worst and population
    standard deviation of the RTTs. The CLI prints it and the run page shows it."""
    rows = []
    for hop in hops:
        rtts = [p.get("rtt_ms") for p in hop.get("probes", [])]
        stats = summarize(rtts)
        answered = [r for r in rtts if r is not None]
        rows.append(
            {
                "ttl": hop["ttl"],
                "addresses": list(hop.get("addresses") or []),
                "loss_pct": stats["loss_pct"],
                "sent": stats["sent"],
                "last_ms": answered[-1] if answered else None,
                "avg_ms": stats["rtt_avg_ms"],
                "best_ms": stats["rtt_min_ms"],
                "worst_ms": stats["rtt_max_ms"],
                "stdev_ms": stats["rtt_mdev_ms"],
            }
        )
    return rows
