"""Kernel-timestamped sockets: when a packet left and when it arrived, as the kernel saw it.

A timestamp taken in user space before ``sendto`` or after ``recvfrom`` includes whatever the
process was doing meanwhile: a thread holding the GIL, a page fault, the scheduler. Linux can
instead stamp each packet in the kernel (``SO_TIMESTAMPING``, software stamps):

- transmit: when the driver takes the packet (``skb_tx_timestamp``). The stamp comes back on
  the socket's error queue (``MSG_ERRQUEUE``) with a copy of the packet as sent, from the
  link-layer header on, so a caller can tell which of its packets it belongs to.
- receive: when the packet entered the stack (``netif_rx``/``netif_receive_skb``), delivered
  as a control message with the data.

Both are ``CLOCK_REALTIME`` nanoseconds, so their difference is a round-trip time. Where the
kernel offers no such stamps (another OS, an old kernel) the socket falls back to
``time.time_ns()`` taken just before the send and just after the receive, and says so
(``StampedSocket.kernel`` is False, ``Received.kernel`` is False).

Usage, for any datagram or raw socket::

    stamped = StampedSocket(sock)
    sent = stamped.send(packet, (address, 0))          # Sent(key, user_ns)
    stamp = stamped.wait_tx_stamp(sent.key, 0.1)       # TxStamp(key, ns, packet) or None
    received = stamped.receive()                       # Received(...) or None if none waiting

``read_tx_stamps()`` drains the error queue without waiting, for event loops that poll the
socket (the error queue makes the socket report ``POLLERR``/``EPOLLERR``). The module uses
only the standard library: no library exposes these socket options, and the point is to do
no work between the wire and the stamp.

A ``StampedSocket`` is not thread-safe: one thread sends, or callers serialize.
"""

from __future__ import annotations

import errno
import select
import socket
import struct
import sys
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

# <linux/net_tstamp.h>; the socket option number is 37 on every architecture Python ships
# for except alpha, mips, parisc and sparc, where setsockopt fails and we fall back.
SO_TIMESTAMPING = getattr(socket, "SO_TIMESTAMPING", 37)
SOF_TIMESTAMPING_TX_SOFTWARE = 1 << 1
SOF_TIMESTAMPING_RX_SOFTWARE = 1 << 3
SOF_TIMESTAMPING_SOFTWARE = 1 << 4
SOF_TIMESTAMPING_OPT_ID = 1 << 7
TIMESTAMPING_FLAGS = (
    SOF_TIMESTAMPING_TX_SOFTWARE
    | SOF_TIMESTAMPING_RX_SOFTWARE
    | SOF_TIMESTAMPING_SOFTWARE
    | SOF_TIMESTAMPING_OPT_ID
)
# <linux/errqueue.h>: struct sock_extended_err, and where it arrives.
SO_EE_ORIGIN_TIMESTAMPING = 4
SCM_TSTAMP_SND = 0
_EXTENDED_ERR = struct.Struct("=IBBBBII")
_RECVERR_CMSGS = {(socket.IPPROTO_IP, 11), (socket.IPPROTO_IPV6, 25)}  # IP(V6)_RECVERR
# struct scm_timestamping: three struct timespec (software, deprecated, hardware). With the
# _OLD option number a timespec is two native longs, on 32- and 64-bit kernels alike.
_TIMESPEC = struct.Struct("@ll")

# Room for the returned copy of a sent packet: link-layer, IP (with options) and transport
# headers plus the start of the payload, which is all a caller needs to recognise it.
TX_COPY_BYTES = 512
_ANCILLARY_BYTES = socket.CMSG_SPACE(3 * _TIMESPEC.size) + socket.CMSG_SPACE(64) + 256


@dataclass(frozen=True)
class Sent:
    """One packet handed to the kernel.

    ``key`` numbers the successful sends of this socket from 0 (the kernel's
    ``SOF_TIMESTAMPING_OPT_ID`` counter); ``user_ns`` is ``time.time_ns()`` just before the
    send, the fallback when no kernel stamp comes back.
    """

    key: int
    user_ns: int


@dataclass(frozen=True)
class TxStamp:
    """The kernel's transmit stamp of one sent packet.

    ``packet`` is the start of the packet as it went to the driver, link-layer header
    included: search it for something unique in your payload to match stamp and packet
    without trusting the key (a failed send may or may not have consumed a key).
    """

    key: int
    ns: int
    packet: bytes


@dataclass(frozen=True)
class Received:
    """One received packet: its bytes, sender, arrival stamp and other control messages."""

    data: bytes
    address: tuple
    ns: int
    kernel: bool
    ancillary: list[tuple[int, int, bytes]]
    truncated: bool


