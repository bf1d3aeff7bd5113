"""``netstats probe``: one measurement printed in a terminal, traceroute with its hop table."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import require


@pytest.mark.lab
def test_probe_traceroute_prints_an_mtr_style_hop_table_under_the_summary(tmp_path):
    require(os.geteuid() == 0, "traceroute needs root (raw sockets)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETSTATS_")}
    env["NETSTATS_INSTANCE_PATH"] = str(tmp_path)
    result = subprocess.run(
        [
            *(sys.executable, "-m", "netstats", "probe", "traceroute", "127.0.0.1"),
            *("--method", "icmp", "--max-hops", "3", "--queries", "4"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        *("target", "address", "status", "hop_count", "reached", "rtt_avg_ms")
    ]
    header = lines.index("127.0.0.1 (127.0.0.1):") + 1
    assert lines[header].split() == [
        *("ttl", "address", "loss%", "sent", "last", "avg", "best", "worst", "stdev")
    ]
    ttl, address, loss, sent, *rtts = lines[header + 1].split()
    assert (ttl, address, loss, sent) == ("1", "127.0.0.1", "0.0", "4")
    assert all(re.fullmatch(r"\d+\.\d{3}", v) for v in rtts)
    best, worst = float(rtts[2]), float(rtts[3])
    assert best <= float(rtts[1]) <= worst
