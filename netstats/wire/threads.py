"""Threads of a collector: daemons, so that a measurement given up on never holds up an exit.

The worker runs a collector in a thread and abandons it at the run's timeout; a collector
that fans out (one thread per target, one per name lookup) must not then keep the process
alive. ``concurrent.futures.ThreadPoolExecutor`` cannot promise that: since Python 3.9 its
threads are joined at interpreter exit, so abandoned DNS queries held a worker's exit up by
their count x timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_in_daemon_threads(
    fn: Callable[[T], R], items: Sequence[T], workers: int, name: str
) -> list[R]:
    """``[fn(item) for item in items]``, computed by up to ``workers`` daemon threads.

    Results come in the order of ``items``. If ``fn`` raises, the first exception in that
    order is raised here once every item is done, as ``ThreadPoolExecutor.map`` would. The
    threads start from the calling one, so they share its network namespace.
    """
    results: list[R | None] = [None] * len(items)
    errors: dict[int, BaseException] = {}
    work = iter(enumerate(items))
    lock = threading.Lock()

    def drain() -> None:
        while True:
            with lock:
                job = next(work, None)
            if job is None:
                return
            index, item = job
            try:
                results[index] = fn(item)
            except BaseException as exc:
                errors[index] = exc

    threads = [
        threading.Thread(target=drain, name=f"{name}-{n}", daemon=True)
        for n in range(min(workers, len(items)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[min(errors)]
    return results  # type: ignore[return-value]
