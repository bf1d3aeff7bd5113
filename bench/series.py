"""Series benchmark: ingest with and without rollups, reads from the tiers against the naive
GROUP BY over raw samples, storage per tier, and the quantile error of the rollups.

Builds its own data in a throwaway instance: SQLite, and PostgreSQL too when
NETSTATS_TEST_DATABASE_URL is set or --pg URL is given (in a schema of its own, dropped at the
end). One ping destination with a year of 1-minute rounds of 5 probes, and 100 destinations
with 30 days. The history is bulk-loaded straight into ``samples`` (sqlite3 executemany;
PostgreSQL binary COPY into daily partitions created first), then the rollup pass builds the
tiers over it (its first pass, as after a migration). Series loaded: ``rtt_ms`` (the
distribution), ``sent``, ``received`` and ``jitter_ms`` for every destination, and the gauge
``rtt_avg_ms`` (what the naive way groups) for the year's destination and the ten compared.

"Server time" is the read function's time (median of several calls), and separately the
HTTP call through Flask's test client. Prints every figure, those that miss their goal too,
and ends with one JSON line of them all. Asserts nothing.

    .venv/bin/python bench/series.py [--pg URL] [--no-sqlite] [--year-days 365] [--dests 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import finish, log, on_databases

MINUTE_US = 60_000_000
DAY_US = 86_400_000_000
GOALS = {
    "ingest_samples_per_s": (">=", 50_000),
    "rollup_overhead_pct": ("<=", 30),
    "year_1000_points_ms": ("<=", 20),
    "any_range_max_ms": ("<=", 50),
    "ten_destinations_30d_ms": ("<=", 250),
    "summary_100_destinations_30d_ms": ("<=", 200),
    "quantile_error_max_pct": ("<=", 1.1),
}


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    """Median milliseconds of ``repeat`` calls (after one warm-up), and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        begun = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - begun) * 1000)
    return statistics.median(times), result


def to_dt(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(us))


# --- the instance --------------------------------------------------------------------------


def build_app(url: str, instance: Path):
    from flask_migrate import upgrade

    from netstats.app import create_app
    from netstats.db import db, init_migrations

    os.environ["NETSTATS_INSTANCE_PATH"] = str(instance)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            # The history is older than the default retention: keep everything.
            "RETENTION_SAMPLES_DAYS": 0,
            "RETENTION_5M_DAYS": 0,
            "RETENTION_30M_DAYS": 0,
            "RETENTION_1H_DAYS": 0,
        }
    )
    init_migrations(app)
    with app.app_context():
        upgrade()
        db.session.remove()
    return app


def create_destinations(count: int) -> tuple[int, list[int]]:
    from netstats.db import db, write_transaction
    from netstats.models import Destination, Job

    with write_transaction():
        dests = [Destination(name=f"d{i:03d}", host=f"127.0.0.{1 + i % 250}") for i in range(count)]
        job = Job(
            name="bench",
            collector="ping",
            params={},
            interval_s=60,
            enabled=False,
            destinations=dests,
        )
        db.session.add(job)
        db.session.flush()
        return job.id, [d.id for d in dests]


def create_series(job_id: int, destination_id: int, metrics: list[str]) -> dict[str, int]:
    from sqlalchemy import insert, select

    from netstats.db import db, write_transaction
    from netstats.models import Series

    with write_transaction():
        db.session.execute(
            insert(Series),
            [
                {
                    "job_id": job_id,
                    "destination_id": destination_id,
                    "metric": m,
                    "kind": "distribution" if m == "rtt_ms" else "gauge",
                }
                for m in metrics
            ],
        )
    rows = db.session.execute(
        select(Series.metric, Series.id).where(
            Series.job_id == job_id, Series.destination_id == destination_id
        )
    )
    found = dict(rows.all())
    db.session.rollback()
    return found


