"""Analytics page benchmark: a ping job with 100 destinations and 30 days of 1-minute rounds
(5 probes each) and its 43 200 runs; the server time of what the job analytics page costs
over 30 days (goal: within 1 s), beside the naive way.

The page is three requests: the HTML (the summary table from ``summarize_range``), then, in
parallel from the browser, ``GET /api/v1/series/data`` of the compared destinations (8, about
as many points as the chart has pixels: 1100) and ``GET /api/v1/jobs/<id>/status`` (140
buckets). Each is timed through Flask's test client (median of a few calls, after one
warm-up) with its bytes; the page's figure is the HTML plus the slower of the two calls (they
run at once), and the sum of the three beside it. The naive peer: the same statistics by
GROUP BY over the raw samples, and runs by status with a GROUP BY over ``job_runs``.

The history is built with bench/series.py's loader (bulk insert into ``samples``, then the
rollup pass), in a throwaway SQLite instance; PostgreSQL with --pg URL (its own schema).
Browser rendering is not included: bench/pages.py measures pages in the browser.
``--keep DIR`` keeps the SQLite instance it builds; ``--reuse DIR`` measures it again.

    .venv/bin/python bench/analytics_page.py [--dests 100] [--days 30] [--pg URL]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.series import (
    DAY_US,
    MINUTE_US,
    build_app,
    create_destinations,
    load_history,
    log,
    timed,
    to_dt,
)

GOAL_MS = 1000
COMPARED = 8
POINTS = 1100
STATUS_POINTS = 140


def insert_runs(job_id: int, start_us: int, count: int) -> None:
    """One run a minute, as the worker leaves them: mostly succeeded, some failed/skipped."""
    from sqlalchemy import insert

    from netstats.db import db, write_transaction
    from netstats.models import JobRun

    rows = []
    for i in range(count):
        at = to_dt(start_us + i * MINUTE_US)
        status = "failed" if i % 97 == 0 else "skipped" if i % 211 == 0 else "succeeded"
        started = None if status == "skipped" else at + timedelta(milliseconds=5 + i % 40)
        rows.append(
            {
                "job_id": job_id,
                "job_version": 1,
                "scheduled_at": at,
                "status": status,
                "started_at": started,
                "finished_at": None if started is None else started + timedelta(seconds=2),
                "lateness_ms": None if started is None else float(5 + i % 40),
                "attempt": 1,
            }
        )
    with write_transaction():
        db.session.execute(insert(JobRun), rows)


def naive(job_id: int, start: datetime, end: datetime) -> None:
    """The summary's figures and the runs by status by GROUP BY over raw rows."""
    from sqlalchemy import func, select

    from netstats.db import db
    from netstats.engine.storage import timestamp_us
    from netstats.models import JobRun, Series, samples

    lo, hi = timestamp_us(start), timestamp_us(end)
    db.session.execute(
        select(
            Series.destination_id,
            Series.metric,
            func.count(),
            func.sum(samples.c.value),
            func.min(samples.c.value),
            func.max(samples.c.value),
        )
        .join(Series, Series.id == samples.c.series_id)
        .where(Series.job_id == job_id, samples.c.ts_us >= lo, samples.c.ts_us < hi)
        .group_by(Series.destination_id, Series.metric)
    ).all()
    db.session.execute(
        select(JobRun.status, func.count())
        .where(JobRun.job_id == job_id, JobRun.scheduled_at >= start, JobRun.scheduled_at < end)
        .group_by(JobRun.status)
    ).all()


