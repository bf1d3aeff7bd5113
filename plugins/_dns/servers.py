"""A target to the DNS servers to ask.

The target is the server: an IP address, a host name (resolved once, with the destination's
family preference, and the first address asked), or ``system``: the nameservers of the
system resolver, read from ``/etc/resolv.conf`` by dnspython, asked in order as a stub
resolver would (see ``probe``).
"""

from __future__ import annotations

from netstats.collectors import Target
from netstats.hosts import HostError, family_conflict, parse_host, resolve

from .names import ip_literal

SYSTEM = "system"
RESOLV_CONF = "/etc/resolv.conf"
FAMILY_VERSION = {"ipv4": 4, "ipv6": 6}


class ServerError(Exception):
    """The target names no server that can be asked; the message says why."""


def server_addresses(target: Target, resolve_timeout: float) -> list[str]:
    """The addresses to ask for ``target``, in order; more than one only for ``system``."""
    if target.host.lower() == SYSTEM:
        return system_nameservers(target.family)
    try:
        info = parse_host(target.host)
    except HostError as exc:
        raise ServerError(f"{target.host!r} is not a server address or host name: {exc}") from None
    conflict = family_conflict(info, target.family)
    if conflict:
        raise ServerError(conflict)
    try:
        return resolve(info, target.family, resolve_timeout)[:1]
    except HostError as exc:
        raise ServerError(str(exc)) from None


def system_nameservers(family: str = "any", path: str = RESOLV_CONF) -> list[str]:
    """The nameservers of ``path`` (a resolv.conf) of the wanted family, in file order."""
    import dns.resolver  # dnspython loads when a query runs, not with the plugin

    try:
        nameservers = dns.resolver.Resolver(filename=path).nameservers
    except dns.resolver.NoResolverConfiguration as exc:
        raise ServerError(f"no system resolver: {exc}") from None
    wanted = FAMILY_VERSION.get(family)
    found = [
        str(ns)
        for ns in nameservers
        if (address := ip_literal(str(ns))) is not None and wanted in (None, address.version)
    ]
    if not found:
        raise ServerError(f"{path} lists no {family} nameserver")
    return found
