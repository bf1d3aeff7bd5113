"""What a destination's host may be: a hostname (IDNA allowed), an IPv4 or an IPv6 literal.

Pure syntax checks, plus an optional resolution with a time limit.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import idna

MAX_HOST_LENGTH = 253
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)
_resolver_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="resolve")


class HostError(ValueError):
    """The host is not a valid hostname or IP literal; the message says why."""


@dataclass
class HostInfo:
    kind: str  # "hostname" | "ipv4" | "ipv6"
    ascii: str  # the IDNA (punycode) form of a hostname, the canonical form of an address


def parse_host(host: str) -> HostInfo:
    """Classify and check ``host``; raises HostError with a reason a user can act on."""
    if not isinstance(host, str):
        raise HostError("Must be a string.")
    if not host:
        raise HostError("Must not be empty.")
    if any(not ch.isprintable() or ch.isspace() for ch in host):
        raise HostError("Must not contain spaces or control characters.")
    if len(host) > MAX_HOST_LENGTH + 1:
        raise HostError(f"Longer than {MAX_HOST_LENGTH} characters.")
    literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(literal)
    except ValueError:
        pass
    else:
        return HostInfo(f"ipv{address.version}", str(address))
    if ":" in host:
        raise HostError("Not a valid IPv6 address.")
    if re.fullmatch(r"[0-9.]+", host):
        raise HostError("Not a valid IPv4 address.")
    return HostInfo("hostname", _idna_hostname(host))


def _idna_hostname(host: str) -> str:
    name = host[:-1] if host.endswith(".") else host
    if not name:
        raise HostError("Must not be only a dot.")
    try:
        ascii_name = (
            name.encode("ascii").decode()
            if name.isascii()
            else idna.encode(name, uts46=True).decode()
        )
    except idna.IDNAError as exc:
        raise HostError(f"Not a valid internationalized name: {exc}.") from None
    if len(ascii_name) > MAX_HOST_LENGTH:
        raise HostError(f"Longer than {MAX_HOST_LENGTH} characters once IDNA-encoded.")
    for label in ascii_name.split("."):
        if not label:
            raise HostError("Has an empty label (two dots in a row).")
        if not _LABEL.match(label):
            raise HostError(
                f"Label {label!r}: letters, digits and inner hyphens only, 1 to 63 characters."
            )
        if label.lower().startswith("xn--"):
            try:
                idna.decode(label)
            except idna.IDNAError:
                raise HostError(f"Label {label!r} is not valid punycode.") from None
    return ascii_name.lower()


def family_conflict(info: HostInfo, family: str) -> str | None:
    """Why an address literal cannot be measured with ``family``, or None."""
    if info.kind == "ipv4" and family == "ipv6":
        return "An IPv4 address cannot be measured over IPv6."
    if info.kind == "ipv6" and family == "ipv4":
        return "An IPv6 address cannot be measured over IPv4."
    return None


def resolve(info: HostInfo, family: str = "any", timeout: float = 3.0) -> list[str]:
    """The addresses ``info`` resolves to with the family preference; HostError if none."""
    if info.kind != "hostname":
        return [info.ascii]
    af = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}.get(family, socket.AF_UNSPEC)
    future = _resolver_pool.submit(socket.getaddrinfo, info.ascii, None, af, socket.SOCK_DGRAM)
    try:
        results = future.result(timeout=timeout)
    except FutureTimeout:
        raise HostError(f"Resolving {info.ascii} took longer than {timeout:g} s.") from None
    except OSError as exc:
        raise HostError(f"Cannot resolve {info.ascii}: {exc.strerror or exc}.") from None
    return list(dict.fromkeys(sockaddr[0] for *_, sockaddr in results))
