"""The parts of the dns collector: query names, servers, exchanges and their summary.

``plugins/dns.py`` is the collector itself (parameters, metrics, ``collect``); the modules here
each do one job:

- ``names``: what a user may type as the query name, turned into the ASCII form DNS carries.
- ``servers``: a target (an address, a host name or ``system``) to the servers to ask.
- ``exchange``: one query and its reply over udp, timed by the kernel.
- ``stream``: queries over a kept tcp (kernel-timestamped) or tls connection.
- ``probe``: ``count`` queries to a target's servers, with the system resolver's failover.
- ``summary``: per-query results to the collector's metrics and details.
"""
