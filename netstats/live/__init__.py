"""Live updates: one hub per web process follows the event log and feeds every open stream.

``get_hub()`` starts the app's hub on first use (the first stream), so that apps that never
stream (the worker, the CLI, most tests) run no thread for it; ``shutdown()`` ends every
stream, for a server that stops. docs/live.md describes the whole path.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app

from netstats.live.hub import Hub
from netstats.live.stream import Subscription, stream_events

__all__ = ["Hub", "Subscription", "current_position", "get_hub", "shutdown", "stream_events"]

_EXTENSION = "netstats_live"
_starting = threading.Lock()


def get_hub(app: Flask | None = None) -> Hub:
    """The app's hub, started on first use."""
    from netstats.live.wakeup import channel_for

    app = app or current_app._get_current_object()
    hub = app.extensions.get(_EXTENSION)
    if hub is None or hub.closing:
        with _starting:
            hub = app.extensions.get(_EXTENSION)
            if hub is None or hub.closing:
                hub = Hub(
                    app,
                    channel_for(app),
                    int(app.config["LIVE_RING_EVENTS"]),
                    int(float(app.config["LIVE_RING_MB"]) * 1024 * 1024),
                )
                hub.start()
                app.extensions[_EXTENSION] = hub
    return hub


def current_position(app: Flask | None = None) -> int:
    """How far the log goes, as far as this process knows: a page rendered now shows the data
    of every event up to here, so its stream starts after it."""
    from netstats.queries.events import log_position

    app = app or current_app._get_current_object()
    hub = app.extensions.get(_EXTENSION)
    if hub is not None and not hub.closing:
        return hub.last
    return log_position()


def shutdown(app: Flask | None = None) -> None:
    """End every stream of the app and its hub (a server that stops); idempotent."""
    app = app or current_app._get_current_object()
    hub = app.extensions.pop(_EXTENSION, None)
    if hub is not None:
        hub.stop()
