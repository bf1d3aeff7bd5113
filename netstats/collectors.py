"""The collector contract: what a plugin hands to netstats and what it gets back.

A collector is a stateless function of (targets, parameters) returning one normalized
``Measurement`` per target. It knows nothing of Flask, the database or Huey.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import Schema

STATUSES = ("ok", "error", "timeout")


@dataclass(frozen=True)
class Metric:
    """A metric a collector emits. The name carries the unit (``rtt_avg_ms``, ``loss_pct``)."""

    name: str
    unit: str
    description: str


@dataclass(frozen=True)
class Target:
    """What to measure: the destination's host as configured and its address family preference."""

    host: str
    family: str = "any"  # "any" | "ipv4" | "ipv6"


@dataclass
class Measurement:
    """The normalized result of measuring one target once (see DESIGN: Measurement)."""

    collector: str
    target: str
    address: str | None
    started_at: datetime
    duration_ms: float
    status: str  # "ok" | "error" | "timeout"
    error: str | None = None
    metrics: dict[str, float | int | None] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

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
    """

    name: str
    title: str
    params: type[Schema]
    metrics: Sequence[Metric]
    collect: Callable[[Sequence[Target], dict[str, Any]], list[Measurement]]
    description: str = ""


class CollectorError(Exception):
    """A collector cannot run at all (for example: no permission to open its socket)."""
