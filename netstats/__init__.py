"""netstats: self-hosted network measurement service.

This package face is what a plugin imports (``from netstats import hookimpl``): it loads
neither Flask nor the database. The application is built by ``netstats.app.create_app``.
"""

from __future__ import annotations

from netstats.hookspecs import hookimpl, hookspec

__all__ = ["__version__", "hookimpl", "hookspec"]

__version__ = "0.1.0"
