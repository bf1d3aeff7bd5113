"""Route history and hop-by-time benchmark: how long a range of traces takes to read.

Fills a throwaway instance (SQLite unless --database-url says otherwise) with 30 days of one
traceroute job's traces to one destination, one a minute (43 200 traces of 12 hops, three
probes each, as the collector stores them), then times ``hop_matrix`` (120 columns) and
``route_history`` over 1 h, 24 h, 7 d and 30 d: as netstats reads them (every n-th trace past
ROUTE_MAX_TRACES), and, where that reads fewer, the naive way (every trace). Prints the
median of three calls, the traces read, the peak Python memory, and the ratio; no assertions.

    .venv/bin/python bench/routes.py [--days 30] [--cap 2000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

HOPS = 12
SILENT_TTL = 4


def details(rng: random.Random, ttl_addresses: list[str]) -> dict:
    hops = []
    for ttl, address in enumerate(ttl_addresses, 1):
        probes = []
        for i in range(3):
            answered = ttl != SILENT_TTL and rng.random() > 0.01
            probes.append(
                {
                    "key": ttl * 100 + i,
                    "address": address if answered else None,
                    "rtt_ms": round(ttl * 1.7 + rng.random(), 3) if answered else None,
                    "reply": ("port-unreachable" if ttl == HOPS else "time-exceeded")
                    if answered
                    else None,
                }
            )
        rtts = [p["rtt_ms"] for p in probes if p["rtt_ms"] is not None]
        hops.append(
            {
                "ttl": ttl,
                "addresses": [address] if rtts else [],
                "sent": 3,
                "received": len(rtts),
                "loss_pct": 100 * (3 - len(rtts)) / 3,
                "rtt_min_ms": min(rtts, default=None),
                "rtt_avg_ms": sum(rtts) / len(rtts) if rtts else None,
                "rtt_max_ms": max(rtts, default=None),
                "probes": probes,
            }
        )
    return {"method": "udp", "flow": {"sport": 61234, "dport": 33434}, "hops": hops}


def fill(app, days: int) -> tuple[int, int, datetime]:
    from netstats.db import db
    from netstats.jobs import create_job
    from netstats.models import Destination, Measurement

    with app.app_context():
        dest = Destination(name="far", host="10.99.0.1")
        db.session.add(dest)
        db.session.commit()
        job = create_job(
            {
                "name": "trace",
                "collector": "traceroute",
                "params": {},
                "destinations": [dest.id],
                "interval_s": 60,
                "starts_at": datetime(2100, 1, 1, tzinfo=UTC),
            }
        )
        db.session.commit()
        rng = random.Random(7)
        path = [f"10.{ttl}.0.1" for ttl in range(1, HOPS)] + ["10.99.0.1"]
        other = [*path[:6], "10.66.0.1", *path[7:]]
        end = datetime.now(UTC).replace(second=0, microsecond=0)
        count = days * 1440
        batch = []
        for n in range(count):
            # A route change every 5 days, back two hours later.
            chosen = other if n % 7200 < 120 and n >= 7200 else path
            batch.append(
                {
                    "job_id": job.id,
                    "destination_id": dest.id,
                    "collector": "traceroute",
                    "target": dest.host,
                    "address": dest.host,
                    "started_at": end - timedelta(minutes=count - n),
                    "duration_ms": 90.0,
                    "status": "ok",
                    "metrics": {"hop_count": HOPS, "reached": 1, "rtt_avg_ms": 20.0},
                    "details": details(rng, chosen),
                }
            )
            if len(batch) == 2000:
                db.session.execute(insert(Measurement), batch)
                batch = []
        if batch:
            db.session.execute(insert(Measurement), batch)
        db.session.commit()
        return job.id, dest.id, end


def timed(call, runs: int = 3) -> tuple[float, int, dict]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - began)
    tracemalloc.start()
    call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(times), peak, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--cap", type=int, default=2000, help="ROUTE_MAX_TRACES")
    parser.add_argument("--database-url", help="default: SQLite in a throwaway instance")
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="netstats-bench-routes-"))
    os.environ["NETSTATS_INSTANCE_PATH"] = str(instance)
    from flask_migrate import upgrade

    from netstats.app import create_app
    from netstats.db import db, init_migrations
    from netstats.queries.routes import hop_matrix, route_history

    url = args.database_url or f"sqlite:///{instance / 'netstats.sqlite'}"
    app = create_app({"DATABASE_URL": url, "ROUTE_MAX_TRACES": args.cap})
    init_migrations(app)
    with app.app_context():
        upgrade()
    began = time.perf_counter()
    job_id, dest_id, end = fill(app, args.days)
    print(
        f"{args.days * 1440} traces of {HOPS} hops written in {time.perf_counter() - began:.1f} s"
    )
    ranges = {"1 h": timedelta(hours=1), "24 h": timedelta(days=1), "7 d": timedelta(days=7)}
    ranges[f"{args.days} d"] = timedelta(days=args.days)
    figures: dict[str, float] = {}
    print(
        f"{'range':<6} {'read as':<8} {'what':<8} {'traces':>7} {'read':>6} {'median s':>9} "
        f"{'peak MiB':>9} {'ratio':>6}"
    )
    with app.app_context():
        for label, span in ranges.items():
            start = end - span
            for what, call in (
                ("hops", lambda s=start: hop_matrix(job_id, dest_id, s, end, 120, 60)),
                ("routes", lambda s=start: route_history(job_id, dest_id, s, end)),
            ):
                measured = {}
                for mode, cap in (("netstats", args.cap), ("naive", 10**9)):
                    if mode == "naive" and span.total_seconds() / 60 <= args.cap:
                        continue  # every trace read either way: the same statement
                    app.config["ROUTE_MAX_TRACES"] = cap
                    seconds, peak, result = timed(call)
                    db.session.rollback()
                    measured[mode] = seconds
                    ratio = measured[mode] / measured["netstats"]
                    print(
                        f"{label:<6} {mode:<8} {what:<8} {result['traces']:>7} "
                        f"{result['traces_read']:>6} {seconds:>9.3f} {peak / 2**20:>9.1f} "
                        f"{ratio:>5.1f}x"
                    )
                    key = f"{what}_{label.replace(' ', '')}_{mode}"
                    figures[f"{key}_s"] = round(seconds, 4)
                    figures[f"{key}_peak_mib"] = round(peak / 2**20, 1)
        app.config["ROUTE_MAX_TRACES"] = args.cap
        db.session.remove()
        db.engine.dispose()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
