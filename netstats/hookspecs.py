"""Hook specifications: the extension points of netstats. See docs/plugins.md for the manual."""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("netstats")
hookimpl = pluggy.HookimplMarker("netstats")


@hookspec
def netstats_collectors():
    """Return a list of ``netstats.collectors.Collector`` objects this plugin provides."""
