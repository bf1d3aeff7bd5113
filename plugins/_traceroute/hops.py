"""From a finished trace to what netstats stores: per-hop statistics and the trace metrics.

Pure functions. Loss and RTT figures per hop use ``netstats.stats.summarize``, the DESIGN
definitions that ping uses too.
"""

from __future__ import annotations

from typing import Any

from netstats.stats import summarize
from netstats_plugins._traceroute.trace import ProbeRecord, Trace


def hop_details(trace: Trace) -> list[dict[str, Any]]:
    """One entry per TTL probed, from ``first_ttl`` to the trace's last relevant TTL.

    Each has the addresses that answered (in order of first answer; more than one when
    probes of that TTL took different paths or routers answered from different addresses),
    every probe in send order with its RTT, and loss and RTT min/avg/max over the probes. A
    hop where nobody answered has no address and 100 % loss.
    """
    by_ttl: dict[int, list[ProbeRecord]] = {}
    for record in trace.records:
        if record.probe.ttl <= trace.limit:
            by_ttl.setdefault(record.probe.ttl, []).append(record)
    hops = []
    for ttl, records in sorted(by_ttl.items()):
        rtts = [r.rtt_ms for r in records]
        stats = summarize(rtts)
        answered = [r.reply.address for r in records if r.reply is not None]
        hops.append(
            {
                "ttl": ttl,
                "addresses": list(dict.fromkeys(answered)),
                "sent": stats["sent"],
                "received": stats["received"],
                "loss_pct": stats["loss_pct"],
                "rtt_min_ms": stats["rtt_min_ms"],
                "rtt_avg_ms": stats["rtt_avg_ms"],
                "rtt_max_ms": stats["rtt_max_ms"],
                "probes": [_probe(r) for r in records],
            }
        )
    return hops


def trace_metrics(trace: Trace, hops: list[dict[str, Any]]) -> dict[str, float | int | None]:
    """``hop_count``, ``reached`` and ``rtt_avg_ms`` (see the collector's METRICS)."""
    rtts = destination_rtts(trace)
    if rtts:
        return {"hop_count": trace.limit, "reached": 1, "rtt_avg_ms": sum(rtts) / len(rtts)}
    answered = [h["ttl"] for h in hops if h["addresses"]]
    return {"hop_count": max(answered, default=None), "reached": 0, "rtt_avg_ms": None}


def destination_rtts(trace: Trace) -> list[float]:
    """The RTTs (ms) of the destination's own answers at the trace's last TTL, in send order."""
    return [
        r.rtt_ms
        for r in trace.records
        if r.reply is not None
        and r.reply.address == trace.flow.dst
        and r.probe.ttl == trace.limit
        and r.rtt_ms is not None
    ]


def _probe(record: ProbeRecord) -> dict[str, Any]:
    return {
        "key": record.probe.key,
        "address": record.reply.address if record.reply else None,
        "rtt_ms": record.rtt_ms,
        "reply": record.reply.kind if record.reply else None,
    }
