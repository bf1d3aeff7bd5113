"""Route signatures of traceroutes and the detector that tells route changes from flaps.

Pure logic: no database, no clock. The definitions (docs/routes.md):

- The **signature** of a trace: for TTL 1 up to the last TTL that answered (a trace stops at
  the destination), the set of addresses that answered. A silent TTL is a wildcard.
- Two signatures are **compatible** when they have the same length if both reached the
  destination (a length within one of the other's if either did not), and at every TTL where
  both answered their address sets intersect.
- The **current route** of a (job, destination) is the last stable signature. A trace that
  is incompatible with it starts a **candidate**; a **change** is declared when K consecutive
  traces are compatible with each other and incompatible with the current route (its time is
  the first of the K). A candidate that ends sooner is a **flap**: counted, not a change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

MAX_TTL = 255


@dataclass(frozen=True)
class Signature:
    """A trace's route: ``hops[i]`` holds the addresses that answered at TTL ``i + 1``
    (empty: silent, a wildcard); ``reached`` says whether the destination answered."""

    hops: tuple[frozenset[str], ...]
    reached: bool

    def to_json(self) -> dict[str, Any]:
        """``{"hops": [[address, ...] per TTL from 1], "reached": bool}``, addresses sorted."""
        return {"hops": [sorted(h) for h in self.hops], "reached": self.reached}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Signature:
        return cls(tuple(frozenset(h) for h in data["hops"]), bool(data["reached"]))


@dataclass(frozen=True)
class Trace:
    """One trace as the detector sees it: which measurement, when, and its signature."""

    measurement_id: int
    at: datetime
    signature: Signature

    def to_json(self) -> dict[str, Any]:
        return {
            "measurement_id": self.measurement_id,
            "at": self.at.isoformat(),
            "signature": self.signature.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Trace:
        return cls(
            int(data["measurement_id"]),
            datetime.fromisoformat(data["at"]),
            Signature.from_json(data["signature"]),
        )


@dataclass(frozen=True)
class HopChange:
    """The addresses at one TTL before and after (None: beyond that route's end)."""

    ttl: int
    old: list[str] | None
    new: list[str] | None
    differs: bool

    def to_json(self) -> dict[str, Any]:
        return {"ttl": self.ttl, "old": self.old, "new": self.new, "differs": self.differs}


@dataclass(frozen=True)
class Change:
    """A route change (``kind`` "change") or a flap ("flap"): the traces that made it, the
    route before and the route they showed, and the TTLs from the first to the last that
    differ (the hops between included, so that the changed stretch reads as a path)."""

    kind: str
    traces: tuple[Trace, ...]
    old: Signature
    new: Signature
    first_ttl: int
    last_ttl: int
    hops: tuple[HopChange, ...]

    @property
    def at(self) -> datetime:
        return self.traces[0].at


@dataclass(frozen=True)
class DetectorState:
    """What the detector keeps per (job, destination) between traces."""

    current: Signature | None = None
    since: datetime | None = None
    candidate: tuple[Trace, ...] = ()
    flaps: int = 0


def signature_of(
    hops: Any, reached: bool | None = None, destination: str | None = None
) -> Signature | None:
    """The signature of a trace from its ``details["hops"]`` (``ttl`` and ``addresses`` per
    entry), or None when no TTL answered (such a trace says nothing about the path).

    ``reached`` is the collector's own verdict (the ``reached`` metric); when it is unknown,
    the destination counts as reached if ``destination`` answered at the last TTL. Entries
    that are not well formed are skipped: the details come from a plugin.
    """
    if not isinstance(hops, Sequence) or isinstance(hops, str):
        return None
    by_ttl: dict[int, set[str]] = {}
    for hop in hops:
        if not isinstance(hop, Mapping):
            continue
        ttl, addresses = hop.get("ttl"), hop.get("addresses")
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL:
            continue
        if not isinstance(addresses, Sequence) or isinstance(addresses, str):
            continue
        by_ttl.setdefault(ttl, set()).update(a for a in addresses if isinstance(a, str) and a)
    answered = [ttl for ttl, found in by_ttl.items() if found]
    if not answered:
        return None
    last = max(answered)
    if reached is None:
        reached = destination is not None and destination in by_ttl[last]
    sets = tuple(frozenset(by_ttl.get(ttl, ())) for ttl in range(1, last + 1))
    return Signature(sets, bool(reached))


def compatible(a: Signature, b: Signature) -> bool:
    """Whether two signatures may be the same path (see the module's definition)."""
    if a.reached and b.reached:
        if len(a.hops) != len(b.hops):
            return False
    elif abs(len(a.hops) - len(b.hops)) > 1:
        return False
    return all(not (x and y) or x & y for x, y in zip(a.hops, b.hops, strict=False))


def merged(signatures: Iterable[Signature]) -> Signature:
    """One signature for mutually compatible ones: per TTL the union of the addresses seen
    (equal-cost sets stay whole), the length of a trace that reached the destination if any
    did, else the longest."""
    signatures = list(signatures)
    reached = [s for s in signatures if s.reached]
    length = len(reached[0].hops) if reached else max(len(s.hops) for s in signatures)
    hops = tuple(
        frozenset().union(*(s.hops[i] for s in signatures if i < len(s.hops)))
        for i in range(length)
    )
    return Signature(hops, bool(reached))


def refined(current: Signature, trace: Signature) -> Signature:
    """The current route with its silent TTLs filled in by a compatible trace (and the
    destination, if only the trace reached it). Its address sets stay as they were set, so a
    trace caught mid-change (both old and new address at a hop) cannot widen them."""
    if current.reached:
        length, reached = len(current.hops), True
    elif trace.reached:
        length, reached = len(trace.hops), True
    else:
        length, reached = max(len(current.hops), len(trace.hops)), False
    hops = tuple(
        (current.hops[i] if i < len(current.hops) else frozenset())
        or (trace.hops[i] if i < len(trace.hops) else frozenset())
        for i in range(length)
    )
    return Signature(hops, reached)


def hop_changes(old: Signature, new: Signature) -> tuple[int, int, tuple[HopChange, ...]]:
    """First and last differing TTL of two routes, and every TTL between with both sides.

    A TTL differs when both answered there with disjoint addresses, when only one route
    reaches that far and answered there, or when it is the destination of one route only.
    """

    def at(s: Signature, i: int) -> frozenset[str] | None:
        return s.hops[i] if i < len(s.hops) else None

    def is_end(s: Signature, i: int) -> bool:
        return s.reached and i == len(s.hops) - 1

    differing = []
    for i in range(max(len(old.hops), len(new.hops))):
        a, b = at(old, i), at(new, i)
        if a is None or b is None:
            differs = bool(a or b)
        else:
            differs = (bool(a and b) and not a & b) or (
                is_end(old, i) != is_end(new, i) and bool(a or b)
            )
        if differs:
            differing.append(i)
    if not differing:  # incompatible by length alone: the first TTL past the shorter route
        differing = [min(len(old.hops), len(new.hops))]
    first, last = differing[0], differing[-1]
    hops = tuple(
        HopChange(
            ttl=i + 1,
            old=None if at(old, i) is None else sorted(at(old, i)),
            new=None if at(new, i) is None else sorted(at(new, i)),
            differs=i in differing,
        )
        for i in range(first, last + 1)
    )
    return first + 1, last + 1, hops


def _finding(kind: str, old: Signature, traces: tuple[Trace, ...]) -> Change:
    new = merged(t.signature for t in traces)
    first, last, hops = hop_changes(old, new)
    return Change(kind, traces, old, new, first, last, hops)


def observe(state: DetectorState, trace: Trace, k: int) -> tuple[DetectorState, list[Change]]:
    """Feed one trace (in time order) to the detector; the new state and what it found.

    - The first trace sets the current route.
    - A trace compatible with the current route (and not with the candidate) confirms it
      and ends a pending candidate as a flap.
    - A trace compatible with both the current route and the candidate (a silent hop where
      they differ, say) decides nothing: it neither counts for the candidate nor ends it.
    - A trace incompatible with the current route joins the candidate if it is compatible
      with every trace of it, else ends it as a flap and starts a new one. The K-th trace of
      a candidate makes it the current route: a change at the time of its first trace.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    if state.current is None:
        return DetectorState(current=trace.signature, since=trace.at), []
    fits_current = compatible(trace.signature, state.current)
    fits_candidate = bool(state.candidate) and all(
        compatible(trace.signature, t.signature) for t in state.candidate
    )
    if fits_current and fits_candidate:
        return state, []
    found: list[Change] = []
    if fits_current:
        if state.candidate:
            found.append(_finding("flap", state.current, state.candidate))
        current = refined(state.current, trace.signature)
        return replace(state, current=current, candidate=(), flaps=state.flaps + len(found)), found
    if fits_candidate:
        candidate = (*state.candidate, trace)
    else:
        if state.candidate:
            found.append(_finding("flap", state.current, state.candidate))
        candidate = (trace,)
    flaps = state.flaps + len(found)
    if len(candidate) >= k:
        change = _finding("change", state.current, candidate)
        found.append(change)
        return DetectorState(change.new, change.at, (), flaps), found
    return replace(state, candidate=candidate, flaps=flaps), found


@dataclass
class Run:
    """Consecutive traces of one path (see ``runs``)."""

    signature: Signature
    first: Trace
    last: Trace
    count: int = 1
    route: int = 0  # index into the distinct routes


def runs(traces: Iterable[Trace]) -> list[Run]:
    """Traces (in time order) compressed into runs: a trace extends the current run while it
    is compatible with the run's signature (which fills its silent TTLs from the traces, as
    the detector's current route does), else starts the next run."""
    found: list[Run] = []
    for trace in traces:
        run = found[-1] if found else None
        if run is not None and compatible(trace.signature, run.signature):
            run.signature = refined(run.signature, trace.signature)
            run.last, run.count = trace, run.count + 1
        else:
            found.append(Run(trace.signature, trace, trace))
    return found


def distinct_routes(found: Sequence[Run]) -> list[Signature]:
    """Give each run the index of its route, the first earlier route it is compatible with
    (or a new one); the routes in order of first appearance."""
    routes: list[Signature] = []
    for run in found:
        for index, route in enumerate(routes):
            if compatible(run.signature, route):
                run.route = index
                break
        else:
            run.route = len(routes)
            routes.append(run.signature)
    return routes
