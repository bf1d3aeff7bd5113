"""The ``netstats`` command: Flask's CLI group around ``create_app()`` with our commands on it.

Listing the commands (``netstats --help``) builds no app and imports no database layer:
each command module imports only click at its top and its services inside the command, and
the app is built (``with_appcontext``) only by the commands that use it. Flask-Migrate's
``db`` group, which imports Alembic, is loaded only when ``netstats db`` runs. A core error
raised by any command becomes one message and exit code 1 here, in one place.
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup, ScriptInfo

from netstats import __version__
from netstats.cli import config, plugins, probe, report, rollups, serve, up, users, worker


def _create_app():
    from netstats.app import create_app

    return create_app()


# Commands imported only when they run: name -> (module, attribute, short help).
LAZY_COMMANDS = {
    "db": ("flask_migrate.cli", "db", "Migrate the database (Flask-Migrate): upgrade, current..."),
}


class NetstatsGroup(FlaskGroup):
    """Flask's group, minus what makes it slow: it neither builds the app to list commands
    nor loads the ``flask.commands`` entry points; Flask-Migrate's ``db`` (Alembic) is
    imported only when it runs, and the app it runs in gets the migrations."""

    def _load_plugin_commands(self) -> None:
        self._loaded_plugin_commands = True

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*click.Group.list_commands(self, ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, name: str):
        if name not in LAZY_COMMANDS:
            return click.Group.get_command(self, ctx, name)
        import importlib

        module, attribute, _ = LAZY_COMMANDS[name]
        info = ctx.ensure_object(ScriptInfo)
        build = info.create_app or _create_app

        def with_migrations():
            from netstats.db import init_migrations

            app = build()
            init_migrations(app)
            return app

        info.create_app = with_migrations
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click lists commands, but a lazy command shows its help without being loaded."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            if name in LAZY_COMMANDS:
                rows.append((name, LAZY_COMMANDS[name][2]))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):
        from netstats.config import ConfigError
        from netstats.errors import NetstatsError

        try:
            return super().invoke(ctx)
        except NetstatsError as exc:
            raise click.ClickException(exc.message) from None
        except ConfigError as exc:
            raise click.ClickException(f"configuration: {exc}") from None


main = NetstatsGroup(
    name="netstats",
    create_app=_create_app,
    add_version_option=False,
    load_dotenv=False,
    help="netstats: scheduled ping, traceroute and DNS measurements.",
)
# Flask's --app, --env-file and --debug mean nothing here: the app is always create_app().
main.params = [p for p in main.params if p.name not in ("app", "env_file", "debug")]
main = click.version_option(__version__, package_name="netstats", prog_name="netstats")(main)
for command in (
    config.config,
    plugins.plugins_command,
    probe.probe_command,
    report.report_command,
    rollups.rollups,
    serve.serve_command,
    up.up_command,
    users.users,
    users.tokens,
    worker.worker_command,
):
    main.add_command(command)
