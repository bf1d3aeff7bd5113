"""The production web server: gunicorn with gevent workers, as ``netstats serve`` runs it.

A live page keeps an event stream open for as long as it is shown. gunicorn's threaded
worker gives each open response a thread of its own (the old ``gthread --threads 16 -w 2``
line served 32 tabs, then every request waited); a gevent worker holds thousands of open
streams in one process, each a greenlet, while ordinary requests go on beside them.

The master process imports neither the app nor the database layer: each worker builds the
app after gevent has patched the standard library, so that every lock, socket and sleep in
it is cooperative. On SIGTERM (graceful stop) or SIGINT/SIGQUIT (quick stop) a worker ends
its event streams at once, so that it does not wait out the graceful timeout for them.
"""

from __future__ import annotations

import logging
import resource
from typing import Any

import gevent
from gunicorn.app.base import BaseApplication
from gunicorn.errors import AppImportError
from gunicorn.workers.ggevent import GeventWorker

# How often a worker looks whether gunicorn told it to stop (seconds).
STOP_CHECK_S = 0.2
LOG_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"


class NetstatsGeventWorker(GeventWorker):
    """gunicorn's gevent worker, with a quick stop (SIGINT, SIGQUIT) that ends the streams
    and lets the worker finish as a graceful stop would, at once. gunicorn's own calls
    ``sys.exit`` inside a greenlet, which gevent reports with a traceback."""

    def handle_quit(self, sig, frame) -> None:
        self.alive = False
        gevent.spawn(self.cfg.worker_int, self)


class Server(BaseApplication):
    """gunicorn's application: the settings given, and ``create_app()`` in each worker."""

    def __init__(self, options: dict[str, Any]):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn 24+ opens a control socket at one path per user by default: two
            # servers would share it. netstats has no use for it.
            self.cfg.set("control_socket_disable", True)

    def load(self):
        from netstats.app import create_app
        from netstats.config import ConfigError

        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, datefmt="%Y-%m-%d %H:%M:%S %z")
        try:
            return create_app()
        except ConfigError as exc:
            # gunicorn prints this line (no traceback) and stops.
            raise AppImportError(f"netstats: configuration: {exc}") from None


def _end_streams_when_told_to_stop(worker) -> None:
    """gunicorn's post_worker_init hook: a watcher that ends the streams once the worker
    is told to stop (SIGTERM only clears ``worker.alive``)."""
    import threading  # patched by gevent by now: a greenlet
    import time

    def watch() -> None:
        while worker.alive:
            time.sleep(STOP_CHECK_S)
        _end_streams_now(worker)

    threading.Thread(target=watch, name="netstats-stop-watch", daemon=True).start()


def _end_streams_now(worker) -> None:
    """gunicorn's worker_int hook (SIGINT, SIGQUIT), and the watcher's end: end every stream."""
    from netstats.live import shutdown

    shutdown(worker.wsgi)


def options(
    host: str, port: int, workers: int, worker_connections: int, access_log: bool
) -> dict[str, Any]:
    """gunicorn's settings for ``netstats serve``."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return {
        "bind": [address],
        "workers": workers,
        "worker_class": NetstatsGeventWorker,
        "worker_connections": worker_connections,
        "proc_name": "netstats",
        "accesslog": "-" if access_log else None,
        "post_worker_init": _end_streams_when_told_to_stop,
        "worker_int": _end_streams_now,
    }


def raise_open_file_limit(wanted: int) -> None:
    """Each connection is a file descriptor: lift the soft limit towards ``wanted`` (as far
    as the hard limit allows), so that a process can hold its worker connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def serve(host: str, port: int, workers: int, worker_connections: int, access_log: bool) -> None:
    """Run gunicorn until it is stopped (SIGTERM: gracefully; SIGINT: at once)."""
    raise_open_file_limit(worker_connections + 256)
    Server(options(host, port, workers, worker_connections, access_log)).run()
