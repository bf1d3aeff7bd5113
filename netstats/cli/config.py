"""``netstats config import|export``: the configuration as a YAML file."""

from __future__ import annotations

import click
from flask.cli import AppGroup

config = AppGroup("config", help="Import or export destinations and jobs as YAML.")


@config.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--prune", is_flag=True, help="Delete what a section of the file does not name.")
def import_command(file, dry_run: bool, prune: bool) -> None:
    """Upsert the destinations and jobs of FILE by name, all or nothing ('-' reads stdin)."""
    from flask import current_app

    from netstats.config_file import ConfigFileError, import_config
    from netstats.errors import NetstatsError

    # One byte past the limit is enough to refuse a file: a huge one is never read whole.
    source = file.read(int(current_app.config["CONFIG_IMPORT_MAX_BYTES"]) + 1)
    try:
        plan = import_config(source, dry_run=dry_run, prune=prune)
    except ConfigFileError as exc:
        for problem in exc.problems:
            click.echo(f"{file.name}: {problem}", err=True)
        raise click.ClickException("nothing was written") from None
    except NetstatsError as exc:
        raise click.ClickException(f"{exc.message} (nothing was written)") from None
    for line in plan.lines():
        click.echo(line)
    verb = "would change" if dry_run else "changed"
    click.echo(f"{plan.changes} {verb}, {sum(map(len, plan.unchanged.values()))} unchanged.")


@config.command("export")
@click.argument("file", type=click.File("w", encoding="utf-8"), default="-")
def export_command(file) -> None:
    """Write every destination and job to FILE (default: standard output)."""
    from netstats.config_file import export_config

    file.write(export_config())
