"""Traceroute in the router lab: RTT error against the wire, trace time, a rate-limited router.

Builds the traceroute lab (root needed; namespaces removed at exit) and prints

- per method, the error of every per-probe RTT against the client's wire (a packet socket's
  kernel stamps of the probe leaving and of its answer arriving): median, 95th percentile
  and maximum of absolute values in microseconds, idle and while a CPU-bound thread of the
  same process holds the GIL in slices;
- the wall time of one default trace per method to the 4-hop chain (its silent hop makes
  every trace wait one timeout);
- how many of ``queries`` probes the rate-limited router (Linux defaults: a burst of six,
  then one a second) answers, unpaced and paced.

    sudo .venv/bin/python bench/traceroute.py [--traces 10]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netstats.collectors import Target
from netstats.plugins import build_plugins
from netstats.stats import percentile
from tests.lab.capture import Capture, wire_errors_us
from tests.lab.netns import Lab
from tests.lab.routers import RouterLab, build_router_lab, run_in

METHODS = ("icmp", "udp", "tcp")


def trace(lab: RouterLab, client, targets: list[str], **params):
    collector = build_plugins(None).collectors["traceroute"]
    loaded = collector.params().load({"timeout": 0.5, **params})
    return run_in(client.ns, collector.collect, [Target(t) for t in targets], loaded)


def wire_errors(lab: RouterLab, method: str, traces: int, spin: bool) -> list[float]:
    stop = threading.Event()

    def spinner() -> None:
        while not stop.is_set():
            sum(i * i for i in range(2000))

    busy = threading.Thread(target=spinner)
    if spin:
        busy.start()
    errors = []
    try:
        for _ in range(traces):
            # A fresh client each time: the rate-limited router's allowance is per client.
            with lab.client() as client:
                capture = Capture(client.ns)
                ms = trace(lab, client, [lab.target.v4, lab.target.v6], method=method)
                frames = capture.frames()
            errors += [abs(e) for m in ms for e in wire_errors_us(m, frames)]
    finally:
        stop.set()
        if spin:
            busy.join()
    return sorted(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=10, help="traces per method and case")
    args = parser.parse_args()
    lab = Lab("ntb")
    try:
        routers = build_router_lab(lab)
        print("RTT error against the client's wire, us (IPv4 + IPv6, 3 answering hops x 3)")
        print(f"{'method':8}{'case':18}{'probes':>8}{'median':>9}{'p95':>9}{'max':>9}")
        for method in METHODS:
            for spin in (False, True):
                errors = wire_errors(routers, method, args.traces, spin)
                case = "cpu-bound thread" if spin else "idle"
                print(
                    f"{method:8}{case:18}{len(errors):>8}{percentile(errors, 0.5):>9.2f}"
                    f"{percentile(errors, 0.95):>9.2f}{errors[-1]:>9.2f}"
                )
        print("\nOne default trace (queries 3, window 8, interval 0.02 s, timeout 0.5 s)")
        for method in METHODS:
            with routers.client() as client:
                begun = time.monotonic()
                [m] = trace(routers, client, [routers.target.v4], method=method)
                took = time.monotonic() - begun
            print(f"{method:8} {took:.2f} s, hop_count {m.metrics['hop_count']}")
        print("\nAnswers of the rate-limited router to 8 probes of one trace (udp, IPv4)")
        for label, params in (
            ("unpaced (interval 0, window 64)", {"interval": 0, "window": 64}),
            ("paced (interval 0.08 s, rounds of 4 hops)", {"interval": 0.08}),
        ):
            with routers.client() as client:
                [m] = trace(routers, client, [routers.target.v4], method="udp", queries=8, **params)
            print(f"{label:44} {m.details['hops'][2]['received']}/8")
    finally:
        lab.close()


if __name__ == "__main__":
    main()
