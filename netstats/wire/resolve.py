"""Host names and literals to one address, honouring a family preference.

``any`` takes the first address the system resolver orders first (RFC 6724 through
``getaddrinfo``), ``ipv4``/``ipv6`` insist on that family. Names are checked before they reach
the resolver, so that a hostile or broken string gets a clear message, never an exception
from deep inside ``getaddrinfo``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

FAMILIES = {"any": socket.AF_UNSPEC, "ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}
MAX_NAME_LENGTH = 253
MAX_LABEL_LENGTH = 63
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
    if not isinstance(host, str):
        raise ResolveError(f"host must be text, not {type(host).__name__}")
    if not host.strip():
        raise ResolveError("empty host name")
    host = host.strip()
    wanted = FAMILIES[family]
    literal = _literal(host)
    if literal is not None:
        found = socket.AF_INET if literal.version == 4 else socket.AF_INET6
        if wanted not in (socket.AF_UNSPEC, found):
            raise ResolveError(f"{host} is an IPv{literal.version} address but {family} is wanted")
    else:
        _check_name(host)
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

    names = [pair for pair in hosts if _literal(str(pair[0]).strip()) is None]
    if len(names) < 2:
        return [attempt(pair) for pair in hosts]
    with ThreadPoolExecutor(min(RESOLVER_THREADS, len(names))) as pool:
        return list(pool.map(attempt, hosts))


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _check_name(host: str) -> None:
    if len(host) > MAX_NAME_LENGTH:
        raise ResolveError(f"host name longer than {MAX_NAME_LENGTH} characters")
    if any(not ch.isprintable() or ch.isspace() for ch in host):
        raise ResolveError(f"host name {host!r} contains spaces or control characters")
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    for label in labels:
        if not label:
            raise ResolveError(f"host name {host!r} has an empty label")
        if len(label) > MAX_LABEL_LENGTH:
            raise ResolveError(f"host name {host!r} has a label longer than {MAX_LABEL_LENGTH}")
