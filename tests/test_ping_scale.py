"""A thousand targets in one round: one socket per family, paced, no false loss."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netstats.collectors import Target
from netstats.plugins import build_plugins
from netstats.stats import percentile
from tests.lab.ping_lab import ScaleLab, scale_lab

pytestmark = pytest.mark.lab


@pytest.fixture(scope="session")
def thousand(lab_available) -> Iterator[ScaleLab]:
    with scale_lab(1000) as built:
        yield built


def test_a_thousand_targets_in_one_round_lose_nothing_and_stay_accurate(thousand):
    ping = build_plugins(None).collectors["ping"]
    thousand.responder.configure()
    params = ping.params().load({"count": 2, "interval": 0.5, "timeout": 1, "rate": 2000})
    with thousand.prober.entered():
        results = ping.collect([Target(a) for a in thousand.addresses], params)
        with open("/proc/thread-self/net/raw") as f:  # this namespace's raw IPv4 sockets
            raw_sockets = f.read().splitlines()[1:]
    assert len(raw_sockets) == 1, "one socket for the whole round, not one per target"
    assert [m.address for m in results] == thousand.addresses
    assert sum(m.metrics["received"] for m in results) == 2000
    assert all(m.status == "ok" and m.metrics["duplicates"] == 0 for m in results)
    truth = thousand.responder.truth()
    assert len(truth) == 2000
    errors = sorted(
        abs(p["rtt_ms"] * 1000 - truth[(m.address, p["id"], p["seq"])]["hold_ns"] / 1000)
        for m in results
        for p in m.details["probes"]
    )
    assert percentile(errors, 0.5) <= 10
    assert percentile(errors, 0.95) <= 25
    # The rate cap: 2000 requests at 2000/s cannot leave in under a second.
    arrivals = sorted(r["rx_ns"] for r in truth.values())
    assert (arrivals[-1] - arrivals[0]) / 1e9 >= 0.99
