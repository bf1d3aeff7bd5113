"""A TCP relay from inside a lab namespace to a service of the test's own namespace.

The engine runs a traceroute job from inside a lab client namespace (its collector must reach
the lab's routers), but PostgreSQL listens on the host's loopback, which that namespace does
not have. The relay listens on the same address and port inside the namespace and copies each
connection to the real service: sockets stay in the namespace they were opened in, so the
listener is opened inside and every upstream connection outside.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

from tests.lab.netns import Namespace


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def relay_into(ns: Namespace, host: str, port: int) -> Iterator[None]:
    """Relay ``host:port`` inside ``ns`` to ``host:port`` here, for the block."""
    with ns.entered():
        listener = socket.create_server((host, port))
    listener.settimeout(0.2)
    stop = threading.Event()
    open_sockets: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                inner, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            outer = socket.create_connection((host, port))
            open_sockets.extend((inner, outer))
            for a, b in ((inner, outer), (outer, inner)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=serve, name=f"relay-{ns.name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        listener.close()
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.close()
