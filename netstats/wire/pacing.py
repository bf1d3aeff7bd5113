"""When each probe of a round leaves: per-target interval and a global send-rate cap.

Probes go round-robin (every target's probe k before any target's probe k+1, like fping),
each at the later of: its target's previous probe plus ``interval``, and the round's previous
probe plus ``1 / rate``. So no target sees probes closer than ``interval`` and the round never
sends faster than ``rate`` packets per second, however many targets it has.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Slot:
    """Probe ``probe`` of target ``target`` leaves ``offset`` seconds after the round starts."""

    offset: float
    target: int
    probe: int


def schedule(targets: int, count: int, interval: float, rate: float) -> list[Slot]:
    """Send times for ``count`` probes to each of ``targets`` targets, in send order."""
    if targets < 0 or count < 0 or interval < 0 or rate <= 0:
        raise ValueError("targets, count and interval must be >= 0 and rate > 0")
    gap = 1.0 / rate
    last_of_target = [-interval] * targets
    slots: list[Slot] = []
    previous = -gap
    for probe in range(count):
        for target in range(targets):
            at = max(previous + gap, last_of_target[target] + interval, 0.0)
            slots.append(Slot(at, target, probe))
            last_of_target[target] = previous = at
    return slots
