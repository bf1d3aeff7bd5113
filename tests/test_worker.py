"""End to end: a real ``netstats worker`` process, a real queue, real TCP measurements.

The worker runs against the test's database (SQLite file or PostgreSQL schema) and either
a SqliteHuey file in the instance folder or the Redis of this machine (``redis`` marker,
``NETSTATS_TEST_REDIS_URL``, keys under a queue name unique to the test).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from netstats.db import db, utcnow
from netstats.models import JobRun, Measurement
from tests.conftest import require
from tests.tcp_collector import SOURCE, register_tcp_collector

REDIS_URL = os.environ.get("NETSTATS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NETSTATS = str(Path(sys.executable).with_name("netstats"))


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis; skipped (failed in CI) when it does not answer."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        require(False, f"Redis at {REDIS_URL} does not answer: {exc}")
    yield REDIS_URL
    client.close()


@pytest.fixture
def tcp_port() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0), backlog=512)
    yield server.getsockname()[1]
    server.close()


class Worker:
    """A ``netstats worker`` subprocess on the test's instance, stopped at teardown."""

    def __init__(self, env: dict[str, str], log: Path):
        self.env, self.log = env, log
        self.proc: subprocess.Popen | None = None

    def start(self, threads: int = 4) -> None:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [NETSTATS, "worker", "--threads", str(threads)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def make_worker(app, database_url, instance_path, tmp_path) -> Iterator[Callable[..., Worker]]:
    """Build workers sharing the test app's database, instance folder and queue."""
    plugins = instance_path / "plugins"
    plugins.mkdir(exist_ok=True)
    shutil.copy(SOURCE, plugins / "tcp_collector.py")
    register_tcp_collector(app)
    workers: list[Worker] = []

    def make(huey_url: str | None = None) -> Worker:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NETSTATS_") or "TEST" in k}
        env.update(
            NETSTATS_INSTANCE_PATH=str(instance_path),
            NETSTATS_DATABASE_URL=database_url,
            NETSTATS_PLUGINS_DIR=str(plugins),
            NETSTATS_HUEY_NAME=app.config["HUEY_NAME"],
        )
        if huey_url:
            env["NETSTATS_HUEY_URL"] = huey_url
        worker = Worker(env, tmp_path / f"worker{len(workers)}.log")
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        if worker.proc is not None and worker.proc.poll() is None:
            worker.proc.kill()
            worker.proc.wait()


def wait_for(condition: Callable[[], bool], timeout: float, what: str, worker: Worker) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()  # a fresh snapshot for each look
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; worker output:\n{worker.output()[-3000:]}")


def runs(job_id: int, *statuses: str) -> list[JobRun]:
    stmt = select(JobRun).where(JobRun.job_id == job_id).order_by(JobRun.scheduled_at)
    if statuses:
        stmt = stmt.where(JobRun.status.in_(statuses))
    return list(db.session.scalars(stmt))


def measurement_count(run_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Measurement).where(Measurement.run_id == run_id)
    )


def create(api, **job) -> dict:
    response = api.post("/jobs", json={"interval_s": 1, "collector": "tcp", **job})
    assert response.status_code == 201, response.json
    return response.json


def closed_window_now() -> list[dict]:
    """A window that opens later today and is closed now (or all week: a never-open day)."""
    now = utcnow()
    opens, closes = now + timedelta(hours=2), now + timedelta(hours=3)
    return [
        {
            "days": [now.strftime("%a").lower()],
            "start": opens.strftime("%H:%M"),
            "end": closes.strftime("%H:%M"),
        }
    ]


