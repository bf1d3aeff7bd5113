"""A scripted trace collector for the route tests: each run returns the next path of a script.

The measurements have the traceroute collector's shape (``details.hops`` per TTL with
addresses, sent, received and probes; the ``reached`` metric), so the real engine stores them
and tracks their routes as it does the real collector's. Times come from the script, so a
test controls where the traces fall in a range.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from marshmallow import Schema
from sqlalchemy import select

from netstats import hookimpl
from netstats.collectors import Collector, Measurement, Metric
from netstats.db import db
from netstats.engine.execution import execute_run
from netstats.jobs import create_job, pause_job, run_now
from netstats.models import Destination, Job

NAME = "scripted-trace"


def hop(ttl: int, addresses: Sequence[str], rtt_ms: float = 1.0, lost: int = 0) -> dict:
    """One TTL as the traceroute collector reports it: three probes, ``lost`` of them lost."""
    answering = list(addresses)
    probes = []
    for i in range(3):
        answered = bool(answering) and i >= lost
        probes.append(
            {
                "key": ttl * 10 + i,
                "address": answering[i % len(answering)] if answered else None,
                "rtt_ms": rtt_ms + i * 0.1 if answered else None,
                "reply": "time-exceeded" if answered else None,
            }
        )
    received = sum(1 for p in probes if p["rtt_ms"] is not None)
    return {
        "ttl": ttl,
        "addresses": list(dict.fromkeys(p["address"] for p in probes if p["address"])),
        "sent": 3,
        "received": received,
        "loss_pct": 100.0 * (3 - received) / 3,
        "probes": probes,
    }


def trace(host: str, at: datetime, path: Sequence[str], reached: bool = True, **kw) -> Measurement:
    """A trace of ``path``: one entry per TTL, "a|b" for two addresses, "" for silence."""
    hops = [hop(n, p.split("|") if p else [], **kw) for n, p in enumerate(path, 1)]
    return Measurement(
        collector=NAME,
        target=host,
        address=host,
        started_at=at,
        duration_ms=5.0,
        status="ok",
        error=None,
        metrics={"hop_count": len(path), "reached": 1 if reached else 0},
        details={"flow": {"sport": 61000, "dport": 33434}, "hops": hops},
    )


class Script:
    """What the next runs return: a list of callables ``(target) -> Measurement``."""

    def __init__(self) -> None:
        self.steps: list = []

    def collect(self, targets, params) -> list[Measurement]:
        step = self.steps.pop(0)
        return [step(t) for t in targets]


def register(app) -> Script:
    """Register the scripted collector on ``app``; the script it plays."""
    script = Script()

    class NoParams(Schema):
        pass

    class Plugin:
        @hookimpl
        def netstats_collectors(self):
            metrics = [Metric("hop_count", "hops", "hops"), Metric("reached", "bool", "reached")]
            return [Collector(NAME, "Scripted trace", NoParams, metrics, script.collect)]

    app.extensions["netstats"].register(Plugin(), NAME, "test")
    return script


def make_job(*hosts: str, name: str = "paths", interval_s: int = 60) -> Job:
    """A paused job of the scripted collector measuring one destination per host (default
    one, 10.99.0.1; nothing is ever sent). Destinations are named ``<job>-<n>``."""
    rows = [Destination(name=f"{name}-{n}", host=h) for n, h in enumerate(hosts or ["10.99.0.1"])]
    db.session.add_all(rows)
    db.session.commit()
    job = create_job(
        {
            "name": name,
            "collector": NAME,
            "params": {},
            "destinations": [d.id for d in rows],
            "interval_s": interval_s,
        }
    )
    pause_job(job)  # no planned runs: each test runs it by hand
    db.session.commit()
    return job


def play(app, script: Script, job: Job, start: datetime, paths, step=timedelta(minutes=1)) -> None:
    """Run ``job`` once per path, the traces ``step`` apart from ``start``, through the real
    engine. A path of None is a failed measurement; a dict gives each target host its own."""
    for n, path in enumerate(paths):
        script.steps.append(lambda t, at=start + step * n, path=path: _measured(t, at, path))
    run_job(app, job, len(paths))


def run_job(app, job: Job, times: int) -> None:
    """Run ``job`` ``times`` times, one after the other, as the queue's task does
    (``execute_run`` in an app context of its own)."""
    for _ in range(times):
        db.session.rollback()  # a read begun before the last run's commit could not write
        run_id = run_now(db.session.merge(job)).id
        db.session.commit()
        with app.app_context():
            execute_run(run_id)
    db.session.rollback()


def _measured(target, at: datetime, path) -> Measurement:
    if isinstance(path, dict):
        path = path[target.host]
    if path is None:
        return Measurement.failed(NAME, target.host, at, time.monotonic(), "no route to host")
    return trace(target.host, at, path)


def destination_ids(job: Job) -> list[int]:
    """The job's destinations' ids, in the order ``make_job`` was given their hosts."""
    rows = db.session.scalars(select(Destination).where(Destination.name.like(f"{job.name}-%")))
    return [d.id for d in sorted(rows, key=lambda d: int(d.name.rsplit("-", 1)[1]))]