class StampedSocket:
    """Wraps a datagram or raw socket so that every send and receive is stamped.

    With ``use_kernel=False`` (or where the kernel cannot) the stamps are user-space ones.
    The wrapped socket stays usable for ``setsockopt``/``bind``; do not read from it directly
    or its error queue fills up with stamps nobody reads. Error-queue messages other than
    transmit stamps (ICMP errors under ``IP_RECVERR``) are read and dropped.
    """

    def __init__(self, sock: socket.socket, use_kernel: bool = True) -> None:
        self.sock = sock
        self.kernel = use_kernel and _enable_timestamping(sock)
        self._next_key = 0
        self._unclaimed: deque[TxStamp] = deque()

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes, address: tuple, ancillary: list | tuple = ()) -> Sent:
        """Send ``data`` to ``address`` with optional control messages; raises ``OSError``."""
        user_ns = time.time_ns()
        if ancillary:
            self.sock.sendmsg([data], list(ancillary), 0, address)
        else:
            self.sock.sendto(data, address)
        key = self._next_key
        self._next_key = (key + 1) & 0xFFFFFFFF  # ee_data is a u32 and wraps
        return Sent(key, user_ns)

    def read_tx_stamps(self) -> list[TxStamp]:
        """Every transmit stamp waiting on the error queue, without blocking."""
        stamps = list(self._unclaimed)
        self._unclaimed.clear()
        if not self.kernel:
            return stamps
        while True:
            try:
                data, ancillary, _flags, _addr = self.sock.recvmsg(
                    TX_COPY_BYTES, _ANCILLARY_BYTES, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT
                )
            except (BlockingIOError, InterruptedError):
                return stamps
            stamp = _tx_stamp(data, ancillary)
            if stamp is not None:
                stamps.append(stamp)

    def wait_tx_stamp(self, key: int, timeout: float) -> TxStamp | None:
        """Wait up to ``timeout`` seconds for the transmit stamp of send ``key``.

        Stamps of other sends read meanwhile are kept for the next ``read_tx_stamps``. None
        when the kernel gives no stamps or none came in time.
        """
        if not self.kernel:
            return None
        deadline = time.monotonic() + timeout
        poller = _error_poller(self.sock)
        while True:
            for stamp in self.read_tx_stamps():
                if stamp.key == key:
                    found = stamp
                    break
                self._unclaimed.append(stamp)
            else:
                found = None
            if found is not None:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            poller.poll(max(1, int(left * 1000)))

    def receive(self, bufsize: int = 65535) -> Received | None:
        """The next waiting packet with its arrival stamp, or None when none is waiting."""
        try:
            data, ancillary, flags, address = self.sock.recvmsg(
                bufsize, _ANCILLARY_BYTES, socket.MSG_DONTWAIT
            )
        except (BlockingIOError, InterruptedError):
            return None
        ns = _rx_stamp(ancillary) if self.kernel else None
        kernel = ns is not None
        if ns is None:
            ns = time.time_ns()
        others = [c for c in ancillary if not _is_timestamping(c)]
        return Received(data, address, ns, kernel, others, bool(flags & socket.MSG_TRUNC))


def _enable_timestamping(sock: socket.socket) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, TIMESTAMPING_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ENOPROTOOPT, errno.EINVAL, errno.EOPNOTSUPP):
            return False
        raise
    return True


def _is_timestamping(cmsg: tuple[int, int, bytes]) -> bool:
    return cmsg[0] == socket.SOL_SOCKET and cmsg[1] == SO_TIMESTAMPING


def _software_ns(payload: bytes) -> int | None:
    if len(payload) < _TIMESPEC.size:
        return None
    seconds, nanoseconds = _TIMESPEC.unpack_from(payload, 0)
    if seconds == 0 and nanoseconds == 0:
        return None
    return seconds * 1_000_000_000 + nanoseconds


def _rx_stamp(ancillary: list[tuple[int, int, bytes]]) -> int | None:
    for cmsg in ancillary:
        if _is_timestamping(cmsg):
            return _software_ns(cmsg[2])
    return None


def _tx_stamp(packet: bytes, ancillary: list[tuple[int, int, bytes]]) -> TxStamp | None:
    ns = key = None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPING:
            ns = _software_ns(payload)
        elif (level, kind) in _RECVERR_CMSGS and len(payload) >= _EXTENDED_ERR.size:
            err, origin, _t, _c, _p, info, data = _EXTENDED_ERR.unpack_from(payload, 0)
            is_stamp = err == errno.ENOMSG and origin == SO_EE_ORIGIN_TIMESTAMPING
            if is_stamp and info == SCM_TSTAMP_SND:
                key = data
    if ns is None or key is None:
        return None
    return TxStamp(key, ns, packet)


def _error_poller(sock: socket.socket) -> select.poll:
    poller = select.poll()
    poller.register(sock, select.POLLERR)
    return poller


def stamp_kind(kernel_stamped: Iterable[bool]) -> str | None:
    """How a set of RTTs was timed, for a measurement's details: "kernel" (both ends of every
    RTT), "user", "mixed", or None when there is no RTT. Pass one flag per RTT."""
    kinds = set(kernel_stamped)
    if not kinds:
        return None
    if len(kinds) == 2:
        return "mixed"
    return "kernel" if True in kinds else "user"
