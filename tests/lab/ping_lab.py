"""The ping lab: a prober namespace facing a userspace echo responder that knows the truth.

``ping_lab()`` builds (names unique to the run, nothing routed out of the lab)::

    prober  10.71.0.1/24 fd00:71::1/64 ==veth== responder 10.71.0.2-4/24 fd00:71::2-3/64
    prober2 10.72.0.1/24               ==veth== responder 10.72.0.2/24

with the responder namespace's kernel echo off and ``icmp_responder`` answering instead.
``scale_lab()`` builds a prober facing a responder namespace with 1 000 addresses
(10.74.0.1 - 10.74.3.232 on its loopback, routed from the prober through the veth).
Both tear everything down on exit, also on failure, and close the process's ping engines
first (an open socket keeps its namespace alive after ``ip netns delete``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from netstats_plugins._ping.engine import close_engines
from tests.lab.netns import Lab, Namespace

REPO = Path(__file__).resolve().parents[2]
SCALE_NETWORK = ipaddress.ip_network("10.74.0.0/22")


class ResponderControl:
    """Talks to a running ``icmp_responder`` over its Unix control socket."""

    def __init__(self, path: str) -> None:
        self.path = path

    def request(self, message: dict) -> dict:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(10)
            conn.connect(self.path)
            conn.sendall(json.dumps(message).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
        answer = json.loads(data)
        if "error" in answer:
            raise RuntimeError(f"icmp_responder: {answer['error']}")
        return answer

    def configure(self, **config) -> None:
        """Forget the records and set delay_ms, jitter_ms, seed, drop_every, actions."""
        self.request({"op": "configure", **config})

    def records(self) -> list[dict]:
        """Ground truth of every echo request since ``configure``, in arrival order."""
        return self.request({"op": "records"})["records"]

    def truth(self) -> dict[tuple[str, int, int], dict]:
        """The records by (destination, identifier, sequence)."""
        return {(r["dst"], r["id"], r["seq"]): r for r in self.records()}

    def wait_ready(self, proc: subprocess.Popen, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"icmp_responder exited with {proc.returncode}")
            with contextlib.suppress(OSError):
                self.request({"op": "ping"})
                return
            if time.monotonic() > deadline:
                raise RuntimeError("icmp_responder did not start")
            time.sleep(0.05)


@dataclass
class PingLab:
    lab: Lab
    prober: Namespace
    prober2: Namespace
    responder_ns: Namespace
    responder: ResponderControl
    v4: list[str]  # responder addresses seen from prober
    v6: list[str]
    v4_from_prober2: str
    absent_v4: str  # on prober's link, nobody home


@dataclass
class ScaleLab:
    lab: Lab
    prober: Namespace
    responder_ns: Namespace
    responder: ResponderControl
    addresses: list[str]


def link(lab: Lab, a: Namespace, a_addrs: list[str], b: Namespace, b_addrs: list[str]) -> None:
    """``Lab.link``, with each end's addresses pinned in the other end's neighbour table.

    On a freshly created veth the first IPv6 neighbour solicitation is lost (the kernel
    settles the new link for about a second), so the first probes of a test would wait a
    retransmit second in the neighbour queue. Permanent entries take resolution out of
    what the tests measure.
    """
    a_if, b_if = lab.link(a, a_addrs, b, b_addrs)
    for here, here_if, there, there_if, there_addrs in (
        (a, a_if, b, b_if, b_addrs),
        (b, b_if, a, a_if, a_addrs),
    ):
        mac = json.loads(there.ip("-j", "link", "show", "dev", there_if).stdout)[0]["address"]
        for addr in there_addrs:
            here.ip(
                "neigh",
                "replace",
                addr.split("/")[0],
                "lladdr",
                mac,
                "dev",
                here_if,
                "nud",
                "permanent",
            )


def start_responder(ns: Namespace, control_dir: str) -> ResponderControl:
    """Turn the namespace's kernel echo off and run ``icmp_responder`` there."""
    ns.sysctl("net.ipv4.icmp_echo_ignore_all", 1)
    ns.sysctl("net.ipv6.icmp.echo_ignore_all", 1)
    path = str(Path(control_dir) / f"{ns.name}.sock")
    proc = ns.popen(
        sys.executable, "-m", "tests.lab.icmp_responder", path, cwd=REPO, stdout=subprocess.DEVNULL
    )
    control = ResponderControl(path)
    control.wait_ready(proc)
    return control


@contextlib.contextmanager
def ping_lab() -> Iterator[PingLab]:
    """Build the two-prober lab around one responder; torn down on exit."""
    lab = Lab("nsp")
    control_dir = tempfile.mkdtemp(prefix="nsp-")
    try:
        prober, prober2 = lab.namespace("prober"), lab.namespace("prober2")
        responder_ns = lab.namespace("resp")
        link(
            lab,
            prober,
            ["10.71.0.1/24", "fd00:71::1/64"],
            responder_ns,
            ["10.71.0.2/24", "10.71.0.3/24", "10.71.0.4/24", "fd00:71::2/64", "fd00:71::3/64"],
        )
        link(lab, prober2, ["10.72.0.1/24"], responder_ns, ["10.72.0.2/24"])
        yield PingLab(
            lab=lab,
            prober=prober,
            prober2=prober2,
            responder_ns=responder_ns,
            responder=start_responder(responder_ns, control_dir),
            v4=["10.71.0.2", "10.71.0.3", "10.71.0.4"],
            v6=["fd00:71::2", "fd00:71::3"],
            v4_from_prober2="10.72.0.2",
            absent_v4="10.71.0.99",
        )
    finally:
        close_engines()
        lab.close()
        shutil.rmtree(control_dir, ignore_errors=True)


@contextlib.contextmanager
def scale_lab(count: int = 1000) -> Iterator[ScaleLab]:
    """Build a prober facing ``count`` responder addresses; torn down on exit."""
    lab = Lab("nss")
    control_dir = tempfile.mkdtemp(prefix="nss-")
    try:
        prober, responder_ns = lab.namespace("prober"), lab.namespace("resp")
        link(lab, prober, ["10.73.0.1/30"], responder_ns, ["10.73.0.2/30"])
        addresses = [str(a) for a in list(SCALE_NETWORK.hosts())[:count]]
        # One ip process for all of them: a thousand `ip addr add` would take seconds.
        batch = "".join(f"address add {a}/32 dev lo\n" for a in addresses)
        subprocess.run(
            ["ip", "-n", responder_ns.name, "-batch", "-"], input=batch, text=True, check=True
        )
        prober.ip("route", "add", str(SCALE_NETWORK), "via", "10.73.0.2")
        yield ScaleLab(
            lab=lab,
            prober=prober,
            responder_ns=responder_ns,
            responder=start_responder(responder_ns, control_dir),
            addresses=addresses,
        )
    finally:
        close_engines()
        lab.close()
        shutil.rmtree(control_dir, ignore_errors=True)
