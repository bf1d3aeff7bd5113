"""The ping collector against the lab's echo responder, whose kernel stamps are the truth.

Every test goes through the public path: the collector as the plugin manager hands it out,
run in the prober namespace, or ``netstats probe ping ... --json`` run there by ``ip netns exec``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from netstats.collectors import Measurement, Target
from netstats.plugins import build_plugins
from netstats.stats import percentile, summarize
from tests.lab.ping_lab import PingLab, ping_lab

pytestmark = pytest.mark.lab

NETSTATS = str(Path(sys.executable).with_name("netstats"))
NOBODY = 65534


@pytest.fixture(scope="session")
def lab(lab_available) -> Iterator[PingLab]:
    with ping_lab() as built:
        yield built


@pytest.fixture(scope="module")
def ping():
    return build_plugins(None).collectors["ping"]


def run(lab: PingLab, ping, hosts, family="any", namespace=None, **params) -> list[Measurement]:
    """The collector, called as the worker calls it, from a thread in the prober namespace."""
    loaded = ping.params().load(params)
    with (namespace or lab.prober).entered():
        return ping.collect([Target(h, family) for h in hosts], loaded)


def errors_us(measurement: Measurement, truth: dict) -> list[float]:
    """Per answered probe: measured RTT minus the responder's kernel-stamped hold, in us."""
    return [
        p["rtt_ms"] * 1000 - truth[(measurement.address, p["id"], p["seq"])]["hold_ns"] / 1000
        for p in measurement.details["probes"]
        if p["rtt_ms"] is not None
    ]


def assert_matches_the_wire(measurement: Measurement, truth: dict) -> None:
    """The acceptance bar: error median <= 10 us, p95 <= 25 us; figures within 0.05 ms."""
    errors = sorted(abs(e) for e in errors_us(measurement, truth))
    assert errors, "no probe answered"
    assert percentile(errors, 0.5) <= 10, errors
    assert percentile(errors, 0.95) <= 25, errors
    wire = summarize(
        [
            truth[(measurement.address, p["id"], p["seq"])]["hold_ns"] / 1e6
            if p["rtt_ms"] is not None
            else None
            for p in measurement.details["probes"]
        ]
    )
    for name in (
        "rtt_min_ms",
        "rtt_avg_ms",
        "rtt_max_ms",
        "rtt_mdev_ms",
        "rtt_median_ms",
        "rtt_p95_ms",
        "jitter_ms",
        "jitter_rfc3550_ms",
    ):
        assert measurement.metrics[name] == pytest.approx(wire[name], abs=0.05), name


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_rtts_match_the_responders_kernel_stamps_within_microseconds(lab, ping, family):
    target = lab.v4[0] if family == "ipv4" else lab.v6[0]
    lab.responder.configure(delay_ms=1.0, jitter_ms=0.8, seed=11)
    (m,) = run(lab, ping, [target], family, count=100, interval=0.004, timeout=1, rate=1000)
    assert m.status == "ok"
    assert m.details["timestamps"] == "kernel"
    assert (m.metrics["sent"], m.metrics["received"], m.metrics["duplicates"]) == (100, 100, 0)
    truth = lab.responder.truth()
    assert_matches_the_wire(m, truth)
    # Paced by the interval on a schedule that starts with the first request: a late wake-up
    # delays one request, it never brings the others forward.
    arrivals = sorted(r["rx_ns"] for r in truth.values())
    assert 99 * 0.004 - 0.0005 <= (arrivals[-1] - arrivals[0]) / 1e9 < 99 * 0.004 * 1.5


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_a_cpu_bound_thread_in_the_same_process_does_not_distort_rtts(lab, ping, family):
    target = lab.v4[0] if family == "ipv4" else lab.v6[0]
    lab.responder.configure(delay_ms=1.0, jitter_ms=0.8, seed=12)
    stop = threading.Event()

    def spin():  # pure Python: holds the GIL for whole switch intervals
        while not stop.is_set():
            sum(i * i for i in range(2000))

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        (m,) = run(lab, ping, [target], family, count=60, interval=0.01, timeout=1)
    finally:
        stop.set()
        spinner.join()
    assert m.metrics["received"] == 60
    assert_matches_the_wire(m, lab.responder.truth())


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_lost_probes_are_counted_exactly(lab, ping, family):
    target = lab.v4[1] if family == "ipv4" else lab.v6[1]
    lab.responder.configure(delay_ms=0.5, drop_every=4)
    (m,) = run(lab, ping, [target], family, count=20, interval=0.005, timeout=0.2)
    truth = lab.responder.truth()
    lost = {(p["id"], p["seq"]) for p in m.details["probes"] if p["rtt_ms"] is None}
    dropped = {(r["id"], r["seq"]) for r in truth.values() if r["replies"] == 0}
    assert lost == dropped and len(lost) == 5
    assert m.metrics["loss_pct"] == 25.0
    assert m.metrics["received"] == 15
    assert_matches_the_wire(m, truth)


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_the_rtt_distribution_is_every_answered_probe_in_send_order(lab, ping, family):
    target = lab.v4[1] if family == "ipv4" else lab.v6[1]
    # Requests 3, 7, 11 dropped; request 1 answered three times, request 5 with garbage first.
    lab.responder.configure(
        delay_ms=0.4,
        jitter_ms=0.3,
        seed=5,
        drop_every=4,
        actions={"1": ["reply", "reply", "reply"], "5": ["bad_checksum", "reply"]},
    )
    (m,) = run(lab, ping, [target], family, count=12, interval=0.005, timeout=0.2)
    truth = lab.responder.truth()
    probes = m.details["probes"]
    assert m.distributions["rtt_ms"] == [p["rtt_ms"] for p in probes if p["rtt_ms"] is not None]
    assert len(m.distributions["rtt_ms"]) == m.metrics["received"] == 9
    assert m.metrics["duplicates"] == 2  # counted apart, never a value of the distribution
    answered = [
        truth[(m.address, p["id"], p["seq"])]["hold_ns"] / 1e6
        for p in probes
        if p["rtt_ms"] is not None
    ]
    assert m.distributions["rtt_ms"] == pytest.approx(answered, abs=0.05)
    assert m.metrics["rtt_median_ms"] == percentile(sorted(m.distributions["rtt_ms"]), 0.5)


