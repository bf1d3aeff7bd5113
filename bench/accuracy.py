"""RTT error against the wire: netstats, iputils ping and fping on one lab responder, one run.

Builds the ping lab (root needed; namespaces removed at exit), then measures the same
responder address with each prober in turn. The responder answers at once, so RTTs stay
under a millisecond, where ping and fping print microseconds. Error of a probe = RTT the
prober reports - the hold the responder applied (its kernel transmit stamp of the reply -
its kernel receive stamp of the request). Prints per prober the error's median, 95th
percentile and maximum of absolute values, and the signed median.

    sudo .venv/bin/python bench/accuracy.py [--count 300] [--interval 0.005]
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
from pathlib import Path

# Run as a script from anywhere: the lab lives in the repository's tests package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netstats.collectors import Target
from netstats.plugins import build_plugins
from netstats.stats import percentile
from tests.lab.ping_lab import PingLab, ping_lab

PING_LINE = re.compile(r"icmp_seq=(\d+) .*time=([\d.]+) ms")


def netstats_errors(lab: PingLab, address: str, count: int, interval: float, spin: bool):
    ping = build_plugins(None).collectors["ping"]
    params = ping.params().load({"count": count, "interval": interval, "timeout": 1})
    lab.responder.configure()
    stop = threading.Event()

    def spinner():  # a CPU-bound thread of the same process, holding the GIL
        while not stop.is_set():
            sum(i * i for i in range(2000))

    thread = threading.Thread(target=spinner)
    if spin:
        thread.start()
    try:
        with lab.prober.entered():
            (m,) = ping.collect([Target(address)], params)
    finally:
        stop.set()
        if spin:
            thread.join()
    truth = lab.responder.truth()
    errors = [
        p["rtt_ms"] * 1000 - truth[(address, p["id"], p["seq"])]["hold_ns"] / 1000
        for p in m.details["probes"]
        if p["rtt_ms"] is not None
    ]
    return errors, count - m.metrics["received"]


def iputils_errors(lab: PingLab, address: str, count: int, interval: float):
    lab.responder.configure()
    out = lab.prober.run("ping", "-n", "-c", str(count), "-i", str(interval), address).stdout
    by_seq = {r["seq"]: r for r in lab.responder.records()}
    errors = []
    for line in out.splitlines():
        match = PING_LINE.search(line)
        if match and "DUP" not in line:
            hold = by_seq[int(match.group(1))]["hold_ns"]
            errors.append(float(match.group(2)) * 1000 - hold / 1000)
    return errors, count - len(errors)


def fping_errors(lab: PingLab, address: str, count: int, interval: float):
    lab.responder.configure()
    period = str(max(1, round(interval * 1000)))
    proc = lab.prober.run("fping", "-C", str(count), "-q", "-p", period, address, check=False)
    rtts = proc.stderr.split(":", 1)[1].split()
    records = sorted(lab.responder.records(), key=lambda r: r["rx_ns"])
    errors = [
        float(rtt) * 1000 - record["hold_ns"] / 1000
        for rtt, record in zip(rtts, records, strict=False)
        if rtt != "-"
    ]
    return errors, rtts.count("-")


def describe(name: str, errors: list[float], lost: int) -> str:
    absolute = sorted(abs(e) for e in errors)
    signed = sorted(errors)
    return (
        f"{name:<28} {len(errors):>6} {lost:>5} {percentile(absolute, 0.5):>9.1f} "
        f"{percentile(absolute, 0.95):>8.1f} {absolute[-1]:>9.1f} {percentile(signed, 0.5):>10.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--interval", type=float, default=0.005, help="seconds")
    args = parser.parse_args()
    with ping_lab() as lab:
        address = lab.v4[0]
        rows = [
            ("netstats", netstats_errors(lab, address, args.count, args.interval, False)),
            (
                "netstats, thread spinning",
                netstats_errors(lab, address, args.count, args.interval, True),
            ),
            ("iputils ping", iputils_errors(lab, address, args.count, args.interval)),
            ("fping", fping_errors(lab, address, args.count, args.interval)),
        ]
    print(
        f"RTT error vs responder kernel stamps, {args.count} probes each, "
        f"{args.interval * 1000:g} ms apart, microseconds"
    )
    print(
        f"{'prober':<28} {'probes':>6} {'lost':>5} {'median':>9} {'p95':>8} {'max':>9} "
        f"{'signed med':>10}"
    )
    for name, (errors, lost) in rows:
        print(describe(name, errors, lost))


if __name__ == "__main__":
    main()
