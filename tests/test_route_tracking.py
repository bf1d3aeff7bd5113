"""Route change detection in the run's write transaction (netstats.engine.route_tracking), on
SQLite and PostgreSQL, through the real engine (``execute_run``) with scripted traces."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event, func, select

from netstats.config import ConfigError
from netstats.db import db, utcnow
from netstats.destinations import delete_destination
from netstats.jobs import delete_job
from netstats.models import Destination, Event, Job, Measurement, RouteChange, RouteState
from tests.route_traces import destination_ids, make_job, play, register

A = ["10.91.1.1", "", "10.93.1.2", "10.99.0.1"]
B = ["10.91.1.1", "", "10.93.2.2", "10.99.0.1"]


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app, register(app)


def _changes(kind: str | None = None) -> list[RouteChange]:
    db.session.rollback()
    stmt = select(RouteChange).order_by(RouteChange.at, RouteChange.id)
    if kind:
        stmt = stmt.where(RouteChange.kind == kind)
    return list(db.session.scalars(stmt))


def _trace_ids(job) -> list[int]:
    stmt = select(Measurement.id).where(Measurement.job_id == job.id).order_by(Measurement.id)
    return list(db.session.scalars(stmt))


def _route_events() -> list[dict]:
    db.session.rollback()
    stmt = select(Event.payload).where(Event.kind == "route_change").order_by(Event.id)
    return list(db.session.scalars(stmt))


def test_three_traces_on_a_new_path_store_a_change_and_announce_it(ctx):
    app, script = ctx
    job = make_job()
    [dest] = destination_ids(job)
    start = utcnow() - timedelta(hours=1)
    play(app, script, job, start, [A, A, B, B, B, B])

    [change] = _changes()
    ids = _trace_ids(job)
    assert change.kind == "change" and change.job_id == job.id and change.destination_id == dest
    assert change.at == start + timedelta(minutes=2)
    assert change.measurement_ids == ids[2:5]
    assert (change.first_ttl, change.last_ttl) == (3, 3)
    assert change.hops == [{"ttl": 3, "old": ["10.93.1.2"], "new": ["10.93.2.2"], "differs": True}]
    assert change.old_route["hops"][2] == ["10.93.1.2"]
    assert change.new_route == {"hops": [[h] if h else [] for h in B], "reached": True}
    state = db.session.get(RouteState, (job.id, dest))
    assert state.current == change.new_route and state.since == change.at
    assert (state.candidate_count, state.flap_count, state.candidate) == (0, 0, [])
    [payload] = _route_events()
    assert payload == {
        "route_change_id": change.id,
        "job_id": job.id,
        "destination_id": dest,
        "at": change.at.isoformat(),
        "first_ttl": 3,
        "last_ttl": 3,
        "hops": change.hops,
        "measurement_ids": ids[2:5],
    }


def test_blips_of_one_and_two_traces_are_flaps_and_no_change(ctx):
    app, script = ctx
    job = make_job()
    [dest] = destination_ids(job)
    play(app, script, job, utcnow() - timedelta(hours=1), [A, B, A, B, B, A, A])
    flaps = _changes()
    assert [(c.kind, len(c.measurement_ids)) for c in flaps] == [("flap", 1), ("flap", 2)]
    assert _route_events() == []
    state = db.session.get(RouteState, (job.id, dest))
    assert state.flap_count == 2 and state.current["hops"][2] == ["10.93.1.2"]


def test_a_pending_candidate_is_kept_between_runs(ctx):
    app, script = ctx
    job = make_job()
    [dest] = destination_ids(job)
    play(app, script, job, utcnow() - timedelta(hours=1), [A, B, B])
    state = db.session.get(RouteState, (job.id, dest))
    assert state.candidate_count == 2
    assert [c["measurement_id"] for c in state.candidate] == _trace_ids(job)[1:]
    assert _changes() == []


def test_failed_and_silent_traces_leave_the_detector_alone(ctx):
    app, script = ctx
    job = make_job()
    silent = ["", "", "", ""]
    play(app, script, job, utcnow() - timedelta(hours=1), [A, B, None, silent, B, None, B])
    [change] = _changes()
    ids = _trace_ids(job)
    assert change.measurement_ids == [ids[1], ids[4], ids[6]]


def test_each_destination_of_a_job_has_its_own_route(ctx):
    app, script = ctx
    job = make_job("10.99.0.1", "10.99.0.2")
    one, two = destination_ids(job)
    paths = [{"10.99.0.1": A, "10.99.0.2": B}] + [{"10.99.0.1": B, "10.99.0.2": B}] * 3
    play(app, script, job, utcnow() - timedelta(hours=1), paths)
    [change] = _changes()
    assert change.destination_id == one
    assert db.session.get(RouteState, (job.id, two)).current["hops"][2] == ["10.93.2.2"]


def test_a_retried_write_feeds_the_detector_once(ctx):
    app, script = ctx
    job = make_job()
    [dest] = destination_ids(job)
    failures = []

    def fail_twice(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO ROUTE_CHANGES") and len(failures) < 2:
            failures.append(statement)
            raise sa.exc.OperationalError(statement, parameters, Exception("server closed"))

    play(app, script, job, utcnow() - timedelta(hours=1), [A, B, B])
    event.listen(db.engine, "before_cursor_execute", fail_twice)
    try:
        play(app, script, job, utcnow() - timedelta(minutes=30), [B])
    finally:
        event.remove(db.engine, "before_cursor_execute", fail_twice)
    assert len(failures) == 2
    assert [c.kind for c in _changes()] == ["change"]
    assert len(_route_events()) == 1
    state = db.session.get(RouteState, (job.id, dest))
    assert state.candidate_count == 0 and state.current["hops"][2] == ["10.93.2.2"]


def test_deleting_the_job_or_the_destination_deletes_its_routes(ctx):
    app, script = ctx
    job = make_job("10.99.0.1", "10.99.0.2", name="gone")
    one, two = destination_ids(job)
    play(app, script, job, utcnow() - timedelta(hours=1), [A, B, B, B])
    delete_destination(db.session.get(Destination, one), detach=True)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(RouteState)) == 1
    assert [c.destination_id for c in _changes()] == [two]
    delete_job(db.session.get(Job, job.id))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(RouteState)) == 0
    assert _changes() == []


def test_the_number_of_traces_of_a_change_is_a_setting(database_url, instance_path):
    from netstats.app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "ROUTE_CHANGE_TRACES": 2})
    with app.app_context():
        script = register(app)
        job = make_job()
        play(app, script, job, utcnow() - timedelta(hours=1), [A, B, B])
        assert [len(c.measurement_ids) for c in _changes()] == [2]
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("value", [0, -3, "three", 2.5, True])
def test_a_bad_setting_is_refused_at_start_naming_it(instance_path, value):
    from netstats.app import create_app

    with pytest.raises(ConfigError, match="ROUTE_CHANGE_TRACES must be a whole number"):
        create_app({"TESTING": True, "ROUTE_CHANGE_TRACES": value})
