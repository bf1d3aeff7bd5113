"""``GET /metrics``: netstats' measurements and health in Prometheus's text format.

- ``collector``: a ``prometheus_client`` custom collector; every scrape reads the database
  through the read side (``netstats.queries.totals``), so every web process serves the same
  numbers, and the counters come from tables that only grow (``netstats.engine.totals``).
- ``access``: who may scrape: a client address in ``METRICS_ALLOW_NETWORKS``, or an API token.
- ``views``: the blueprint, and the per-process cache of the rendered answer
  (``METRICS_CACHE_S``).

docs/prometheus.md documents the metrics, the access rule and example PromQL.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Check the settings of ``/metrics`` and register its blueprint."""
    from netstats.prometheus import access, views

    access.check_settings(app)
    app.register_blueprint(views.bp)
