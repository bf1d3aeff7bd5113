"""``netstats plugins`` and ``netstats probe``: what is installed, and one measurement now."""

from __future__ import annotations

import json
import sys

import click
import yaml
from flask.cli import with_appcontext
from marshmallow import ValidationError

from netstats.collectors import CollectorError, Target
from netstats.plugins import get_plugins
from netstats.schema_export import params_json_schema


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@with_appcontext
def plugins_command(as_json: bool) -> None:
    """List collectors with their source, parameters and metrics, and any broken plugin."""
    plugins = get_plugins()
    collectors = plugins.collectors
    if as_json:
        click.echo(
            json.dumps(
                {
                    "collectors": [
                        {
                            "name": c.name,
                            "title": c.title,
                            "source": plugins.collector_source(c.name),
                            "params": params_json_schema(c.params),
                            "metrics": [m.__dict__ for m in c.metrics],
                        }
                        for c in collectors.values()
                    ],
                    "errors": [e.__dict__ for e in plugins.errors],
                },
                indent=2,
            )
        )
        return
    for c in collectors.values():
        click.echo(f"{c.name}: {c.title}  [{plugins.collector_source(c.name)}]")
        props = params_json_schema(c.params)["properties"]
        if props:
            click.echo("  parameters:")
        required = set(params_json_schema(c.params).get("required", []))
        for pname, prop in props.items():
            default = f" (default {json.dumps(prop['default'])})" if "default" in prop else ""
            needed = " (required)" if pname in required else ""
            click.echo(f"    {pname}: {prop.get('type', 'any')}{default}{needed}")
        click.echo("  metrics:")
        for m in c.metrics:
            click.echo(f"    {m.name} [{m.unit}]: {m.description}")
    for err in plugins.errors:
        click.echo(f"BROKEN plugin {err.plugin} ({err.source}): {err.message}", err=True)


# Shortcut flags for the common parameters: flag name -> (collector parameter, click type).
SHORTCUTS = {
    "count": ("count", int),
    "interval": ("interval", float),
    "timeout": ("timeout", float),
    "method": ("method", str),
    "max_hops": ("max_hops", int),
    "queries": ("queries", int),
    "type": ("type", str),
    "name": ("name", str),
}


def _parse_param(text: str) -> tuple[str, object]:
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise click.BadParameter(f"{text!r} is not NAME=VALUE", param_hint="--param")
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError:
        value = raw
    return name.strip(), value


@click.command("probe")
@click.argument("collector")
@click.argument("targets", nargs=-1)
@click.option("--param", "-p", "raw_params", multiple=True, help="NAME=VALUE (YAML value).")
@click.option("--family", type=click.Choice(["any", "ipv4", "ipv6"]), default="any")
@click.option("--json", "as_json", is_flag=True, help="One Measurement per line, as JSON.")
@click.option("--count", type=int, help="ping: probes per target.")
@click.option("--interval", type=float, help="ping: seconds between probes to one target.")
@click.option("--timeout", type=float, help="Seconds to wait for a reply.")
@click.option("--method", help="traceroute: icmp, udp or tcp.")
@click.option("--max-hops", "max_hops", type=int, help="traceroute: largest TTL.")
@click.option("--queries", type=int, help="traceroute: probes per hop.")
@click.option("--type", "type", help="dns: record type.")
@click.option("--name", "name", help="dns: the name to query.")
@click.option(
    "--server", "servers", multiple=True, help="dns: a server to ask (a target; repeatable)."
)
@with_appcontext
def probe_command(collector, targets, raw_params, family, as_json, servers, **shortcuts) -> None:
    """Run one measurement of TARGETS now, without the database, and print it.

    For dns the targets are the servers to ask (also given with --server) and --name is the
    name to look up: `netstats probe dns --server 127.0.0.1 --name localhost`.
    """
    found = get_plugins().collectors.get(collector)
    if found is None:
        names = ", ".join(get_plugins().collectors) or "none"
        raise click.UsageError(f"no collector {collector!r} (installed: {names})")
    params = dict(_parse_param(p) for p in raw_params)
    for flag, value in shortcuts.items():
        if value is not None:
            params[SHORTCUTS[flag][0]] = value
    targets = [*targets, *servers]
    if not targets:
        raise click.UsageError("give at least one target")
    try:
        loaded = found.params().load(params)
    except ValidationError as exc:
        raise click.UsageError(f"invalid parameters: {_flatten(exc.messages)}") from None
    try:
        results = found.collect([Target(t, family) for t in targets], loaded)
    except CollectorError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        for m in results:
            click.echo(json.dumps(m.to_dict(), separators=(",", ":")))
    else:
        _print_table(found, results)
    if any(m.status != "ok" for m in results):
        sys.exit(1)


def _flatten(messages) -> str:
    if isinstance(messages, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in messages.items())
    if isinstance(messages, list):
        return " ".join(str(m) for m in messages)
    return str(messages)


def _print_table(collector, results) -> None:
    names = [m.name for m in collector.metrics if m.kind == "gauge"]  # distributions: --json
    header = ["target", "address", "status", *names]
    rows = [
        [
            m.target,
            m.address or "-",
            m.status if not m.error else f"{m.status}: {m.error}",
            *(_fmt(m.metrics.get(n)) for n in names),
        ]
        for m in results
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def register(app) -> None:
    app.cli.add_command(plugins_command)
    app.cli.add_command(probe_command)
