"""Executing runs in process, on SQLite and PostgreSQL: states, storage, retries, faults.

Runs are executed by calling the queue task's body (``execute_run``) directly: the real
consumer is exercised in test_worker.py.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import types
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import current_app
from marshmallow import Schema
from sqlalchemy import event, func, select

from netstats import hookimpl
from netstats.collectors import Collector, CollectorError, Measurement, Metric
from netstats.db import begin_write, db, utcnow
from netstats.engine.execution import execute_run
from netstats.engine.identity import worker_name
from netstats.engine.planner import plan, skip_missed
from netstats.engine.queue import get_queue
from netstats.engine.recovery import abandon_orphans
from netstats.jobs import create_job, pause_job, run_now, update_job
from netstats.models import Destination, Event, Job, JobRun, Series, samples
from netstats.models import Measurement as MeasurementRow
from netstats.scheduling import next_runs, runs_between
from tests.tcp_collector import register_tcp_collector


@pytest.fixture
def tcp_port():
    """A real listener on 127.0.0.1; the kernel completes handshakes from its backlog."""
    server = socket.create_server(("127.0.0.1", 0), backlog=128)
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def ctx(app):
    register_tcp_collector(app)
    with app.app_context():
        yield app


def destinations(*names: str) -> list[int]:
    rows = [Destination(name=n, host="127.0.0.1") for n in names]
    db.session.add_all(rows)
    db.session.commit()
    return [d.id for d in rows]


def make_job(dest_ids, port, **extra) -> Job:
    data = {
        "name": extra.pop("name", "tcp-job"),
        "collector": extra.pop("collector", "tcp"),
        "params": extra.pop("params", {"port": port}),
        "destinations": dest_ids,
        "interval_s": extra.pop("interval_s", 10),
        **extra,
    }
    job = create_job(data)
    db.session.commit()
    return job


def manual_run(job: Job) -> int:
    run = run_now(job)
    db.session.commit()
    return run.id


def planned_run(job: Job, offset_s: float) -> int:
    """A schedule run due ``-offset_s`` seconds ago, at the latest time the job plans by then."""
    until = utcnow() + timedelta(seconds=offset_s)
    at = runs_between(job, until - timedelta(seconds=job.interval_s), until)[-1]
    run = JobRun(job_id=job.id, job_version=job.version, scheduled_at=at, trigger="schedule")
    db.session.add(run)
    db.session.commit()
    return run.id


def execute(run_id: int) -> None:
    """What the queue's task does: a context (and so a database session) of its own."""
    with current_app._get_current_object().app_context():
        execute_run(run_id)


def reload(run_id: int) -> JobRun:
    db.session.rollback()  # ends the read transaction: its snapshot predates the run
    return db.session.get(JobRun, run_id)


def count(stmt) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(stmt.subquery()))


def add_plugin(app, name: str, collect, params: type[Schema] | None = None) -> None:
    """Register a one-collector plugin whose ``collect`` the test controls."""

    class NoParams(Schema):
        pass

    module = types.ModuleType(f"plugin_{name}")

    @hookimpl
    def netstats_collectors():
        metrics = [Metric("value_ms", "ms", "test value")]
        return [Collector(name, name, params or NoParams, metrics, collect)]

    module.netstats_collectors = netstats_collectors
    app.extensions["netstats"].register(module, name, "test")


def answer(target, status="ok", **metrics) -> Measurement:
    return Measurement("x", target.host, target.host, utcnow(), 1.0, status, None, metrics)


def distribution(target, **distributions) -> Measurement:
    measurement = answer(target, value_ms=1.0)
    measurement.distributions = distributions
    return measurement


# --- a run, end to end ---------------------------------------------------------------------


def test_run_measures_every_destination_in_one_call_and_stores_it_all(ctx, tcp_port):
    calls = []

    def collect(targets, params):
        calls.append([t.host for t in targets])
        return [answer(t, value_ms=1.5) for t in targets]

    add_plugin(ctx, "counting", collect)
    ids = destinations("a", "b", "c")
    job = make_job(ids, tcp_port, collector="counting", params={})
    run_id = manual_run(job)

    execute(run_id)

    run = reload(run_id)
    assert calls == [["127.0.0.1"] * 3]
    assert run.status == "succeeded" and run.attempt == 1
    assert run.worker == worker_name()
    assert run.started_at <= run.finished_at and run.lateness_ms >= 0
    rows = db.session.scalars(select(MeasurementRow).where(MeasurementRow.run_id == run_id)).all()
    assert sorted(m.destination_id for m in rows) == sorted(ids)
    assert count(select(samples)) == 3
    assert count(select(Series).where(Series.job_id == job.id)) == 3
    event_row = db.session.scalars(select(Event).order_by(Event.id.desc())).first()
    assert event_row.payload["run_id"] == run_id and event_row.payload["status"] == "succeeded"
    assert len(event_row.payload["measurements"]) == 3


