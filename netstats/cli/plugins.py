"""``netstats plugins``: the collectors installed, with their parameters and metrics."""

from __future__ import annotations

import json

import click


def load_plugins():
    """The plugins as the app would load them (same settings), without building the app."""
    from netstats.config import instance_path, settings
    from netstats.plugins import build_plugins

    config = settings(instance_path())
    return build_plugins(config["PLUGINS_DIR"], trace=bool(config["TRACE_PLUGINS"]))


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def plugins_command(as_json: bool) -> None:
    """List collectors with their source, parameters and metrics, and any broken plugin."""
    plugins = load_plugins()
    described = [plugins.describe(name) for name in plugins.collectors]
    if as_json:
        errors = [e.__dict__ for e in plugins.errors]
        click.echo(json.dumps({"collectors": described, "errors": errors}, indent=2))
        return
    for c in described:
        click.echo(f"{c['name']}: {c['title']}  [{c['source']}]")
        props = c["params"]["properties"]
        if props:
            click.echo("  parameters:")
        required = set(c["params"].get("required", []))
        for pname, prop in props.items():
            default = f" (default {json.dumps(prop['default'])})" if "default" in prop else ""
            needed = " (required)" if pname in required else ""
            click.echo(f"    {pname}: {prop.get('type', 'any')}{default}{needed}")
        click.echo("  metrics:")
        for m in c["metrics"]:
            click.echo(f"    {m['name']} [{m['unit']}]: {m['description']}")
    for err in plugins.errors:
        click.echo(f"BROKEN plugin {err.plugin} ({err.source}): {err.message}", err=True)
