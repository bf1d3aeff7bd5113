"""What an echo request of the ping engine carries: a marker, a token, then filler.

The marker finds our requests in the packet copies that come back with transmit stamps; the
token (the engine's salt and a probe number) is unique to one request and must come back
unchanged in its reply. No sockets: the collector's parameter schema reads ``MIN_PAYLOAD``
from here without loading the engine.
"""

from __future__ import annotations

import struct

MARKER = b"nsP1"
TOKEN = struct.Struct("!4sII")  # marker, engine salt, probe number
MIN_PAYLOAD = TOKEN.size

_FILLERS: dict[int, bytes] = {}


def filler(length: int) -> bytes:
    """The payload after the token: bytes counting up, as ping's pattern, built once per size."""
    found = _FILLERS.get(length)
    if found is None:
        found = _FILLERS[length] = bytes(i & 0xFF for i in range(length))
    return found
