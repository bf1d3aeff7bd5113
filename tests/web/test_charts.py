"""The pages' charts as the server renders them: a smoke chart per job measuring a
destination (its collector's headline distribution), the dashboard's latest result and
sparkline per destination, and the chart scripts only where there are charts."""

from __future__ import annotations

import re
from datetime import timedelta

from netstats.db import db, utcnow
from netstats.models import Measurement


def test_each_job_of_a_destination_gets_a_smoke_chart_of_its_headline_distribution(admin, api):
    dest = api.post("/destinations", json={"name": "both", "host": "127.0.0.1"}).json["id"]
    jobs = {}
    for name, collector, params in (
        ("pings", "ping", {}),
        ("resolve", "dns", {"name": "example.test"}),
        ("trace", "traceroute", {}),
    ):
        body = {"name": name, "collector": collector, "params": params, "destinations": [dest]}
        answer = api.post("/jobs", json={**body, "interval_s": 60})
        assert answer.status_code == 201, answer.json
        jobs[name] = answer.json["id"]
    page = admin.get(f"/destinations/{dest}").text
    for name, metric in (("pings", "rtt_ms"), ("resolve", "query_time_ms"), ("trace", "rtt_ms")):
        chart = re.search(rf'<div id="smoke-{jobs[name]}"[^>]*>', page).group(0)
        assert f'data-job="{jobs[name]}"' in chart and f'data-destination="{dest}"' in chart
        assert f'data-metric="{metric}"' in chart and 'data-unit="ms"' in chart
    assert page.count("data-smoke-chart") == 3
    assert page.count("data-range-picker") == 1
    for label in ("1 h", "6 h", "24 h", "7 d", "30 d", "1 y", "Custom"):
        assert f">{label}<" in page
    assert "chartjs-plugin-zoom.min.js" in page and "chartjs-adapter-date-fns" in page


def test_a_destination_no_job_measures_has_no_chart_and_no_chart_scripts(admin, api):
    dest = api.post("/destinations", json={"name": "alone", "host": "127.0.0.1"}).json["id"]
    page = admin.get(f"/destinations/{dest}").text
    assert "data-smoke-chart" not in page and "chart.umd.min.js" not in page


def test_dashboard_lists_the_latest_result_per_destination_with_a_sparkline(app, admin, api):
    seen = api.post("/destinations", json={"name": "a-seen", "host": "127.0.0.1"}).json["id"]
    new = api.post("/destinations", json={"name": "b-new", "host": "127.0.0.2"}).json["id"]
    body = {"name": "p", "collector": "ping", "params": {}, "destinations": [seen, new]}
    job = api.post("/jobs", json={**body, "interval_s": 60}).json["id"]
    with app.app_context():
        db.session.add(
            Measurement(
                job_id=job,
                destination_id=seen,
                collector="ping",
                target="127.0.0.1",
                started_at=utcnow() - timedelta(seconds=30),
                duration_ms=5,
                status="ok",
                metrics={"rtt_avg_ms": 1.5, "loss_pct": 20.0},
            )
        )
        db.session.commit()
    page = admin.get("/").text
    row = re.search(rf'<tr id="latest-{seen}">.*?</tr>', page, re.S).group(0)
    assert re.search(r"1\.50? ms", row) and "20 % loss" in row
    assert f'data-job="{job}" data-destination="{seen}" data-metric="rtt_ms"' in row
    empty = re.search(rf'<tr id="latest-{new}">.*?</tr>', page, re.S).group(0)
    assert "no measurement yet" in empty and "sparkline" not in empty
    assert page.index(f'id="latest-{seen}"') < page.index(f'id="latest-{new}"')  # by name
    assert 'data-live="run destination" data-sparklines' in page
