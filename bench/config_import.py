"""Configuration import benchmark: a large YAML file through `netstats config import`.

Builds its own file (50 000 destinations on 127.0.0.0/8 with labels, 5 000 ping jobs naming
10 destinations each, some with windows or a label selector), migrates a fresh instance and
imports the file with the real command in a child process, three times: into the empty
database, again unchanged, and once more with a tenth of the entries changed. For each it
prints the wall time and the child's peak RSS. The peer is a bare `yaml.load` of the same
file with libyaml (the least any import must do), run the same way, and the ratios are
import / peer. Runs on SQLite, and also on PostgreSQL (a private schema, dropped after) when
NETSTATS_TEST_DATABASE_URL is set. Nothing is measured: no job runs, no worker is started.

    .venv/bin/python bench/config_import.py [--destinations 50000] [--jobs 5000]

The last line is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

NETSTATS = str(Path(sys.executable).with_name("netstats"))
PEER = "import sys, yaml; yaml.load(open(sys.argv[1], 'rb'), Loader=yaml.CSafeLoader)"


def build_file(path: Path, destinations: int, jobs: int, changed: bool = False) -> None:
    """Write the benchmark's YAML file; ``changed`` alters every tenth entry."""
    out = ["destinations:\n"]
    for i in range(destinations):
        description = "edited" if changed and i % 10 == 0 else f"loopback {i}"
        out.append(
            f"  - name: d{i:06d}\n"
            f"    host: 127.{i // 62500 % 256}.{i // 250 % 250}.{i % 250 + 1}\n"
            f"    description: {description}\n"
            f"    labels:\n      site: s{i % 50}\n      tier: t{i % 3}\n"
        )
    out.append("jobs:\n")
    for j in range(jobs):
        names = ", ".join(f"d{(j * 10 + k) % destinations:06d}" for k in range(10))
        interval = (10, 30, 60, 300)[j % 4] * (2 if changed and j % 10 == 0 else 1)
        entry = (
            f"  - name: j{j:05d}\n"
            f"    collector: ping\n"
            f"    destinations: [{names}]\n"
            f"    interval_s: {interval}\n"
            f"    params:\n      count: 3\n      interval: 0.5\n"
        )
        if j % 5 == 0:
            entry += (
                '    windows:\n      - {days: [mon, tue, wed, thu, fri], start: "08:00", '
                'end: "18:00"}\n    timezone: Europe/Paris\n'
            )
        if j % 7 == 0:
            entry += f"    label_selector: {{site: s{j % 50}}}\n"
        out.append(entry)
    path.write_text("".join(out))


def run_child(argv: list[str], env: dict[str, str], timeout: float) -> dict:
    """Run a child; its wall time, peak RSS (MB, from wait4), success and last line."""
    with tempfile.TemporaryFile() as log:
        started = time.monotonic()
        child = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > started + timeout:
                child.kill()
                os.wait4(child.pid, 0)
                return {"s": None, "rss_mb": None, "ok": False, "last": "killed"}
            time.sleep(0.02)
        wall = time.monotonic() - started
        log.seek(0)
        output = log.read().decode(errors="replace").strip()
    code = os.waitstatus_to_exitcode(status)
    if code:
        print(output[-2000:], file=sys.stderr)
    return {
        "s": round(wall, 2),
        "rss_mb": round(usage.ru_maxrss / 1024),
        "ok": code == 0,
        "last": output.splitlines()[-1] if output else "",
    }


def private_pg_schema(base: str) -> tuple[str, callable]:
    """A PostgreSQL schema of our own and a function that drops it."""
    import sqlalchemy as sa

    from netstats.config import normalize_database_url

    base = normalize_database_url(base)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()

    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}", drop


def bench_database(label: str, database_url: str | None, files: dict, args) -> dict:
    instance = Path(tempfile.mkdtemp(prefix="netstats-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETSTATS_")}
    env["NETSTATS_INSTANCE_PATH"] = str(instance)
    if database_url:
        env["NETSTATS_DATABASE_URL"] = database_url
    try:
        subprocess.run([NETSTATS, "db", "upgrade"], env=env, check=True, capture_output=True)
        figures = {}
        for step, path in (
            ("fresh", files["base"]),
            ("unchanged", files["base"]),
            ("changed", files["changed"]),
        ):
            result = run_child(
                [NETSTATS, "config", "import", str(path)], env=env, timeout=args.timeout
            )
            figures[step] = result
            shown = "timed out" if result["s"] is None else f"{result['s']:7.2f} s"
            rss = "-" if result["rss_mb"] is None else f"{result['rss_mb']:6d}"
            print(f"{label:<10} {step:<10} {shown:>10} {rss} MB  {result['last']}")
            if not result["ok"]:
                break
        return figures
    finally:
        shutil.rmtree(instance, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--destinations", type=int, default=50_000)
    parser.add_argument("--jobs", type=int, default=5_000)
    parser.add_argument("--timeout", type=float, default=600, help="seconds per import")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="netstats-bench-files-"))
    try:
        files = {"base": workdir / "config.yaml", "changed": workdir / "changed.yaml"}
        build_file(files["base"], args.destinations, args.jobs)
        build_file(files["changed"], args.destinations, args.jobs, changed=True)
        size_mb = files["base"].stat().st_size / 1e6
        print(f"{args.destinations} destinations, {args.jobs} jobs: {size_mb:.1f} MB of YAML")
        env = {k: v for k, v in os.environ.items() if not k.startswith("NETSTATS_")}
        peer = run_child([sys.executable, "-c", PEER, str(files["base"])], env, args.timeout)
        print(f"{'peer':<10} {'yaml.load':<10} {peer['s']:7.2f} s {peer['rss_mb']:6d} MB  libyaml")

        results = {"sqlite": bench_database("sqlite", None, files, args)}
        pg = os.environ.get("NETSTATS_TEST_DATABASE_URL")
        if pg:
            url, drop = private_pg_schema(pg)
            try:
                results["postgresql"] = bench_database("postgresql", url, files, args)
            finally:
                drop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    for label, figures in results.items():
        fresh = figures["fresh"]
        if fresh["s"] is not None:
            print(
                f"ratio {label} fresh import / peer: time {fresh['s'] / peer['s']:.1f}x, "
                f"RSS {fresh['rss_mb'] / peer['rss_mb']:.1f}x"
            )
    summary = {
        "destinations": args.destinations,
        "jobs": args.jobs,
        "file_mb": round(size_mb, 1),
        "peer": {"s": peer["s"], "rss_mb": peer["rss_mb"]},
    }
    for label, figures in results.items():
        summary[label] = {
            step: {"s": r["s"], "rss_mb": r["rss_mb"], "ok": r["ok"]} for step, r in figures.items()
        }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
