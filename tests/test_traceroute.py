"""The traceroute collector: probe crafting and reply parsing, then the router lab.

The lab tests (``tests/lab/routers.py``) run the collector from the plugin manager in a thread
moved into a fresh client namespace, or ``netstats probe traceroute ... --json`` there by
``ip netns exec``: the paths a user and the worker take.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from marshmallow import ValidationError
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6TimeExceeded, IPv6

from netstats.collectors import Collector, Measurement, Target
from netstats.plugins import build_plugins
from netstats.stats import percentile
from netstats_plugins._traceroute.flows import ICMP_IDS, candidates, source_ports
from netstats_plugins._traceroute.probes import Flow, build_probe
from netstats_plugins._traceroute.replies import (
    FlowId,
    Reply,
    parse_icmp4,
    parse_icmp6,
    parse_tcp,
)
from netstats_plugins._traceroute.trace import Schedule, Trace
from tests.conftest import require
from tests.lab.capture import Capture, wire_errors_us
from tests.lab.netns import Lab
from tests.lab.routers import Client, RouterLab, build_router_lab, run_in

NETSTATS = str(Path(sys.executable).with_name("netstats"))
FAMILIES = {4: ("10.0.0.1", "10.0.0.9", "10.0.0.5"), 6: ("fd00::1", "fd00::9", "fd00::5")}
METHODS = ("icmp", "udp", "tcp")


@pytest.fixture(scope="module")
def traceroute() -> Collector:
    return build_plugins(None).collectors["traceroute"]


def _flow(method: str, family: int) -> Flow:
    src, dst, _router = FAMILIES[family]
    return Flow(method, family, src, dst, 40000, 0 if method == "icmp" else 33434, 7)


def _time_exceeded(family: int, quote: bytes) -> bytes | tuple[bytes, str]:
    src, _dst, router = FAMILIES[family]
    if family == 4:
        return bytes(IP(src=router, dst=src) / ICMP(type=11) / quote)
    return bytes(IPv6(src=router, dst=src) / ICMPv6TimeExceeded() / quote)[40:]


def _parse_error(family: int, data: bytes):
    return parse_icmp4(data) if family == 4 else parse_icmp6(data, FAMILIES[family][2])


# --- crafting and parsing, no sockets ------------------------------------------------------


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("method", METHODS)
def test_probes_of_one_trace_keep_the_hashed_fields_and_differ_in_their_key(method, family):
    flow = _flow(method, family)
    probes = [build_probe(flow, 1 + i % 30, i) for i in range(600)]
    # Balancers hash at most the first four octets of the transport header (ports; ICMP type,
    # code, checksum) and for ICMP often the identifier too: octets 0-5 must never change.
    assert len({p.transport[:6] for p in probes}) == 1
    assert len({p.key for p in probes}) == len(probes)
    assert len({len(p.packet) for p in probes}) == 1


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("method", METHODS)
def test_a_router_quoting_only_eight_octets_still_identifies_the_probe(method, family):
    probe = build_probe(_flow(method, family), 3, 41)
    header = 20 if family == 4 else 40
    for quote in (probe.packet, probe.packet[: header + 8]):
        reply = _parse_error(family, _time_exceeded(family, quote))
        assert reply is not None
        assert reply.flow == FlowId(
            method, FAMILIES[family][1], 40000, 0 if method == "icmp" else 33434
        )
        assert reply.key == probe.key
        assert reply.kind == "time-exceeded" and not reply.final
        assert reply.address == FAMILIES[family][2]


@pytest.mark.parametrize("family", [4, 6])
def test_destination_answers_end_the_trace(family):
    src, dst, _router = FAMILIES[family]
    echo = build_probe(_flow("icmp", family), 5, 9)
    udp = build_probe(_flow("udp", family), 5, 9)
    syn = build_probe(_flow("tcp", family), 5, 9)
    payload = echo.packet[(20 if family == 4 else 40) + 8 :]
    if family == 4:
        answers = [
            parse_icmp4(bytes(IP(src=dst, dst=src) / ICMP(type=0, id=40000, seq=10) / payload)),
            parse_icmp4(bytes(IP(src=dst, dst=src) / ICMP(type=3, code=3) / udp.packet)),
            parse_tcp(
                bytes(
                    IP(src=dst, dst=src)
                    / TCP(sport=33434, dport=40000, flags="SA", ack=syn.key + 1)
                )
            ),
            parse_tcp(
                bytes(
                    IP(src=dst, dst=src)
                    / TCP(sport=33434, dport=40000, flags="RA", ack=syn.key + 1)
                )
            ),
        ]
    else:
        answers = [
            parse_icmp6(bytes(ICMPv6EchoReply(id=40000, seq=10, data=payload)), dst),
            parse_icmp6(
                bytes(IPv6(src=dst, dst=src) / ICMPv6DestUnreach(code=4) / udp.packet)[40:], dst
            ),
            parse_tcp(bytes(TCP(sport=33434, dport=40000, flags="SA", ack=syn.key + 1)), dst),
            parse_tcp(bytes(TCP(sport=33434, dport=40000, flags="RA", ack=syn.key + 1)), dst),
        ]
    assert [a.kind for a in answers] == ["echo-reply", "port-unreachable", "syn-ack", "rst"]
    assert [a.key for a in answers] == [echo.key, udp.key, syn.key, syn.key]
    assert all(a.final and a.address == dst and a.flow.dst == dst for a in answers)


@pytest.mark.parametrize("family", [4, 6])
def test_truncated_quotes_and_garbage_parse_to_nothing_and_never_raise(family):
    # 56 octets: the outer IPv4 header (IPv6 ones are stripped by the socket, but the quoted
    # header is 20 octets longer), ICMP header, quoted IP header, eight transport octets.
    for method in METHODS:
        probe = build_probe(_flow(method, family), 2, 5)
        valid = _time_exceeded(family, probe.packet)
        for n in range(len(valid) + 1):
            reply = _parse_error(family, valid[:n])
            if n < 56:
                assert reply is None, (method, n)
            else:
                assert reply.key == probe.key, (method, n)
    rng = random.Random(3)
    head = valid[: (20 if family == 4 else 0) + 8]  # a plausible ICMP error header
    for _ in range(3000):
        noise = rng.randbytes(rng.randrange(0, 120))
        for sample in (noise, head + noise):
            _parse_error(family, sample)
            parse_tcp(sample, None if family == 4 else FAMILIES[family][1])


def test_an_echo_reply_without_the_probe_payload_is_another_programs_ping():
    src, dst, _ = FAMILIES[4]
    stranger = IP(src=dst, dst=src) / ICMP(type=0, id=40000, seq=10) / (b"\x00" * 48)
    assert parse_icmp4(bytes(stranger)) is None


# --- the schedule, no sockets ------------------------------------------------------------------


def _schedule(**kw) -> Schedule:
    values = dict(first_ttl=1, max_hops=5, queries=2, window=16, interval=0.0, timeout=1.0)
    return Schedule(**{**values, **kw})


def _send_all(trace: Trace, now: float = 0.0) -> list[int]:
    ttls = []
    while (ttl := trace.next_ttl(now)) is not None:
        trace.sent(build_probe(trace.flow, ttl, len(trace.records)), now, 0)
        ttls.append(ttl)
    return ttls


def test_probes_go_out_in_rounds_over_the_ttls():
    trace = Trace(_flow("udp", 4), _schedule(first_ttl=2, max_hops=4, queries=3))
    assert _send_all(trace) == [2, 3, 4, 2, 3, 4, 2, 3, 4]


def test_window_caps_probes_in_flight_until_answers_or_timeouts_free_it():
    trace = Trace(_flow("udp", 4), _schedule(window=2, timeout=1.0))
    assert _send_all(trace, 0.0) == [1, 2]
    trace.expire(0.5)
    assert trace.next_ttl(0.5) is None
    trace.expire(1.0)
    assert _send_all(trace, 1.0) == [3, 4]


def test_interval_spaces_consecutive_probes():
    trace = Trace(_flow("udp", 4), _schedule(interval=0.1))
    assert _send_all(trace, 0.0) == [1]
    assert trace.next_ttl(0.05) is None
    assert trace.next_ttl(0.1) == 2
    assert trace.next_event() == pytest.approx(0.1)


def _answer(trace: Trace, index: int, kind: str, address: str, rx_ns: int = 10) -> bool:
    record = trace.records[index]
    flow = FlowId(trace.flow.method, trace.flow.dst, trace.flow.sport, trace.flow.dport)
    return trace.answer(Reply(address, kind, flow, record.probe.key), rx_ns, True)


def test_destination_answer_caps_the_trace_and_skips_higher_ttls():
    trace = Trace(_flow("udp", 4), _schedule(max_hops=30, queries=2, window=4))
    assert _send_all(trace) == [1, 2, 3, 4]
    assert _answer(trace, 2, "port-unreachable", trace.flow.dst)  # TTL 3 reached it
    # TTL 4 in flight no longer matters (nor holds a place in the window); round two covers
    # TTLs 1-3 only.
    assert _send_all(trace) == [1, 2]
    _answer(trace, 0, "time-exceeded", "10.0.0.5")
    assert _send_all(trace) == [3]
    assert not trace.done
    for i in (1, 4, 5, 6):
        _answer(trace, i, "time-exceeded", "10.0.0.5")
    assert trace.done and trace.limit == 3
    assert [r.probe.ttl for r in trace.records] == [1, 2, 3, 4, 1, 2, 3]


def test_second_and_late_answers_to_one_probe_count_for_nothing():
    trace = Trace(_flow("udp", 4), _schedule(max_hops=3, queries=1, timeout=1.0))
    _send_all(trace, 0.0)
    assert _answer(trace, 0, "time-exceeded", "10.0.0.5")
    assert not _answer(trace, 0, "time-exceeded", "10.0.0.6")
    # Read before the timeout struck, but the stamps say it took 1.5 s: lost all the same.
    assert not _answer(trace, 1, "time-exceeded", "10.0.0.6", rx_ns=1_500_000_000)
    trace.expire(5.0)
    assert not _answer(trace, 2, "time-exceeded", "10.0.0.6")
    assert [r.reply and r.reply.address for r in trace.records] == ["10.0.0.5", None, None]
    assert trace.done


# --- parameters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"method": "gre"}, "method"),
        ({"max_hops": 0}, "max_hops"),
        ({"max_hops": 256}, "max_hops"),
        ({"max_hops": "many"}, "max_hops"),
        ({"max_hops": 3.5}, "max_hops"),
        ({"max_hops": True}, "max_hops"),
        ({"queries": 11}, "queries"),
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"window": 0}, "window"),
        ({"interval": 11}, "interval"),
        ({"first_ttl": 9, "max_hops": 8}, "first_ttl"),
        ({"method": "icmp", "port": 53}, "port"),
        ({"method": "udp", "port": 70000}, "port"),
        ({"hops": 3}, "hops"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(traceroute, params, field):
    with pytest.raises(ValidationError) as info:
        traceroute.params().load(params)
    assert field in info.value.messages


def test_the_headline_is_the_destinations_rtt_distribution(traceroute):
    kinds = {m.name: m.kind for m in traceroute.metrics}
    assert traceroute.headline == "rtt_ms" and kinds["rtt_ms"] == "distribution"
    assert kinds["rtt_avg_ms"] == kinds["hop_count"] == "gauge"


def test_defaults_fill_the_port_per_method(traceroute):
    assert traceroute.params().load({})["method"] == "icmp"
    assert traceroute.params().load({"method": "udp"})["port"] == 33434
    assert traceroute.params().load({"method": "tcp"})["port"] == 80
    assert traceroute.params().load({"method": "tcp", "port": 443})["port"] == 443


def test_cli_refuses_bad_parameters_with_a_usage_error(tmp_path):
    proc = subprocess.run(
        [NETSTATS, "probe", "traceroute", "127.0.0.1", "--max-hops", "0", "--method", "gre"],
        capture_output=True,
        text=True,
        env={**os.environ, "NETSTATS_INSTANCE_PATH": str(tmp_path)},
        timeout=60,
    )
    assert proc.returncode == 2
    assert "invalid parameters" in proc.stderr
    assert "max_hops" in proc.stderr and "method" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- flows derived from a key, no sockets ----------------------------------------------------


def test_a_flow_key_gives_the_same_candidates_every_time_and_another_key_others():
    ports = range(61000, 65536)
    first = list(itertools.islice(candidates("job7:dest3", ports), 8))
    assert first == list(itertools.islice(candidates("job7:dest3", ports), 8))
    assert all(p in ports for p in first) and len(set(first)) == 8
    others = {next(candidates(f"job7:dest{n}", ICMP_IDS)) for n in range(50)}
    assert len(others) == 50  # 50 keys, 50 identifiers (one coincidence in 65535 draws 50 times)


@pytest.mark.parametrize(
    ("ephemeral", "ports"),
    [
        ("32768\t60999\n", range(61000, 65536)),  # Linux's default: above it
        ("40000 65535\n", range(1024, 40000)),  # nothing above: below it
        ("1500 65000\n", range(1024, 65536)),  # too little room on either side: anywhere
        (None, range(61000, 65536)),  # unreadable: Linux's default
    ],
)
def test_source_ports_avoid_the_kernels_ephemeral_range(tmp_path, ephemeral, ports):
    path = tmp_path / "ip_local_port_range"
    if ephemeral is not None:
        path.write_text(ephemeral)
    assert source_ports(str(path)) == ports


# --- the router lab -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def routers(lab_available) -> RouterLab:
    require(shutil.which("nft") is not None, "nftables is not installed (apt-get install nftables)")
    lab = Lab("ntr")
    try:
        yield build_router_lab(lab)
    finally:
        lab.close()


@pytest.fixture
def client(routers) -> Client:
    with routers.client() as made:
        yield made


def trace(
    traceroute: Collector, client: Client, targets: list[str | Target], **params
) -> list[Measurement]:
    """Run the collector in a thread moved into the client namespace (timeout 0.5 s default)."""
    loaded = traceroute.params().load({"timeout": 0.5, **params})
    given = [t if isinstance(t, Target) else Target(t) for t in targets]
    return run_in(client.ns, traceroute.collect, given, loaded)


def hop_addresses(m: Measurement) -> list[list[str]]:
    return [hop["addresses"] for hop in m.details["hops"]]


def _v(hop, family: int) -> str:
    return hop.v4 if family == 4 else hop.v6


@pytest.mark.lab
@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("method", METHODS)
def test_trace_reports_the_exact_chain_the_silent_hop_and_the_destination(
    traceroute, routers, client, method, family
):
    target = _v(routers.target, family)
    [m] = trace(traceroute, client, [target], method=method)
    assert m.status == "ok", m.error
    assert m.address == target
    chain = [_v(hop, family) for hop in routers.chain(client)]
    assert hop_addresses(m) == [[chain[0]], [], [chain[2]], [target]]
    silent = m.details["hops"][1]
    assert silent["loss_pct"] == 100.0 and silent["rtt_avg_ms"] is None
    assert all(p["address"] is None and p["rtt_ms"] is None for p in silent["probes"])
    for hop in (m.details["hops"][i] for i in (0, 2, 3)):
        assert hop["loss_pct"] == 0.0 and hop["received"] == 3
        assert 0 < hop["rtt_min_ms"] <= hop["rtt_avg_ms"] <= hop["rtt_max_ms"] < 50
    assert m.metrics["reached"] == 1 and m.metrics["hop_count"] == 4
    assert m.metrics["rtt_avg_ms"] == pytest.approx(m.details["hops"][3]["rtt_avg_ms"])
    assert m.distributions["rtt_ms"] == [p["rtt_ms"] for p in m.details["hops"][3]["probes"]]
    assert m.details["timestamps"] == "kernel"
    destination = {"icmp": "echo-reply", "udp": "port-unreachable", "tcp": "rst"}[method]
    assert {p["reply"] for p in m.details["hops"][3]["probes"]} == {destination}


@pytest.mark.lab
@pytest.mark.parametrize("family", [4, 6])
def test_unpaced_probes_spend_a_rate_limited_routers_burst_and_lose_answers(
    traceroute, routers, client, family
):
    # The control for the test below: eight probes within milliseconds, and r3 (Linux
    # defaults) answers its burst of six. Were it not rate-limited, the pacing test could not
    # fail. IPv6 refills a token every 100 ms, so a slow machine may see a seventh answer.
    target = _v(routers.target, family)
    params = {"queries": 8, "interval": 0, "window": 64, "max_hops": 4}
    [m] = trace(traceroute, client, [target], method="udp", **params)
    r3 = m.details["hops"][2]
    assert r3["addresses"] == [_v(routers.rate_limited, family)]
    most = 6 if family == 4 else 7
    assert 6 <= r3["received"] <= most
    assert m.details["hops"][0]["received"] == 8 and m.details["hops"][3]["received"] == 8


@pytest.mark.lab
def test_the_rtt_distribution_is_the_destinations_answers_without_the_lost_ones(
    traceroute, routers, client
):
    # r3 itself as the destination: its port unreachables are rate-limited like its other
    # errors (a burst of six, then one a second), so of eight unpaced probes two go unanswered.
    # max_hops 3: no probe with a higher TTL reaches r3 to spend its burst.
    r3 = routers.rate_limited.v4
    params = {"queries": 8, "interval": 0, "window": 64, "max_hops": 3}
    [m] = trace(traceroute, client, [r3], method="udp", **params)
    destination = m.details["hops"][-1]
    assert destination["ttl"] == 3 and destination["addresses"] == [r3]
    assert m.metrics["reached"] == 1 and destination["received"] == 6
    rtts = [p["rtt_ms"] for p in destination["probes"]]
    assert m.distributions["rtt_ms"] == [r for r in rtts if r is not None]
    assert m.metrics["rtt_avg_ms"] == pytest.approx(sum(m.distributions["rtt_ms"]) / 6)
    # Routers on the way are hops, not the destination: their answers are no part of it.
    assert len(m.distributions["rtt_ms"]) == 6


@pytest.mark.lab
def test_an_unreached_destination_gives_no_values(traceroute, routers, client):
    [m] = trace(traceroute, client, [routers.target.v4], method="udp", max_hops=3)
    assert m.metrics["reached"] == 0 and m.distributions == {"rtt_ms": []}


@pytest.mark.lab
@pytest.mark.parametrize("family", [4, 6])
def test_paced_probes_get_every_answer_from_a_rate_limited_router(
    traceroute, routers, client, family
):
    # Rounds over 4 TTLs at 0.08 s put r3's probes 0.32 s apart: with a burst of six and one
    # token a second (IPv4; IPv6 gets ten), eight probes fit (6 - 7 + 7 x 0.32 >= 1 before
    # the last).
    [m] = trace(
        traceroute, client, [_v(routers.target, family)], method="udp", queries=8, interval=0.08
    )
    r3 = m.details["hops"][2]
    assert r3["addresses"] == [_v(routers.rate_limited, family)]
    assert r3["received"] == 8 and r3["loss_pct"] == 0.0
    assert m.metrics["reached"] == 1


@pytest.mark.lab
@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("method", METHODS)
def test_every_probe_of_one_trace_follows_one_of_the_equal_cost_paths(
    traceroute, routers, client, method, family
):
    paths = {_v(hop, family) for hop in routers.ecmp_paths}
    target = _v(routers.ecmp_target, family)
    # Sixteen traces in one call, each its own flow: one path per trace, and (the control
    # that makes this a test) both paths over the sixteen: 2 x 2^-16 odds to see only one.
    results = trace(
        traceroute, client, [target] * 16, method=method, first_ttl=2, max_hops=5, queries=6
    )
    seen = set()
    for m in results:
        assert m.status == "ok" and m.metrics["reached"] == 1 and m.metrics["hop_count"] == 3
        [branch, destination] = hop_addresses(m)
        assert len(branch) == 1 and branch[0] in paths, branch
        assert destination == [target]
        assert m.details["hops"][0]["received"] == 6
        seen.add(branch[0])
    assert seen == paths
    flows = {json.dumps(m.details["flow"]) for m in results}
    assert len(flows) == 16


@pytest.mark.lab
@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("method", METHODS)
def test_traces_with_one_flow_key_take_one_flow_and_one_path_run_after_run(
    traceroute, routers, client, method, family
):
    target = _v(routers.ecmp_target, family)
    params = {"method": method, "first_ttl": 2, "max_hops": 3, "queries": 1}
    runs = [
        trace(traceroute, client, [Target(target, flow_key="7:3")], **params)[0] for _ in range(32)
    ]
    assert all(m.status == "ok" and m.metrics["reached"] == 1 for m in runs)
    assert len({json.dumps(m.details["flow"]) for m in runs}) == 1
    assert len({hop_addresses(m)[0][0] for m in runs}) == 1
    # The control: one key per destination of another job spreads over both paths (2^-15 odds
    # of one path only), so one path above is the key's doing.
    keyed = [Target(target, flow_key=f"8:{n}") for n in range(16)]
    spread = trace(traceroute, client, keyed, **params)
    assert {hop_addresses(m)[0][0] for m in spread} == {_v(h, family) for h in routers.ecmp_paths}


@pytest.mark.lab
@pytest.mark.parametrize("method", METHODS)
def test_a_flow_taken_moves_the_trace_to_the_keys_next_candidate(
    traceroute, routers, client, method
):
    # Two traces of one key at once (as a probe beside a job's run) and, for udp and tcp, a
    # program holding the key's first port: each trace takes the next candidate, and still
    # gets only its own answers.
    target = routers.ecmp_target.v4
    space = ICMP_IDS if method == "icmp" else run_in(client.ns, source_ports)
    first, second, third = itertools.islice(candidates("7:3", space), 3)
    field = "icmp_id" if method == "icmp" else "sport"
    key = [Target(target, flow_key="7:3")]
    if method == "icmp":
        both = trace(traceroute, client, key * 2, method=method, max_hops=3)
        assert [m.details["flow"][field] for m in both] == [first, second]
        assert all(
            m.metrics["reached"] == 1 and m.details["hops"][0]["received"] == 3 for m in both
        )
        return
    kind = socket.SOCK_DGRAM if method == "udp" else socket.SOCK_STREAM
    squatter = run_in(client.ns, socket.socket, socket.AF_INET, kind)
    with squatter:
        squatter.bind((client.v4, first))
        both = trace(traceroute, client, key * 2, method=method, max_hops=3)
    assert [m.details["flow"][field] for m in both] == [second, third]
    assert all(m.metrics["reached"] == 1 and m.details["hops"][0]["received"] == 3 for m in both)
    [alone] = trace(traceroute, client, key, method=method, max_hops=3)
    assert alone.details["flow"][field] == first


@pytest.mark.lab
def test_cli_probe_json_traces_both_families(routers, client, tmp_path):
    proc = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            client.ns.name,
            NETSTATS,
            "probe",
            "traceroute",
            routers.target.v4,
            routers.target.v6,
            "--method",
            "udp",
            "--max-hops",
            "8",
            "--queries",
            "2",
            "--timeout",
            "0.5",
            "--json",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "NETSTATS_INSTANCE_PATH": str(tmp_path)},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [m["address"] for m in lines] == [routers.target.v4, routers.target.v6]
    for data, family in zip(lines, (4, 6), strict=True):
        chain = [_v(hop, family) for hop in routers.chain(client)]
        assert [h["addresses"] for h in data["details"]["hops"]] == [
            [chain[0]],
            [],
            [chain[2]],
            [_v(routers.target, family)],
        ]
        assert data["metrics"]["reached"] == 1 and data["metrics"]["hop_count"] == 4
        assert all(len(h["probes"]) == 2 for h in data["details"]["hops"])


@pytest.mark.lab
def test_a_router_without_a_route_ends_the_trace_unreached(traceroute, routers, client):
    # r1 sends 10.92/16 to r2, which knows only 10.92.3/24: it answers net-unreachable.
    [m] = trace(traceroute, client, ["10.92.77.1"], method="icmp")
    assert m.status == "ok"
    assert hop_addresses(m) == [[routers.chain(client)[0].v4], [routers.silent.v4]]
    assert {p["reply"] for p in m.details["hops"][1]["probes"]} == {"net-unreachable"}
    assert m.metrics == {"hop_count": 2, "reached": 0, "rtt_avg_ms": None}


@pytest.mark.lab
def test_max_hops_short_of_the_destination_is_unreached_with_the_hops_it_saw(
    traceroute, routers, client
):
    [m] = trace(traceroute, client, [routers.target.v4], method="udp", max_hops=3)
    assert hop_addresses(m) == [[routers.chain(client)[0].v4], [], [routers.rate_limited.v4]]
    assert m.metrics == {"hop_count": 3, "reached": 0, "rtt_avg_ms": None}


@pytest.mark.lab
def test_hostile_targets_are_errors_and_the_others_are_still_traced(traceroute, routers, client):
    # Only parsed and refused before any packet is built (and traced from a lab namespace
    # with no route out): none of these addresses is ever contacted.
    hostile = [
        "",
        "a b",
        "x" * 300,
        "foo;rm -rf /",
        "bad\x00name",
        "256.1.1.1",
        "224.0.0.1",
        "ff02::1",
        "0.0.0.0",  # noqa: S104 (a destination to refuse, not a bind)
        "::",
        "255.255.255.255",
        "::ffff:10.92.3.2",
        "fe80::1%lo",
        "10.55.0.1",  # no route from the client
    ]
    results = trace(traceroute, client, [*hostile, routers.target.v4], method="udp", max_hops=5)
    for host, m in zip(hostile, results, strict=False):
        assert m.status == "error", host
        assert m.error and "Traceback" not in m.error, host
        assert m.metrics == {"hop_count": None, "reached": None, "rtt_avg_ms": None}
    assert "no route" in results[-2].error
    assert "not a unicast address" in results[6].error
    assert results[-1].status == "ok" and results[-1].metrics["reached"] == 1


@pytest.mark.lab
def test_concurrent_calls_in_threads_and_namespaces_keep_their_own_answers(
    traceroute, routers, client
):
    # Three calls at once: two icmp from one client (both see every ICMP packet of their
    # namespace), one udp from a second client namespace (sockets stay where they opened).
    results: dict[int, list[Measurement]] = {}

    def run(n: int, caller: Client, method: str) -> None:
        targets = [routers.ecmp_target.v4] * 3
        results[n] = trace(traceroute, caller, targets, method=method)

    with routers.client() as other:
        calls = [(client, "icmp"), (client, "icmp"), (other, "udp")]
        threads = [threading.Thread(target=run, args=(n, *c)) for n, c in enumerate(calls)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(results) == [0, 1, 2]
    for n, (caller, method) in enumerate(calls):
        for m in results[n]:
            assert m.details["source"] == caller.v4 and m.details["method"] == method
            assert m.metrics["reached"] == 1
            assert m.details["hops"][0]["addresses"] == [caller.gateway.v4]
            assert all(h["received"] == 3 and len(h["addresses"]) == 1 for h in m.details["hops"])


@pytest.mark.lab
@pytest.mark.parametrize("spin", [False, True], ids=["idle", "cpu-bound-thread"])
@pytest.mark.parametrize("method", METHODS)
def test_rtts_match_the_wire_within_microseconds(traceroute, routers, client, method, spin):
    stop = threading.Event()

    def spinner() -> None:  # holds the GIL in slices, as a CPU-bound job in the worker would
        while not stop.is_set():
            sum(range(1000))

    busy = threading.Thread(target=spinner)
    if spin:
        busy.start()
    # The equal-cost target: three hops, none rate-limited, so ten queries all come back. The
    # driver's transmit stamp can trail the capture's by an interrupt (or, in a VM, a stolen
    # vCPU slice); sixty probes let the 95th percentile tolerate two such.
    targets = [routers.ecmp_target.v4, routers.ecmp_target.v6]
    capture = Capture(client.ns)
    try:
        ms = trace(traceroute, client, targets, method=method, queries=10)
    finally:
        stop.set()
        if spin:
            busy.join()
    frames = capture.frames()
    errors = sorted(abs(e) for m in ms for e in wire_errors_us(m, frames))
    assert len(errors) == 2 * 3 * 10  # two families, three answering hops, ten queries
    assert all(m.details["timestamps"] == "kernel" for m in ms)
    assert percentile(errors, 0.5) < 10, errors
    assert percentile(errors, 0.95) < 25, errors


def _garbage(src: str, dst: str, target: str, rng: random.Random) -> list[bytes]:
    """ICMP and TCP junk from ``src`` to ``dst``: random, truncated, or answering others."""
    ip = IP(src=src, dst=dst)
    noise = rng.randbytes(rng.randrange(0, 80))
    other = IP(src=dst, dst=target, ttl=1) / UDP(sport=rng.randrange(1, 65535), dport=33434)
    return [
        bytes(ip / ICMP(type=11) / noise),
        bytes(ip / ICMP(type=11) / bytes(other)[: rng.randrange(0, 28)]),
        bytes(ip / ICMP(type=11) / other / noise),
        bytes(ip / ICMP(type=3, code=3) / IP(src=dst, dst=target, proto=1) / noise),
        bytes(ip / ICMP(type=0, id=rng.randrange(65536), seq=rng.randrange(65536)) / noise),
        bytes(ip / ICMP(type=0) / (b"netstats" + noise)),
        bytes(IP(src=src, dst=dst, proto=1) / noise[:3]),
        bytes(
            ip / TCP(sport=80, dport=rng.randrange(1, 65535), flags="RA", ack=rng.getrandbits(32))
        ),
    ]


@pytest.mark.lab
@pytest.mark.parametrize("method", METHODS)
def test_junk_on_the_wire_during_a_trace_changes_nothing(traceroute, routers, client, method):
    r1, me = client.gateway.v4, client.v4
    stop, started, sent = threading.Event(), threading.Event(), []

    def blast() -> None:
        rng = random.Random(11)
        with routers.r1.entered():
            sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        with sock:
            while not stop.is_set():
                for packet in _garbage(r1, me, routers.target.v4, rng):
                    sock.sendto(packet, (me, 0))
                    sent.append(1)
                started.set()
                stop.wait(0.002)

    blaster = threading.Thread(target=blast)
    blaster.start()
    try:
        assert started.wait(10)
        [m] = trace(traceroute, client, [routers.target.v4], method=method)
    finally:
        stop.set()
        blaster.join()
    assert len(sent) >= 80  # junk kept coming while the trace ran
    assert m.status == "ok"
    chain = routers.chain(client)
    assert hop_addresses(m) == [[chain[0].v4], [], [chain[2].v4], [routers.target.v4]]
    assert [h["received"] for h in m.details["hops"]] == [3, 0, 3, 3]


def test_without_cap_net_raw_the_error_says_what_to_grant(tmp_path):
    # Nothing is sent: the raw socket cannot even be opened. Root drops the capability for
    # the child; anyone else lacks it already.
    drop = (
        ["setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw"] if os.geteuid() == 0 else []
    )
    proc = subprocess.run(
        [*drop, NETSTATS, "probe", "traceroute", "127.0.0.1", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "NETSTATS_INSTANCE_PATH": str(tmp_path)},
        timeout=60,
    )
    assert proc.returncode == 1
    assert "CAP_NET_RAW" in proc.stderr
    assert "Traceback" not in proc.stderr
