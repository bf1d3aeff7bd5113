"""``netstats rollups``: the rollup tiers (docs/series.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import with_appcontext


class Moment(click.ParamType):
    """An ISO 8601 date or time; UTC when it names no offset."""

    name = "time"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or time (2026-01-31, 2026-01-31T12:00)")
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.group("rollups")
def rollups() -> None:
    """Rollup tiers: rebuild them from the raw samples."""


@rollups.command("rebuild")
@click.option("--from", "start", type=Moment(), help="Start (default: the oldest sample).")
@click.option("--to", "end", type=Moment(), help="End (default: now).")
@with_appcontext
def rebuild_command(start: datetime | None, end: datetime | None) -> None:
    """Recompute every series' rows of every tier over a range from the samples.

    Rows are replaced, never added to: safe to run while the worker runs, and again.
    Buckets are whole 5-minute buckets; the rows of the coarser tiers enclosing the range
    are recomputed too. The part older than the samples' retention is left as it is.
    """
    from netstats.db import utcnow
    from netstats.engine.rollups import oldest_sample_us, rebuild
    from netstats.engine.storage import timestamp_us

    end = end or utcnow()
    if start is None:
        first = oldest_sample_us()
        if first is None:
            click.echo("No samples: nothing to rebuild.")
            return
        start_us = first
    else:
        start_us = timestamp_us(start)
    if start_us >= timestamp_us(end):
        raise click.BadParameter("--from must be before --to", param_hint="--from")
    written = rebuild(start_us, timestamp_us(end))
    click.echo(f"Rebuilt {written} rollup rows.")
