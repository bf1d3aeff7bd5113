"""Per-query results to the collector's metrics, status and error. Pure: no sockets, no clock.

- ``query_time_ms`` (a distribution: every such time, in send order) and its mean, min, max
  and median (``query_time_avg_ms`` ...) are over the queries that got a well-formed reply,
  whatever its rcode (NXDOMAIN and SERVFAIL answers are answers, and timed).
- ``rcode``, ``answer_count`` and ``ttl_min`` describe the last well-formed reply: the
  server's most recent state (a caching resolver counts TTLs down between queries).
- ``loss_pct`` is the share of queries without a well-formed reply (timeouts and errors).
- ``connect_time_ms`` (tcp, tls) is the mean time to open a connection, TLS handshake included.
"""

from __future__ import annotations

from collections.abc import Sequence

from netstats.stats import percentile

from .probe import QueryResult, ServerRecord


def metrics(
    results: Sequence[QueryResult], servers: Sequence[ServerRecord]
) -> dict[str, float | int | None]:
    """The metrics of one target's queries (see the module docstring for the definitions)."""
    answered = [r for r in results if r.status == "ok"]
    times = sorted(query_times(results))
    last = answered[-1] if answered else None
    connections = [c for s in servers for c in s.connections]
    return {
        "query_time_avg_ms": sum(times) / len(times) if times else None,
        "query_time_min_ms": times[0] if times else None,
        "query_time_max_ms": times[-1] if times else None,
        "query_time_median_ms": percentile(times, 0.5) if times else None,
        "rcode": last.rcode if last else None,
        "answer_count": last.answer_count if last else None,
        "ttl_min": last.ttl_min if last else None,
        "loss_pct": 100.0 * (len(results) - len(answered)) / len(results) if results else None,
        "connect_time_ms": (
            sum(c.connect_ms + (c.tls_handshake_ms or 0.0) for c in connections) / len(connections)
            if connections
            else None
        ),
    }


def query_times(results: Sequence[QueryResult]) -> list[float]:
    """The query time (ms) of every query that got a well-formed reply, in send order."""
    return [r.query_time_ms for r in results if r.status == "ok" and r.query_time_ms is not None]


def status(results: Sequence[QueryResult]) -> tuple[str, str | None]:
    """``ok`` when any query got a well-formed reply; else ``error`` if any failed with a
    reason other than silence, else ``timeout``. The error is the first such reason."""
    if any(r.status == "ok" for r in results):
        return "ok", None
    for r in results:
        if r.status == "error":
            return "error", f"{r.server}: {r.error}"
    first = results[0] if results else None
    return "timeout", f"{first.server}: {first.error}" if first else "no query was sent"
