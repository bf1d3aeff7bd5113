"""The traceroute collector's parts: probe crafting, reply parsing, scheduling, sockets, hops.

Kept apart from ``netstats_plugins.traceroute`` (parameters, metrics, the hook) so that each
module has one job and the pure ones are tested without sockets.
"""
