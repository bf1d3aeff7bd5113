"""The built-in collectors, installed as the package ``netstats_plugins``."""
