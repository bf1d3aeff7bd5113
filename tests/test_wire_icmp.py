"""ICMP/ICMPv6 echo encoding and the decoder's refusal of malformed packets."""

from __future__ import annotations

import socket
import struct

import pytest

from netstats.wire.icmp import (
    checksum,
    decode_echo_reply,
    decode_echo_request,
    echo_reply,
    echo_request,
)

V4, V6 = socket.AF_INET, socket.AF_INET6


def ipv4_header(payload_len: int, ttl: int = 57, options: bytes = b"") -> bytes:
    ihl = 5 + len(options) // 4
    return (
        struct.pack(
            "!BBHHHBBH4s4s",
            0x40 | ihl,
            0,
            ihl * 4 + payload_len,
            0,
            0,
            ttl,
            1,
            0,
            bytes([10, 0, 0, 2]),
            bytes([10, 0, 0, 1]),
        )
        + options
    )


def test_checksum_matches_the_rfc_1071_example():
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D


def test_checksum_of_odd_length_pads_with_a_zero_byte():
    assert checksum(b"\x01\x02\x03") == checksum(b"\x01\x02\x03\x00")


def test_ipv4_request_carries_a_valid_checksum_and_round_trips():
    packet = echo_request(V4, 0x1234, 7, b"payload!")
    assert packet[0] == 8 and checksum(packet) == 0
    echo = decode_echo_request(V4, packet, ip_header=False)
    assert (echo.ident, echo.seq, echo.payload, echo.ttl) == (0x1234, 7, b"payload!", None)


def test_reply_behind_an_ipv4_header_with_options_gives_its_ttl():
    packet = echo_reply(V4, 1, 2, b"abc")
    echo = decode_echo_reply(V4, ipv4_header(len(packet), 57, b"\x01" * 8) + packet, True)
    assert (echo.ident, echo.seq, echo.payload, echo.ttl) == (1, 2, b"abc", 57)


def test_ipv6_messages_leave_the_checksum_to_the_kernel():
    packet = echo_request(V6, 5, 6, b"x")
    assert packet[0] == 128 and packet[2:4] == b"\0\0"
    assert decode_echo_request(V6, packet, ip_header=False).seq == 6
    assert decode_echo_reply(V6, echo_reply(V6, 5, 6, b"x"), ip_header=False).payload == b"x"


def test_identifier_and_sequence_wrap_to_sixteen_bits():
    echo = decode_echo_request(V4, echo_request(V4, 0x12345, 0x10001, b""), ip_header=False)
    assert (echo.ident, echo.seq) == (0x2345, 1)


def _corrupt(packet: bytes, at: int) -> bytes:
    return packet[:at] + bytes([packet[at] ^ 0xFF]) + packet[at + 1 :]


GOOD = echo_reply(V4, 9, 9, b"0123456789")


@pytest.mark.parametrize(
    ("data", "ip_header"),
    [
        (b"", False),
        (GOOD[:7], False),  # shorter than the ICMP header
        (_corrupt(GOOD, 9), False),  # payload changed: checksum no longer adds up
        (_corrupt(GOOD, 2), False),  # checksum itself wrong
        (echo_request(V4, 9, 9, b"x"), False),  # a request where a reply is wanted
        (GOOD[:1] + b"\x05" + GOOD[2:], False),  # code not 0
        (ipv4_header(len(GOOD))[:19], True),  # truncated IP header
        (b"\x60" + ipv4_header(len(GOOD))[1:] + GOOD, True),  # not IPv4
        (b"\x43" + ipv4_header(len(GOOD))[1:] + GOOD, True),  # header length below 20
        (b"\x4f" + ipv4_header(len(GOOD))[1:] + GOOD, True),  # header longer than the data
        (ipv4_header(len(GOOD))[:9] + b"\x11" + ipv4_header(len(GOOD))[10:] + GOOD, True),  # UDP
    ],
)
def test_malformed_packets_decode_to_none(data, ip_header):
    assert decode_echo_reply(V4, data, ip_header=ip_header) is None


def test_random_garbage_never_raises():
    import random

    rng = random.Random(1)
    for _ in range(2000):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
        for family in (V4, V6):
            for ip_header in (True, False):
                decode_echo_reply(family, data, ip_header)
