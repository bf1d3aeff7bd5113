"""``netstats serve``: the production web server (gunicorn with gevent workers)."""

from __future__ import annotations

import click

DEFAULT_PORT = 8000
DEFAULT_WORKERS = 2
DEFAULT_WORKER_CONNECTIONS = 4000


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=DEFAULT_WORKERS,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Web processes; any number of them, here or on other hosts, may serve one instance.",
)
@click.option(
    "--worker-connections",
    default=DEFAULT_WORKER_CONNECTIONS,
    show_default=True,
    type=click.IntRange(10, 100_000),
    help="Connections one process holds at once: open event streams and requests.",
)
@click.option("--access-log/--no-access-log", default=False, help="Log every request to stdout.")
def serve_command(
    host: str, port: int, workers: int, worker_connections: int, access_log: bool
) -> None:
    """Serve the web UI and the API for production: gunicorn with gevent workers, which hold
    thousands of open live-update streams. SIGTERM stops it gracefully, Ctrl-C at once."""
    from netstats.server import serve

    serve(host, port, workers, worker_connections, access_log)
