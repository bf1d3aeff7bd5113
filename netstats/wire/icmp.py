"""ICMP and ICMPv6 echo messages: encoding, and decoding that rejects anything malformed.

Pure functions on bytes, no sockets. Decoders return None for anything that is not a
well-formed echo message of the expected kind (too short, wrong type or code, bad IPv4
checksum, a header that does not add up): a prober must ignore such packets, never fail on them.
"""

from __future__ import annotations

import socket
import struct
import sys
from dataclasses import dataclass

ECHO_REQUEST = {socket.AF_INET: 8, socket.AF_INET6: 128}
ECHO_REPLY = {socket.AF_INET: 0, socket.AF_INET6: 129}
HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence
IPV4_MIN_HEADER = 20


@dataclass(frozen=True)
class Echo:
    """A decoded echo request or reply; ``ttl`` is known only when the IP header came along."""

    ident: int
    seq: int
    payload: bytes
    ttl: int | None = None


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``: 0 over a message that carries a right one."""
    if len(data) % 2:
        data += b"\0"
    # Summing native-order 16-bit words gives the byte-swapped sum on little-endian machines;
    # the one's complement sum commutes with the swap (RFC 1071 section 2B), so swap once.
    total = sum(memoryview(data).cast("H"))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    total = ~total & 0xFFFF
    if sys.byteorder == "little":
        total = ((total & 0xFF) << 8) | (total >> 8)
    return total


def encode_echo(family: int, icmp_type: int, ident: int, seq: int, payload: bytes) -> bytes:
    """An echo message with its checksum filled in.

    For ICMPv6 the kernel recomputes the checksum over the IPv6 pseudo-header on raw and
    datagram sockets alike, so the value here only matters for IPv4.
    """
    ident, seq = ident & 0xFFFF, seq & 0xFFFF
    header = HEADER.pack(icmp_type, 0, 0, ident, seq)
    if family == socket.AF_INET:
        header = HEADER.pack(icmp_type, 0, checksum(header + payload), ident, seq)
    return header + payload


def echo_request(family: int, ident: int, seq: int, payload: bytes) -> bytes:
    """An ICMP (``AF_INET``) or ICMPv6 (``AF_INET6``) echo request."""
    return encode_echo(family, ECHO_REQUEST[family], ident, seq, payload)


def echo_reply(family: int, ident: int, seq: int, payload: bytes) -> bytes:
    """An ICMP or ICMPv6 echo reply."""
    return encode_echo(family, ECHO_REPLY[family], ident, seq, payload)


def decode_echo(family: int, data: bytes, icmp_type: int, ip_header: bool) -> Echo | None:
    """Decode an echo message of ``icmp_type``, or None when ``data`` is not a good one.

    ``ip_header``: the data starts with the IPv4 header (IPv4 raw sockets deliver it; IPv6
    raw sockets and datagram ICMP sockets do not). IPv4 checksums are verified here; the
    kernel verifies ICMPv6 checksums before a socket sees the packet.
    """
    ttl = None
    if ip_header:
        if len(data) < IPV4_MIN_HEADER or data[0] >> 4 != 4:
            return None
        header_len = (data[0] & 0x0F) * 4
        if header_len < IPV4_MIN_HEADER or len(data) < header_len or data[9] != socket.IPPROTO_ICMP:
            return None
        ttl = data[8]
        data = data[header_len:]
    if len(data) < HEADER.size:
        return None
    kind, code, _sum, ident, seq = HEADER.unpack_from(data)
    if kind != icmp_type or code != 0:
        return None
    if family == socket.AF_INET and checksum(data) != 0:
        return None
    return Echo(ident, seq, bytes(data[HEADER.size :]), ttl)


def decode_echo_reply(family: int, data: bytes, ip_header: bool) -> Echo | None:
    """An echo reply decoded from ``data``, or None (see ``decode_echo``)."""
    return decode_echo(family, data, ECHO_REPLY[family], ip_header)


def decode_echo_request(family: int, data: bytes, ip_header: bool) -> Echo | None:
    """An echo request decoded from ``data``, or None (see ``decode_echo``)."""
    return decode_echo(family, data, ECHO_REQUEST[family], ip_header)