def test_a_target_that_is_no_host_is_an_error_without_values(lab, ping):
    (m,) = run(lab, ping, ["not a host"], count=1)  # refused by its syntax, never looked up
    assert m.status == "error" and m.distributions == {}


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_garbage_replies_are_never_counted_and_duplicates_are_counted_apart(lab, ping, family):
    target = lab.v4[2] if family == "ipv4" else lab.v6[1]
    lab.responder.configure(
        delay_ms=0.3,
        actions={
            "0": ["wrong_id"],
            "1": ["bad_checksum"],
            "2": ["truncated"],
            "3": ["runt"],
            "4": ["wrong_id", "bad_checksum", "truncated", "runt", "reply"],
            "5": ["reply", "reply"],
            "6": ["reply", "reply", "reply"],
        },
    )
    (m,) = run(lab, ping, [target], family, count=8, interval=0.02, timeout=0.2)
    rtts = [p["rtt_ms"] for p in m.details["probes"]]
    assert [r is not None for r in rtts] == [False] * 4 + [True] * 4
    assert m.metrics["received"] == 4
    assert m.metrics["duplicates"] == 3
    assert m.metrics["loss_pct"] == 50.0
    assert m.status == "ok"
    assert_matches_the_wire(m, lab.responder.truth())


def test_concurrent_rounds_in_threads_see_only_their_own_replies(lab, ping):
    """Three worker threads at once, plus iputils ping hitting the same raw socket's view."""
    lab.responder.configure(delay_ms=1.0, jitter_ms=0.9, seed=13)
    results: dict[int, list[Measurement]] = {}
    errors: list[BaseException] = []

    def job(i: int) -> None:
        try:
            hosts = [lab.v4[i], lab.v4[0], lab.v6[0]]
            results[i] = run(lab, ping, hosts, count=30, interval=0.005, timeout=1, rate=1000)
        except BaseException as exc:
            errors.append(exc)

    stranger = lab.prober.popen(
        "ping", "-n", "-q", "-c", "100", "-i", "0.005", lab.v4[0], stdout=subprocess.DEVNULL
    )
    threads = [threading.Thread(target=job, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stranger.wait(timeout=10)
    assert not errors
    with lab.prober.entered():
        for table in ("raw", "raw6"):
            with open(f"/proc/thread-self/net/{table}") as f:  # this namespace's raw sockets
                assert len(f.read().splitlines()[1:]) == 1, "one socket per family, shared"
    truth = lab.responder.truth()
    for measurements in results.values():
        for m in measurements:
            assert (m.metrics["received"], m.metrics["duplicates"]) == (30, 0), m.target
            assert_matches_the_wire(m, truth)


def test_collectors_in_two_namespaces_of_one_process_keep_their_own_sockets(lab, ping):
    lab.responder.configure(delay_ms=0.5)
    results = {}

    def job(name, namespace, host):
        results[name] = run(lab, ping, [host], namespace=namespace, count=10, interval=0.01)

    threads = [
        threading.Thread(target=job, args=("one", lab.prober, lab.v4[0])),
        threading.Thread(target=job, args=("two", lab.prober2, lab.v4_from_prober2)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    truth = lab.responder.truth()
    for name in ("one", "two"):
        (m,) = results[name]
        assert m.metrics["received"] == 10, name
        assert_matches_the_wire(m, truth)
    # Each address is routed only from its own namespace: a socket opened in the wrong one fails.
    (wrong,) = run(lab, ping, [lab.v4_from_prober2], count=1, timeout=0.2)
    assert wrong.status == "error" and "unreachable" in wrong.error


def test_request_ttl_follows_the_parameter_and_reply_ttl_is_reported(lab, ping):
    lab.responder.configure()
    (m,) = run(lab, ping, [lab.v4[0]], count=2, interval=0.01, ttl=17)
    (m6,) = run(lab, ping, [lab.v6[0]], count=2, interval=0.01, ttl=17)
    truth = lab.responder.truth()
    for measurement in (m, m6):
        for p in measurement.details["probes"]:
            assert truth[(measurement.address, p["id"], p["seq"])]["ttl"] == 17
            assert p["ttl"] == 64  # the responder namespace's default


def test_silent_address_is_a_timeout_with_full_loss(lab, ping):
    (m,) = run(lab, ping, [lab.absent_v4], count=2, interval=0.01, timeout=0.2)
    assert m.status == "timeout"
    assert m.metrics["loss_pct"] == 100.0
    assert m.metrics["rtt_avg_ms"] is None
    assert "no reply" in m.error


def test_unresolvable_name_is_an_error_and_the_other_targets_are_still_measured(lab, ping):
    # Inside the lab no resolver is reachable, so the lookup fails at once and stays inside.
    lab.responder.configure()
    bad, good = run(lab, ping, ["no-such-host.invalid", lab.v4[0]], count=2, interval=0.01)
    assert bad.status == "error" and "no-such-host.invalid" in bad.error
    assert bad.address is None
    assert good.status == "ok" and good.metrics["received"] == 2


def _cli(namespace, *args, user: int | None = None, instance: str):
    prefix = []
    if user is not None:
        prefix = [
            "setpriv",
            f"--reuid={user}",
            f"--regid={user}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ]
    env = {**os.environ, "NETSTATS_INSTANCE_PATH": instance}
    return subprocess.run(
        ["ip", "netns", "exec", namespace.name, *prefix, NETSTATS, "probe", "ping", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.fixture
def cli_instance() -> Iterator[str]:
    """An instance folder an unprivileged user may write (pytest's tmp_path is root-only)."""
    path = tempfile.mkdtemp(prefix="nsp-instance-")
    os.chown(path, NOBODY, NOBODY)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_cli_probe_json_reports_one_measurement_per_target(lab, cli_instance):
    lab.responder.configure(delay_ms=0.5, jitter_ms=0.2)
    proc = _cli(
        lab.prober,
        lab.v4[0],
        lab.v6[0],
        "--count",
        "5",
        "--interval",
        "0.01",
        "--json",
        instance=cli_instance,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [m["address"] for m in lines] == [lab.v4[0], lab.v6[0]]
    truth = lab.responder.truth()
    for data in lines:
        m = Measurement(**{**data, "started_at": None})
        assert m.metrics["received"] == 5
        assert_matches_the_wire(m, truth)


@pytest.fixture
def ping_group_range(lab):
    path = "net.ipv4.ping_group_range"
    before = lab.prober.run("sysctl", "-n", path).stdout.split()
    yield lambda value: lab.prober.sysctl(path, value)
    lab.prober.sysctl(path, " ".join(before))


def test_unprivileged_user_pings_through_datagram_sockets_where_the_sysctl_allows(
    lab, cli_instance, ping_group_range
):
    ping_group_range(f"{NOBODY} {NOBODY}")
    lab.responder.configure(delay_ms=0.5, jitter_ms=0.2, seed=3)
    proc = _cli(
        lab.prober,
        lab.v4[0],
        lab.v6[0],
        "--count",
        "10",
        "--interval",
        "0.01",
        "--json",
        user=NOBODY,
        instance=cli_instance,
    )
    assert proc.returncode == 0, proc.stderr
    truth = lab.responder.truth()
    for line in proc.stdout.splitlines():
        m = Measurement(**{**json.loads(line), "started_at": None})
        assert m.details["socket"] == "datagram"
        assert m.details["timestamps"] == "kernel"
        assert m.metrics["received"] == 10
        assert_matches_the_wire(m, truth)


def test_unprivileged_user_without_the_sysctl_is_told_what_to_grant(
    lab, cli_instance, ping_group_range
):
    ping_group_range("1 0")
    proc = _cli(lab.prober, lab.v4[0], "--count", "1", user=NOBODY, instance=cli_instance)
    assert proc.returncode != 0
    assert "CAP_NET_RAW" in proc.stderr
    assert "net.ipv4.ping_group_range" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_replies_later_than_the_timeout_count_as_lost_even_while_the_round_runs(lab, ping):
    lab.responder.configure(delay_ms=80)
    (m,) = run(lab, ping, [lab.v4[0]], count=3, interval=0.1, timeout=0.05)
    assert len(lab.responder.truth()) == 3
    assert m.metrics["received"] == 0 and m.metrics["duplicates"] == 0
    assert m.status == "timeout"


def test_large_payloads_are_fragmented_and_timed(lab, ping):
    lab.responder.configure(delay_ms=0.5)
    (m,) = run(lab, ping, [lab.v4[0]], count=3, interval=0.01, size=4000)
    assert m.metrics["received"] == 3
    # The kernel stamps a datagram's first fragment out and its last fragment in, so the
    # RTT also covers sending the other fragments, both ways: more than the responder's hold.
    assert all(0 < e < 200 for e in errors_us(m, lab.responder.truth()))


def test_a_family_that_cannot_send_is_an_error_for_its_targets_only(lab, ping):
    lab.prober2.sysctl("net.ipv6.conf.all.disable_ipv6", 1)
    lab.responder.configure()
    try:
        results = run(
            lab,
            ping,
            ["::1", lab.v4_from_prober2],
            namespace=lab.prober2,
            count=2,
            interval=0.01,
            timeout=0.2,
        )
    finally:
        lab.prober2.sysctl("net.ipv6.conf.all.disable_ipv6", 0)
    assert [m.status for m in results] == ["error", "ok"]
    assert results[0].error.startswith("cannot send to ::1")
