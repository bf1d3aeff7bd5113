"""POST /api/v1/destinations/<id>/probe: one measurement now, from the web process, not stored.

The TCP test collector (tests/tcp_collector.py) connects to a socket the test listens on;
one test pings 127.0.0.1 with the real ping collector.
"""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import func, select

from netstats import probe
from netstats.db import db
from netstats.models import Measurement
from tests.tcp_collector import register_tcp_collector


@pytest.fixture
def destination(api) -> int:
    return api.post("/destinations", json={"name": "loop", "host": "127.0.0.1"}).json["id"]


@pytest.fixture
def listener():
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def tcp(app):
    register_tcp_collector(app)


def _stored(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Measurement))


def test_probe_pings_the_destination_and_stores_nothing(app, api, destination):
    response = api.post(
        f"/destinations/{destination}/probe", json={"params": {"count": 3, "interval": 0.05}}
    )
    assert response.status_code == 200, response.json
    measurement = response.json["measurement"]
    assert (measurement["status"], measurement["address"]) == ("ok", "127.0.0.1")
    assert measurement["metrics"]["sent"] == 3 and measurement["metrics"]["loss_pct"] == 0
    assert len(measurement["details"]["probes"]) == 3
    assert "rtt_avg_ms" in [m["name"] for m in response.json["metrics"]]
    assert _stored(app) == 0


def test_probe_without_a_body_uses_ping_with_its_defaults(api, destination, monkeypatch):
    seen = {}

    def record(destination, collector_name="ping", params=None):
        seen.update(collector=collector_name, params=params)
        raise probe.ProbeUnavailable("recorded")

    monkeypatch.setattr("netstats.api.probe.probe_destination", record)
    assert api.post(f"/destinations/{destination}/probe").status_code == 503
    assert seen == {"collector": "ping", "params": {}}


def test_probe_runs_any_collector_with_its_parameters(api, destination, tcp, listener):
    response = api.post(
        f"/destinations/{destination}/probe",
        json={"collector": "tcp", "params": {"port": listener}},
    )
    assert response.status_code == 200
    assert response.json["collector"] == "tcp"
    assert response.json["measurement"]["metrics"]["connect_ms"] > 0


def test_bad_parameters_are_named_as_for_a_job(api, destination):
    response = api.post(f"/destinations/{destination}/probe", json={"params": {"count": 0}})
    assert response.status_code == 422
    assert list(response.json["error"]["fields"]["params"]) == ["count"]


def test_an_unknown_collector_is_named(api, destination):
    response = api.post(f"/destinations/{destination}/probe", json={"collector": "nope"})
    assert response.status_code == 422
    assert "collector" in response.json["error"]["fields"]


def test_a_collector_that_cannot_run_is_a_503_with_its_reason(api, destination, tcp, listener):
    response = api.post(
        f"/destinations/{destination}/probe",
        json={"collector": "tcp", "params": {"port": listener, "fail": True}},
    )
    assert response.status_code == 503
    assert response.json["error"] == {
        "code": "probe_unavailable",
        "message": "told to fail",
        "fields": {},
    }


def test_a_probe_longer_than_the_limit_is_a_504(api, destination, tcp, listener, monkeypatch):
    monkeypatch.setattr(probe, "PROBE_TIMEOUT_S", 0.2)
    response = api.post(
        f"/destinations/{destination}/probe",
        json={"collector": "tcp", "params": {"port": listener, "hold_s": 1}},
    )
    assert response.status_code == 504
    assert response.json["error"]["code"] == "probe_timed_out"


def test_a_reader_may_not_probe(reader, api, destination):
    assert reader.post(f"/destinations/{destination}/probe").status_code == 403


@pytest.mark.parametrize(
    "body, status",
    [("{not json", 400), ('{"collector": 5}', 422), ('{"params": []}', 422), ("[]", 422)],
)
def test_malformed_bodies_are_refused(api, destination, body, status):
    response = api.post(
        f"/destinations/{destination}/probe", data=body, content_type="application/json"
    )
    assert response.status_code == status


def test_probing_a_missing_destination_is_a_404(api):
    assert api.post("/destinations/999/probe").status_code == 404
