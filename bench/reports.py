"""Reports benchmark: XLSX and CSV of 1 000 000 measurement rows (rows/s and peak RSS, each
beside the naive way in the same run), and a year's Summary and Daily sheets of 20
destinations from the rollups.

Builds its own SQLite instance (a throwaway directory): one ping job over 20 destinations,
1 000 000 measurements bulk-loaded (sqlite3 executemany, every ping metric), and a year of
3-hourly rounds' samples for the same destinations, rolled up by the rollup pass. Every export
runs in a child process of its own so its peak RSS is its own (``ru_maxrss``), reading the
rows through the read side as the API does:

- xlsx: ``write_workbook`` with the Measurements cap lifted (1 000 000 rows), against
  openpyxl's normal mode and its write-only mode writing the same rows cell by cell (on
  ``--peer-rows`` rows: normal mode holds every cell in memory);
- csv: ``csv_chunks`` streamed to a file, against the csv module writing a list of every row
  read first (and pandas' ``to_csv`` of a DataFrame of them, if pandas is installed);
- summary: the Summary and Daily sheets of the year (365 summaries per job, from rollups).

Sections are measure functions in ``SECTIONS``; the last, ``/metrics`` for 500 destinations,
calls bench/metrics.py's own measurement. ``--only csv xlsx`` runs some of them.
Prints every figure and its goal, and ends with one JSON line of them all. Asserts nothing.

    .venv/bin/python bench/reports.py [--rows 1000000] [--peer-rows 20000] [--dests 20]
        [--year-step-hours 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

GOALS = {
    "xlsx_rows_per_s": (">=", 25_000),
    "xlsx_peak_rss_mb": ("<=", 100),
    "csv_rows_per_s": (">=", 150_000),
    "year_summary_daily_s": ("<=", 5),
    "metrics_500_destinations_ms": ("<=", 200),
}
HOUR_US = 3_600_000_000


def log(message: str) -> None:
    print(message, flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the instance ------------------------------------------------------------------------


def build(instance: Path, rows: int, dests: int) -> dict:
    """Destinations, the job, its series and the measurements (the year comes later)."""
    import series as series_bench

    from netstats.db import db

    url = f"sqlite:///{instance / 'bench.sqlite'}"
    app = series_bench.build_app(url, instance)
    with app.app_context():
        job_id, ids = series_bench.create_destinations(dests)
        series = {
            d: series_bench.create_series(job_id, d, ["rtt_ms", "sent", "received", "jitter_ms"])
            for d in ids
        }
        db.session.remove()
        db.engine.dispose()
    now_us = int(datetime.now(UTC).timestamp() * 1_000_000) // HOUR_US * HOUR_US
    begun = time.perf_counter()
    load_measurements(instance / "bench.sqlite", job_id, ids, rows, now_us)
    log(f"  {rows:,} measurements loaded in {time.perf_counter() - begun:.1f} s")
    now = datetime.fromtimestamp(now_us / 1e6, UTC)
    # The exports cover the measurements (the last rows / dests seconds).
    span = (now - timedelta(seconds=rows // dests + 2), now + timedelta(seconds=1))
    return {
        "url": url,
        "job_id": job_id,
        "series": series,
        "now_us": now_us,
        "span": [t.isoformat() for t in span],
    }


def build_year(ctx: dict, step_hours: int) -> None:
    """A year of rounds' samples for every destination, before the measurements, rolled up
    by the rollup pass (its first pass, as after a migration)."""
    import series as series_bench

    from netstats.engine.rollups import rollup_pass

    now_us = ctx["now_us"]
    year_start = now_us - 366 * 24 * HOUR_US
    begun = time.perf_counter()
    samples = 0
    for i, series in enumerate(ctx["series"].values()):
        count = 365 * 24 // step_hours
        ts, rtts = series_bench.rounds(i, 0, count)
        step = step_hours * HOUR_US
        ts = year_start + (ts // series_bench.MINUTE_US) * step + ts % series_bench.MINUTE_US
        found = series_bench.sample_rows(series, ts, rtts, 10_000_000 + i * count)
        series_bench.bulk_insert(found)
        samples += len(found)
    log(
        f"  {samples:,} samples (a year of {step_hours}-hourly rounds x {len(ctx['series'])}) "
        f"in {time.perf_counter() - begun:.1f} s"
    )
    begun = time.perf_counter()
    rollup_pass(datetime.fromtimestamp(now_us / 1e6, UTC) + timedelta(hours=1))
    log(f"  rollup pass {time.perf_counter() - begun:.1f} s")


def load_measurements(path: Path, job_id: int, ids: list[int], rows: int, now_us: int) -> None:
    """``rows`` ping measurements, one a second per destination in turn, ending now."""
    from netstats.stats import summarize

    rng = np.random.default_rng(3)
    start = datetime.fromtimestamp(now_us / 1e6, UTC).replace(tzinfo=None) - timedelta(
        seconds=rows // len(ids) + 1
    )
    con = sqlite3.connect(path)
    con.execute("BEGIN")
    batch = []
    templates = []
    for _k in range(64):  # metrics of a few distinct rounds, reused: summarize is not measured
        rtts = [float(v) if v > 0.15 else None for v in rng.lognormal(0, 0.4, 5)]
        templates.append(json.dumps(summarize(rtts)))
    columns = (
        "job_id, destination_id, collector, target, address, started_at, duration_ms, "
        "status, error, metrics, details"
    )
    sql = f"INSERT INTO measurements ({columns}) VALUES (?, ?, 'ping', ?, ?, ?, ?, ?, ?, ?, '{{}}')"  # noqa: S608
    for n in range(rows):
        d = ids[n % len(ids)]
        moment = start + timedelta(seconds=n // len(ids), microseconds=n % len(ids))
        metrics = templates[n % 64]
        lost = n % 97 == 0
        batch.append(
            (
                job_id,
                d,
                "127.0.0.1",
                "127.0.0.1",
                moment.strftime("%Y-%m-%d %H:%M:%S.%f"),
                5.0,
                "timeout" if lost else "ok",
                "no reply" if lost else None,
                metrics,
            )
        )
        if len(batch) == 50_000:
            con.executemany(sql, batch)
            batch.clear()
    con.executemany(sql, batch)
    con.commit()
    con.close()


# --- the children: one export each, its own peak RSS -----------------------------------------


def child(mode: str, url: str, instance: str, job_id: int, rows: int, out: str, span) -> dict:
    from netstats.app import create_app

    os.environ["NETSTATS_INSTANCE_PATH"] = instance
    app = create_app({"TESTING": True, "DATABASE_URL": url})
    with app.app_context():
        from netstats.reports.definition import define_report
        from netstats.schemas.reports import report_args

        args = report_args.load({"job": [str(job_id)], "from": span[0], "to": span[1]})
        report = define_report(args)
        before = peak_rss_mb()
        begun = time.perf_counter()
        written = EXPORTS[mode](report, out, rows)
        seconds = time.perf_counter() - begun
    return {
        "mode": mode,
        "rows": written,
        "seconds": seconds,
        "rows_per_s": written / seconds,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": before,
        "file_mb": os.path.getsize(out) / 1e6,
    }


def _limited(report, rows):
    from itertools import islice

    from netstats.reports.rows import report_rows

    return islice(report_rows(report), rows)


def _row_values(report, job, row, names, metrics):
    return [
        report.local(row.started_at),
        job,
        names.get(row.destination_id, ""),
        row.target,
        row.address,
        row.status,
        row.error,
        row.duration_ms,
        *[row.metrics.get(m) for m in metrics],
    ]


def export_xlsx(report, out, rows):
    from netstats.reports.xlsx import write_workbook

    return write_workbook(report, out, cap=rows)


def export_openpyxl(report, out, rows, write_only: bool):
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    from netstats.reports.rows import columns, destination_names

    cols = columns(report)
    names = destination_names(report)
    wb = Workbook(write_only=write_only)
    ws = wb.create_sheet("Measurements") if write_only else wb.active
    ws.append(cols.headers("UTC"))
    written = 0
    for job, row in _limited(report, rows):
        values = _row_values(report, job, row, names, cols.metrics)
        if write_only:
            cell = WriteOnlyCell(ws, value=values[0])
            cell.number_format = "yyyy-mm-dd hh:mm:ss.000"
            values[0] = cell
        ws.append(values)
        written += 1
    wb.save(out)
    return written


def export_csv(report, out, rows):
    from netstats.reports.csv_export import csv_chunks

    with open(out, "w", newline="", encoding="utf-8") as f:
        for chunk in csv_chunks(report):
            f.write(chunk)
    with open(out, "rb") as f:
        return sum(1 for _ in f) - 1


def export_csv_list(report, out, rows):
    import csv

    from netstats.reports.rows import columns, destination_names

    cols = columns(report)
    names = destination_names(report)
    everything = [
        [
            row.started_at.isoformat(),
            job,
            names.get(row.destination_id, ""),
            row.target,
            row.address,
            row.status,
            row.error,
            row.duration_ms,
            *[row.metrics.get(m) for m in cols.metrics],
        ]
        for job, row in _limited(report, rows)
    ]
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(cols.headers("UTC"))
        writer.writerows(everything)
    return len(everything)


def export_pandas(report, out, rows):
    import pandas as pd

    from netstats.reports.rows import columns, destination_names

    columns(report)
    names = destination_names(report)
    frame = pd.DataFrame(
        (
            {
                "time": row.started_at,
                "job": job,
                "destination": names.get(row.destination_id, ""),
                "status": row.status,
                "duration_ms": row.duration_ms,
                **row.metrics,
            }
            for job, row in _limited(report, rows)
        )
    )
    frame.to_csv(out, index=False)
    return len(frame)


EXPORTS = {
    "xlsx": export_xlsx,
    "openpyxl-normal": lambda r, o, n: export_openpyxl(r, o, n, write_only=False),
    "openpyxl-write-only": lambda r, o, n: export_openpyxl(r, o, n, write_only=True),
    "csv": export_csv,
    "csv-module-list": export_csv_list,
    "pandas": export_pandas,
}


def run_child(ctx: dict, mode: str, rows: int) -> dict:
    out = str(ctx["instance"] / f"out-{mode}")
    command = [
        sys.executable, __file__, "--child", mode, "--url", ctx["url"],
        "--instance", str(ctx["instance"]), "--job", str(ctx["job_id"]),
        "--rows", str(rows), "--out", out, "--span", *ctx["span"],
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        log(done.stderr[-2000:])
        return {"mode": mode, "error": done.stderr.strip().splitlines()[-1:]}
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    os.unlink(out)
    log(
        f"  {mode:20} {figures['rows']:>9,} rows {figures['seconds']:7.1f} s "
        f"{figures['rows_per_s']:>9,.0f} rows/s  peak RSS {figures['peak_rss_mb']:6.1f} MB "
        f"(at start {figures['rss_before_mb']:.0f})  file {figures['file_mb']:.1f} MB"
    )
    return figures


# --- the sections ----------------------------------------------------------------------------


def measure_xlsx(ctx: dict, args) -> dict:
    log(f"XLSX of {args.rows:,} measurement rows (peers on {args.peer_rows:,}):")
    ours = run_child(ctx, "xlsx", args.rows)
    normal = run_child(ctx, "openpyxl-normal", args.peer_rows)
    write_only = run_child(ctx, "openpyxl-write-only", args.peer_rows)
    figures = {"xlsx": ours, "openpyxl_normal": normal, "openpyxl_write_only": write_only}
    if "rows_per_s" in ours:
        figures["xlsx_rows_per_s"] = ours["rows_per_s"]
        figures["xlsx_peak_rss_mb"] = ours["peak_rss_mb"]
        for name, peer in (("normal", normal), ("write_only", write_only)):
            if "rows_per_s" in peer:
                ratio = ours["rows_per_s"] / peer["rows_per_s"]
                figures[f"xlsx_speed_vs_openpyxl_{name}"] = ratio
                log(f"  rows/s ratio to openpyxl {name}: {ratio:.1f}")
    return figures


def measure_csv(ctx: dict, args) -> dict:
    log(f"CSV of {args.rows:,} measurement rows (peers on {args.peer_rows:,}):")
    ours = run_child(ctx, "csv", args.rows)
    listed = run_child(ctx, "csv-module-list", args.peer_rows)
    figures = {"csv": ours, "csv_module_list": listed}
    try:
        import pandas  # noqa: F401

        figures["pandas"] = run_child(ctx, "pandas", args.peer_rows)
    except ImportError:
        log("  pandas: not installed")
    if "rows_per_s" in ours:
        figures["csv_rows_per_s"] = ours["rows_per_s"]
        figures["csv_peak_rss_mb"] = ours["peak_rss_mb"]
        for name in ("csv_module_list", "pandas"):
            peer = figures.get(name, {})
            if "rows_per_s" in peer:
                ratio = ours["rows_per_s"] / peer["rows_per_s"]
                figures[f"csv_speed_vs_{name}"] = ratio
                log(f"  rows/s ratio to {name}: {ratio:.2f}")
    return figures


def measure_year_summary(ctx: dict, args) -> dict:
    """The Summary and Daily sheets of a year (365 days, every destination), from rollups."""
    from openpyxl import Workbook

    from netstats.app import create_app
    from netstats.reports.definition import define_report
    from netstats.reports.xlsx import write_daily, write_summary
    from netstats.schemas.reports import report_args

    keep = {"RETENTION_SAMPLES_DAYS": 0, "RETENTION_5M_DAYS": 0, "RETENTION_1H_DAYS": 0}
    app = create_app({"TESTING": True, "DATABASE_URL": ctx["url"], **keep})
    log(f"A year's Summary and Daily sheets of {args.dests} destinations:")
    with app.app_context():
        build_year(ctx, args.year_step_hours)
        end = datetime.fromtimestamp(ctx["now_us"] / 1e6, UTC) - timedelta(days=1)
        start = end - timedelta(days=365)
        day = start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        raw = {
            "job": [str(ctx["job_id"])],
            "from": day.isoformat(),
            "to": (day + timedelta(days=364)).isoformat(),
        }
        report = define_report(report_args.load(raw))
        # Only the year's samples: the measurements' minute is summarised too, but it is
        # in the Measurements sheet's part of the benchmark.
        begun = time.perf_counter()
        wb = Workbook(write_only=True)
        _, span = write_summary(wb, report)
        summary_s = time.perf_counter() - begun
        _ws, blocks, rows = write_daily(wb, report, span)
        rows.flush()  # the Daily rows written out, as saving the workbook would
        seconds = time.perf_counter() - begun
        rows.close()
        wb.save(os.devnull)  # closes the sheets' temporary files
    log(
        f"  Summary {summary_s:.2f} s, Summary + Daily {seconds:.2f} s ({len(blocks)} destinations)"
    )
    return {"year_summary_s": summary_s, "year_summary_daily_s": seconds}


def measure_metrics(ctx: dict, args) -> dict:
    """``GET /metrics`` for 500 destinations: bench/metrics.py's own measurement (SQLite), on
    an instance of its own."""
    from argparse import Namespace

    import metrics as metrics_bench

    instance = ctx["instance"] / "metrics"
    instance.mkdir()
    url = f"sqlite:///{instance / 'bench.sqlite'}"
    figures = metrics_bench.run_figures(
        Namespace(dests=args.metrics_dests, runs=10), url, instance, "sqlite"
    )
    return {
        "metrics": figures,
        "metrics_500_destinations_ms": figures["metrics_500_destinations_ms"],
    }


SECTIONS = [measure_xlsx, measure_csv, measure_year_summary, measure_metrics]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--peer-rows", type=int, default=20_000)
    parser.add_argument("--dests", type=int, default=20)
    # The year's sheets read the 1-day tier: its rows do not depend on how dense the raw
    # rounds were; sparser rounds only make the rollup pass that builds them shorter.
    parser.add_argument("--year-step-hours", type=int, default=3)
    parser.add_argument("--metrics-dests", type=int, default=500)
    parser.add_argument(
        "--only", nargs="+", choices=["xlsx", "csv", "year", "metrics"], help="these sections"
    )
    parser.add_argument("--child")
    parser.add_argument("--url")
    parser.add_argument("--instance")
    parser.add_argument("--job", type=int)
    parser.add_argument("--out")
    parser.add_argument("--span", nargs=2)
    args = parser.parse_args()
    if args.child:
        print(
            json.dumps(
                child(args.child, args.url, args.instance, args.job, args.rows, args.out, args.span)
            )
        )
        return
    for key in [k for k in os.environ if k.startswith("NETSTATS_") and "TEST" not in k]:
        del os.environ[key]
    load = os.getloadavg()
    log(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    instance = Path(tempfile.mkdtemp(prefix="netstats-bench-reports-"))
    results: dict = {}
    try:
        log("Building the instance:")
        ctx = {"instance": instance, **build(instance, args.rows, args.dests)}
        names = dict(zip(["xlsx", "csv", "year", "metrics"], SECTIONS, strict=True))
        for name, section in names.items():
            if args.only and name not in args.only:
                continue
            try:
                results.update(section(ctx, args))
            except Exception as exc:  # one section's failure must not lose the others
                log(f"{section.__name__} failed: {exc!r}")
                results[section.__name__] = {"error": repr(exc)}
    finally:
        shutil.rmtree(instance, ignore_errors=True)
    load = os.getloadavg()
    log(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for key, (op, goal) in GOALS.items():
        if key in results:
            value = results[key]
            met = value >= goal if op == ">=" else value <= goal
            log(f"{key}: {value:,.2f} (goal {op} {goal:,}) {'met' if met else 'MISSED'}")
    print(
        json.dumps(
            {
                "bench": "reports",
                "goals": {k: f"{o} {g}" for k, (o, g) in GOALS.items()},
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
