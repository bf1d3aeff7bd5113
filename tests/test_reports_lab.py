"""End to end: a real ``netstats worker`` in the lab's prober namespace pings the lab's echo
responder (loss set by the test); the report's Summary sheet and its CSV then agree with the
responder's ground truth: probes sent and received, and the loss, exactly.

SQLite only, as tests/test_series_lab.py (whose lab and instance fixtures it shares).
"""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import time
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from netstats.db import utcnow
from tests.test_series_lab import NETSTATS, lab, sqlite_app  # noqa: F401 - fixtures

pytestmark = pytest.mark.lab
RUN_FOR_S = 20


def test_report_loss_equals_the_responders_ground_truth(lab, sqlite_app, tmp_path):  # noqa: F811
    app, url, instance = sqlite_app
    from tests.conftest import ApiClient, _issue_token

    api = ApiClient(app.test_client(), _issue_token(app, "admin", True, "write"))
    lab.responder.configure(delay_ms=3.0, jitter_ms=1.0, seed=5, drop_every=4)
    dest = api.post("/destinations", json={"name": "=resp", "host": lab.v4[0]}).json["id"]
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
    )
    begun = utcnow()
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
        assert api.post(f"/jobs/{job_id}/pause").status_code == 200
        time.sleep(2)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    records = lab.responder.records()
    sent = len(records)
    received = sum(1 for r in records if r["replies"] > 0)
    assert sent >= 5 * 5, log_path.read_text()[-3000:]  # a slow start on a loaded machine
    assert 0 < received < sent
    args = {
        "job": str(job_id),
        "from": (begun - timedelta(minutes=1)).isoformat(),
        "to": (utcnow() + timedelta(minutes=1)).isoformat(),
    }
    response = api.get("/reports", query_string=args)
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.data))["Summary"].values)
    cells = dict(zip(rows[0], rows[1], strict=True))
    assert cells["destination"] == "=resp"
    assert (cells["sent"], cells["received"]) == (sent, received)
    assert cells["loss (%)"] == pytest.approx((sent - received) / sent, rel=1e-12)
    summary = api.get(f"/jobs/{job_id}/summary", query_string=args).json["destinations"][0]
    assert cells["loss (%)"] * 100 == pytest.approx(summary["loss_pct"], rel=1e-12)
    text = api.get("/reports", query_string={**args, "format": "csv"}).get_data(as_text=True)
    measured = list(csv.DictReader(io.StringIO(text, newline="")))
    assert sum(int(float(r["sent (count)"])) for r in measured) == sent
    assert sum(int(float(r["received (count)"])) for r in measured) == received
    assert {r["destination"] for r in measured} == {"'=resp"}
