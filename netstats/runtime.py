"""What the process runs under: plain threads, or gevent (a ``netstats serve`` worker).

Under gevent one blocked call stops every request and stream of the process, so code that
would block (SQLite's busy wait, a collector's engine) takes another way there. This module
imports nothing, so that any layer may ask.
"""

from __future__ import annotations

import sys


def under_gevent() -> bool:
    """Whether gevent has patched the standard library in this process."""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("threading"))
