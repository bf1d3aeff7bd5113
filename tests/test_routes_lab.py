"""Route changes in the router lab, through the real engine: the equal-cost pair raises none
over 100 traces with the flow kept per destination, and a route switched on r1 is a change
within K runs while a one-trace blip is a flap. On SQLite and PostgreSQL.

Runs are executed by ``execute_run`` (the queue task's body) in a thread moved into a lab
client namespace, so the collector's thread starts there and reaches the lab; PostgreSQL,
which listens on the host's loopback, is reached through a relay into that namespace
(``tests.lab.relay``). The job is paused, so nothing but these runs ever measures it.
"""

from __future__ import annotations

import contextlib
import shutil
from datetime import UTC

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from netstats.collectors import Target
from netstats.db import db
from netstats.engine.execution import execute_run
from netstats.jobs import create_job, pause_job, run_now
from netstats.models import Destination, Event, Job, Measurement, RouteChange, RouteState
from netstats.plugins import build_plugins
from netstats.routes import DetectorState, Trace, observe, signature_of
from tests.conftest import require
from tests.lab.netns import Lab
from tests.lab.relay import relay_into
from tests.lab.routers import Client, RouterLab, build_router_lab, run_in

pytestmark = pytest.mark.lab

PARAMS = {"max_hops": 6, "queries": 3, "timeout": 0.5, "interval": 0.01}


@pytest.fixture(scope="module")
def routers(lab_available) -> RouterLab:
    require(shutil.which("nft") is not None, "nftables is not installed (apt-get install nftables)")
    lab = Lab("nrt")
    try:
        yield build_router_lab(lab)
    finally:
        lab.close()


@pytest.fixture
def lab_client(routers) -> Client:
    with routers.client() as made:
        yield made


@pytest.fixture
def steered(routers):
    """The lab's routers, put back to both equal-cost paths after the test."""
    yield routers
    routers.steer()


@pytest.fixture
def run_in_lab(app, lab_client):
    """Execute a run as a worker inside the client namespace would."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    # PostgreSQL over TCP needs the relay; over its unix socket (no host: the sealed suite)
    # it is reached from any network namespace, as SQLite is.
    relay = (
        relay_into(lab_client.ns, url.host, url.port or 5432)
        if url.get_backend_name() == "postgresql" and url.host
        else contextlib.nullcontext()
    )

    def execute(run_id: int) -> None:
        def in_context() -> None:
            with app.app_context():
                execute_run(run_id)

        run_in(lab_client.ns, in_context)

    with relay:
        yield execute


def _job(routers: RouterLab, method: str) -> tuple[int, dict[int, int]]:
    """A paused traceroute job to the equal-cost target's two addresses; its id and the
    destinations' ids by family."""
    target = routers.ecmp_target
    rows = {
        4: Destination(name="etgt-v4", host=target.v4, family="ipv4"),
        6: Destination(name="etgt-v6", host=target.v6, family="ipv6"),
    }
    db.session.add_all(rows.values())
    db.session.commit()
    job = create_job(
        {
            "name": f"paths-{method}",
            "collector": "traceroute",
            "params": {"method": method, **PARAMS},
            "destinations": [d.id for d in rows.values()],
            "interval_s": 60,
        }
    )
    pause_job(job)
    db.session.commit()
    return job.id, {family: d.id for family, d in rows.items()}


def _run(job_id: int, execute, times: int = 1) -> None:
    for _ in range(times):
        db.session.rollback()
        run_id = run_now(db.session.get_one(Job, job_id)).id
        db.session.commit()
        execute(run_id)
    db.session.rollback()


def _branches(job_id: int, destination_id: int) -> list[str | None]:
    """The address at TTL 2 (the equal-cost branch) of each trace, in time order."""
    stmt = (
        select(Measurement)
        .where(Measurement.job_id == job_id, Measurement.destination_id == destination_id)
        .order_by(Measurement.started_at, Measurement.id)
    )
    found = []
    for m in db.session.scalars(stmt):
        assert m.status == "ok" and m.metrics["reached"] == 1, m.error
        [branch] = m.details["hops"][1]["addresses"]
        found.append(branch)
    return found


