"""The dns collector: parameters, names and summaries on their own; queries in the DNS lab.

Lab tests reach the collector through the public paths: ``netstats probe dns ... --json`` in
the client namespace, or the collector from the plugin manager called from a thread moved
into that namespace (``DnsLab.collect``). Servers: BIND (``named``) for real answers over
udp, tcp and DoT; ``tests/lab/dns_responders.py`` for SERVFAIL, delays, silence and garbage.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import threading
import time

import dns.message
import pytest
from marshmallow import ValidationError

from netstats.collectors import CollectorError, Target
from netstats.plugins import build_plugins
from netstats.schema_export import params_json_schema
from netstats_plugins._dns import summary
from netstats_plugins._dns.exchange import ExchangeError, parse_reply
from netstats_plugins._dns.probe import QueryResult, ServerRecord
from netstats_plugins._dns.servers import ServerError, system_nameservers
from tests.lab import dns_lab as lab
from tests.lab.dns_lab import BIND4, BIND6, BIND_NAME, NOBODY4, RESPONDER4, RESPONDER6

dns_lab = lab.dns_lab  # the session's DNS lab, a fixture


@pytest.fixture(scope="module")
def dns_collector():
    return build_plugins(None).collectors["dns"]


def load(collector, **raw):
    return collector.params().load(raw)


def refusal(collector, **raw) -> dict:
    with pytest.raises(ValidationError) as info:
        load(collector, **raw)
    return info.value.messages


# --- parameters and names, no network ------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "queried"),
    [
        ("www.lab.test", "www.lab.test."),
        ("www.lab.test.", "www.lab.test."),
        ("Bücher.lab.test", "xn--bcher-kva.lab.test."),
        ("\uff57\uff57\uff57.lab.test", "www.lab.test."),  # full-width letters
        ("_dns._tcp.lab.test", "_dns._tcp.lab.test."),
        ("*.lab.test", "*.lab.test."),
        (".", "."),
    ],
)
def test_query_name_is_idna_encoded_and_made_absolute(dns_collector, typed, queried):
    assert load(dns_collector, name=typed)["name"] == queried


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("www.lab.test; rm -rf /", "spaces or control"),
        ("$(reboot).lab.test", "letters, digits"),
        ("`id`.lab.test", "letters, digits"),
        ("a|b.lab.test", "letters, digits"),
        ("a\x00b.lab.test", "control"),
        ("a\nb.lab.test", "control"),
        ("a\x1b[31m.lab.test", "control"),
        ("a..lab.test", "empty label"),
        (".lab.test", "empty label"),
        ("-a.lab.test", "inner hyphens"),
        ("x" * 64 + ".lab.test", "1 to 63"),
        (".".join(["a" * 60] * 5), "Longer than 253"),
        ("a" * 100_000, "Longer than 253"),
        ("xn--zz.lab.test", "punycode"),
        ("☃.lab.test", "internationalized"),
        ("fd53::1", "only for type PTR"),
        ("10.53.0.1", "only for type PTR"),
    ],
)
def test_hostile_or_broken_names_are_refused_with_a_reason(dns_collector, name, reason):
    messages = refusal(dns_collector, name=name)
    assert reason in " ".join(messages["name"])


def test_ip_address_with_type_ptr_queries_its_reverse_name(dns_collector):
    # Reverse names (query names, not addresses): nothing is sent in this test.
    assert load(dns_collector, name="10.53.0.1", type="ptr")["name"] == "1.0.53.10.in-addr.arpa."
    v6 = load(dns_collector, name="fd53::1", type="PTR")["name"]
    assert v6.endswith(".3.5.d.f.ip6.arpa.") and v6.startswith("1.0.0.0.")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("count", "three"),
        ("count", 0),
        ("count", 101),
        ("count", 2.5),
        ("count", True),
        ("timeout", -1),
        ("timeout", "soon"),
        ("type", "ANY"),
        ("type", 28),
        ("transport", "quic"),
        ("port", 0),
        ("port", 70000),
        ("recursion", "maybe"),
        ("tls_server_name", "bad name"),
        ("tls_ca_file", ""),
    ],
)
def test_wrong_parameter_types_and_ranges_are_refused(dns_collector, field, value):
    assert field in refusal(dns_collector, name="www.lab.test", **{field: value})


def test_defaults_are_a_b_c_udp_and_case_does_not_matter(dns_collector):
    params = load(dns_collector, name="lab.test", type="mx", transport="TLS")
    assert (params["type"], params["transport"]) == ("MX", "tls")
    params = load(dns_collector, name="lab.test")
    assert params["type"] == "A" and params["transport"] == "udp"
    assert (params["count"], params["timeout"], params["recursion"]) == (3, 2.0, True)


@pytest.mark.parametrize(
    "raw",
    [
        {"name": "Bücher.lab.test", "type": "aaaa"},
        {"name": "10.53.0.1", "type": "PTR", "port": 5353},
        {"name": ".", "type": "NS", "transport": "tls", "tls_server_name": "NS1.lab.test"},
    ],
)
def test_loaded_params_load_again_unchanged(dns_collector, raw):
    # Jobs store schema.dump(schema.load(raw)) and the worker loads that again.
    schema = dns_collector.params()
    loaded = schema.load(raw)
    assert schema.load(schema.dump(loaded)) == loaded


def test_servers_parameter_is_refused_pointing_at_targets(dns_collector):
    messages = refusal(dns_collector, name="www.lab.test", servers=["10.53.0.1"])
    assert "give each server as a target" in messages["servers"][0]


def test_params_json_schema_has_defaults_ranges_and_choices(dns_collector):
    schema = params_json_schema(dns_collector.params)
    props = schema["properties"]
    assert schema["required"] == ["name"]
    assert props["type"]["enum"] == [
        "A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "PTR", "SRV", "CAA",
    ]  # fmt: skip
    assert props["transport"]["enum"] == ["udp", "tcp", "tls"]
    assert (props["count"]["default"], props["count"]["minimum"], props["count"]["maximum"]) == (
        3,
        1,
        100,
    )
    assert props["timeout"]["default"] == 2.0
    assert props["recursion"]["default"] is True


def test_metrics_describe_answered_queries_and_the_last_reply():
    results = [
        QueryResult("s", 1, "ok", query_time_ms=4.0, rcode=3, answer_count=0),
        QueryResult("s", 2, "timeout", "no reply within 1 s"),
        QueryResult("s", 3, "ok", query_time_ms=1.0, rcode=0, answer_count=2, ttl_min=60),
        QueryResult("s", 4, "ok", query_time_ms=2.0, rcode=0, answer_count=1, ttl_min=30),
    ]
    got = summary.metrics(results, [ServerRecord("s", 53)])
    assert got == {
        "query_time_avg_ms": pytest.approx(7 / 3),
        "query_time_min_ms": 1.0,
        "query_time_max_ms": 4.0,
        "query_time_median_ms": 2.0,
        "rcode": 0,
        "answer_count": 1,
        "ttl_min": 30,
        "loss_pct": 25.0,
        "connect_time_ms": None,
    }
    assert summary.status(results) == ("ok", None)
    assert summary.query_times(results) == [4.0, 1.0, 2.0]  # send order, the timeout absent


def test_the_headline_is_the_query_time_distribution(dns_collector):
    kinds = {m.name: m.kind for m in dns_collector.metrics}
    assert dns_collector.headline == "query_time_ms" and kinds["query_time_ms"] == "distribution"
    assert kinds["query_time_avg_ms"] == "gauge"


def test_status_is_error_before_timeout_when_nothing_answered():
    timeout = QueryResult("10.0.0.1", 1, "timeout", "no reply within 1 s")
    broken = QueryResult("10.0.0.1", 2, "error", "malformed reply (5 bytes): ShortHeader")
    assert summary.status([timeout, broken]) == (
        "error",
        "10.0.0.1: malformed reply (5 bytes): ShortHeader",
    )
    assert summary.status([timeout]) == ("timeout", "10.0.0.1: no reply within 1 s")
    assert summary.metrics([timeout], [])["query_time_avg_ms"] is None


def test_garbage_datagrams_are_ignored_or_rejected_never_raised_otherwise():
    query = dns.message.make_query("www.lab.test.", "A")
    good = dns.message.make_response(query).to_wire()
    rng = random.Random(3)
    outcomes = {"ignored": 0, "rejected": 0}
    for _ in range(5000):
        data = bytearray(good[: rng.randint(0, len(good))] + rng.randbytes(rng.randint(0, 40)))
        if rng.random() < 0.7:
            data[:2] = good[:2]  # our id, so it counts as the server's reply
        if data == good:
            continue
        try:
            assert parse_reply(bytes(data), query) is None
            outcomes["ignored"] += 1
        except ExchangeError as exc:
            assert str(exc).startswith(("malformed reply", "reply does not match"))
            outcomes["rejected"] += 1
    assert outcomes["ignored"] > 0 and outcomes["rejected"] > 0
    assert parse_reply(good, query).id == query.id


def test_system_nameservers_come_from_resolv_conf_in_order(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("search lab.test\nnameserver 10.53.0.9\nnameserver fd53::1\n")
    assert system_nameservers(path=str(conf)) == ["10.53.0.9", "fd53::1"]
    assert system_nameservers("ipv6", path=str(conf)) == ["fd53::1"]
    conf.write_text("nameserver fd53::1\n")
    with pytest.raises(ServerError, match="no ipv4 nameserver"):
        system_nameservers("ipv4", path=str(conf))
    with pytest.raises(ServerError, match="no system resolver"):
        system_nameservers(path=str(tmp_path / "missing"))


@pytest.mark.parametrize(
    ("host", "family", "reason"),
    [
        ("not a server!", "any", "not a server address or host name"),
        ("10.53.0.1; reboot", "any", "not a server address or host name"),
        ("10.53.0.1", "ipv6", "cannot be measured over IPv6"),
        ("10.53.0.1:53", "any", "not a server address or host name"),
    ],
)
def test_unusable_target_is_an_error_measurement_not_an_exception(
    dns_collector, host, family, reason
):
    [m] = dns_collector.collect([Target(host, family)], load(dns_collector, name="lab.test"))
    assert (m.status, m.address, m.target) == ("error", None, host)
    assert reason in m.error
    gauges = {metric.name for metric in dns_collector.metrics if metric.kind == "gauge"}
    assert set(m.metrics) == gauges and m.distributions == {}


ABANDONED_COLLECT = """
import sys, threading
from netstats.collectors import Target
from netstats.plugins import build_plugins

