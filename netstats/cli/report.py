"""``netstats report``: a report (docs/reports.md) written to a file, with a progress bar."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext


@click.command("report")
@click.option("--job", "jobs", multiple=True, required=True, help="Job name or id; repeatable.")
@click.option(
    "--destination", "destinations", multiple=True, help="Destination name or id; repeatable."
)
@click.option("--from", "start", help="Start: ISO 8601; without an offset, a wall time in --tz.")
@click.option("--to", "end", help="End (excluded), as --from. Default: now.")
@click.option(
    "--preset",
    help="Instead of --from/--to: last_24h (default), last_7d, last_30d, today, yesterday, "
    "this_month, last_month.",
)
@click.option("--tz", default="UTC", show_default=True, help="IANA time zone of days and times.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["xlsx", "csv"]),
    help="Default: from the file name's suffix, else xlsx.",
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="File.")
@with_appcontext
def report_command(jobs, destinations, start, end, preset, tz, fmt, output) -> None:
    """Write a report of jobs over a range to a file: XLSX (Summary, Daily, Events,
    Measurements, Charts, About) or CSV (one row per measurement, every metric)."""
    from marshmallow import ValidationError

    from netstats.reports.definition import define_report
    from netstats.reports.rows import count_rows
    from netstats.schemas.reports import report_args

    if fmt is None:
        fmt = "csv" if output.lower().endswith(".csv") else "xlsx"
    raw = {"job": list(jobs), "destination": list(destinations), "tz": tz, "format": fmt}
    for key, value in (("from", start), ("to", end), ("preset", preset)):
        if value is not None:
            raw[key] = value
    try:
        args = report_args.load(raw)
    except ValidationError as exc:
        field, messages = next(iter(exc.messages.items()))
        option = {"from_": "from", "job": "job"}.get(field, field)
        detail = messages if isinstance(messages, str) else "; ".join(map(str, _flat(messages)))
        raise click.BadParameter(detail, param_hint=f"--{option}") from None
    report = define_report(args)
    total = count_rows(report)
    label = f"{report.format.upper()} {total:,} measurements"
    with click.progressbar(length=max(total, 1), label=label, file=sys.stderr) as bar:
        done = {"rows": 0}

        def advance(rows: int) -> None:
            bar.update(rows - done["rows"])
            done["rows"] = rows

        if report.format == "csv":
            from netstats.reports.csv_export import csv_chunks

            with open(output, "w", newline="", encoding="utf-8") as out:
                for chunk in csv_chunks(report, advance):
                    out.write(chunk)
            rows = done["rows"]
        else:
            from netstats.reports.xlsx import write_workbook

            def stage(name: str, current: int, _total: int) -> None:
                if name == "measurements":
                    advance(current)

            rows = write_workbook(report, output, stage)
            advance(max(rows, 1))
    click.echo(f"Wrote {output}: {rows:,} measurements of {len(report.jobs)} job(s).")


def _flat(messages):
    if isinstance(messages, dict):
        for value in messages.values():
            yield from _flat(value)
    elif isinstance(messages, list):
        for value in messages:
            yield from _flat(value)
    else:
        yield messages