def rounds(seed: int, start_us: int, count: int):
    """``count`` one-minute rounds of 5 probes: times, RTT matrix (NaN = lost)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.3, 180)
    ts = start_us + np.arange(count, dtype=np.int64) * MINUTE_US + rng.integers(0, 2_000_000, count)
    rtts = rng.lognormal(np.log(base), 0.08, (count, 5))
    spikes = rng.random((count, 5)) < 0.01
    rtts[spikes] *= rng.uniform(1.5, 10, spikes.sum())
    rtts[rng.random((count, 5)) < 0.01] = np.nan
    return ts, rtts


def sample_rows(series: dict[str, int], ts, rtts, first_mid: int):
    """The sample rows of the rounds, as tuples in the table's column order."""
    received = np.sum(~np.isnan(rtts), axis=1)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rounds with every probe lost
        means = np.nanmean(rtts, axis=1)
        diffs = np.abs(np.diff(rtts, axis=1))
        jitter = np.nanmean(diffs, axis=1)
    status = np.where(received > 0, 0, 2)
    out = []
    for i in range(len(ts)):
        t, mid, st = int(ts[i]), first_mid + i, int(status[i])
        row = rtts[i]
        values = row[~np.isnan(row)]
        mean = None if np.isnan(means[i]) else float(means[i])
        out.append((series["rtt_ms"], t, mid, mean, st, values.astype("<f8").tobytes()))
        out.append((series["sent"], t, mid, 5.0, st, None))
        out.append((series["received"], t, mid, float(received[i]), st, None))
        j = None if np.isnan(jitter[i]) else float(jitter[i])
        out.append((series["jitter_ms"], t, mid, j, st, None))
        if "rtt_avg_ms" in series:
            out.append((series["rtt_avg_ms"], t, mid, mean, st, None))
    return out


def bulk_insert(rows: list[tuple]) -> None:
    from netstats.db import db

    engine = db.engine
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "postgresql":
            with raw.cursor() as cur:
                columns = "series_id, ts_us, measurement_id, value, status, raw"
                sql = f"COPY samples ({columns}) FROM STDIN (FORMAT BINARY)"
                with cur.copy(sql) as copy:
                    copy.set_types(["int4", "int8", "int8", "float8", "int2", "bytea"])
                    for row in rows:
                        copy.write_row(row)
        else:
            cur = raw.cursor()
            cur.execute("BEGIN")
            cur.executemany("INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?)", rows)
        raw.commit()
    finally:
        raw.close()


