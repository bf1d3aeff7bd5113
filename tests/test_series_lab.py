"""End to end: a real ``netstats worker`` in the lab's prober namespace pings the lab's echo
responder (delay, jitter and loss set by the test) every second; the job's summary then
agrees with the responder's ground truth: loss exactly, p50 and p95 within the rollup bound,
from the raw samples and again from the rollups.

SQLite only: the worker runs in the prober namespace, which cannot reach the machine's
PostgreSQL on 127.0.0.1 (a SQLite file is shared through the filesystem).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from netstats.db import db, utcnow
from netstats.engine.rollups import floor_to, read_state, rollup_pass
from netstats.engine.storage import EPOCH, timestamp_us
from netstats.histogram import RELATIVE_ERROR
from netstats.models import Job, JobRun
from netstats.queries.summary import summarize_range
from tests.lab.ping_lab import PingLab, ping_lab

pytestmark = pytest.mark.lab

NETSTATS = str(Path(sys.executable).with_name("netstats"))
RUN_FOR_S = 25
# Enough rounds for the comparison; a loaded machine may need longer than RUN_FOR_S for them.
MIN_RUNS = RUN_FOR_S - 8
# What a measured RTT may differ from the responder's kernel-stamped hold (see
# docs/collectors/ping.md: a few microseconds): added to the rollup bound.
MEASUREMENT_SLACK_MS = 0.05


@pytest.fixture(scope="module")
def lab(lab_available) -> Iterator[PingLab]:
    with ping_lab() as built:
        yield built


@pytest.fixture
def sqlite_app(sqlite_template, tmp_path, monkeypatch):
    from netstats.app import create_app

    instance = tmp_path / "instance"
    instance.mkdir()
    shutil.copy(sqlite_template, instance / "netstats.sqlite")
    monkeypatch.setenv("NETSTATS_INSTANCE_PATH", str(instance))
    url = f"sqlite:///{instance / 'netstats.sqlite'}"
    app = create_app({"TESTING": True, "DATABASE_URL": url, "PLUGINS_DIR": str(instance / "p")})
    yield app, url, instance
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _succeeded(app, job_id: int) -> int:
    """How many runs of the job have succeeded so far."""
    with app.app_context():
        try:
            return db.session.scalar(
                select(func.count())
                .select_from(JobRun)
                .where(JobRun.job_id == job_id, JobRun.status == "succeeded")
            )
        finally:
            db.session.remove()


def test_summary_matches_the_responders_ground_truth_from_raw_and_from_rollups(
    lab, sqlite_app, tmp_path
):
    app, url, instance = sqlite_app
    client = app.test_client()
    from tests.conftest import ApiClient, _issue_token

    api = ApiClient(client, _issue_token(app, "admin", True, "write"))
    lab.responder.configure(delay_ms=8.0, jitter_ms=4.0, seed=21, drop_every=7)
    dest = api.post("/destinations", json={"name": "resp", "host": lab.v4[0]}).json["id"]
    body = {
        "name": "lab ping",
        "collector": "ping",
        "params": {"count": 5, "interval": 0.05, "timeout": 0.5},
        "destinations": [dest],
        "interval_s": 1,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETSTATS_") or "TEST" in k}
    env.update(
        NETSTATS_INSTANCE_PATH=str(instance),
        NETSTATS_DATABASE_URL=url,
        NETSTATS_PLUGINS_DIR=str(instance / "p"),
        NETSTATS_HUEY_NAME=app.config["HUEY_NAME"],
        # One rollup pass at start, none after: the summary comes from the raw samples
        # until the test itself runs a pass.
        NETSTATS_ROLLUP_EVERY_S="3600",
    )
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as out:
        worker = lab.prober.popen(
            NETSTATS, "worker", "--threads", "2", env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        job = api.post("/jobs", json=body)
        assert job.status_code == 201, job.json
        job_id = job.json["id"]
        time.sleep(RUN_FOR_S)
        deadline = time.monotonic() + 3 * RUN_FOR_S
        while _succeeded(app, job_id) < MIN_RUNS and time.monotonic() < deadline:
            time.sleep(1)
        assert api.post(f"/jobs/{job_id}/pause").status_code == 200
        time.sleep(2)  # the run in progress finishes
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    output = log_path.read_text()
    records = lab.responder.records()
    sent = len(records)
    received = sum(1 for r in records if r["replies"] > 0)
    truth = np.array([r["hold_ns"] / 1e6 for r in records if r["replies"] > 0])
    assert sent >= 5 * MIN_RUNS, output[-3000:]
    assert received < sent  # drop_every lost some

    with app.app_context():
        job_row = db.session.get(Job, job_id)
        runs = db.session.scalar(
            select(func.count())
            .select_from(JobRun)
            .where(JobRun.job_id == job_id, JobRun.status == "succeeded")
        )
        assert runs >= MIN_RUNS, output[-3000:]
        state = read_state()
        assert "pass_us" in state, output[-3000:]  # the worker's maintenance thread ran
        now = utcnow()
        start = EPOCH + timedelta(
            microseconds=floor_to(timestamp_us(now) - 600_000_000, 300_000_000)
        )
        end = EPOCH + timedelta(microseconds=floor_to(timestamp_us(now) + 600_000_000, 300_000_000))

        def check(row, exact: bool) -> None:
            assert (row.sent, row.received) == (sent, received)
            assert row.loss_pct == 100.0 * (sent - received) / sent
            assert row.quantiles_exact is exact
            assert row.runs == runs and row.ok == runs
            for name, q in (("p50", 0.5), ("p95", 0.95)):
                expected = float(np.quantile(truth, q))
                got = getattr(row, name)
                bound = (0 if exact else RELATIVE_ERROR) * expected + MEASUREMENT_SLACK_MS
                assert abs(got - expected) <= bound, (name, got, expected)

        (raw,) = summarize_range(job_row, start, end)
        check(raw, exact=True)
        rollup_pass(end + timedelta(minutes=2))
        (rolled,) = summarize_range(db.session.get(Job, job_id), start, end)
        check(rolled, exact=False)
