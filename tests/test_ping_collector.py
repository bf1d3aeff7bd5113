"""The ping collector's contract: registration, parameters, and input it must refuse.

No packets here (see test_ping_lab for the measurements themselves).
"""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from netstats.app import create_app
from netstats.collectors import Target
from netstats.plugins import build_plugins
from netstats.schema_export import params_json_schema
from tests.conftest import cli_runner

DESIGN_METRICS = [
    "sent",
    "received",
    "duplicates",
    "loss_pct",
    "rtt_min_ms",
    "rtt_avg_ms",
    "rtt_max_ms",
    "rtt_mdev_ms",
    "rtt_median_ms",
    "rtt_p95_ms",
    "jitter_ms",
    "jitter_rfc3550_ms",
]


@pytest.fixture(scope="module")
def ping():
    return build_plugins(None).collectors["ping"]


def test_ping_is_registered_through_the_entry_point_with_the_design_metrics(ping):
    plugins = build_plugins(None)
    assert plugins.collector_source("ping").startswith("netstats ")
    assert [m.name for m in ping.metrics if m.kind == "gauge"] == DESIGN_METRICS
    assert [m.name for m in ping.metrics if m.kind == "distribution"] == ["rtt_ms"]
    assert ping.headline == "rtt_ms"
    assert all(m.unit and m.description for m in ping.metrics)


def test_parameters_default_to_a_five_probe_round(ping):
    assert ping.params().load({}) == {
        "count": 5,
        "interval": 1.0,
        "timeout": 2.0,
        "size": 56,
        "rate": 100.0,
        "ttl": None,
    }


def test_parameter_schema_exports_defaults_and_ranges(ping):
    props = params_json_schema(ping.params)["properties"]
    assert props["count"]["default"] == 5
    assert (props["count"]["minimum"], props["count"]["maximum"]) == (1, 1000)
    assert props["rate"]["minimum"] == 1
    assert props["size"]["minimum"] == 12
    assert (props["ttl"]["minimum"], props["ttl"]["maximum"]) == (1, 255)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"count": 0}, "count"),
        ({"count": "abc"}, "count"),
        ({"count": True}, "count"),
        ({"count": 2.5}, "count"),
        ({"count": 1001}, "count"),
        ({"interval": -1}, "interval"),
        ({"interval": "nan"}, "interval"),
        ({"timeout": "inf"}, "timeout"),
        ({"timeout": 0}, "timeout"),
        ({"size": 4}, "size"),
        ({"size": 70000}, "size"),
        ({"rate": 0}, "rate"),
        ({"ttl": 0}, "ttl"),
        ({"ttl": 256}, "ttl"),
        ({"ttl": [1]}, "ttl"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(ping, params, field):
    with pytest.raises(ValidationError) as excinfo:
        ping.params().load(params)
    assert field in excinfo.value.messages


@pytest.mark.parametrize(
    "target",
    [
        Target("bad host name"),
        Target("evil\x00name"),
        Target("a" * 300),
        Target("127.0.0.1", "ipv6"),
        Target("::1", "ipv4"),
        Target("127.0.0.1", "ipv5"),
    ],
)
def test_hostile_or_mismatched_targets_are_error_measurements_not_crashes(ping, target):
    (m,) = ping.collect([target], ping.params().load({}))
    assert m.status == "error"
    assert m.error
    assert m.address is None
    assert m.metrics["sent"] == 0


def test_no_targets_is_no_measurements(ping):
    assert ping.collect([], ping.params().load({})) == []


def test_cli_refuses_bad_parameters_with_a_clear_message(instance_path):
    runner = cli_runner(create_app({"TESTING": True}))
    result = runner.invoke(args=["probe", "ping", "127.0.0.1", "--param", "count=abc"])
    assert result.exit_code == 2
    assert "invalid parameters: count: Not a valid integer." in result.output
