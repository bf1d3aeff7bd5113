"""The collector contract: error measurements, distributions, metric kinds, the headline."""

from __future__ import annotations

import json
import textwrap
import time
from datetime import UTC, datetime

import pytest
from marshmallow import Schema

from netstats.collectors import Collector, Measurement, Metric, invalid_distributions
from netstats.plugins import build_plugins


def test_failed_measurement_has_the_message_the_status_and_a_duration_from_begun():
    started, begun = datetime.now(UTC), time.monotonic() - 0.25
    m = Measurement.failed(
        "x", "db.lab", started, begun, "no route", status="timeout", metrics={"a_ms": None}
    )
    assert (m.collector, m.target, m.address, m.started_at) == ("x", "db.lab", None, started)
    assert (m.status, m.error, m.metrics, m.details, m.distributions) == (
        "timeout",
        "no route",
        {"a_ms": None},
        {},
        {},
    )
    assert m.duration_ms >= 250


def test_failed_measurement_cannot_be_ok():
    with pytest.raises(ValueError, match="error or timeout"):
        Measurement.failed("x", "h", datetime.now(UTC), time.monotonic(), "?", status="ok")


def test_the_error_field_keeps_its_default_beside_the_constructor():
    m = Measurement("x", "h", "h", datetime.now(UTC), 1.0, "ok")
    assert m.error is None and m.distributions == {}


def test_distributions_travel_in_the_json_form():
    m = Measurement("x", "h", "h", datetime.now(UTC), 1.0, "ok", distributions={"a_ms": [1.5, 2]})
    assert json.loads(json.dumps(m.to_dict()))["distributions"] == {"a_ms": [1.5, 2]}


@pytest.mark.parametrize(
    ("distributions", "problem"),
    [
        ({"a_ms": [1.0, 2]}, None),
        ({"a_ms": []}, None),
        ({"a_ms": [float("inf")]}, "not a finite number"),
        ({"a_ms": [None]}, "not a finite number"),
        ({"a_ms": ["1"]}, "not a finite number"),
        ({"a_ms": 1.0}, "not a list"),
        ({"b_ms": [1.0]}, "both as a metric and as a distribution"),
        ([1.0], "not an object"),
    ],
)
def test_a_distribution_is_a_list_of_finite_numbers_under_a_name_of_its_own(distributions, problem):
    m = Measurement("x", "h", "h", datetime.now(UTC), 1.0, "ok", metrics={"b_ms": 1.0})
    m.distributions = distributions
    found = invalid_distributions(m)
    assert found is None if problem is None else problem in found


class NoParams(Schema):
    pass


def _collector(metrics, **kw) -> Collector:
    return Collector("x", "X", NoParams, metrics, lambda targets, params: [], **kw)


def test_headline_defaults_to_the_first_distribution_declared():
    gauge = Metric("loss_pct", "%", "loss")
    assert Metric("a", "ms", "a").kind == "gauge"
    first, second = (Metric(n, "ms", n, kind="distribution") for n in ("a_ms", "b_ms"))
    assert _collector([gauge, first, second]).headline == "a_ms"
    assert _collector([gauge, first, second], headline="b_ms").headline == "b_ms"
    assert _collector([gauge]).headline is None


def write_plugin(directory, name, body: str) -> None:
    directory.mkdir(exist_ok=True)
    head = (
        "from marshmallow import Schema\n"
        "from netstats import hookimpl\n"
        "from netstats.collectors import Collector, Metric\n"
        "@hookimpl\n"
        "def netstats_collectors():\n"
    )
    (directory / f"{name}.py").write_text(head + textwrap.indent(body, "    "))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "return [Collector('h', 'H', Schema, [Metric('a_ms', 'ms', 'a')], list, "
            "headline='a_ms')]\n",
            "headline 'a_ms' is not one of its distribution metrics",
        ),
        (
            "return [Collector('k', 'K', Schema, [Metric('a_ms', 'ms', 'a', 'hist')], list)]\n",
            "kind must be one of",
        ),
    ],
    ids=["headline-not-a-distribution", "unknown-kind"],
)
def test_a_collector_with_a_bad_declaration_is_a_broken_plugin(tmp_path, body, message):
    write_plugin(tmp_path / "plugins", "bad", body)
    plugins = build_plugins(str(tmp_path / "plugins"))
    assert "h" not in plugins.collectors and "k" not in plugins.collectors
    assert any(message in e.message for e in plugins.errors), plugins.errors
    assert "ping" in plugins.collectors  # the others still load
