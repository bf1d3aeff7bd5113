"""Network namespace primitives for the lab: create, link, address, run, tear down."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``ip ARGS`` and raise with its message on failure."""
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and proc.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def lab_unavailable_reason() -> str | None:
    """Why the lab cannot be built here, or None when it can."""
    if os.geteuid() != 0:
        return "the network lab needs root (network namespaces, raw sockets)"
    name = f"nsprobe{os.getpid()}"
    proc = ip("netns", "add", name, check=False)
    if proc.returncode:
        return f"cannot create a network namespace: {proc.stderr.strip()}"
    ip("netns", "delete", name, check=False)
    return None


@dataclass
class Namespace:
    """One lab namespace; ``name`` is unique to this test run."""

    name: str
    processes: list[subprocess.Popen] = field(default_factory=list)

    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            ["ip", "netns", "exec", self.name, *cmd], capture_output=True, text=True
        )
        if check and proc.returncode:
            raise RuntimeError(f"[{self.name}] {' '.join(cmd)}: {proc.stderr.strip()}")
        return proc

    def popen(self, *cmd: str, **kwargs) -> subprocess.Popen:
        """Start a long-running process in the namespace; it is killed at teardown."""
        proc = subprocess.Popen(["ip", "netns", "exec", self.name, *cmd], **kwargs)
        self.processes.append(proc)
        return proc

    def sysctl(self, key: str, value: str | int) -> None:
        self.run("sysctl", "-qw", f"{key}={value}")

    def ip(self, *args: str) -> subprocess.CompletedProcess:
        return ip("-n", self.name, *args)

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Move the calling thread into this namespace for the block.

        Sockets opened inside the block stay in the namespace after it ends. Only the calling
        thread moves; other threads of the process stay where they are.
        """
        original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            _setns(target)
            yield
        finally:
            _setns(original)
            os.close(target)
            os.close(original)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


class Lab:
    """Owns the namespaces of one test run and removes all of them at ``close()``."""

    def __init__(self, prefix: str = "nst"):
        self.tag = f"{prefix}{uuid.uuid4().hex[:6]}"
        self.namespaces: dict[str, Namespace] = {}
        self._links = 0

    def namespace(self, role: str) -> Namespace:
        """Create an empty namespace (loopback up) for ``role``; names stay under 15 chars."""
        name = f"{self.tag}-{role}"[:32]
        ip("netns", "add", name)
        ns = Namespace(name)
        self.namespaces[role] = ns
        ns.ip("link", "set", "lo", "up")
        return ns

    def link(
        self, a: Namespace, a_addrs: list[str], b: Namespace, b_addrs: list[str]
    ) -> tuple[str, str]:
        """Join two namespaces with a veth pair and give each end its addresses (CIDR form).

        Returns the interface names (in a, in b).
        """
        self._links += 1
        a_if, b_if = f"v{self._links}a", f"v{self._links}b"
        tmp_a, tmp_b = f"{self.tag}{self._links}a"[:15], f"{self.tag}{self._links}b"[:15]
        ip("link", "add", tmp_a, "netns", a.name, "type", "veth", "peer", tmp_b, "netns", b.name)
        for ns, tmp, final, addrs in ((a, tmp_a, a_if, a_addrs), (b, tmp_b, b_if, b_addrs)):
            ns.ip("link", "set", tmp, "name", final)
            for addr in addrs:
                extra = ["nodad"] if ":" in addr else []
                ns.ip("addr", "add", addr, "dev", final, *extra)
            ns.ip("link", "set", final, "up")
        return a_if, b_if

    def close(self) -> None:
        for ns in self.namespaces.values():
            for proc in ns.processes:
                if proc.poll() is None:
                    proc.kill()
                with contextlib.suppress(Exception):
                    proc.wait(timeout=5)
            ip("netns", "delete", ns.name, check=False)
        self.namespaces.clear()
