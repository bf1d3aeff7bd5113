"""Packets timed as close to the wire as Linux allows, shared by the collectors that time them.

- ``timestamping``: sockets whose sends and receives carry kernel software timestamps.
- ``icmp``: ICMP and ICMPv6 echo messages, encoded and checked.
- ``resolve``: host names to one address, honouring a family preference.
- ``icmp_socket``: an ICMP socket per family (raw, or the unprivileged datagram kind).
- ``pacing``: when each probe of a round leaves (per-target interval, global rate cap).
- ``threads``: a collector's fan-out over daemon threads, so an abandoned run never holds up an
  exit.

Engines that drive rounds of probes live beside their collectors (``netstats_plugins._ping``,
``_traceroute``).
"""
