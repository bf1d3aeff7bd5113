"""A thousand targets, five probes each: netstats against fping, in one run, on one lab.

Builds the scale lab (a responder namespace with 1 000 addresses; root needed; removed at
exit) and pings every address ``--count`` times with each prober at the same pace: ``--rate``
packets per second overall, ``--interval`` seconds between probes to one target. Prints per
prober wall time, CPU time (user + system of the prober alone), false loss (probes reported
lost although the responder's records show it answered) and RTT error against the
responder's kernel stamps, then netstats / fping ratios.

netstats runs in this process through the collector (CPU = this process's CPU during the
round: the engine thread; the main thread only waits). ``--cli`` adds a row for
``netstats probe ping`` as a separate process, interpreter and app start-up included.

    sudo .venv/bin/python bench/probe.py [--count 5] [--rate 1000] [--interval 1] [--cli]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script from anywhere: the lab lives in the repository's tests package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netstats.collectors import Target
from netstats.plugins import build_plugins
from netstats.stats import percentile
from tests.lab.ping_lab import ScaleLab, scale_lab

NETSTATS = str(Path(sys.executable).with_name("netstats"))


class Row:
    """What one prober did: time, CPU, and per probe its reported RTT (None = lost)."""

    def __init__(self, name: str, wall: float, cpu: float) -> None:
        self.name, self.wall, self.cpu = name, wall, cpu
        self.sent = self.false_loss = self.unseen = 0
        self.errors: list[float] = []

    def line(self) -> str:
        errors = sorted(abs(e) for e in self.errors) or [float("nan")]
        return (
            f"{self.name:<14} {self.wall:>7.2f} {self.cpu:>7.3f} {self.sent:>6} "
            f"{self.false_loss:>6} {self.unseen:>6} {percentile(errors, 0.5):>8.1f} "
            f"{percentile(errors, 0.95):>8.1f} {errors[-1]:>9.1f}"
        )


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def score_exact(row: Row, measurements: list[dict], truth: dict) -> None:
    """netstats reports each probe's identifier and sequence: match them exactly."""
    for m in measurements:
        for p in m["details"]["probes"]:
            row.sent += 1
            record = truth.get((m["address"], p["id"], p["seq"]))
            if record is None:
                row.unseen += 1
            elif p["rtt_ms"] is None:
                row.false_loss += record["replies"] > 0
            else:
                row.errors.append(p["rtt_ms"] * 1000 - record["hold_ns"] / 1000)


def run_netstats(lab: ScaleLab, args) -> Row:
    ping = build_plugins(None).collectors["ping"]
    params = ping.params().load(
        {"count": args.count, "interval": args.interval, "timeout": args.timeout, "rate": args.rate}
    )
    targets = [Target(a) for a in lab.addresses]
    lab.responder.configure()
    with lab.prober.entered():
        wall0, cpu0 = time.monotonic(), time.process_time()
        results = ping.collect(targets, params)
        row = Row("netstats", time.monotonic() - wall0, time.process_time() - cpu0)
    score_exact(row, [m.to_dict() for m in results], lab.responder.truth())
    return row


def run_netstats_cli(lab: ScaleLab, args) -> Row:
    lab.responder.configure()
    with tempfile.TemporaryDirectory() as instance, lab.prober.entered():
        env = {**os.environ, "NETSTATS_INSTANCE_PATH": instance}
        cmd = [
            NETSTATS,
            "probe",
            "ping",
            *lab.addresses,
            "--json",
            "--count",
            str(args.count),
            "--interval",
            str(args.interval),
            "--timeout",
            str(args.timeout),
            "--param",
            f"rate={args.rate}",
        ]
        wall0, cpu0 = time.monotonic(), children_cpu()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        row = Row("netstats CLI", time.monotonic() - wall0, children_cpu() - cpu0)
    score_exact(row, [json.loads(line) for line in proc.stdout.splitlines()], lab.responder.truth())
    return row


def run_fping(lab: ScaleLab, args) -> Row:
    lab.responder.configure()
    gap_ms = 1000 / args.rate
    cmd = [
        "fping",
        "-C",
        str(args.count),
        "-q",
        "-i",
        f"{gap_ms:g}",
        "-p",
        str(round(args.interval * 1000)),
        "-t",
        str(round(args.timeout * 1000)),
        "-f",
        "-",
    ]
    # A child forked by a thread inside the namespace starts there: no `ip netns exec`
    # process in the CPU figure.
    with lab.prober.entered():
        wall0, cpu0 = time.monotonic(), children_cpu()
        proc = subprocess.run(cmd, input="\n".join(lab.addresses), capture_output=True, text=True)
        row = Row("fping", time.monotonic() - wall0, children_cpu() - cpu0)
    # fping prints per target its RTTs in send order; it does not print identifiers, so
    # its probes pair with the responder's records of that address in arrival order.
    records: dict[str, list[dict]] = {}
    for record in sorted(lab.responder.records(), key=lambda r: r["rx_ns"]):
        records.setdefault(record["dst"], []).append(record)
    for line in proc.stderr.splitlines():
        address, _, rtts = line.partition(" : ")
        seen = records.get(address.strip(), [])
        for i, rtt in enumerate(rtts.split()):
            row.sent += 1
            if i >= len(seen):
                row.unseen += 1
            elif rtt == "-":
                row.false_loss += seen[i]["replies"] > 0
            else:
                row.errors.append(float(rtt) * 1000 - seen[i]["hold_ns"] / 1000)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--rate", type=float, default=1000, help="packets per second overall")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds, per target")
    parser.add_argument("--timeout", type=float, default=1.0, help="seconds, per probe")
    parser.add_argument("--cli", action="store_true", help="also time `netstats probe ping`")
    args = parser.parse_args()
    with scale_lab(1000) as lab:
        rows = [run_netstats(lab, args), run_fping(lab, args)]
        if args.cli:
            rows.append(run_netstats_cli(lab, args))
    print(
        f"{len(lab.addresses)} targets x {args.count} probes, {args.rate:g} packets/s, "
        f"{args.interval:g} s per target, timeout {args.timeout:g} s"
    )
    print(
        f"{'prober':<14} {'wall s':>7} {'cpu s':>7} {'sent':>6} {'false':>6} {'unseen':>6} "
        f"{'err med':>8} {'err p95':>8} {'err max':>9}   (errors in us)"
    )
    for row in rows:
        print(row.line())
    ours, fping = rows[0], rows[1]
    print(
        f"ratios netstats/fping: wall {ours.wall / fping.wall:.2f}x, "
        f"cpu {ours.cpu / fping.cpu:.2f}x"
    )


if __name__ == "__main__":
    main()