def figures(args, url: str, instance: Path, label: str) -> dict:
    from sqlalchemy import func, select

    from netstats.auth import create_user
    from netstats.db import db
    from netstats.engine.rollups import rollup_pass
    from netstats.engine.storage import timestamp_us
    from netstats.models import Destination, Job, JobRun, User

    log(f"== {label}")
    app = build_app(url, instance)
    out: dict = {"database": label, "destinations": args.dests, "days": args.days}
    with app.app_context():
        job_id = db.session.scalar(select(Job.id).where(Job.name == "bench"))
        if job_id is None:
            now = datetime.now(UTC).replace(second=0, microsecond=0)
            now_us = timestamp_us(now)
            job_id, dests = create_destinations(args.dests)
            history = SimpleNamespace(year_days=args.days, dest_days=args.days)
            loaded = load_history(history, job_id, dests, now_us)
            start_us = (now_us - args.days * DAY_US) // DAY_US * DAY_US
            insert_runs(job_id, start_us, (now_us - start_us) // MINUTE_US)
            begun = time.perf_counter()
            rollup_pass(now + timedelta(minutes=1))
            log(f"  {loaded['samples']:,} samples, rollups in {time.perf_counter() - begun:.0f} s")
        else:  # --reuse: the history of an earlier run
            now = db.session.scalar(select(func.max(JobRun.scheduled_at)))
            dests = list(db.session.scalars(select(Destination.id).order_by(Destination.id)))
            log(f"  reusing {len(dests)} destinations, history up to {now}")
        if db.session.scalar(select(User.id).where(User.name == "bench")) is None:
            create_user("bench", "bench password 1", admin=True)
            db.session.commit()
        db.session.remove()
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    answer = client.post("/login", data={"name": "bench", "password": "bench password 1"})
    assert answer.status_code == 302, answer.status_code
    end = now
    start = end - timedelta(days=args.days)
    span = {"from": start.isoformat(), "to": end.isoformat()}
    page_url = f"/jobs/{job_id}/analytics?" + urlencode(span)
    series_url = "/api/v1/series/data?" + urlencode(
        [("job", job_id), ("metric", "rtt_ms"), *span.items(), ("points", POINTS)]
        + [("destination", d) for d in dests[:COMPARED]]
    )
    status_url = f"/api/v1/jobs/{job_id}/status?" + urlencode({**span, "points": STATUS_POINTS})
    parts = {}
    for name, path in (("page", page_url), ("series", series_url), ("status", status_url)):
        ms, response = timed(lambda path=path: client.get(path), 3)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        parts[name] = {"ms": round(ms, 1), "bytes": len(response.data)}
        log(f"  {name}: {ms:.0f} ms, {len(response.data):,} bytes")
    with app.app_context():
        naive_ms, _ = timed(lambda: naive(job_id, start, end), 1)
    total = parts["page"]["ms"] + max(parts["series"]["ms"], parts["status"]["ms"])
    summed = sum(p["ms"] for p in parts.values())
    out.update(
        parts=parts,
        page_ms=round(total, 1),
        page_sum_ms=round(summed, 1),
        naive_ms=round(naive_ms, 1),
        ratio_naive=round(naive_ms / total, 1),
        goal_ms=GOAL_MS,
        met=total <= GOAL_MS,
    )
    log(
        f"  analytics page, {args.dests} destinations over {args.days} days: {total:.0f} ms "
        f"(HTML + slower API call; all three in a row {summed:.0f} ms), goal <= {GOAL_MS} ms "
        f"{'met' if total <= GOAL_MS else 'MISSED'}; naive GROUP BY {naive_ms:.0f} ms: "
        f"ratio {naive_ms / total:.1f}"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dests", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--pg", help="a PostgreSQL URL (a schema of its own is used)")
    parser.add_argument(
        "--keep", type=Path, help="build the SQLite instance in this folder and keep it"
    )
    parser.add_argument("--reuse", type=Path, help="measure the SQLite instance --keep built")
    args = parser.parse_args()
    results = []
    work = Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    try:
        sqlite = args.reuse or args.keep or work / "sqlite"
        sqlite.mkdir(exist_ok=True)
        results.append(figures(args, f"sqlite:///{sqlite / 'netstats.sqlite'}", sqlite, "sqlite"))
        if args.pg:
            import sqlalchemy as sa

            from netstats.config import normalize_database_url

            base = normalize_database_url(args.pg)
            schema = f"bench_analytics_{uuid.uuid4().hex[:8]}"
            engine = sa.create_engine(base)
            with engine.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            sep = "&" if "?" in base else "?"
            url = f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
            pg = work / "pg"
            pg.mkdir()
            try:
                results.append(figures(args, url, pg, "postgresql"))
            finally:
                with engine.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                engine.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"analytics_page": results}))


if __name__ == "__main__":
    main()
