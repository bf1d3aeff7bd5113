"""Address resolution with a family preference; bad names refused before any lookup.

Only literals and ``localhost`` (answered from /etc/hosts) are resolved here: no test sends a
DNS query out of the machine. Failing lookups are tested inside the lab (test_ping_lab).
"""

from __future__ import annotations

import socket

import pytest

from netstats.wire.resolve import ResolveError, resolve, resolve_many


@pytest.mark.parametrize(
    ("host", "family", "address", "af"),
    [
        ("127.0.0.1", "any", "127.0.0.1", socket.AF_INET),
        ("127.0.0.1", "ipv4", "127.0.0.1", socket.AF_INET),
        ("::1", "any", "::1", socket.AF_INET6),
        ("0:0::1", "ipv6", "::1", socket.AF_INET6),
        (" 127.0.0.2 ", "any", "127.0.0.2", socket.AF_INET),
        ("localhost", "ipv4", "127.0.0.1", socket.AF_INET),
    ],
)
def test_literals_and_hosts_file_names_resolve(host, family, address, af):
    resolved = resolve(host, family)
    assert (resolved.address, resolved.family) == (address, af)
    assert resolved.sockaddr[0] == address


@pytest.mark.parametrize(
    ("host", "family", "message"),
    [
        ("127.0.0.1", "ipv6", "An IPv4 address cannot be measured over IPv6"),
        ("::1", "ipv4", "An IPv6 address cannot be measured over IPv4"),
        ("", "any", "Must not be empty"),
        ("   ", "any", "Must not be empty"),
        ("a b", "any", "spaces or control characters"),
        ("evil\x00.example", "any", "spaces or control characters"),
        ("x\n.example", "any", "spaces or control characters"),
        ("a" * 64 + ".example", "any", "1 to 63 characters"),
        ("a." * 127 + "com", "any", "Longer than 253"),
        ("a..example", "any", "empty label"),
        ("127.0.0.1", "ipv5", "unknown address family"),
    ],
)
def test_bad_hosts_get_a_clear_error(host, family, message):
    with pytest.raises(ResolveError, match=message):
        resolve(host, family)


def test_non_string_host_is_an_error_not_a_crash():
    with pytest.raises(ResolveError):
        resolve(12, "any")  # type: ignore[arg-type]


def test_resolve_many_keeps_order_and_returns_errors_in_place():
    answers = resolve_many([("127.0.0.1", "any"), ("bad name", "any"), ("::1", "any")])
    assert answers[0].address == "127.0.0.1"
    assert isinstance(answers[1], ResolveError)
    assert answers[2].address == "::1"
