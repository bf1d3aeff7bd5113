"""Who runs a run: ``host:pid:boot/thread``, precise enough to tell a dead worker's runs."""

from __future__ import annotations

import os
import socket
import threading
import uuid

_HOST = socket.gethostname()
_BOOT = uuid.uuid4().hex[:8]


def this_process() -> str:
    """``host:pid:boot``: this process, told apart from an earlier one that had its pid."""
    return f"{_HOST}:{os.getpid()}:{_BOOT}"


def worker_name() -> str:
    """``host:pid:boot/thread``: the name a running run records as its worker."""
    return f"{this_process()}/{threading.current_thread().name}"


def worker_alive(worker: str | None) -> bool | None:
    """Whether the worker that wrote ``worker`` still runs: None when it is on another host."""
    if not worker:
        return False
    process = worker.split("/", 1)[0]
    try:
        host, pid_text, _boot = process.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != _HOST:
        return None
    if pid == os.getpid():
        # Our pid, but maybe an earlier process's (a container restarted keeps its pids).
        return process == this_process()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