def load_history(args, job_id: int, dests: list[int], now_us: int) -> dict:
    """Bulk-load the history; returns the series ids by destination and the time it took."""
    from netstats.db import db, write_transaction
    from netstats.engine.partitions import ensure_partition

    year_start = (now_us - args.year_days * DAY_US) // DAY_US * DAY_US
    month_start = (now_us - args.dest_days * DAY_US) // DAY_US * DAY_US
    if db.engine.dialect.name == "postgresql":
        begun = time.perf_counter()
        with write_transaction():
            conn = db.session.connection()
            for day in range(args.year_days + 2):
                ensure_partition(conn, "samples", to_dt(year_start + day * DAY_US))
            for month in range(args.year_days // 28 + 2):
                ensure_partition(conn, "rollups_5m", to_dt(year_start + month * 28 * DAY_US))
        log(f"  partitions created in {time.perf_counter() - begun:.1f} s")
    series = {}
    total = 0
    mid = 1
    begun = time.perf_counter()
    for i, d in enumerate(dests):
        metrics = ["rtt_ms", "sent", "received", "jitter_ms"]
        if i <= 10:
            metrics.append("rtt_avg_ms")
        series[d] = create_series(job_id, d, metrics)
        if i == 0:
            start, count = year_start, (now_us - year_start) // MINUTE_US
        else:
            start, count = month_start, (now_us - month_start) // MINUTE_US
        ts, rtts = rounds(i, start, int(count))
        rows = sample_rows(series[d], ts, rtts, mid)
        mid += len(ts)
        bulk_insert(rows)
        total += len(rows)
    seconds = time.perf_counter() - begun
    log(f"  loaded {total:,} samples in {seconds:.1f} s ({total / seconds:,.0f}/s)")
    return {"series": series, "samples": total, "load_s": seconds}


# --- the figures -------------------------------------------------------------------------------


def ingest(job_id: int, dests: list[int], runs: int, with_rollups: bool, start: datetime) -> dict:
    """Runs through write_outcome (real Measurements, every ping metric), with the rollup
    pass over them (each 5 simulated minutes) or without; samples/s of the whole."""
    from netstats.collectors import Measurement
    from netstats.db import db, write_transaction
    from netstats.engine.rollups import rollup_pass
    from netstats.engine.storage import Outcome, RunRef, write_outcome
    from netstats.models import JobRun
    from netstats.stats import summarize

    rng = np.random.default_rng(7 if with_rollups else 8)
    refs = []
    with write_transaction():
        for r in range(runs):
            run = JobRun(
                job_id=job_id,
                job_version=1,
                scheduled_at=start + timedelta(minutes=r),
                status="running",
                worker="bench",
                attempt=1,
            )
            db.session.add(run)
            db.session.flush()
            refs.append(RunRef(run.id, job_id, run.scheduled_at))
    outcomes = []
    for r in range(runs):
        moment = start + timedelta(minutes=r)
        measurements = []
        for d in dests:
            rtts = [float(v) if v > 0.2 else None for v in rng.lognormal(0, 0.3, 5)]
            received = [v for v in rtts if v is not None]
            measurements.append(
                (
                    d,
                    Measurement(
                        collector="ping",
                        target="127.0.0.1",
                        address="127.0.0.1",
                        started_at=moment,
                        duration_ms=5.0,
                        status="ok" if received else "timeout",
                        metrics=summarize(rtts),
                        distributions={"rtt_ms": received},
                    ),
                )
            )
        outcomes.append(Outcome("succeeded", measurements=measurements))
    samples = runs * len(dests) * 13
    if with_rollups:
        # The watermark starts at this phase: its passes then cover its own runs only.
        rollup_pass(start - timedelta(minutes=1))
    begun = time.perf_counter()
    rollup_s = 0.0
    for r, (ref, outcome) in enumerate(zip(refs, outcomes, strict=True)):
        write_outcome(ref, "bench", outcome, ref.scheduled_at + timedelta(seconds=2))
        if with_rollups and (r + 1) % 5 == 0:
            t = time.perf_counter()
            rollup_pass(ref.scheduled_at + timedelta(minutes=2, seconds=30))
            rollup_s += time.perf_counter() - t
    seconds = time.perf_counter() - begun
    return {
        "samples": samples,
        "seconds": seconds,
        "per_s": samples / seconds,
        "rollup_s": rollup_s,
    }


def naive_group_by(series_ids: list[int], start_us: int, end_us: int, step_us: int) -> int:
    """The naive way: GROUP BY over the raw samples of the gauge series, points to Python."""
    from sqlalchemy import text

    from netstats.db import db

    ids = ", ".join(str(int(i)) for i in series_ids)
    sql = text(
        f"SELECT series_id, (ts_us - :start) / :step AS b, count(*), min(value), max(value), "  # noqa: S608
        f"avg(value) FROM samples WHERE series_id IN ({ids}) AND ts_us >= :start AND ts_us < :end "
        "GROUP BY series_id, b ORDER BY series_id, b"
    )
    rows = db.session.execute(sql, {"start": start_us, "end": end_us, "step": step_us}).all()
    db.session.rollback()
    return len(rows)


def storage() -> dict[str, int]:
    """Bytes on disk per table (indexes included; PostgreSQL: partitions included)."""
    from sqlalchemy import text

    from netstats.db import db
    from netstats.engine.rollups import TIERS

    tables = ["samples", *(t.table.name for t in TIERS)]
    if db.engine.dialect.name == "postgresql":
        sizes = {}
        for t in tables:
            # A partitioned table is the sum of its partitions; a plain one is itself.
            sizes[t] = db.session.scalar(
                text(
                    "SELECT COALESCE((SELECT sum(pg_total_relation_size(relid)) FROM "
                    "pg_partition_tree(:t) WHERE isleaf), pg_total_relation_size(:t))"
                ),
                {"t": t},
            )
        return {k: int(v or 0) for k, v in sizes.items()}
    rows = db.session.execute(text("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")).all()
    found = dict(rows)
    return {t: int(found.get(t, 0)) for t in tables}


def run_figures(args, url: str, instance: Path, label: str) -> dict:
    from sqlalchemy import func, select

    from netstats.auth import create_token, create_user
    from netstats.db import db
    from netstats.engine.rollups import TIERS, rollup_pass
    from netstats.engine.storage import timestamp_us
    from netstats.histogram import QUANTILE_NAMES, unpack_values
    from netstats.models import Job, Series, samples
    from netstats.queries.series import series_data
    from netstats.queries.summary import summarize_range

    log(f"== {label}")
    app = build_app(url, instance)
    figures: dict = {"database": label}
    with app.app_context():
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        now_us = timestamp_us(now)
        # The ingest phase writes rounds of ``--ingest-dests`` destinations: those beyond the
        # history's are created with it, without any history.
        job_id, every = create_destinations(max(args.dests, args.ingest_dests) + 1)
        dests = every[: args.dests + 1]
        loaded = load_history(args, job_id, dests, now_us)
        figures["history_samples"] = loaded["samples"]
        figures["history_load_per_s"] = round(loaded["samples"] / loaded["load_s"])
        begun = time.perf_counter()
        report = rollup_pass(now + timedelta(minutes=1))
        seconds = time.perf_counter() - begun
        log(f"  rollup pass over the history: {report.rows:,} rows in {seconds:.1f} s")
        figures["history_rollup_s"] = round(seconds, 1)
        series = loaded["series"]
        year = series[dests[0]]
        others = dests[1:]

        # Ingest through the real write path: 100 destinations x 13 series per run.
        ingest_dests = every[1 : args.ingest_dests + 1]
        start = now + timedelta(days=1)
        # A first round of each warms the caches (SQLAlchemy's compiled statements, pages).
        ingest(job_id, ingest_dests, 10, False, start)
        ingest(job_id, ingest_dests, 10, True, start + timedelta(hours=1))
        off = ingest(job_id, ingest_dests, args.ingest_runs, False, start + timedelta(hours=2))
        on = ingest(job_id, ingest_dests, args.ingest_runs, True, start + timedelta(hours=3))
        overhead = 100 * (on["seconds"] / off["seconds"] - 1)
        figures.update(
            ingest_samples_per_s=round(on["per_s"]),
            ingest_samples_per_s_rollups_off=round(off["per_s"]),
            rollup_overhead_pct=round(overhead, 1),
        )
        log(
            f"  ingest {on['samples']:,} samples: rollups off {off['per_s']:,.0f}/s, on "
            f"{on['per_s']:,.0f}/s (passes {on['rollup_s']:.2f} s): rollups add {overhead:.1f} %"
        )

        # One series, one year, 1000 points.
        y_start, y_end = to_dt(now_us - 365 * DAY_US), now
        ms, answer = timed(lambda: series_data([year["rtt_ms"]], y_start, y_end, 1000))
        step = answer["step_ms"] * 1000
        naive_ms, _ = timed(
            lambda: naive_group_by([year["rtt_avg_ms"]], timestamp_us(y_start), now_us, step), 3
        )
        figures.update(year_1000_points_ms=round(ms, 2), year_naive_ms=round(naive_ms, 1))
        log(
            f"  one series, one year, 1000 points: {ms:.1f} ms ({answer['resolution']} x "
            f"{answer['step_ms'] // 3_600_000} h, {len(answer['series'][0]['t'])} buckets); "
            f"naive GROUP BY {naive_ms:.0f} ms: ratio {naive_ms / ms:.1f}"
        )
        with app.test_request_context():
            user = create_user("bench", "bench bench bench", admin=True)
            _, secret = create_token(user, scope="read")
            db.session.commit()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {secret}"}
        y_query = (
            f"/api/v1/series/data?job={job_id}&destination={dests[0]}&metric=rtt_ms"
            f"&from={quote(y_start.isoformat())}&to={quote(y_end.isoformat())}&points=1000"
        )
        http_ms, response = timed(lambda: client.get(y_query, headers=headers))
        figures["year_1000_points_http_ms"] = round(http_ms, 1)
        figures["year_1000_points_json_kb"] = round(len(response.data) / 1024, 1)
        log(f"  same through HTTP: {http_ms:.1f} ms, {len(response.data) / 1024:.0f} KiB of JSON")

        # Any range up to ten years.
        ranges = {}
        for days in (1 / 24, 1, 7, 30, 90, 365, 3650):
            begin = to_dt(now_us - int(days * DAY_US))
            ms, answer = timed(lambda b=begin: series_data([year["rtt_ms"]], b, now, 1000))
            ranges[f"{days:g}d"] = (round(ms, 2), answer["resolution"], answer["step_ms"])
        # The same with the next coarser tier forced (fewer buckets, far fewer rows read).
        coarser = {}
        for days, resolution in ((30, "1h"), (365, "1d")):
            begin = to_dt(now_us - days * DAY_US)
            ms, answer = timed(
                lambda b=begin, r=resolution: series_data([year["rtt_ms"]], b, now, 1000, r)
            )
            coarser[f"{days}d_{resolution}"] = round(ms, 2)
        figures["coarser_tier_ms"] = coarser
        log("  forced coarser tier: " + ", ".join(f"{k} {v:.1f} ms" for k, v in coarser.items()))
        figures["ranges_ms"] = {k: v[0] for k, v in ranges.items()}
        figures["any_range_max_ms"] = max(v[0] for v in ranges.values())
        log("  ranges: " + ", ".join(f"{k} {v[0]:.1f} ms ({v[1]})" for k, v in ranges.items()))

        # Ten destinations compared over 30 days.
        ten = [series[d]["rtt_ms"] for d in others[:10]]
        m_start = to_dt(now_us - 30 * DAY_US)
        ms, answer = timed(lambda: series_data(ten, m_start, now, 1000))
        step = answer["step_ms"] * 1000
        naive_ms, _ = timed(
            lambda: naive_group_by(
                [series[d]["rtt_avg_ms"] for d in others[:10]], timestamp_us(m_start), now_us, step
            ),
            3,
        )
        query = "&".join(f"destination={d}" for d in others[:10])
        http_ms, _ = timed(
            lambda: client.get(
                f"/api/v1/series/data?job={job_id}&{query}&metric=rtt_ms"
                f"&from={quote(m_start.isoformat())}&to={quote(now.isoformat())}",
                headers=headers,
            ),
            3,
        )
        ten_1h_ms, _ = timed(lambda: series_data(ten, m_start, now, 1000, "1h"), 3)
        figures["ten_destinations_30d_1h_ms"] = round(ten_1h_ms, 1)
        log(f"  ten destinations, 30 days, 1h tier forced (720 buckets): {ten_1h_ms:.1f} ms")
        figures.update(
            ten_destinations_30d_ms=round(ms, 1),
            ten_destinations_30d_naive_ms=round(naive_ms, 1),
            ten_destinations_30d_http_ms=round(http_ms, 1),
        )
        log(
            f"  ten destinations, 30 days: {ms:.1f} ms ({answer['resolution']}), HTTP "
            f"{http_ms:.1f} ms; naive {naive_ms:.0f} ms: ratio {naive_ms / ms:.1f}"
        )

        # The summary of 100 destinations over 30 days.
        job = db.session.get(Job, job_id)
        hundred = others[: args.dests]
        ms, rows = timed(lambda: summarize_range(job, m_start, now, hundred), 3)
        sids = [series[d][m] for d in hundred for m in ("sent", "received", "jitter_ms")]

        def naive_summary():
            c = samples.c
            stmt = (
                select(
                    c.series_id,
                    func.count(),
                    func.sum(c.value),
                    func.min(c.value),
                    func.max(c.value),
                )
                .where(c.series_id.in_(sids), c.ts_us >= timestamp_us(m_start), c.ts_us < now_us)
                .group_by(c.series_id)
            )
            found = db.session.execute(stmt).all()
            db.session.rollback()
            return found

        naive_ms, _ = timed(naive_summary, 3)
        http_ms, _ = timed(
            lambda: client.get(
                f"/api/v1/jobs/{job_id}/summary?from={quote(m_start.isoformat())}", headers=headers
            ),
            3,
        )
        figures.update(
            summary_100_destinations_30d_ms=round(ms, 1),
            summary_100_destinations_30d_naive_ms=round(naive_ms, 1),
            summary_100_destinations_30d_http_ms=round(http_ms, 1),
        )
        log(
            f"  summary, {len(rows)} destinations, 30 days: {ms:.1f} ms, HTTP (all "
            f"{len(dests)}) {http_ms:.1f} ms; naive GROUP BY of sums (no quantiles) "
            f"{naive_ms:.0f} ms: ratio {naive_ms / ms:.1f}"
        )

        # Storage.
        db.session.rollback()
        if db.engine.dialect.name == "postgresql":
            db.session.connection().exec_driver_sql("ANALYZE")
        sizes = storage()
        series_count = db.session.scalar(select(func.count()).select_from(Series))
        days_of = {
            "samples": db.session.scalar(select(func.count()).select_from(samples)) / 1440,
        }
        per_day = {}
        row_counts = {}
        for tier in TIERS:
            row_counts[tier.name] = db.session.scalar(select(func.count()).select_from(tier.table))
        db.session.rollback()
        # Series-days: rows / rows per series-day.
        series_days = {"samples": days_of["samples"]}
        for tier in TIERS:
            series_days[tier.table.name] = row_counts[tier.name] / (DAY_US // tier.step_us)
        for name, size in sizes.items():
            per_day[name] = size / series_days[name] if series_days[name] else 0
        figures["bytes_per_series_day"] = {k: round(v) for k, v in per_day.items()}
        retention = {"samples": 35, "rollups_5m": 100, "rollups_30m": 365}
        retention.update({t: 365 for t in ("rollups_1h", "rollups_6h", "rollups_1d")})
        per_destination_year = sum(per_day[k] * retention[k] for k in per_day) * 4
        figures["bytes_per_destination_year_all_tiers"] = round(per_destination_year)
        log(
            "  storage per series-day: "
            + ", ".join(f"{k} {v / 1024:.2f} KiB" for k, v in per_day.items())
            + f" ({series_count} series); per destination-year, 4 series, default retention "
            f"(35 d raw, 100 d 5 min, 30 min, 1 h, 6 h and 1 d the whole year): "
            f"{per_destination_year / 1024 / 1024:.2f} MiB"
        )

        # Quantile error of the rollups against exact quantiles of the same raw values.
        worst = 0.0
        rng = np.random.default_rng(1)
        for _ in range(args.quantile_checks):
            day = int(rng.integers(2, args.year_days - 2))
            d_start = to_dt((now_us // DAY_US - day) * DAY_US)
            d_end = d_start + timedelta(days=1)
            answer = series_data([year["rtt_ms"]], d_start, d_end, points=4, resolution="auto")
            got = answer["series"][0]
            step = answer["step_ms"] * 1000
            raw = db.session.execute(
                select(samples.c.ts_us, samples.c.raw).where(
                    samples.c.series_id == year["rtt_ms"],
                    samples.c.ts_us >= timestamp_us(d_start),
                    samples.c.ts_us < timestamp_us(d_end),
                )
            ).all()
            db.session.rollback()
            values, rows_of = unpack_values([r.raw for r in raw])
            bucket = ((np.array([r.ts_us for r in raw]) - timestamp_us(d_start)) // step)[rows_of]
            for b in range(len(got["t"])):
                chosen = np.sort(values[bucket == b])
                for j, name in enumerate(QUANTILE_NAMES[1:-1], start=1):
                    q = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99)[j - 1]
                    exact = float(np.quantile(chosen, q))
                    worst = max(worst, abs(got[name][b] - exact) / exact)
        figures["quantile_error_max_pct"] = round(worst * 100, 3)
        log(
            f"  quantile error of the rollups (p5..p99 of {args.quantile_checks} days x 4 "
            f"buckets of 6 h, against exact quantiles of the same values): max {worst * 100:.3f} %"
        )
        db.session.remove()
        db.engine.dispose()
    misses = [
        name
        for name, (op, goal) in GOALS.items()
        if name in figures and not (figures[name] >= goal if op == ">=" else figures[name] <= goal)
    ]
    figures["misses"] = misses
    for name in misses:
        op, goal = GOALS[name]
        log(f"  MISSED: {name} = {figures[name]} (goal {op} {goal})")
    return figures


def main() -> None:
    import signal

    # SIGTERM ends the run through the finally blocks (the PostgreSQL schema is dropped).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pg", default=os.environ.get("NETSTATS_TEST_DATABASE_URL"), help="PostgreSQL URL"
    )
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--year-days", type=int, default=365)
    parser.add_argument("--dests", type=int, default=100)
    parser.add_argument("--dest-days", type=int, default=30)
    parser.add_argument("--ingest-runs", type=int, default=30)
    parser.add_argument(
        "--ingest-dests",
        type=int,
        default=100,
        help="destinations per ingested run (those beyond --dests have no history)",
    )
    parser.add_argument("--quantile-checks", type=int, default=20)
    args = parser.parse_args()
    finish("series", GOALS, on_databases(args, "series", run_figures))


if __name__ == "__main__":
    main()
