"""The DNS lab: a real BIND and a misbehaving responder, each in its own namespace.

::

    responder ns                client ns                      server ns
    10.53.1.1  fd53:1::1  <--veth-->  10.53.1.2  10.53.0.2  <--veth-->  10.53.0.1  fd53::1
    dns_responders.py           fd53:1::2  fd53::2             named: udp/tcp 53, DoT 853
    (udp/tcp 53, tls 853)       resolv.conf: 10.53.0.9, 10.53.0.1

No namespace has a default route: nothing leaves the lab. ``named`` (Debian's bind9) serves
``lab.test`` and ``53.10.in-addr.arpa`` from ``ZONE`` and ``REVERSE_ZONE``, and DNS over TLS
with a certificate made for this run by a CA made for this run (``DnsLab.ca_file``).
``ip netns exec`` bind-mounts ``/etc/netns/<client>/resolv.conf`` over ``/etc/resolv.conf``,
so ``netstats probe dns system`` run in the client namespace reads the lab's resolver list:
first 10.53.0.9, which nobody owns (a stub resolver must fail over), then the BIND server.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import pytest

from netstats.collectors import Measurement, Target
from tests.lab.netns import Lab, Namespace

REPO = Path(__file__).resolve().parents[2]
BIND4, BIND6 = "10.53.0.1", "fd53::1"
BIND_NAME = "ns1.lab.test"  # on the lab certificate, which the responder presents too
RESPONDER4, RESPONDER6 = "10.53.1.1", "fd53:1::1"
NOBODY4 = "10.53.0.9"  # on the server link, owned by no namespace: queries to it go unanswered

ZONE = """\
$TTL 300
@               SOA   ns1.lab.test. hostmaster.lab.test. 2024010101 3600 600 86400 60
@               NS    ns1.lab.test.
@               MX    10 mail.lab.test.
@               CAA   0 issue "ca.lab.test"
ns1             A     10.53.0.1
ns1             AAAA  fd53::1
www             A     10.53.0.80
www             AAAA  fd53::80
mail            A     10.53.0.25
alias     120   CNAME www.lab.test.
txt             TXT   "v=spf1 -all" "second string"
_dns._tcp       SRV   10 60 53 ns1.lab.test.
xn--bcher-kva   A     10.53.0.90
multi           A     10.53.0.11
multi           A     10.53.0.12
multi           A     10.53.0.13
"""

REVERSE_ZONE = """\
$TTL 300
@               SOA   ns1.lab.test. hostmaster.lab.test. 2024010101 3600 600 86400 60
@               NS    ns1.lab.test.
1.0             PTR   ns1.lab.test.
"""

NAMED_CONF = """\
options {{
    directory "{dir}";
    pid-file none;
    session-keyfile none;
    listen-on port 53 {{ {bind4}; }};
    listen-on port 853 tls lab-tls {{ {bind4}; }};
    listen-on-v6 port 53 {{ {bind6}; }};
    listen-on-v6 port 853 tls lab-tls {{ {bind6}; }};
    recursion no;
    dnssec-validation no;
    notify no;
    allow-transfer {{ none; }};
}};
tls lab-tls {{ cert-file "{dir}/server.pem"; key-file "{dir}/server.key"; }};
controls {{ }};
zone "lab.test" {{ type primary; file "{dir}/lab.test.zone"; }};
zone "53.10.in-addr.arpa" {{ type primary; file "{dir}/reverse.zone"; }};
"""

SERVER_EXTENSIONS = f"""\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:ns1.lab.test, IP:{BIND4}, IP:{BIND6}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


