"""The collector contract: what a plugin hands to netstats and what it gets back.

A collector is a stateless function of (targets, parameters) returning one normalized
``Measurement`` per target. It knows nothing of Flask, the database or Huey.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import Schema

STATUSES = ("ok", "error", "timeout")
METRIC_KINDS = ("gauge", "distribution")


@dataclass(frozen=True)
class Metric:
    """A metric a collector emits. The name carries the unit (``rtt_avg_ms``, ``loss_pct``).

    ``kind`` is ``gauge`` (one number per measurement, in ``Measurement.metrics``) or
    ``distribution`` (the raw values behind a measurement, in ``Measurement.distributions``).
    """

    name: str
    unit: str
    description: str
    kind: str = "gauge"

    def __post_init__(self) -> None:
        if self.kind not in METRIC_KINDS:
            raise ValueError(f"metric {self.name!r}: kind must be one of {METRIC_KINDS}")


@dataclass(frozen=True)
class Target:
    """What to measure: the destination's host as configured and its address family preference.

    ``flow_key`` is a stable key the framework gives per job and destination; a collector that
    chooses a flow identifier (a source port, an ICMP identifier) derives it from this key so
    repeated runs take the same path through load balancers. None outside a job (a one-off
    probe): derive it from ``host`` then.
    """

    host: str
    family: str = "any"  # "any" | "ipv4" | "ipv6"
    flow_key: str | None = None


@dataclass
class Measurement:
    """The normalized result of measuring one target once (see DESIGN: Measurement).

    ``distributions`` holds, by metric name, the raw values behind the measurement (ping:
    each received reply's RTT, in send order). A name is either a gauge in ``metrics`` or a
    distribution here, never both.
    """

    collector: str
    target: str
    address: str | None
    started_at: datetime
    duration_ms: float
    status: str  # "ok" | "error" | "timeout"
    error: str | None = None
    metrics: dict[str, float | int | None] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    distributions: dict[str, list[float]] = field(default_factory=dict)

    # Not ``Measurement.error``: that name is the field (the message), whose default a
    # classmethod of the same name would replace.
    @classmethod
    def failed(
        cls,
        collector: str,
        target: str,
        started_at: datetime,
        begun: float,
        message: str,
        *,
        status: str = "error",
        address: str | None = None,
        metrics: Mapping[str, float | int | None] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> Measurement:
        """A measurement that produced no data: ``status`` ``error`` (or ``timeout``).

        ``begun`` is the ``time.monotonic()`` reading taken when measuring began; the
        duration runs from it to now. Pass ``metrics`` with every metric you declare set to
        None if you want the gaps stored explicitly.
        """
        if status not in ("error", "timeout"):
            raise ValueError(f"a failed measurement has status error or timeout, not {status!r}")
        return cls(
            collector=collector,
            target=target,
            address=address,
            started_at=started_at,
            duration_ms=(time.monotonic() - begun) * 1000,
            status=status,
            error=message,
            metrics=dict(metrics or {}),
            details=dict(details or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with ``started_at`` in ISO 8601."""
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        return data


@dataclass(frozen=True)
class Collector:
    """A measurement a plugin provides.

    ``collect(targets, params)`` receives ``Target`` objects and the parameters already
    loaded by ``params`` (a marshmallow Schema class, defaults applied), and returns one
    ``Measurement`` per target, in the order of ``targets``.

    ``headline`` names the distribution that sums the collector up over a range (RTT, query
    time); it defaults to the first distribution metric declared, and is None without one.
    """

    name: str
    title: str
    params: type[Schema]
    metrics: Sequence[Metric]
    collect: Callable[[Sequence[Target], dict[str, Any]], list[Measurement]]
    description: str = ""
    headline: str | None = None

    def __post_init__(self) -> None:
        distributions = [m.name for m in self.metrics if m.kind == "distribution"]
        if self.headline is None:
            object.__setattr__(self, "headline", next(iter(distributions), None))
        elif self.headline not in distributions:
            raise ValueError(
                f"collector {self.name!r}: headline {self.headline!r} is not one of its "
                f"distribution metrics ({', '.join(distributions) or 'none declared'})"
            )


class CollectorError(Exception):
    """A collector cannot run at all (for example: no permission to open its socket)."""


def invalid_distributions(measurement: Measurement) -> str | None:
    """What is wrong with a measurement's ``distributions``, or None when they are usable.

    Each must be a list of finite numbers under a name that is not also a gauge in
    ``metrics``.
    """
    distributions = measurement.distributions
    if not isinstance(distributions, dict):
        return "returned distributions that are not an object"
    for name, values in distributions.items():
        if not isinstance(name, str) or not isinstance(values, list):
            return f"returned distribution {name!r} that is not a list"
        if not all(_finite(v) for v in values):
            return f"returned distribution {name!r} with a value that is not a finite number"
        if isinstance(measurement.metrics, dict) and name in measurement.metrics:
            return f"returned {name!r} both as a metric and as a distribution"
    return None


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
