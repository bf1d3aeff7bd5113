"""What the benchmarks share: the databases they run on and the JSON line they end with.

``on_databases`` runs a benchmark's ``run_figures(args, url, instance, label)`` on a SQLite file
of its own and, when ``--pg`` names a server, on a PostgreSQL schema of its own that is dropped
afterwards; ``finish`` prints the load average and the last line, one JSON object.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote


def log(message: str) -> None:
    print(message, flush=True)


def log_load(when: str) -> None:
    load = os.getloadavg()
    log(f"load average {when}: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def clear_netstats_env() -> None:
    """Forget the caller's netstats settings (a benchmark builds its own instance); the test
    suite's NETSTATS_TEST_* stay."""
    for key in [k for k in os.environ if k.startswith("NETSTATS_") and "TEST" not in k]:
        del os.environ[key]


@contextlib.contextmanager
def pg_schema_url(base: str, prefix: str) -> Iterator[str]:
    """The URL of a PostgreSQL schema of our own on the server ``base`` names; dropped at
    the end."""
    import sqlalchemy as sa

    from netstats.config import normalize_database_url

    base = normalize_database_url(base)
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def on_databases(args, name: str, run_figures: Callable[..., dict]) -> list[dict]:
    """``run_figures`` on SQLite (unless ``args.no_sqlite``) and on PostgreSQL (when
    ``args.pg``), each in a fresh instance folder; their figures in that order."""
    clear_netstats_env()
    results = []
    log_load("before")
    if not args.no_sqlite:
        instance = Path(tempfile.mkdtemp(prefix=f"netstats-bench-{name}-"))
        try:
            url = f"sqlite:///{instance / 'bench.sqlite'}"
            results.append(run_figures(args, url, instance, "sqlite"))
        finally:
            shutil.rmtree(instance, ignore_errors=True)
    if args.pg:
        instance = Path(tempfile.mkdtemp(prefix=f"netstats-bench-{name}-"))
        try:
            with pg_schema_url(args.pg, f"bench_{name}") as url:
                results.append(run_figures(args, url, instance, "postgresql"))
        finally:
            shutil.rmtree(instance, ignore_errors=True)
    log_load("after")
    return results


def finish(name: str, goals: dict[str, tuple[str, float]], results: list[dict]) -> None:
    """The benchmark's last line: one JSON object with its goals and figures."""
    print(
        json.dumps(
            {
                "bench": name,
                "goals": {k: f"{o} {g}" for k, (o, g) in goals.items()},
                "results": results,
            }
        )
    )
