"""``netstats probe``: one measurement now, printed, without the database or the app.

Only the plugins are loaded (with the app's settings), so the command answers about as fast
as the measurement itself.
"""

from __future__ import annotations

import json
import sys

import click


def _parse_param(text: str) -> tuple[str, object]:
    import yaml

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
def probe_command(collector, targets, raw_params, family, as_json, servers, **shortcuts) -> None:
    """Run one measurement of TARGETS now, without the database, and print it.

    The shortcut options set the collector parameter of the same name (as --param does).
    For dns the targets are the servers to ask (also given with --server) and --name is the
    name to look up: `netstats probe dns --server 127.0.0.1 --name localhost`.
    """
    from netstats.cli.plugins import load_plugins
    from netstats.collectors import Target
    from netstats.errors import Invalid
    from netstats.probe import measure_now

    plugins = load_plugins()
    params = dict(_parse_param(p) for p in raw_params)
    params.update({name: value for name, value in shortcuts.items() if value is not None})
    targets = [*targets, *servers]
    if not targets:
        raise click.UsageError("give at least one target")
    try:
        found = plugins.collector(collector)
        results = measure_now(plugins, collector, [Target(t, family) for t in targets], params)
    except Invalid as exc:
        problems = exc.fields.get("params")
        message = f"invalid parameters: {_flatten(problems)}" if problems else exc.message
        raise click.UsageError(message) from None
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
    _echo_columns([header, *rows])
    for m in results:
        if m.details.get("hops"):
            click.echo(f"\n{m.target} ({m.address}):")
            _print_hops(m.details["hops"])


def _print_hops(hops: list[dict]) -> None:
    """An mtr-style table of a trace: per TTL its addresses, loss and RTT statistics."""
    from netstats.stats import hop_table

    rows = [["ttl", "address", "loss%", "sent", "last", "avg", "best", "worst", "stdev"]]
    for row in hop_table(hops):
        rows.append(
            [
                row["ttl"],
                ", ".join(row["addresses"]) or "???",
                _fmt(row["loss_pct"], 1),
                row["sent"],
                _fmt(row["last_ms"]),
                _fmt(row["avg_ms"]),
                _fmt(row["best_ms"]),
                _fmt(row["worst_ms"]),
                _fmt(row["stdev_ms"]),
            ]
        )
    _echo_columns(rows, indent="  ")


def _echo_columns(rows: list[list], indent: str = "") -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True))
        click.echo(indent + cells.rstrip())


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)
