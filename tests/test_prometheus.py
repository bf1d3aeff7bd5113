"""``GET /metrics`` in process: what it says, that Prometheus's own tools accept it, that its
counters never go down (a new app on the same database, retention, late runs), and who may
scrape. Real processes and a real Prometheus server: ``tests/test_prometheus_serve.py``.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta

import pytest
from flask import g
from prometheus_client.parser import text_string_to_metric_families

from netstats.db import db, utcnow, write_transaction
from netstats.models import JobRun, Measurement
from tests.conftest import require
from tests.rounds import make_job, ping_measurement, write_pings, write_round


def scrape(client, token: str | None = None, **kwargs):
    """GET /metrics. The test's app context is shared by its requests (a server's requests
    each have their own): forget the caller the last one authenticated."""
    g.pop("principal", None)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get("/metrics", headers=headers, **kwargs)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample by (name, sorted labels), through prometheus_client's parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def pair(job: str, destination: str, collector: str = "ping", **extra) -> tuple:
    labels = {"netstats_job": job, "destination": destination, "collector": collector, **extra}
    return tuple(sorted(labels.items()))


@pytest.fixture
def open_app(app):
    app.config["METRICS_CACHE_S"] = 0
    with app.app_context():
        yield app


def test_metrics_say_what_the_rounds_measured(open_app, client, reader):
    job_id, (a, b) = make_job("ping", ("a", "b"))
    start = utcnow() - timedelta(minutes=10)
    write_pings(job_id, a, start, timedelta(minutes=1), [[1.0, 2.0, 3.0], [4.0, None, 6.0]])
    write_pings(job_id, b, start, timedelta(minutes=1), [[None, None, None]])
    answer = scrape(client, reader.headers["Authorization"].split()[1])
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain; version=0.0.4")
    got = samples(answer.get_data(as_text=True))

    assert got[("netstats_probes_sent_total", pair("ping", "ping-a"))] == 6
    assert got[("netstats_probes_received_total", pair("ping", "ping-a"))] == 5
    assert got[("netstats_probes_sent_total", pair("ping", "ping-b"))] == 3
    assert got[("netstats_probes_received_total", pair("ping", "ping-b"))] == 0
    assert got[("netstats_runs_total", pair("ping", "ping-a", status="ok"))] == 2
    assert got[("netstats_runs_total", pair("ping", "ping-b", status="timeout"))] == 1
    assert got[("netstats_runs_total", pair("ping", "ping-b", status="ok"))] == 0
    # The newest round: a's second one (4, lost, 6), b's only one (all lost).
    assert got[("netstats_probe_success", pair("ping", "ping-a"))] == 1
    assert got[("netstats_probe_success", pair("ping", "ping-b"))] == 0
    assert got[("netstats_last_rtt_seconds", pair("ping", "ping-a", stat="median"))] == 0.005
    assert got[("netstats_last_rtt_seconds", pair("ping", "ping-a", stat="max"))] == 0.006
    assert got[("netstats_last_loss_ratio", pair("ping", "ping-a"))] == pytest.approx(1 / 3)
    newest = (start + timedelta(minutes=1)).timestamp()
    assert got[("netstats_last_run_timestamp_seconds", pair("ping", "ping-a"))] == newest
    assert ("netstats_last_rtt_seconds", pair("ping", "ping-b", stat="median")) not in got
    # Ping has no route: no route counters for it.
    assert not any(name == "netstats_route_changes_total" for name, _ in got)
    # Per job: three runs, all succeeded.
    job = (("collector", "ping"), ("netstats_job", "ping"))
    assert got[("netstats_job_runs_total", (*job, ("status", "succeeded")))] == 3
    assert got[("netstats_job_runs_total", (*job, ("status", "failed")))] == 0
    assert got[("netstats_job_last_run_success", job)] == 1
    # The engine's health.
    assert got[("netstats_runs_due", ())] == 0
    assert got[("netstats_queue_up", ())] == 1
    assert ("netstats_queue_tasks", (("state", "ready"),)) in got
    assert "# HELP netstats_probes_sent_total" in answer.get_data(as_text=True)


def test_no_job_label_and_every_name_follows_the_conventions(open_app, client, reader):
    job_id, (a,) = make_job("ping", ("a",))
    write_pings(job_id, a, utcnow() - timedelta(minutes=5), timedelta(minutes=1), [[1.0]])
    text = scrape(client, reader.headers["Authorization"].split()[1]).get_data(as_text=True)
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("netstats_")
        for s in family.samples:
            assert "job" not in s.labels and "instance" not in s.labels
            if family.type == "counter":
                assert s.name.endswith(("_total", "_created"))


def test_promtool_accepts_the_answer(open_app, client, reader, tmp_path):
    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool not installed (Debian package prometheus)")
    job_id, (a, b) = make_job("ping", ("a", "b"))
    write_pings(job_id, a, utcnow() - timedelta(minutes=5), timedelta(minutes=1), [[1.0], [2.0]])
    write_pings(job_id, b, utcnow() - timedelta(minutes=5), timedelta(minutes=1), [[None]])
    text = scrape(client, reader.headers["Authorization"].split()[1]).get_data()
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == b""  # not even a lint warning


def test_counters_hold_across_a_new_app_and_retention(open_app, client, reader, database_url):
    from netstats.app import create_app
    from netstats.engine.retention import prune

    token = reader.headers["Authorization"].split()[1]
    job_id, (a,) = make_job("ping", ("a",))
    old = utcnow() - timedelta(days=120)
    write_pings(job_id, a, old, timedelta(minutes=1), [[1.0, 2.0]] * 3)
    before = samples(scrape(client, token).get_data(as_text=True))
    sent = ("netstats_probes_sent_total", pair("ping", "ping-a"))
    assert before[sent] == 6

    # Retention deletes the measurements, samples and runs of 120 days ago...
    prune(pause_s=0)
    db.session.rollback()
    for table in (JobRun, Measurement):
        assert db.session.scalar(db.select(db.func.count()).select_from(table)) == 0
    # ... and a new app (another process, a restart) on the same database says the same.
    other = create_app({**open_app.config, "TESTING": True})
    with other.app_context():
        again = samples(scrape(other.test_client(), token).get_data(as_text=True))
    assert again[sent] == 6
    assert again[("netstats_runs_total", pair("ping", "ping-a", status="ok"))] == 3


def test_a_late_round_adds_to_the_counters_but_is_not_the_newest(open_app, client, reader):
    token = reader.headers["Authorization"].split()[1]
    job_id, (a,) = make_job("ping", ("a",))
    now = utcnow()
    write_round(job_id, [(a, ping_measurement(now - timedelta(minutes=1), [1.0]))])
    write_round(job_id, [(a, ping_measurement(now - timedelta(minutes=30), [9.0, None]))])
    got = samples(scrape(client, token).get_data(as_text=True))
    assert got[("netstats_probes_sent_total", pair("ping", "ping-a"))] == 3
    assert got[("netstats_last_rtt_seconds", pair("ping", "ping-a", stat="max"))] == 0.001
    assert got[("netstats_probe_success", pair("ping", "ping-a"))] == 1


def test_missed_and_abandoned_runs_are_counted(open_app, client, reader):
    from netstats.engine.planner import skip_missed
    from netstats.engine.recovery import abandon_orphans

    token = reader.headers["Authorization"].split()[1]
    job_id, _ = make_job("ping", ("a",))
    long_ago = utcnow() - timedelta(hours=2)
    db.session.rollback()
    with write_transaction():
        for i in range(3):
            db.session.add(
                JobRun(job_id=job_id, job_version=1, scheduled_at=long_ago + timedelta(seconds=i))
            )
        db.session.add(
            JobRun(
                job_id=job_id,
                job_version=1,
                scheduled_at=long_ago - timedelta(hours=1),
                status="running",
                worker="gone-worker@nowhere:1",
                started_at=long_ago - timedelta(hours=1),
                attempt=1,
            )
        )
    due = samples(scrape(client, token).get_data(as_text=True))
    assert due[("netstats_runs_due", ())] == 3
    assert due[("netstats_runs_oldest_due_seconds", ())] >= 7200
    with write_transaction():
        assert skip_missed() == 3
    assert len(abandon_orphans()) == 1
    got = samples(scrape(client, token).get_data(as_text=True))
    job = (("collector", "ping"), ("netstats_job", "ping"))
    assert got[("netstats_job_runs_total", (*job, ("status", "skipped")))] == 3
    assert got[("netstats_job_runs_total", (*job, ("status", "abandoned")))] == 1
    assert got[("netstats_job_last_run_success", job)] == 0
    assert got[("netstats_runs_due", ())] == 0


def test_route_changes_and_flaps_are_counted(open_app, client, reader):
    from tests import route_traces

    token = reader.headers["Authorization"].split()[1]
    script = route_traces.register(open_app)
    a, b = ["10.0.0.1", "10.99.0.1"], ["10.0.0.2", "10.99.0.1"]
    job = route_traces.make_job()
    start = utcnow() - timedelta(hours=1)
    # A three times, B once (a flap), A twice, then B four times (a change).
    route_traces.play(open_app, script, job, start, [a, a, a, b, a, a, b, b, b, b])
    got = samples(scrape(client, token).get_data(as_text=True))
    labels = pair("paths", "paths-0", "scripted-trace")
    assert got[("netstats_route_changes_total", labels)] == 1
    assert got[("netstats_route_flaps_total", labels)] == 1
    assert got[("netstats_last_hops", labels)] == 2


def test_the_answer_is_cached_per_process(open_app, client, reader):
    token = reader.headers["Authorization"].split()[1]
    open_app.config["METRICS_CACHE_S"] = 60
    job_id, (a,) = make_job("ping", ("a",))
    write_pings(job_id, a, utcnow() - timedelta(minutes=5), timedelta(minutes=1), [[1.0]])
    first = scrape(client, token).get_data(as_text=True)
    write_pings(job_id, a, utcnow() - timedelta(minutes=2), timedelta(minutes=1), [[1.0]])
    assert scrape(client, token).get_data(as_text=True) == first
    open_app.config["METRICS_CACHE_S"] = 0
    fresh = samples(scrape(client, token).get_data(as_text=True))
    assert fresh[("netstats_probes_sent_total", pair("ping", "ping-a"))] == 2


# --- who may scrape ---------------------------------------------------------------------------


def test_without_a_token_it_is_refused_by_default(open_app, client):
    answer = scrape(client)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert "METRICS_ALLOW_NETWORKS" in answer.get_json()["error"]["message"]


def test_a_bad_or_revoked_token_is_refused(open_app, client, reader):
    from netstats.auth import revoke_token
    from netstats.models import ApiToken

    assert scrape(client, "nst_not-a-token").status_code == 401
    token = reader.headers["Authorization"].split()[1]
    assert scrape(client, token).status_code == 200
    db.session.rollback()
    with write_transaction():
        revoke_token(db.session.scalar(db.select(ApiToken.id)))
    assert scrape(client, token).status_code == 401
    malformed = client.get("/metrics", headers={"Authorization": "Basic eDp5"})
    assert malformed.status_code == 401


def test_an_allowed_network_needs_no_token(open_app, client):
    open_app.config["METRICS_ALLOW_NETWORKS"] = "127.0.0.0/8, ::1"
    from netstats.prometheus.access import check_settings

    check_settings(open_app)
    assert scrape(client).status_code == 200
    assert scrape(client, environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert scrape(client, environ_base={"REMOTE_ADDR": "::ffff:127.0.0.1"}).status_code == 200
    outside = scrape(client, environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert outside.status_code == 401
    assert "192.0.2.7 is not" in outside.get_json()["error"]["message"]
    # Credentials sent are checked even from an allowed address.
    assert scrape(client, "nst_wrong").status_code == 401


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("METRICS_ALLOW_NETWORKS", "127.0.0.0/8, localhost", "'localhost' is not an address"),
        ("METRICS_ALLOW_NETWORKS", ["10.0.0.0/33"], "'10.0.0.0/33' is not"),
        ("METRICS_CACHE_S", -1, "METRICS_CACHE_S must be"),
        ("METRICS_CACHE_S", "soon", "METRICS_CACHE_S must be"),
    ],
)
def test_bad_settings_stop_the_app_with_a_message(
    database_url, instance_path, setting, value, message
):
    from netstats.app import create_app
    from netstats.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        create_app({"DATABASE_URL": database_url, setting: value})


def test_the_answer_is_byte_for_byte_what_prometheus_client_writes(open_app, client, reader):
    """netstats writes the text itself (``netstats.prometheus.text``, for speed): the same
    families through ``prometheus_client``'s registry and writer give the same bytes, names
    that need escaping included."""
    from prometheus_client import CollectorRegistry, generate_latest

    from netstats.prometheus.collector import NetstatsCollector
    from netstats.prometheus.text import to_text

    token = reader.headers["Authorization"].split()[1]
    job_id, (a, b) = make_job('we"ird\\job', ("a", "b\nc"))
    start = utcnow() - timedelta(minutes=5)
    write_pings(job_id, a, start, timedelta(minutes=1), [[1.5], [None]])
    write_pings(job_id, b, start, timedelta(minutes=1), [[123456.789]])
    collector = NetstatsCollector()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ours = to_text(collector.families())
    theirs = generate_latest(registry)

    def stable(text: bytes) -> list[str]:  # the build time differs from one call to the next
        return [line for line in text.decode().splitlines() if "collect_seconds " not in line]

    assert stable(ours) == stable(theirs)
    served = samples(scrape(client, token).get_data(as_text=True))
    assert served[("netstats_probes_sent_total", pair('we"ird\\job', 'we"ird\\job-b\nc'))] == 1
