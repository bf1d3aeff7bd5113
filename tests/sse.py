"""Reading Server-Sent Events in tests: frames parsed as the WHATWG spec says, from the Flask
test client (a response iterated chunk by chunk) or from a real socket to a real server."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Frame:
    """One dispatched block: its fields (id, event, data, retry) and its comment lines."""

    id: int | None = None
    event: str | None = None
    data: Any = None
    retry: int | None = None
    comments: list[str] = field(default_factory=list)


def parse(block: str) -> Frame:
    frame, data = Frame(), []
    for line in block.split("\n"):
        if line.startswith(":"):
            frame.comments.append(line[1:].strip())
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            frame.id = int(value)
        elif name == "event":
            frame.event = value
        elif name == "data":
            data.append(value)
        elif name == "retry":
            frame.retry = int(value)
    if data:
        frame.data = json.loads("\n".join(data))
    return frame


class Reader:
    """Frames from a source of text chunks, read until a condition holds."""

    def __init__(self, chunks: Iterator[str]):
        self.chunks = chunks
        self.buffer = ""
        self.frames: list[Frame] = []
        self.ended = False

    @property
    def events(self) -> list[Frame]:
        return [f for f in self.frames if f.event is not None]

    @property
    def comments(self) -> list[str]:
        return [c for f in self.frames for c in f.comments]

    def feed(self, text: str) -> None:
        self.buffer += text.replace("\r\n", "\n")
        while "\n\n" in self.buffer:
            block, self.buffer = self.buffer.split("\n\n", 1)
            self.frames.append(parse(block))

    def read_until(self, done: Callable[[Reader], bool], timeout: float = 15) -> Reader:
        """Read until ``done(self)``, the end of the stream, or fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not done(self):
            if self.ended:
                raise AssertionError(f"the stream ended first; frames: {self.frames}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; frames so far: {self.frames}")
            try:
                chunk = next(self.chunks)
            except StopIteration:
                self.ended = True
                continue
            self.feed(chunk.decode() if isinstance(chunk, bytes) else chunk)
        return self

    def events_of(self, kind: str) -> list[Frame]:
        return [f for f in self.events if f.event == kind]

    def read_to_end(self, timeout: float = 15) -> Reader:
        return self.read_until(lambda r: r.ended, timeout) if not self.ended else self


def _recv(sock: socket.socket) -> bytes | None:
    """What the socket has (b"" once it is closed), or None when its timeout passed."""
    try:
        return sock.recv(65536)
    except TimeoutError:
        return None


def read_head(sock: socket.socket, timeout: float = 15) -> tuple[int, dict[str, str], bytes]:
    """The status, headers (lower-case names) and the first bytes of the body."""
    data, deadline = b"", time.monotonic() + timeout
    while b"\r\n\r\n" not in data:
        got = _recv(sock)
        if got == b"":
            raise ConnectionError("closed before the headers")
        if time.monotonic() > deadline:
            raise AssertionError("no response headers in time")
        data += got or b""
    head, body = data.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode().split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def body_chunks(sock: socket.socket, chunked: bool, data: bytes = b"") -> Iterator[str]:
    """The body on ``sock``, chunked or close-delimited; "" while nothing comes (the
    socket's timeout), so that a reader can keep an eye on the clock.

    The end of a chunked body is its zero-length chunk (the server closed the stream
    cleanly); a connection that closes without it raises ConnectionError.
    """
    if not chunked:
        if data:
            yield data.decode()
        while (got := _recv(sock)) != b"":
            yield (got or b"").decode()
        return
    while True:
        while b"\r\n" not in data:
            got = _recv(sock)
            if got == b"":
                raise ConnectionError("closed without the last chunk")
            if got is None:
                yield ""
            data += got or b""
        size_line, rest = data.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return
        while len(rest) < size + 2:
            got = _recv(sock)
            if got == b"":
                raise ConnectionError("closed inside a chunk")
            if got is None:
                yield ""
            rest += got or b""
        yield rest[:size].decode()
        data = rest[size + 2 :]


@dataclass
class SocketStream:
    """An open stream over a raw socket: its status and headers, and a reader of its body."""

    sock: socket.socket
    status: int
    headers: dict[str, str]
    reader: Reader

    def close(self) -> None:
        self.sock.close()


def open_socket_stream(
    port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 1.0
) -> SocketStream:
    """GET /api/v1``path`` from the server on 127.0.0.1:``port`` over a raw socket."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    lines = [
        f"GET /api/v1{path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Accept: text/event-stream",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    status, head, body = read_head(sock)
    chunked = head.get("transfer-encoding", "").lower() == "chunked"
    return SocketStream(sock, status, head, Reader(body_chunks(sock, chunked, body)))
