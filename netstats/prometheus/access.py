"""Who may scrape ``/metrics``: a client address inside ``METRICS_ALLOW_NETWORKS``, or any
caller with a valid API token (read scope is enough) or login session.

The allow-list is empty by default, so by default ``/metrics`` needs a token, like every
other call but the health check. The address is the TCP peer's (``request.remote_addr``):
behind a reverse proxy on the same host every client would look like the proxy, so do not
allow loopback there (docs/prometheus.md).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from flask import Flask, current_app, request

from netstats.auth import current_principal
from netstats.config import ConfigError
from netstats.errors import Unauthorized

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_EXTENSION = "netstats.prometheus.networks"


def parse_networks(value: str | Iterable[str] | None) -> tuple[Network, ...]:
    """The networks of the setting: a list, or one string separated by commas or spaces
    (``127.0.0.0/8, ::1``); a bare address is a network of one. Raises ``ConfigError``
    naming the setting and the entry it cannot read."""
    if value is None:
        return ()
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"METRICS_ALLOW_NETWORKS: {item!r} is not an address or network "
                "(for example 127.0.0.0/8 or ::1)"
            ) from None
    return tuple(networks)


def check_settings(app: Flask) -> None:
    """Read ``METRICS_ALLOW_NETWORKS`` and ``METRICS_CACHE_S`` once, at start, so that a
    mistake stops the app with a message rather than refusing every scrape."""
    app.extensions[_EXTENSION] = parse_networks(app.config.get("METRICS_ALLOW_NETWORKS"))
    cache = app.config.get("METRICS_CACHE_S")
    try:
        ok = not isinstance(cache, bool) and float(cache) >= 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(f"METRICS_CACHE_S must be a number of seconds >= 0, not {cache!r}")


def client_allowed(address: str | None, networks: Iterable[Network]) -> bool:
    """Whether ``address`` (the TCP peer) is inside one of ``networks``."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == n.version and ip in n for n in networks)


def check_access() -> None:
    """Let the request through, or raise ``Unauthorized`` saying what would do.

    A request that sends credentials is judged by them (a bad token is refused even from an
    allowed network, so that a mistake shows); one without is allowed by its address, or by
    a login session.
    """
    if request.headers.get("Authorization"):
        current_principal()
        return
    if client_allowed(request.remote_addr, current_app.extensions[_EXTENSION]):
        return
    try:
        current_principal()
    except Unauthorized:
        raise Unauthorized(
            "Authentication required: 'Authorization: Bearer <token>' (an API token), or a "
            f"client address in METRICS_ALLOW_NETWORKS ({request.remote_addr} is not)."
        ) from None