@dataclass
class DnsLab:
    """The running DNS lab and how tests reach it."""

    lab: Lab
    client: Namespace
    server: Namespace
    responder: Namespace
    workdir: Path
    ca_file: Path
    responder_log: Path

    def collect(self, targets: Sequence[str], **raw_params: Any) -> list[Measurement]:
        """Run the dns collector of the plugin manager from a thread in the client namespace.

        ``raw_params`` go through the collector's schema, as the CLI and the worker send them.
        """
        from netstats.plugins import build_plugins

        collector = build_plugins(None).collectors["dns"]
        params = collector.params().load(raw_params)
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                with self.client.entered():
                    outcome["result"] = collector.collect([Target(t) for t in targets], params)
            except BaseException as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=run, name="dns-lab-client")
        thread.start()
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    def probe(self, *args: str) -> subprocess.CompletedProcess:
        """``netstats probe dns ARGS`` in the client namespace (the CLI, as a user runs it)."""
        env = {**os.environ, "NETSTATS_INSTANCE_PATH": str(self.workdir / "instance")}
        return subprocess.run(
            ["ip", "netns", "exec", self.client.name, netstats_command(), "probe", "dns", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.workdir,
            timeout=60,
        )

    def log_mark(self) -> int:
        """Where the responder's log ends now; pass it to ``holds_since``."""
        return self.responder_log.stat().st_size

    def holds_since(self, mark: int, ids: Sequence[int], wait: float = 2.0) -> dict[int, dict]:
        """The responder's log records of query ``ids`` written after ``mark``, by query id.

        The responder logs a reply after sending it, so the client may read the log first:
        wait up to ``wait`` seconds for every id; KeyError names the ones never logged.
        """
        deadline = time.monotonic() + wait
        while True:
            with self.responder_log.open(encoding="utf-8") as log:
                log.seek(mark)
                records = {r["id"]: r for r in map(json.loads, log) if r["id"] in ids}
            if len(records) == len(set(ids)) or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        missing = set(ids) - set(records)
        if missing:
            raise KeyError(f"the responder logged no reply to query ids {sorted(missing)}")
        return records


def netstats_command() -> str:
    """The ``netstats`` console script of the Python running the tests."""
    beside = Path(sys.executable).with_name("netstats")
    return str(beside) if beside.exists() else (shutil.which("netstats") or "netstats")


@pytest.fixture(scope="session")
def dns_lab(lab_available, tmp_path_factory) -> DnsLab:
    """The DNS lab for this test session; always torn down, also when building it fails."""
    workdir = tmp_path_factory.mktemp("dnslab")
    lab = Lab(prefix="dns")
    etc_netns = None
    try:
        client = lab.namespace("cli")
        server = lab.namespace("srv")
        responder = lab.namespace("rsp")
        lab.link(client, ["10.53.0.2/24", "fd53::2/64"], server, [f"{BIND4}/24", f"{BIND6}/64"])
        lab.link(
            client,
            ["10.53.1.2/24", "fd53:1::2/64"],
            responder,
            [f"{RESPONDER4}/24", f"{RESPONDER6}/64"],
        )
        etc_netns = Path("/etc/netns") / client.name
        etc_netns.mkdir(parents=True, exist_ok=True)
        (etc_netns / "resolv.conf").write_text(f"nameserver {NOBODY4}\nnameserver {BIND4}\n")
        ca_file = _make_certificates(workdir)
        _start_named(server, workdir)
        log = workdir / "responder.jsonl"
        log.touch()
        _start_responder(responder, log, workdir)
        dns_lab = DnsLab(lab, client, server, responder, workdir, ca_file, log)
        _wait_until_serving(dns_lab)
        yield dns_lab
    finally:
        lab.close()
        if etc_netns is not None:
            shutil.rmtree(etc_netns, ignore_errors=True)


def _make_certificates(workdir: Path) -> Path:
    def openssl(*args: str) -> None:
        proc = subprocess.run(["openssl", *args], cwd=workdir, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"openssl {args[0]}: {proc.stderr.strip()}")

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=netstats DNS lab CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=ns1.lab.test")
    (workdir / "server.ext").write_text(SERVER_EXTENSIONS)
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.pem",
    )  # fmt: skip
    return workdir / "ca.pem"


def _start_named(server: Namespace, workdir: Path) -> None:
    (workdir / "lab.test.zone").write_text(ZONE)
    (workdir / "reverse.zone").write_text(REVERSE_ZONE)
    conf = workdir / "named.conf"
    conf.write_text(NAMED_CONF.format(dir=workdir, bind4=BIND4, bind6=BIND6))
    check = subprocess.run(["named-checkconf", "-z", str(conf)], capture_output=True, text=True)
    if check.returncode:
        raise RuntimeError(f"named-checkconf: {check.stdout}{check.stderr}")
    log = (workdir / "named.log").open("w")
    server.popen("named", "-g", "-c", str(conf), stdout=log, stderr=subprocess.STDOUT)


def _start_responder(responder: Namespace, log: Path, workdir: Path) -> None:
    # Over tls it presents BIND's certificate (ns1.lab.test): tests name that server.
    proc = responder.popen(
        sys.executable, "-m", "tests.lab.dns_responders",
        "--listen", RESPONDER4, "--listen", RESPONDER6, "--port", "53", "--log", str(log),
        "--tls-port", "853", "--cert", str(workdir / "server.pem"),
        "--key", str(workdir / "server.key"),
        cwd=str(REPO), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = proc.stdout.readline().strip()
    if line != "ready":
        raise RuntimeError(f"the DNS responder did not start (said {line!r})")


def _wait_until_serving(lab: DnsLab, limit: float = 20.0) -> None:
    """Wait until named answers on udp and accepts DoT connections, and the responder answers."""
    deadline = time.monotonic() + limit
    ready = threading.Event()
    problem: list[str] = []

    def poll() -> None:
        with lab.client.entered():
            while time.monotonic() < deadline:
                try:
                    for address in (BIND4, RESPONDER4):
                        query = dns.message.make_query("lab.test.", "SOA")
                        dns.query.udp(query, address, timeout=0.2)
                    with socket.create_connection((BIND4, 853), timeout=0.2):
                        pass
                except (OSError, dns.exception.DNSException) as exc:
                    problem[:] = [repr(exc)]
                    time.sleep(0.1)
                    continue
                ready.set()
                return

    thread = threading.Thread(target=poll, name="dns-lab-wait")
    thread.start()
    thread.join()
    if not ready.is_set():
        named_log = (lab.workdir / "named.log").read_text()[-3000:]
        raise RuntimeError(f"the DNS lab did not come up ({problem}); named said:\n{named_log}")
