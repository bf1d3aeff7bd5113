"""Host names and literals to one address, honouring a family preference.

``any`` takes the first address the system resolver orders first (RFC 6724 through
``getaddrinfo``), ``ipv4``/``ipv6`` insist on that family. Names are checked before they reach
the resolver, so that a hostile or broken string gets a clear message, never an exception
from deep inside ``getaddrinfo``.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass

from netstats.hosts import HostError, family_conflict, parse_host
from netstats.wire.threads import map_in_daemon_threads

FAMILIES = {"any": socket.AF_UNSPEC, "ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}
# Names resolved at once when a round has many; literals never wait for a thread.
RESOLVER_THREADS = 16


class ResolveError(Exception):
    """A host that cannot be turned into an address of the wanted family."""


@dataclass(frozen=True)
class Resolved:
    """One address to probe: its family, text form and the socket address to send to."""

    family: int
    address: str
    sockaddr: tuple


def resolve(host: str, family: str = "any") -> Resolved:
    """The address to probe for ``host`` under the ``family`` preference (any, ipv4, ipv6)."""
    if family not in FAMILIES:
        raise ResolveError(f"unknown address family {family!r} (any, ipv4 or ipv6)")
    try:
        info = parse_host(host.strip() if isinstance(host, str) else host)
    except HostError as exc:
        raise ResolveError(f"invalid host {host!r}: {exc}") from None
    conflict = family_conflict(info, family)
    if conflict:
        raise ResolveError(f"{host}: {conflict}")
    host, wanted = info.ascii, FAMILIES[family]
    try:
        infos = socket.getaddrinfo(host, None, wanted, socket.SOCK_RAW)
    except socket.gaierror as exc:
        raise ResolveError(f"cannot resolve {host!r}: {exc.strerror}") from None
    except (UnicodeError, ValueError) as exc:
        raise ResolveError(f"invalid host name {host!r}: {exc}") from None
    for af, _type, _proto, _canon, sockaddr in infos:
        if af in (socket.AF_INET, socket.AF_INET6):
            return Resolved(af, sockaddr[0], sockaddr)
    raise ResolveError(f"{host!r} has no {family} address")


def resolve_many(hosts: Sequence[tuple[str, str]]) -> list[Resolved | ResolveError]:
    """Resolve (host, family) pairs, names in parallel; each answer or its error, in order."""

    def attempt(pair: tuple[str, str]) -> Resolved | ResolveError:
        try:
            return resolve(*pair)
        except ResolveError as exc:
            return exc

    names = [pair for pair in hosts if not _is_literal(pair[0])]
    if len(names) < 2:
        return [attempt(pair) for pair in hosts]
    return map_in_daemon_threads(attempt, hosts, min(RESOLVER_THREADS, len(names)), "resolve")


def _is_literal(host: object) -> bool:
    try:
        return parse_host(str(host).strip()).kind != "hostname"
    except HostError:
        return True  # refused without a lookup: no thread needed