def test_real_tcp_collector_stores_a_connect_time(ctx, tcp_port):
    job = make_job(destinations("loop"), tcp_port)
    run_id = manual_run(job)
    execute(run_id)
    run = reload(run_id)
    assert run.status == "succeeded"
    (m,) = run.measurements
    assert m.status == "ok" and 0 < m.metrics["connect_ms"] < 1000
    assert db.session.scalar(select(samples.c.value)) == pytest.approx(m.metrics["connect_ms"])


def test_a_lost_probe_is_data_and_is_not_retried(ctx, tcp_port):
    attempts = []

    def collect(targets, params):
        attempts.append(1)
        return [answer(t, "timeout", value_ms=None) for t in targets]

    add_plugin(ctx, "lossy", collect)
    job = make_job(destinations("far"), tcp_port, collector="lossy", params={}, retries=3)
    run_id = manual_run(job)
    execute(run_id)
    run = reload(run_id)
    assert run.status == "succeeded" and attempts == [1]
    assert run.measurements[0].status == "timeout"
    # The gap is stored as a NULL sample, so a chart draws it as a gap.
    assert db.session.scalar(select(samples.c.value)) is None


def test_duplicate_task_for_a_run_measures_once(ctx, tcp_port):
    job = make_job(destinations("loop"), tcp_port)
    run_id = manual_run(job)
    execute(run_id)
    execute(run_id)
    assert count(select(MeasurementRow)) == 1
    assert reload(run_id).attempt == 1


def test_unusable_metric_values_become_gaps_or_are_dropped(ctx, tcp_port):
    add_plugin(
        ctx,
        "odd",
        lambda targets, params: [
            answer(t, value_ms=float("nan"), flag=True, text="x", big=10**6) for t in targets
        ],
    )
    job = make_job(destinations("loop"), tcp_port, collector="odd", params={})
    execute(manual_run(job))
    db.session.rollback()
    m = db.session.scalar(select(MeasurementRow))
    assert m.metrics == {"value_ms": None, "big": 1e6}
    assert count(select(samples)) == 2


# --- errors, retries, timeouts ---------------------------------------------------------------


def test_collector_error_is_retried_with_backoff_then_succeeds(ctx, tcp_port):
    attempts = []

    def collect(targets, params):
        attempts.append(1)
        if len(attempts) == 1:
            raise CollectorError("socket busy")
        return [answer(t, value_ms=2.0) for t in targets]

    add_plugin(ctx, "flaky", collect)
    job = make_job(destinations("loop"), tcp_port, collector="flaky", params={}, retries=2)
    run_id = manual_run(job)
    huey = get_queue(ctx).huey
    huey.flush()

    execute(run_id)
    run = reload(run_id)
    assert (run.status, run.attempt) == ("scheduled", 1)
    assert "socket busy" in run.error
    (retry,) = huey.scheduled()
    assert retry.args == (run_id,)
    delay = retry.eta - utcnow().replace(tzinfo=None)
    assert timedelta(seconds=0.5) < delay <= timedelta(seconds=1)

    execute(run_id)
    run = reload(run_id)
    assert (run.status, run.attempt) == ("succeeded", 2)


def test_collector_error_fails_the_run_once_retries_are_spent(ctx, tcp_port):
    job = make_job(
        destinations("loop"), tcp_port, params={"port": tcp_port, "fail": True}, retries=1
    )
    run_id = manual_run(job)
    execute(run_id)
    execute(run_id)
    run = reload(run_id)
    assert (run.status, run.attempt) == ("failed", 2)
    assert "told to fail" in run.error
    assert count(select(MeasurementRow)) == 0


