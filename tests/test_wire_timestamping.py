"""Kernel-timestamped sockets, on UDP over 127.0.0.1 (no privilege needed)."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from netstats.wire.timestamping import StampedSocket


@pytest.fixture
def udp_pair():
    """A sending socket wrapped in StampedSocket and a receiving one, both on 127.0.0.1."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    yield tx, rx
    tx.close()
    rx.close()


def test_send_gets_a_kernel_tx_stamp_carrying_a_copy_of_the_packet(udp_pair):
    tx, rx = udp_pair
    stamped = StampedSocket(tx)
    assert stamped.kernel
    token = os.urandom(8)
    sent = stamped.send(b"hello" + token, rx.getsockname())
    after = time.time_ns()
    stamp = stamped.wait_tx_stamp(sent.key, 1.0)
    assert stamp is not None
    assert stamp.key == sent.key == 0
    assert token in stamp.packet
    assert sent.user_ns <= stamp.ns <= after


def test_tx_stamps_are_numbered_by_successful_send(udp_pair):
    tx, rx = udp_pair
    stamped = StampedSocket(tx)
    tokens = [os.urandom(8) for _ in range(5)]
    keys = [stamped.send(t, rx.getsockname()).key for t in tokens]
    assert keys == [0, 1, 2, 3, 4]
    deadline = time.monotonic() + 1
    stamps = []
    while len(stamps) < 5 and time.monotonic() < deadline:
        stamps += stamped.read_tx_stamps()
    assert [s.key for s in stamps] == keys
    assert all(t in s.packet for t, s in zip(tokens, stamps, strict=True))


def test_wait_for_one_stamp_keeps_the_others_for_later(udp_pair):
    tx, rx = udp_pair
    stamped = StampedSocket(tx)
    for _ in range(3):
        stamped.send(b"x", rx.getsockname())
    assert stamped.wait_tx_stamp(2, 1.0).key == 2
    assert [s.key for s in stamped.read_tx_stamps()] == [0, 1]


def test_rx_stamp_is_the_arrival_not_the_late_read_by_a_busy_process(udp_pair):
    tx, rx = udp_pair
    sender = StampedSocket(tx)
    receiver = StampedSocket(rx)
    stop = threading.Event()

    def spin():  # holds the GIL in slices, as a CPU-bound job would
        while not stop.is_set():
            sum(range(1000))

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        sent = sender.send(b"ping", rx.getsockname())
        tx_stamp = sender.wait_tx_stamp(sent.key, 1.0)
        time.sleep(0.05)
        received = receiver.receive()
        read_ns = time.time_ns()
    finally:
        stop.set()
        spinner.join()
    assert received is not None and received.kernel
    assert received.data == b"ping"
    assert read_ns - tx_stamp.ns > 40_000_000
    assert 0 <= received.ns - tx_stamp.ns < 1_000_000


def test_receive_returns_none_when_nothing_waits(udp_pair):
    _tx, rx = udp_pair
    assert StampedSocket(rx).receive() is None


def test_user_space_fallback_stamps_and_says_so(udp_pair):
    tx, rx = udp_pair
    sender = StampedSocket(tx, use_kernel=False)
    receiver = StampedSocket(rx, use_kernel=False)
    sent = sender.send(b"x", rx.getsockname())
    assert sender.wait_tx_stamp(sent.key, 0.05) is None
    assert sender.read_tx_stamps() == []
    deadline = time.monotonic() + 1
    received = None
    while received is None and time.monotonic() < deadline:
        received = receiver.receive()
    assert received is not None and not received.kernel
    assert received.ns >= sent.user_ns
