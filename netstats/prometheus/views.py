"""``GET /metrics``, and the per-process cache of its answer.

A scrape reads the database (``collector``); its rendered text is kept ``METRICS_CACHE_S``
seconds (default 5, 0 = never cached), so that several Prometheus servers, or a scrape
retried after a timeout, cost one read. A counter served from one process's cache can lag
another process's fresher answer by that much: keep the setting below the scrape interval
and successive scrapes of one Prometheus never see a counter go back (docs/prometheus.md).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Blueprint, Flask, Response, current_app, jsonify

from netstats.db import db
from netstats.error_handlers import error_body
from netstats.errors import Unauthorized
from netstats.prometheus.access import check_access

if TYPE_CHECKING:
    from netstats.prometheus.collector import NetstatsCollector

bp = Blueprint("prometheus", __name__)
_EXTENSION = "netstats.prometheus.cache"
# The classic text format, which every Prometheus version reads (prometheus_client 0.22 on
# label its output "version=1.0.0", which only new servers know; our names need nothing new).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class _Cache:
    collector: NetstatsCollector
    lock: threading.Lock
    body: bytes | None = None
    at: float = 0.0


def _queue_counts(app: Flask):
    def counts() -> tuple[int, int]:
        from netstats.engine.queue import get_queue

        huey = get_queue(app).huey
        return huey.pending_count(), huey.scheduled_count()

    return counts


def _cache(app: Flask) -> _Cache:
    cache = app.extensions.get(_EXTENSION)
    if cache is None:
        # prometheus_client (13 MB) is imported by the first scrape, not by every web process.
        from netstats.prometheus.collector import NetstatsCollector

        seconds = float(app.config["METRICS_CACHE_S"])
        collector = NetstatsCollector(seconds, _queue_counts(app))
        cache = app.extensions.setdefault(_EXTENSION, _Cache(collector, threading.Lock()))
    return cache


def render(app: Flask) -> bytes:
    """The exposition text, from the cache while it is fresh, else read now (one reader at
    a time per process; the others wait for its answer)."""
    cache = _cache(app)
    ttl = float(app.config["METRICS_CACHE_S"])
    with cache.lock:
        now = time.monotonic()
        if cache.body is None or ttl <= 0 or now - cache.at >= ttl:
            from netstats.prometheus.text import to_text

            try:
                cache.body = to_text(cache.collector.families())
            finally:
                db.session.rollback()  # the scrape's reads end here
            cache.at = time.monotonic()
        return cache.body


@bp.get("/metrics", endpoint="metrics")
def metrics():
    """Prometheus text exposition format (version 0.0.4) of every job and destination."""
    try:
        check_access()
    except Unauthorized as exc:
        response = jsonify(error_body(exc.code, exc.message))
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="netstats"'
        return response
    app = current_app._get_current_object()
    return Response(render(app), mimetype=None, content_type=CONTENT_TYPE)