def test_run_over_its_timeout_ends_timed_out_without_retry(ctx, tcp_port):
    job = make_job(
        destinations("loop"),
        tcp_port,
        params={"port": tcp_port, "hold_s": 3},
        timeout_s=0.3,
        retries=3,
    )
    run_id = manual_run(job)
    began = time.monotonic()
    execute(run_id)
    assert time.monotonic() - began < 2
    run = reload(run_id)
    assert (run.status, run.attempt) == ("timed_out", 1)
    assert "0.3 s" in run.error
    assert count(select(MeasurementRow)) == 0


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda targets, params: None, "not a list"),
        (lambda targets, params: [], "0 measurements for 1 targets"),
        (lambda targets, params: ["x"], "not a Measurement"),
        (lambda t, p: [distribution(t[0], rtt_ms=[1.0, float("nan")])], "not a finite number"),
        (lambda t, p: [distribution(t[0], rtt_ms=[1.0, True])], "not a finite number"),
        (lambda t, p: [distribution(t[0], rtt_ms=(1.0, 2.0))], "not a list"),
        (lambda t, p: [distribution(t[0], value_ms=[1.0])], "both as a metric and as a"),
    ],
)
def test_garbage_from_a_collector_fails_the_run_cleanly(ctx, tcp_port, bad, message):
    add_plugin(ctx, "garbage", bad)
    job = make_job(destinations("loop"), tcp_port, collector="garbage", params={}, retries=2)
    run_id = manual_run(job)
    execute(run_id)
    run = reload(run_id)
    assert run.status == "failed" and message in run.error
    assert run.attempt == 1  # a plugin answering garbage would answer it again


def test_missing_collector_fails_the_run_with_the_reason(ctx, tcp_port):
    add_plugin(ctx, "gone", lambda targets, params: [])
    job = make_job(destinations("loop"), tcp_port, collector="gone", params={})
    ctx.extensions["netstats"].unregister("gone")
    run_id = manual_run(job)
    execute(run_id)
    run = reload(run_id)
    assert run.status == "failed" and "'gone' is not installed" in run.error


# --- runs the job no longer wants ------------------------------------------------------------


def test_run_of_a_paused_job_is_skipped_with_the_reason(ctx, tcp_port):
    job = make_job(destinations("loop"), tcp_port)
    run_id = planned_run(job, offset_s=-11)  # already due: pausing does not remove it
    pause_job(job)
    db.session.commit()
    execute(run_id)
    run = reload(run_id)
    assert (run.status, run.reason) == ("skipped", "job paused")
    assert count(select(MeasurementRow)) == 0


def test_run_planned_at_a_time_the_edited_job_no_longer_has_is_skipped(ctx, tcp_port):
    job = make_job(destinations("loop"), tcp_port, interval_s=7)
    run_id = planned_run(job, offset_s=-8)
    update_job(job, {"interval_s": 3600})
    db.session.commit()
    execute(run_id)
    run = reload(run_id)
    assert run.status == "skipped"
    assert run.reason == "job changed (version 1 -> 2)"


def test_run_of_an_older_version_still_runs_if_the_time_still_fits(ctx, tcp_port):
    job = make_job(destinations("loop"), tcp_port, interval_s=10)
    run_id = planned_run(job, offset_s=-5)
    update_job(job, {"params": {"port": tcp_port, "timeout": 2.0}})
    db.session.commit()
    execute(run_id)
    run = reload(run_id)
    assert (run.status, run.job_version) == ("succeeded", 2)


def test_run_outside_the_window_is_skipped(ctx, tcp_port):
    job = make_job(destinations("loop"), tcp_port)
    at = utcnow() - timedelta(seconds=5)
    run = JobRun(job_id=job.id, job_version=job.version, scheduled_at=at, trigger="schedule")
    db.session.add(run)
    day = at.strftime("%a").lower()
    closed = (
        (at + timedelta(hours=2)).strftime("%H:%M"),
        (at + timedelta(hours=3)).strftime("%H:%M"),
    )
    job.windows = [{"days": [day], "start": closed[0], "end": closed[1]}]
    db.session.commit()
    execute(run.id)
    assert reload(run.id).reason == "outside the job's window"


def test_run_starting_far_too_late_is_skipped_as_missed(ctx, tcp_port):
    job = make_job(destinations("loop"), tcp_port, interval_s=10)
    run_id = planned_run(job, offset_s=-90)
    execute(run_id)
    run = reload(run_id)
    assert run.status == "skipped"
    late = int(re.fullmatch(r"missed: started (\d+) s late", run.reason).group(1))
    assert 89 <= late <= 101