def run_schedule_scenario(app, api, worker: Worker, port: int) -> None:
    """1-second jobs run and store, a paused job stops, an out-of-window job runs nothing."""
    dest = api.post("/destinations", json={"name": "loop", "host": "127.0.0.1"}).json["id"]
    active = create(api, name="every-second", params={"port": port}, destinations=[dest])
    to_pause = create(api, name="to-pause", params={"port": port}, destinations=[dest])
    closed = create(
        api,
        name="closed",
        params={"port": port},
        destinations=[dest],
        windows=closed_window_now(),
    )
    assert closed["state"] == "outside_window"
    worker.start()
    with app.app_context():
        wait_for(
            lambda: (
                len(runs(to_pause["id"], "succeeded")) >= 3
                and len(runs(active["id"], "succeeded")) >= 3
            ),
            timeout=20,
            what="three succeeded runs of each 1-second job",
            worker=worker,
        )
        # The request shares this app context's session: end its read transaction, or the
        # request would write in it instead of a write transaction of its own.
        db.session.rollback()
        assert api.post(f"/jobs/{to_pause['id']}/pause").json["state"] == "paused"
        paused_at = utcnow()
        done_before = len(runs(active["id"], "succeeded"))

        def steady_runs() -> list:
            # Runs due before the worker was up start late; those after start on time.
            done = runs(active["id"], "succeeded")
            up = min(r.started_at for r in done) + timedelta(seconds=1)
            return [r for r in done if r.scheduled_at > up]

        wait_for(
            lambda: (
                len(runs(active["id"], "succeeded")) >= done_before + 3 and len(steady_runs()) >= 2
            ),
            timeout=20,
            what="the active job to go on, two runs due after the worker was up",
            worker=worker,
        )
        done = runs(active["id"], "succeeded")
        assert all(measurement_count(run.id) == 1 for run in done)
        steady = [r.lateness_ms for r in steady_runs()]
        assert len(steady) >= 2 and max(steady) < 1000
        started_after_pause = [
            r for r in runs(to_pause["id"]) if r.started_at and r.started_at > paused_at
        ]
        assert started_after_pause == []
        assert runs(closed["id"]) == []
        of_closed = select(func.count()).where(Measurement.job_id == closed["id"])
        assert db.session.scalar(of_closed) == 0
    assert worker.stop(signal.SIGTERM) == 0
    with app.app_context():
        db.session.rollback()
        assert db.session.scalars(select(JobRun).where(JobRun.status == "running")).all() == []
    out = worker.output()
    assert "Shutting down gracefully" in out and "Traceback" not in out
    # One line per finished run, naming job, status, duration and each destination's figures.
    with app.app_context():
        finished = [r for r in runs(active["id"]) if r.status == "succeeded"]
    logged = re.findall(r"run (\d+) of every-second succeeded in [0-9.]+ s: 127\.0\.0\.1 ok", out)
    assert {int(i) for i in logged} == {r.id for r in finished}
    assert "Scheduler runs every 0.1 second(s)" in out and "not Huey's" not in out


def test_worker_runs_jobs_on_time_with_sqlite_queue(app, api, make_worker, tcp_port):
    run_schedule_scenario(app, api, make_worker(), tcp_port)
    assert (Path(app.instance_path) / "huey.sqlite").exists()


@pytest.mark.redis
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_worker_runs_jobs_on_time_with_redis_queue(app, api, make_worker, tcp_port, redis_url):
    import redis

    name = f"netstats_test_{uuid.uuid4().hex[:12]}"
    app.config.update(HUEY_URL=redis_url, HUEY_NAME=name)
    client = redis.Redis.from_url(redis_url)
    try:
        run_schedule_scenario(app, api, make_worker(redis_url), tcp_port)
        assert client.exists(f"huey.schedule.{name}")
    finally:
        keys = client.keys(f"huey.*.{name}*")
        if keys:
            client.delete(*keys)
        client.close()
    assert not (Path(app.instance_path) / "huey.sqlite").exists()


def test_worker_killed_mid_run_leaves_no_duplicate_and_no_lost_measurement(
    app, api, make_worker, tcp_port
):
    dests = [
        api.post("/destinations", json={"name": f"d{i}", "host": "127.0.0.1"}).json["id"]
        for i in range(2)
    ]
    job = create(
        api,
        name="slow",
        interval_s=2,
        params={"port": tcp_port, "hold_s": 1.2},
        destinations=dests,
    )["id"]
    first = make_worker()
    first.start()
    with app.app_context():
        wait_for(
            lambda: len(runs(job, "succeeded")) >= 2 and len(runs(job, "running")) == 1,
            timeout=20,
            what="two finished runs and one in progress",
            worker=first,
        )
        first.stop(signal.SIGKILL)
        db.session.rollback()
        (orphan,) = runs(job, "running")
        finished_before = {r.id for r in runs(job, "succeeded")}

        second = make_worker()
        second.start()
        wait_for(
            lambda: (
                db.session.get(JobRun, orphan.id).status == "abandoned"
                and len(runs(job, "succeeded")) >= len(finished_before) + 2
            ),
            timeout=20,
            what="the orphan abandoned and two new runs finished",
            worker=second,
        )
        assert "stopped during the run" in db.session.get(JobRun, orphan.id).reason
        assert measurement_count(orphan.id) == 0
        for run in runs(job, "succeeded"):
            assert measurement_count(run.id) == 2, f"run {run.id}"
        assert finished_before <= {r.id for r in runs(job, "succeeded")}
        times = [r.scheduled_at for r in runs(job)]
        assert len(times) == len(set(times))
    assert second.stop() == 0
