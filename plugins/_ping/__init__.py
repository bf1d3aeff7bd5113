"""The ping collector's parts, kept apart from ``netstats_plugins.ping`` (parameters, metrics,
the hook) as ``_traceroute`` and ``_dns`` are:

- ``payload``: what an echo request of ours carries (a marker, a token, filler).
- ``engine``: the shared ping engine, one ICMP socket per family per network namespace per
  process, on the primitives of ``netstats.wire``.
"""