def test_run_never_overlaps_the_previous_run_of_its_job(ctx, app, tcp_port):
    job = make_job(destinations("loop"), tcp_port, params={"port": tcp_port, "hold_s": 1.5})
    first, second = manual_run(job), manual_run(job)

    def run_first():
        with app.app_context():
            execute(first)

    thread = threading.Thread(target=run_first)
    thread.start()
    deadline = time.monotonic() + 5
    while reload(first).status != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    execute(second)
    thread.join()
    assert reload(first).status == "succeeded"
    run = reload(second)
    assert (run.status, run.reason) == ("skipped", f"overlap: run {first} still running")


def test_manual_run_ignores_windows_and_pause(ctx, tcp_port):
    job = make_job(
        destinations("loop"),
        tcp_port,
        windows=[{"days": ["mon"], "start": "00:00", "end": "00:01"}],
        starts_at=utcnow() + timedelta(days=30),
    )
    pause_job(job)
    db.session.commit()
    run_id = manual_run(job)
    execute(run_id)
    assert reload(run_id).status == "succeeded"


def test_job_without_destinations_skips_its_run(ctx, tcp_port):
    job = make_job([], tcp_port)
    run_id = manual_run(job)
    execute(run_id)
    assert reload(run_id).reason == "no destinations to measure"


def test_label_selector_adds_matching_enabled_destinations(ctx, tcp_port):
    db.session.add_all(
        [
            Destination(name="p1", host="127.0.0.1", labels={"env": "prod"}),
            Destination(name="p2", host="127.0.0.2", labels={"env": "prod", "x": "y"}),
            Destination(name="off", host="127.0.0.3", labels={"env": "prod"}, enabled=False),
            Destination(name="dev", host="127.0.0.4", labels={"env": "dev"}),
        ]
    )
    db.session.commit()
    job = make_job([], tcp_port, label_selector={"env": "prod"})
    run_id = manual_run(job)
    execute(run_id)
    assert sorted(m.target for m in reload(run_id).measurements) == ["127.0.0.1", "127.0.0.2"]


# --- planning --------------------------------------------------------------------------------