# Each method once and each database once (four combinations took 2.5 minutes of the suite;
# the detector and the flow pinning do not depend on the database, the storage path does).
@pytest.mark.parametrize(
    ("method", "database_url"),
    [("udp", "sqlite"), pytest.param("icmp", "postgres", marks=pytest.mark.postgres)],
    indirect=["database_url"],
)
def test_equal_cost_paths_raise_no_route_change_over_100_traces(
    app, api, routers, run_in_lab, method
):
    with app.app_context():
        job_id, destinations = _job(routers, method)
        _run(job_id, run_in_lab, 100)
        for family, destination_id in destinations.items():
            branches = _branches(job_id, destination_id)
            assert len(branches) == 100 and len(set(branches)) == 1, family
        assert db.session.scalar(select(func.count()).select_from(RouteChange)) == 0
        states = db.session.scalars(select(RouteState)).all()
        assert [(s.flap_count, s.candidate_count) for s in states] == [(0, 0), (0, 0)]
    for destination_id in destinations.values():
        body = api.get(f"/jobs/{job_id}/routes", query_string={"destination": destination_id}).json
        assert body["traces"] == 100 and len(body["runs"]) == 1
        assert body["counts"] == {
            "changes": 0,
            "flaps": 0,
            "distinct_routes": 1,
            "dominant_route_pct": 100.0,
        }


def test_without_the_flow_kept_the_same_traces_would_raise_route_changes(routers, lab_client):
    # The control for the test above: the same collector and lab, but a new flow per trace
    # (as before flows were pinned), alternates between the branches and fools the detector.
    # 128 traces: the odds of no three in a row on the other branch are below 1 in 10 000.
    traceroute = build_plugins(None).collectors["traceroute"]
    params = traceroute.params().load({"method": "udp", **PARAMS})
    targets = [Target(routers.ecmp_target.v4, flow_key=f"unpinned:{n}") for n in range(128)]
    measured = run_in(lab_client.ns, traceroute.collect, targets, params)
    state, found = DetectorState(), []
    for n, m in enumerate(measured):
        signature = signature_of(m.details["hops"], m.metrics["reached"] == 1)
        state, new = observe(state, Trace(n, m.started_at, signature), 3)
        found.extend(new)
    assert {m.details["hops"][1]["addresses"][0] for m in measured} == {
        routers.ecmp_paths[0].v4,
        routers.ecmp_paths[1].v4,
    }
    assert any(f.kind == "change" for f in found)


def test_a_route_switched_on_a_router_is_a_change_within_k_runs_and_a_blip_a_flap(
    app, api, steered, run_in_lab
):
    routers = steered
    by_address = {h.v4: h for h in routers.ecmp_paths} | {h.v6: h for h in routers.ecmp_paths}
    with app.app_context():
        job_id, destinations = _job(routers, "udp")
        _run(job_id, run_in_lab, 4)
        usual = {f: _branches(job_id, d)[0] for f, d in destinations.items()}
        other = {
            f: next(h for h in routers.ecmp_paths if by_address[usual[f]] is not h) for f in usual
        }
        routers.steer(v4=other[4], v6=other[6])
        _run(job_id, run_in_lab)  # a blip of one trace
        routers.steer()
        _run(job_id, run_in_lab, 3)
        routers.steer(v4=other[4], v6=other[6])
        changes = select(func.count()).where(RouteChange.kind == "change")
        runs_on_new_path = 0
        while runs_on_new_path < 5 and not db.session.scalar(changes):
            _run(job_id, run_in_lab)
            runs_on_new_path += 1
        assert runs_on_new_path == 3  # detected at the K-th run on the new path
        change_at = {}
        for family, destination_id in destinations.items():
            new = other[family].v4 if family == 4 else other[family].v6
            branches = _branches(job_id, destination_id)
            assert branches == [usual[family]] * 4 + [new] + [usual[family]] * 3 + [new] * 3
            traces = db.session.scalars(
                select(Measurement)
                .where(Measurement.destination_id == destination_id)
                .order_by(Measurement.started_at, Measurement.id)
            ).all()
            changes = db.session.scalars(
                select(RouteChange)
                .where(RouteChange.destination_id == destination_id)
                .order_by(RouteChange.at)
            ).all()
            assert [(c.kind, c.measurement_ids) for c in changes] == [
                ("flap", [traces[4].id]),
                ("change", [t.id for t in traces[8:11]]),
            ]
            change = changes[1]
            assert change.at == traces[8].started_at
            change_at[family] = change.at.astimezone(UTC).isoformat()
            assert change.hops == [
                {"ttl": 2, "old": [usual[family]], "new": [new], "differs": True}
            ]
        events = db.session.scalars(select(Event).where(Event.kind == "route_change")).all()
        assert sorted(e.payload["destination_id"] for e in events) == sorted(destinations.values())
    for family, destination_id in destinations.items():
        body = api.get(f"/jobs/{job_id}/routes", query_string={"destination": destination_id}).json
        assert body["counts"]["changes"] == 1 and body["counts"]["flaps"] == 1
        assert [(r["route"], r["traces"]) for r in body["runs"]] == [(2, 3), (1, 3), (2, 1), (1, 4)]
        [change] = body["changes"]
        assert change["hops"][0]["new"] == [other[family].v4 if family == 4 else other[family].v6]
        assert change["at"] == change_at[family]
