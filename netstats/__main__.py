"""``python -m netstats`` is the ``netstats`` command."""

from netstats.cli import main

main()