def test_two_planners_racing_plan_each_run_once(ctx, app, tcp_port):
    ids = destinations("loop")
    for i in range(5):
        make_job(ids, tcp_port, name=f"j{i}", interval_s=1)
    db.session.execute(sa.delete(JobRun))
    db.session.commit()
    now = utcnow()
    inserted: list[list] = [[], []]
    barrier = threading.Barrier(2)

    def planner(slot: int) -> None:
        with app.app_context():
            barrier.wait()
            begin_write()
            inserted[slot] = plan(now)
            db.session.commit()

    threads = [threading.Thread(target=planner, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = count(select(JobRun))
    assert total == 5 * 60
    # Each run was inserted (and so enqueued) by exactly one of them.
    assert len(inserted[0]) + len(inserted[1]) == total
    assert not {r for r, _ in inserted[0]} & {r for r, _ in inserted[1]}


def test_planner_continues_after_the_last_planned_run(ctx, tcp_port):
    job = make_job(destinations("loop"), tcp_port, interval_s=10)
    first = count(select(JobRun))
    assert first == 6
    assert plan(utcnow()) == []
    later = plan(utcnow() + timedelta(seconds=30))
    assert len(later) == 3
    times = db.session.scalars(select(JobRun.scheduled_at).order_by(JobRun.scheduled_at)).all()
    assert times == next_runs(job, times[0], 9)


def test_edit_replans_the_runs_ahead_under_the_new_version(ctx, tcp_port):
    job = make_job(destinations("loop"), tcp_port, interval_s=10)
    update_job(job, {"interval_s": 20})
    db.session.commit()
    runs = db.session.scalars(select(JobRun).order_by(JobRun.scheduled_at)).all()
    assert {r.job_version for r in runs} == {2}
    assert [r.scheduled_at for r in runs] == next_runs(job, runs[0].scheduled_at, len(runs))
    assert len(runs) == 3


def test_lost_planned_runs_are_recorded_as_missed(ctx, tcp_port):
    job = make_job(destinations("loop"), tcp_port)
    old = planned_run(job, offset_s=-11 * 60)
    assert skip_missed() == 1
    db.session.commit()
    run = reload(old)
    assert run.status == "skipped" and run.reason.startswith("missed")


# --- faults ----------------------------------------------------------------------------------


def test_orphaned_runs_of_a_dead_worker_are_abandoned_and_live_ones_kept(ctx, tcp_port):
    job = make_job(destinations("loop"), tcp_port)
    host = socket.gethostname()
    dead = JobRun(
        job_id=job.id,
        job_version=1,
        scheduled_at=utcnow() - timedelta(seconds=3),
        status="running",
        started_at=utcnow(),
        worker=f"{host}:{2**22 + 1}:deadbeef/Worker-1",  # above pid_max: never alive
    )
    mine = JobRun(
        job_id=job.id,
        job_version=1,
        scheduled_at=utcnow() - timedelta(seconds=2),
        status="running",
        started_at=utcnow(),
        worker=worker_name(),
    )
    elsewhere = JobRun(
        job_id=job.id,
        job_version=1,
        scheduled_at=utcnow() - timedelta(seconds=1),
        status="running",
        started_at=utcnow() - timedelta(minutes=10),
        worker="other-host:12:cafe/Worker-2",
    )
    db.session.add_all([dead, mine, elsewhere])
    db.session.commit()
    assert sorted(abandon_orphans()) == sorted([dead.id, elsewhere.id])
    assert reload(dead.id).status == "abandoned"
    assert "stopped during the run" in reload(dead.id).reason
    assert reload(elsewhere.id).reason.startswith("no news from worker other-host")
    assert reload(mine.id).status == "running"
    kinds = [
        e.payload["status"] for e in db.session.scalars(select(Event).where(Event.kind == "run"))
    ]
    assert kinds.count("abandoned") == 2


def test_failed_write_is_retried_and_leaves_nothing_half_written(ctx, tcp_port):
    job = make_job(destinations("a", "b"), tcp_port)
    run_id = manual_run(job)
    failures = []

    def fail_samples_twice(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO SAMPLES") and len(failures) < 2:
            failures.append(statement)
            # What the driver raises when the server goes away mid-transaction.
            raise sa.exc.OperationalError(statement, parameters, Exception("server closed"))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", fail_samples_twice)
    try:
        execute(run_id)
    finally:
        event.remove(engine, "before_cursor_execute", fail_samples_twice)
    assert len(failures) == 2
    run = reload(run_id)
    assert run.status == "succeeded"
    # Measurements were inserted before samples in each failed attempt: none survived.
    assert count(select(MeasurementRow)) == 2
    assert count(select(samples)) == 2
    assert count(select(Event).where(Event.kind == "run")) == 1


def test_write_waits_out_a_briefly_locked_database(database_url, instance_path, tcp_port):
    from netstats.app import create_app

    # Writers give up on a SQLite lock after 100 ms here, so the run must retry its write.
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SQLITE_BUSY_TIMEOUT_MS": 100})
    register_tcp_collector(app)
    locker = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    held = threading.Event()

    def hold_lock() -> None:
        with locker.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN EXCLUSIVE")
            else:
                conn.begin()
                conn.exec_driver_sql("LOCK TABLE samples IN ACCESS EXCLUSIVE MODE")
            held.set()
            time.sleep(1.0)
            conn.rollback()

    with app.app_context():
        job = make_job(destinations("loop"), tcp_port, params={"port": tcp_port, "hold_s": 0.4})
        run_id = manual_run(job)
        # The lock is taken while the collector measures and held past its end.
        thread = threading.Timer(0.1, hold_lock)
        thread.start()
        began = time.monotonic()
        execute(run_id)
        thread.join()
        assert held.is_set()
        assert time.monotonic() - began >= 1.0
        run = reload(run_id)
        assert run.status == "succeeded"
        assert count(select(MeasurementRow)) == 1
        assert count(select(samples)) == 1
        db.session.remove()
        db.engine.dispose()
    locker.dispose()


def test_runs_reach_the_queue_at_the_outer_commit_not_when_a_savepoint_ends(ctx):
    from netstats.db import write_transaction
    from netstats.engine.outbox import enqueue_after_commit

    huey = get_queue().huey
    before = huey.pending_count()
    with write_transaction():
        enqueue_after_commit([(10**9, None)])
        with db.session.begin_nested():  # released: SQLAlchemy fires after_commit
            pass
        with pytest.raises(ValueError), db.session.begin_nested():  # rolled back
            raise ValueError
        assert huey.pending_count() == before  # not before the transaction commits
    assert huey.pending_count() == before + 1