dns = build_plugins(None).collectors["dns"]
port = int(sys.argv[1])
params = dns.params().load({"name": "lab.test", "port": port, "count": 60, "timeout": 1})
# As the worker runs a collector: in a daemon thread, given up on at the run's timeout.
threading.Thread(target=dns.collect, args=([Target("127.0.0.1")] * 2, params), daemon=True).start()
sys.stdin.readline()  # the test says when: once both targets' queries are in flight
print("leaving", flush=True)
"""


def test_an_abandoned_collect_does_not_hold_up_the_process_exit():
    # Two targets, so the queries run in the collector's own threads; 60 queries each to a
    # server that never answers would hold an exit up for a minute if those threads were
    # joined at exit (ThreadPoolExecutor's are).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.settimeout(30)
        proc = subprocess.Popen(
            [sys.executable, "-c", ABANDONED_COLLECT, str(silent.getsockname()[1])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            senders = set()
            while len(senders) < 2:  # a query from each target's socket
                senders.add(silent.recvfrom(512)[1])
            out, _ = proc.communicate("go\n", timeout=30)
        finally:
            proc.kill()
            proc.wait()
    assert (proc.returncode, out) == (0, "leaving\n")


def test_unreadable_ca_file_stops_the_collector_with_its_name(dns_collector, tmp_path):
    params = load(dns_collector, name="lab.test", transport="tls", tls_ca_file=str(tmp_path / "x"))
    with pytest.raises(CollectorError, match=r"tls_ca_file .* cannot be used"):
        dns_collector.collect([Target(BIND4)], params)


# --- the real server: record types, transports, rcodes ------------------------------------

RECORDS = {
    "A": ("www.lab.test", {"10.53.0.80"}, 300),
    "AAAA": ("www.lab.test", {"fd53::80"}, 300),
    "CNAME": ("alias.lab.test", {"www.lab.test."}, 120),
    "MX": ("lab.test", {"10 mail.lab.test."}, 300),
    "NS": ("lab.test", {"ns1.lab.test."}, 300),
    "TXT": ("txt.lab.test", {'"v=spf1 -all" "second string"'}, 300),
    "SOA": ("lab.test", {"ns1.lab.test. hostmaster.lab.test. 2024010101 3600 600 86400 60"}, 300),
    "PTR": ("10.53.0.1", {"ns1.lab.test."}, 300),
    "SRV": ("_dns._tcp.lab.test", {"10 60 53 ns1.lab.test."}, 300),
    "CAA": ("lab.test", {'0 issue "ca.lab.test"'}, 300),
}


@pytest.mark.lab
@pytest.mark.parametrize("rdtype", list(RECORDS))
def test_each_record_type_is_answered_by_the_real_server(dns_lab, rdtype):
    name, expected, ttl = RECORDS[rdtype]
    [m] = dns_lab.collect([BIND4], name=name, type=rdtype, count=1, timeout=1)
    assert (m.status, m.address, m.error) == ("ok", BIND4, None)
    assert m.metrics["rcode"] == 0 and m.details["rcode_text"] == "NOERROR"
    assert m.metrics["answer_count"] == len(expected)
    assert m.metrics["ttl_min"] == ttl
    [query] = m.details["queries"]
    assert {a["data"] for a in query["answers"]} == expected
    assert {a["type"] for a in query["answers"]} == {rdtype}


@pytest.mark.lab
@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
@pytest.mark.parametrize("server", [BIND4, BIND6])
def test_udp_tcp_and_tls_get_the_same_answer_from_the_real_server(dns_lab, transport, server):
    [m] = dns_lab.collect(
        [server],
        name="multi.lab.test",
        transport=transport,
        count=3,
        timeout=2,
        tls_ca_file=str(dns_lab.ca_file),
    )
    assert (m.status, m.address) == ("ok", server)
    assert m.metrics["answer_count"] == 3 and m.metrics["loss_pct"] == 0.0
    answers = {a["data"] for q in m.details["queries"] for a in q["answers"]}
    assert answers == {"10.53.0.11", "10.53.0.12", "10.53.0.13"}
    assert m.details["port"] == (853 if transport == "tls" else 53)
    [record] = m.details["servers"]
    assert (record["queries"], record["answered"]) == (3, 3)
    stamps = {q["timestamps"] for q in m.details["queries"]}
    assert stamps == ({"user"} if transport == "tls" else {"kernel"})
    if transport == "udp":
        assert m.metrics["connect_time_ms"] is None
    else:
        # One connection for the three queries, its setup timed apart from them.
        [connection] = record["connections"]
        assert m.metrics["connect_time_ms"] > 0
        assert (connection["tls_handshake_ms"] is not None) == (transport == "tls")


@pytest.mark.lab
def test_cli_probe_prints_one_json_measurement_per_server(dns_lab):
    proc = dns_lab.probe(
        BIND4, BIND6, "--param", "name=lab.test", "--type", "mx", "--count", "2", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [m["target"] for m in lines] == [BIND4, BIND6]
    for m in lines:
        assert m["collector"] == "dns" and m["status"] == "ok"
        assert m["metrics"]["rcode"] == 0
        assert m["details"]["queries"][0]["answers"][0]["data"] == "10 mail.lab.test."


@pytest.mark.lab
def test_cli_probe_over_tls_with_the_lab_ca(dns_lab):
    proc = dns_lab.probe(
        BIND4,
        "--param", "name=www.lab.test", "--param", "transport=tls",
        "--param", f"tls_ca_file={dns_lab.ca_file}", "--count", "1", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)
    assert m["details"]["transport"] == "tls"
    assert m["details"]["queries"][0]["answers"][0]["data"] == "10.53.0.80"


@pytest.mark.lab
@pytest.mark.parametrize(
    ("tls_params", "status", "error"),
    [
        ({"tls_server_name": "ns1.lab.test"}, "ok", None),
        ({"tls_server_name": "other.lab.test"}, "error", "TLS certificate not accepted"),
        ({"tls_ca_file": None}, "error", "TLS certificate not accepted"),
        ({"tls_ca_file": None, "tls_verify": False}, "ok", None),
    ],
)
def test_tls_checks_the_certificate_against_the_ca_and_the_server_name(
    dns_lab, tls_params, status, error
):
    params = {"tls_ca_file": str(dns_lab.ca_file), **tls_params}
    [m] = dns_lab.collect([BIND4], name="www.lab.test", transport="tls", count=1, **params)
    assert m.status == status
    assert (m.error is None) if error is None else (error in m.error)


@pytest.mark.lab
def test_nxdomain_and_refused_are_results_with_their_rcode(dns_lab):
    missing4, missing6 = dns_lab.collect([BIND4, BIND6], name="missing.lab.test", count=1)
    [foreign] = dns_lab.collect([BIND4], name="elsewhere.test", count=1)
    for missing in (missing4, missing6):
        assert (missing.status, missing.metrics["rcode"], missing.details["rcode_text"]) == (
            "ok",
            3,
            "NXDOMAIN",
        )
        assert missing.metrics["answer_count"] == 0 and missing.metrics["ttl_min"] is None
        assert missing.metrics["query_time_avg_ms"] is not None
    assert (foreign.status, foreign.metrics["rcode"], foreign.details["rcode_text"]) == (
        "ok",
        5,
        "REFUSED",
    )


@pytest.mark.lab
def test_recursion_desired_flag_is_sent_as_asked(dns_lab):
    # BIND copies the query's RD flag into its reply.
    on, off = (
        dns_lab.collect([BIND4], name="www.lab.test", count=1, recursion=flag)[0]
        for flag in (True, False)
    )
    assert "rd" in on.details["queries"][0]["flags"].split()
    assert "rd" not in off.details["queries"][0]["flags"].split()


@pytest.mark.lab
def test_internationalized_name_is_asked_in_punycode(dns_lab):
    [m] = dns_lab.collect([BIND4], name="bücher.lab.test", count=1)
    assert m.details["name"] == "xn--bcher-kva.lab.test."
    assert m.details["queries"][0]["answers"][0]["data"] == "10.53.0.90"


@pytest.mark.lab
def test_ttl_min_is_the_smallest_ttl_of_the_answer_section(dns_lab):
    [m] = dns_lab.collect([BIND4], name="alias.lab.test", type="A", count=1)
    assert m.metrics["answer_count"] == 2  # the CNAME (TTL 120) and the A it points to (300)
    assert m.metrics["ttl_min"] == 120


# --- the misbehaving responder: SERVFAIL, delays, silence, garbage -------------------------


@pytest.mark.lab
def test_servfail_is_a_result_with_rcode_2(dns_lab):
    [m] = dns_lab.collect([RESPONDER4], name="servfail.lab.test", count=2)
    assert (m.status, m.metrics["rcode"], m.details["rcode_text"]) == ("ok", 2, "SERVFAIL")
    assert m.metrics["loss_pct"] == 0.0


@pytest.mark.lab
@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("delay_ms", [0, 5, 20, 60])
def test_query_time_is_within_2ms_of_the_server_hold(dns_lab, delay_ms, transport):
    mark = dns_lab.log_mark()
    [m] = dns_lab.collect(
        [RESPONDER4], name=f"delay-{delay_ms}.lab.test", transport=transport, count=3
    )
    holds = dns_lab.holds_since(mark, [q["id"] for q in m.details["queries"]])
    assert m.status == "ok" and m.metrics["loss_pct"] == 0.0
    for query in m.details["queries"]:
        truth = holds[query["id"]]
        assert truth["kernel"] and query["timestamps"] == "kernel"
        assert truth["hold_ns"] / 1e6 >= delay_ms
        assert abs(query["query_time_ms"] - truth["hold_ns"] / 1e6) < 2.0


@pytest.mark.lab
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_the_query_time_distribution_is_every_answered_query_in_send_order(dns_lab, transport):
    mark = dns_lab.log_mark()
    [m] = dns_lab.collect(
        [RESPONDER4], name=f"drop2-{transport}.lab.test", transport=transport, count=5, timeout=0.3
    )
    queries = m.details["queries"]
    assert [q["status"] for q in queries] == ["ok", "timeout", "ok", "timeout", "ok"]
    times = m.distributions["query_time_ms"]
    assert times == [q["query_time_ms"] for q in queries if q["status"] == "ok"]
    assert m.metrics["loss_pct"] == 40.0
    assert m.metrics["query_time_avg_ms"] == pytest.approx(sum(times) / 3)
    answered = [q["id"] for q in queries if q["status"] == "ok"]
    holds = dns_lab.holds_since(mark, answered)
    assert times == pytest.approx([holds[i]["hold_ns"] / 1e6 for i in answered], abs=2.0)


@pytest.mark.lab
def test_a_server_that_never_answers_gives_no_values(dns_lab):
    [m] = dns_lab.collect([RESPONDER4], name="silent.lab.test", count=2, timeout=0.2)
    assert m.status == "timeout" and m.distributions == {"query_time_ms": []}


@pytest.mark.lab
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_query_time_stays_within_2ms_while_another_thread_spins(dns_lab, transport):
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(1000))

    spinner = threading.Thread(target=spin, name="spinner")
    spinner.start()
    try:
        mark = dns_lab.log_mark()
        [m] = dns_lab.collect([RESPONDER4], name="delay-10.lab.test", transport=transport, count=5)
    finally:
        stop.set()
        spinner.join()
    holds = dns_lab.holds_since(mark, [q["id"] for q in m.details["queries"]])
    for query in m.details["queries"]:
        assert abs(query["query_time_ms"] - holds[query["id"]]["hold_ns"] / 1e6) < 2.0


@pytest.mark.lab
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_silent_server_is_a_timeout(dns_lab, transport):
    begin = time.monotonic()
    [m] = dns_lab.collect(
        [RESPONDER4], name="silent.lab.test", transport=transport, count=2, timeout=0.2
    )
    elapsed = time.monotonic() - begin
    assert (m.status, m.error) == ("timeout", f"{RESPONDER4}: no reply within 0.2 s")
    assert m.metrics["loss_pct"] == 100.0 and m.metrics["query_time_avg_ms"] is None
    assert [q["status"] for q in m.details["queries"]] == ["timeout", "timeout"]
    assert 0.4 <= elapsed < 2.0


def over(transport: str, dns_lab) -> dict:
    """The parameters that reach the responder over ``transport``: over tls it presents
    BIND's certificate, issued by the lab's CA to ns1.lab.test."""
    if transport != "tls":
        return {"transport": transport}
    return {"transport": "tls", "tls_ca_file": str(dns_lab.ca_file), "tls_server_name": BIND_NAME}


@pytest.mark.lab
@pytest.mark.parametrize(
    ("behaviour", "transports", "reason"),
    [
        ("short", ["udp", "tcp", "tls"], "malformed reply"),
        ("badpointer", ["udp", "tcp", "tls"], "malformed reply"),
        ("badcount", ["udp", "tcp", "tls"], "malformed reply"),
        ("trailing", ["udp", "tcp", "tls"], "malformed reply"),
        ("mismatch", ["udp", "tcp", "tls"], "reply does not match the query"),
        ("eof", ["tcp", "tls"], "closed the connection before a full reply"),
    ],
)
def test_malformed_reply_is_an_error_with_the_reason(dns_lab, behaviour, transports, reason):
    for transport in transports:
        [m] = dns_lab.collect(
            [RESPONDER4],
            name=f"{behaviour}.lab.test",
            count=1,
            timeout=1,
            **over(transport, dns_lab),
        )
        assert m.status == "error", (transport, m)
        assert reason in m.error, (transport, m.error)
        assert m.metrics["query_time_avg_ms"] is None and m.metrics["loss_pct"] == 100.0


@pytest.mark.lab
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_random_garbage_replies_are_errors_never_crashes(dns_lab, transport):
    targets = [RESPONDER4, RESPONDER6]
    for seed in range(40):
        measurements = dns_lab.collect(
            targets, name=f"random-{seed}.lab.test", transport=transport, count=1, timeout=1
        )
        for m in measurements:
            assert m.status == "error", (seed, m)
            assert m.error.split(": ", 1)[1].startswith(("malformed reply", "reply does not"))


STREAM_GARBAGE = (
    "malformed reply",
    "reply does not match the query",
    "the server closed the connection before a full reply",
)


@pytest.mark.lab
@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_junk_over_a_stream_is_a_clean_error_and_leaves_no_thread_behind(dns_lab, transport):
    # random-N: a framed reply of random bytes; junk-N: random bytes with no framing at all,
    # then the connection closed. Over tls both come after a good handshake.
    for seed in range(20):
        for behaviour in ("random", "junk"):
            measurements = dns_lab.collect(
                [RESPONDER4, RESPONDER6],
                name=f"{behaviour}-{seed}.lab.test",
                count=2,
                timeout=1,
                **over(transport, dns_lab),
            )
            for m in measurements:
                assert m.status == "error", (behaviour, seed, m)
                reason = m.error.split(": ", 1)[1]
                assert reason.startswith(STREAM_GARBAGE), (behaviour, seed, m.error)
                assert [q["status"] for q in m.details["queries"]] == ["error", "error"]
                # A connection that carried junk is dropped: each query opened its own.
                [server] = m.details["servers"]
                assert len(server["connections"]) == 2
    assert [t.name for t in threading.enumerate() if t.name.startswith("dns")] == []


@pytest.mark.lab
def test_reply_with_another_id_is_ignored_and_the_right_one_taken(dns_lab):
    [m] = dns_lab.collect([RESPONDER4], name="wrongid.lab.test", count=2, timeout=1)
    assert m.status == "ok" and m.metrics["loss_pct"] == 0.0
    assert m.details["queries"][0]["answers"][0]["data"] == "192.0.2.1"


@pytest.mark.lab
def test_truncated_udp_reply_is_kept_with_its_tc_flag(dns_lab):
    [m] = dns_lab.collect([RESPONDER4], name="truncated.lab.test", count=1)
    assert m.status == "ok" and m.metrics["answer_count"] == 0
    assert "tc" in m.details["queries"][0]["flags"].split()


@pytest.mark.lab
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_closed_port_is_an_error_at_once_not_a_timeout(dns_lab, transport):
    begin = time.monotonic()
    [m] = dns_lab.collect([BIND4], name="www.lab.test", transport=transport, port=5353, count=1)
    assert time.monotonic() - begin < 1.0  # well under the 2 s timeout
    assert m.status == "error"
    assert "connection refused: nothing listens on 10.53.0.1 port 5353" in m.error


@pytest.mark.lab
def test_server_without_a_route_is_an_error_at_once(dns_lab):
    # The client namespace has no route to 10.99.0.0/16: the kernel refuses the send.
    [m] = dns_lab.collect(["10.99.0.1"], name="www.lab.test", count=2)
    assert m.status == "error" and "Network is unreachable" in m.error
    assert m.duration_ms < 500


@pytest.mark.lab
def test_several_servers_are_measured_at_once_one_measurement_each_in_order(dns_lab):
    targets = [NOBODY4, BIND4, RESPONDER4, BIND6]
    begin = time.monotonic()
    measurements = dns_lab.collect(targets, name="www.lab.test", count=2, timeout=0.3)
    elapsed = time.monotonic() - begin
    assert [m.target for m in measurements] == targets
    assert [m.status for m in measurements] == ["timeout", "ok", "ok", "ok"]
    assert measurements[1].details["queries"][0]["answers"][0]["data"] == "10.53.0.80"
    assert measurements[2].details["queries"][0]["answers"][0]["data"] == "192.0.2.1"
    assert elapsed < 1.2  # the silent server's 2 x 0.3 s did not hold the others up


@pytest.mark.lab
def test_system_resolver_is_read_from_resolv_conf_and_fails_over_like_a_stub(dns_lab):
    # In the client namespace /etc/resolv.conf lists 10.53.0.9 (nobody) and then BIND.
    proc = dns_lab.probe(
        "system", "--param", "name=www.lab.test", "--count", "2", "--timeout", "0.2", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)
    assert (m["target"], m["address"], m["status"]) == ("system", BIND4, "ok")
    assert [s["address"] for s in m["details"]["servers"]] == [NOBODY4, BIND4]
    for query in m["details"]["queries"]:
        assert query["server"] == BIND4
        assert query["answers"][0]["data"] == "10.53.0.80"
        assert query["failed_over"] == [
            {"server": NOBODY4, "status": "timeout", "error": "no reply within 0.2 s",
             "rcode_text": None},
        ]  # fmt: skip


@pytest.mark.lab
@pytest.mark.parametrize("name", ["$(reboot).lab.test", "a;id", "x\x1b[2J.lab.test", "-rf"])
def test_cli_refuses_a_hostile_name_with_a_usage_error(dns_lab, name):
    proc = dns_lab.probe(BIND4, "--param", f"name={name}", "--json")
    assert proc.returncode == 2
    assert "invalid parameters: name:" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.lab
def test_cli_server_and_name_flags_ask_that_server_for_that_name(dns_lab):
    proc = dns_lab.probe("--server", BIND4, "--server", BIND6, "--name", "www.lab.test", "--json")
    assert proc.returncode == 0, proc.stderr
    measured = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [m["target"] for m in measured] == [BIND4, BIND6]
    assert all(m["status"] == "ok" and m["metrics"]["answer_count"] >= 1 for m in measured)


def test_a_servers_parameter_explains_that_servers_are_targets(dns_lab):
    proc = dns_lab.probe(BIND4, "--param", f"servers=[{BIND4}]", "--param", "name=www.lab.test")
    assert proc.returncode == 2
    assert "give each server as a target" in proc.stderr
