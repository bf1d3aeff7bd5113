"""``netstats worker``: the Huey consumer and the planner, until SIGTERM or SIGINT."""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("worker")
@click.option(
    "--threads",
    type=click.IntRange(1, 1024),
    help="Runs executed at once (default: the WORKER_THREADS setting).",
)
@click.option("--verbose", is_flag=True, help="Log every task Huey executes.")
@with_appcontext
def worker_command(threads: int | None, verbose: bool) -> None:
    """Run scheduled jobs: plan their runs, execute them, store the measurements."""
    from netstats.engine.worker import run_worker

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Huey logs each task at INFO: at hundreds of runs a minute, only with --verbose.
    logging.getLogger("huey").setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("huey.consumer").setLevel(logging.INFO)
    app = current_app._get_current_object()
    run_worker(app, threads or int(app.config["WORKER_THREADS"]))
