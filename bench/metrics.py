"""/metrics benchmark: one scrape of 500 ping destinations, and what keeping the counters costs
the runs that write them.

Builds a throwaway instance: SQLite, and PostgreSQL too when NETSTATS_TEST_DATABASE_URL is
set or --pg URL is given (in a schema of its own, dropped at the end). A ping job over 500
destinations (127.0.0.x, nothing is sent: the rounds are made up and stored through the real
``write_outcome``), some runs of it, and a few runs ended by every other final state.

Prints: ``GET /metrics`` through Flask's test client with a token and the cache off (median
of several calls, wall and CPU time; goal <= 200 ms), the same answer from the cache, its
size in samples and bytes; and the time of ``write_outcome`` for one run of 500 rounds with
and without the totals update (``netstats.engine.totals``), the ratio being what the
counters cost ingest.
Ends with one JSON line of the figures. Asserts nothing.

    .venv/bin/python bench/metrics.py [--pg URL] [--no-sqlite] [--dests 500] [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import finish, log, on_databases

GOALS = {"metrics_500_destinations_ms": ("<=", 200)}


def timed(fn, repeat: int = 9) -> tuple[float, float, object]:
    """Median wall and CPU milliseconds of ``repeat`` calls (after one warm-up), and the last
    result. On a shared machine the CPU time is closer to what an idle one would take."""
    result = fn()
    times, cpu = [], []
    for _ in range(repeat):
        begun, begun_cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append((time.perf_counter() - begun) * 1000)
        cpu.append((time.process_time() - begun_cpu) * 1000)
    return statistics.median(times), statistics.median(cpu), result


def build_app(url: str, instance: Path):
    from flask_migrate import upgrade

    from netstats.app import create_app
    from netstats.db import db, init_migrations

    os.environ["NETSTATS_INSTANCE_PATH"] = str(instance)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "METRICS_CACHE_S": 0})
    init_migrations(app)
    with app.app_context():
        upgrade()
        db.session.remove()
    return app


def make_round(moment, rng: random.Random):
    from netstats.collectors import Measurement
    from netstats.stats import summarize

    rtts = [rng.uniform(0.5, 30.0) if rng.random() > 0.02 else None for _ in range(5)]
    received = [r for r in rtts if r is not None]
    return Measurement(
        collector="ping",
        target="127.0.0.1",
        address="127.0.0.1",
        started_at=moment,
        duration_ms=40.0,
        status="ok" if received else "timeout",
        error=None if received else "no reply",
        metrics=summarize(rtts),
        distributions={"rtt_ms": received},
    )


def write_run(job_id: int, dests: list[int], moment, rng: random.Random) -> float:
    """One run of the job over every destination, through ``write_outcome``; its ms."""
    from netstats.db import db, write_transaction
    from netstats.engine.storage import Outcome, RunRef, write_outcome
    from netstats.models import JobRun

    db.session.rollback()
    with write_transaction():
        run = JobRun(
            job_id=job_id,
            job_version=1,
            scheduled_at=moment,
            status="running",
            worker="bench",
            started_at=moment,
            attempt=1,
        )
        db.session.add(run)
        db.session.flush()
        ref = RunRef(run.id, job_id, moment)
    measured = [(d, make_round(moment, rng)) for d in dests]
    begun = time.perf_counter()
    write_outcome(ref, "bench", Outcome("succeeded", measurements=measured), moment)
    return (time.perf_counter() - begun) * 1000


def run_figures(args, url: str, instance: Path, label: str) -> dict:
    from netstats.auth import create_token, create_user
    from netstats.db import db, utcnow, write_transaction
    from netstats.engine import storage
    from netstats.engine.totals import count_run
    from netstats.models import Destination, Job

    log(f"--- {label}")
    app = build_app(url, instance)
    rng = random.Random(12)
    with app.app_context():
        with write_transaction():
            dests = [
                Destination(name=f"d{i:03d}", host=f"127.0.0.{1 + i % 250}")
                for i in range(args.dests)
            ]
            job = Job(
                name="bench",
                collector="ping",
                params={},
                interval_s=60,
                enabled=False,
                destinations=dests,
            )
            db.session.add(job)
            user = create_user("bench", "long enough pw", admin=False)
            _, token = create_token(user)
            db.session.flush()
            job_id, dest_ids = job.id, [d.id for d in dests]
        start = utcnow() - timedelta(hours=1)
        with_totals = [
            write_run(job_id, dest_ids, start + timedelta(minutes=i), rng) for i in range(args.runs)
        ]
        # The same runs without the totals update: what the counters cost a run.
        saved = storage.totals.count_rounds
        storage.totals.count_rounds = lambda *a, **k: None
        try:
            without = [
                write_run(job_id, dest_ids, start + timedelta(minutes=args.runs + i), rng)
                for i in range(args.runs)
            ]
        finally:
            storage.totals.count_rounds = saved
        with write_transaction():
            for status in ("failed", "timed_out", "skipped", "abandoned"):
                count_run(job_id, status, utcnow())
        db.session.remove()

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def scrape():
        answer = client.get("/metrics", headers=headers)
        assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
        return answer.get_data()

    app.config["METRICS_CACHE_S"] = 0
    scrape_ms, scrape_cpu_ms, body = timed(scrape)
    app.config["METRICS_CACHE_S"] = 3600
    cached_ms, _, _ = timed(scrape)
    lines = [line for line in body.decode().splitlines() if line and not line.startswith("#")]
    figures = {
        "database": label,
        "destinations": args.dests,
        "metrics_500_destinations_ms": round(scrape_ms, 1),
        "metrics_500_destinations_cpu_ms": round(scrape_cpu_ms, 1),
        "metrics_cached_ms": round(cached_ms, 2),
        "samples": len(lines),
        "bytes": len(body),
        "write_run_with_totals_ms": round(statistics.median(with_totals), 1),
        "write_run_without_totals_ms": round(statistics.median(without), 1),
    }
    figures["totals_cost_ratio"] = round(
        figures["write_run_with_totals_ms"] / figures["write_run_without_totals_ms"], 3
    )
    goal = GOALS["metrics_500_destinations_ms"][1]
    log(
        f"GET /metrics, {args.dests} destinations, cache off: {scrape_ms:.1f} ms "
        f"(goal <= {goal} ms, ratio {scrape_ms / goal:.2f}; CPU {scrape_cpu_ms:.1f} ms); "
        f"from the cache {cached_ms:.2f} ms; "
        f"{len(lines)} samples, {len(body)} bytes"
    )
    log(
        f"write_outcome of one run of {args.dests} rounds: "
        f"{figures['write_run_with_totals_ms']} ms "
        f"with the totals, {figures['write_run_without_totals_ms']} ms without "
        f"(x{figures['totals_cost_ratio']})"
    )
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return figures


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pg", default=os.environ.get("NETSTATS_TEST_DATABASE_URL"), help="PostgreSQL URL"
    )
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--dests", type=int, default=500)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    finish("metrics", GOALS, on_databases(args, "metrics", run_figures))


if __name__ == "__main__":
    main()
