"""Scheduling benchmark: many ping jobs against 127.0.0.1, one `netstats worker`, figures.

Creates a throwaway instance (SQLite database and SqliteHuey queue unless --database-url /
--huey-url say otherwise), 500 ping jobs at a 10-second interval against 127.0.0.1, starts
one real `netstats worker` process and, over a two-minute window that begins once the
worker is up, compares the runs the schedule asked for with what happened. Prints lateness
(start - scheduled) p50/p99/max, missed runs (planned in the window but not succeeded) and
duplicate runs (a job measured twice for one planned time). No assertions: figures.

    .venv/bin/python bench/schedule.py [--jobs 500] [--interval 10] [--duration 120]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from netstats.stats import percentile

NETSTATS = str(Path(sys.executable).with_name("netstats"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--interval", type=int, default=10, help="seconds between runs of a job")
    parser.add_argument("--duration", type=int, default=120, help="seconds measured")
    parser.add_argument("--threads", type=int, default=32, help="the worker's threads")
    parser.add_argument("--count", type=int, default=3, help="pings per run")
    parser.add_argument("--database-url", help="default: SQLite in the throwaway instance")
    parser.add_argument("--huey-url", help="default: SqliteHuey in the throwaway instance")
    parser.add_argument("--keep", action="store_true", help="keep the instance folder")
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="netstats-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETSTATS_")}
    env["NETSTATS_INSTANCE_PATH"] = str(instance)
    if args.database_url:
        env["NETSTATS_DATABASE_URL"] = args.database_url
    if args.huey_url:
        env["NETSTATS_HUEY_URL"] = args.huey_url
        env["NETSTATS_HUEY_NAME"] = f"bench{os.getpid()}"
    os.environ.update(env)
    worker = None
    try:
        subprocess.run([NETSTATS, "db", "upgrade"], env=env, check=True, capture_output=True)
        app = create_jobs(args)
        log = (instance / "worker.log").open("w")
        worker = subprocess.Popen(
            [NETSTATS, "worker", "--threads", str(args.threads)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until_up(instance / "worker.log")
        report(app, args, worker)
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
        if not args.keep:
            shutil.rmtree(instance, ignore_errors=True)
        else:
            print(f"instance kept in {instance}")


def create_jobs(args):
    from netstats.app import create_app
    from netstats.db import begin_write, db
    from netstats.jobs import create_job
    from netstats.models import Destination

    app = create_app()
    with app.app_context():
        begin_write()
        destination = Destination(name="loopback", host="127.0.0.1")
        db.session.add(destination)
        db.session.flush()
        for i in range(args.jobs):
            create_job(
                {
                    "name": f"ping-{i:04d}",
                    "collector": "ping",
                    "params": {"count": args.count, "interval": 0.2, "timeout": 1.0},
                    "destinations": [destination.id],
                    "interval_s": args.interval,
                }
            )
        db.session.commit()
    print(
        f"{args.jobs} ping jobs every {args.interval} s against 127.0.0.1, {args.count} pings each"
    )
    return app


def wait_until_up(log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while "Huey consumer started" not in log.read_text():
        if time.monotonic() > deadline:
            sys.exit(f"worker did not start:\n{log.read_text()}")
        time.sleep(0.1)


def report(app, args, worker: subprocess.Popen) -> None:
    from netstats.db import db, utcnow
    from netstats.models import Job, JobRun, Measurement
    from netstats.scheduling import runs_between

    # Runs due before the worker was up are late by its start-up time: not measured.
    start = utcnow() + timedelta(seconds=5)
    end = start + timedelta(seconds=args.duration)
    print(f"measuring runs planned in a {args.duration} s window; worker pid {worker.pid}")
    cpu_before = _cpu_seconds(worker.pid)
    time.sleep((end - utcnow()).total_seconds() + 15)  # the window, and its last runs' end
    cpu = _cpu_seconds(worker.pid) - cpu_before

    with app.app_context():
        expected = {
            (job.id, at)
            for job in db.session.scalars(select(Job))
            for at in runs_between(job, start, end)
        }
        rows = db.session.execute(
            select(JobRun.job_id, JobRun.scheduled_at, JobRun.status, JobRun.lateness_ms).where(
                JobRun.scheduled_at >= start, JobRun.scheduled_at < end
            )
        ).all()
        measured = Counter(
            db.session.execute(
                select(JobRun.job_id, JobRun.scheduled_at, func.count(Measurement.id))
                .join(Measurement, Measurement.run_id == JobRun.id)
                .where(JobRun.scheduled_at >= start, JobRun.scheduled_at < end)
                .group_by(JobRun.id, JobRun.job_id, JobRun.scheduled_at)
            ).all()
        )
    succeeded = {(r.job_id, r.scheduled_at) for r in rows if r.status == "succeeded"}
    per_slot = Counter((r.job_id, r.scheduled_at) for r in rows)
    per_slot_measurements = Counter()
    for (job_id, at, n), _ in measured.items():
        per_slot_measurements[(job_id, at)] += n
    lateness = sorted(r.lateness_ms for r in rows if r.lateness_ms is not None)
    statuses = Counter(r.status for r in rows)

    print(f"planned runs in window:  {len(expected)}")
    print(f"runs by status:          {dict(statuses)}")
    print(f"missed runs:             {len(expected - succeeded)}")
    duplicates = sum(n - 1 for n in per_slot.values() if n > 1) + sum(
        n - 1 for n in per_slot_measurements.values() if n > 1
    )
    print(f"duplicate runs:          {duplicates}")
    if lateness:
        p50, p99 = percentile(lateness, 0.50), percentile(lateness, 0.99)
        print(f"lateness ms:             p50 {p50:.1f}  p99 {p99:.1f}  max {lateness[-1]:.1f}")
    print(f"worker CPU:              {cpu:.1f} s over {args.duration + 20} s")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
