"""The job analytics page and the run page, through the test client on rounds written by the
real write path: the summary table is the API's summary, bad ranges are 422 naming the field,
runs link to their page, and the run page shows probes and the mtr-style hop table."""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace
from datetime import timedelta

import pytest

from netstats.collectors import Measurement
from netstats.db import db, utcnow
from netstats.stats import hop_table
from tests.rounds import make_job, ping_measurement, write_round

COLUMNS = (
    "runs",
    "availability_pct",
    "sent",
    "received",
    "loss_pct",
    "min",
    "mean",
    "p50",
    "p95",
    "p99",
    "max",
    "stddev",
    "jitter_ms",
)


@pytest.fixture
def measured(app):
    """A ping job over two destinations with ten rounds each in the last hour."""
    now = utcnow()
    with app.app_context():
        job, (a, b) = make_job("pj", ("a", "b"))
        for i in range(10):
            moment = now - timedelta(minutes=50) + timedelta(minutes=i)
            write_round(
                job,
                [
                    (a, _with_probes(moment, [1.0 + i, 2.0, None if i % 3 == 0 else 1.5])),
                    (b, _with_probes(moment, [5.0, 6.0 + i / 10, 7.0])),
                ],
            )
        db.session.remove()
    return {"job": job, "destinations": [a, b]}


def _with_probes(moment, rtts):
    """A ping round with its probes in the details, as the ping collector writes them."""
    probes = [{"id": 1, "seq": i, "rtt_ms": r, "ttl": 64} for i, r in enumerate(rtts)]
    return replace(ping_measurement(moment, rtts), details={"probes": probes})


def _cells(page: str) -> dict[int, dict[str, object]]:
    rows = {}
    for row in re.finditer(r'<tr data-destination="(\d+)">(.*?)</tr>', page, re.S):
        cells = re.findall(r'data-col="(\w+)" data-value="([^"]*)"', row.group(2))
        rows[int(row.group(1))] = {k: json.loads(html.unescape(v)) for k, v in cells}
    return rows


def test_the_summary_table_is_the_summary_api_cell_by_cell(admin, api, measured):
    page = admin.get(f"/jobs/{measured['job']}/analytics?range=24h")
    assert page.status_code == 200
    shown = re.search(r'data-from="([^"]+)" data-to="([^"]+)"', page.text)
    answer = api.get(
        f"/jobs/{measured['job']}/summary",
        query_string={"from": html.unescape(shown.group(1)), "to": html.unescape(shown.group(2))},
    ).json
    cells = _cells(page.text)
    assert set(cells) == set(measured["destinations"])
    for row in answer["destinations"]:
        assert cells[row["destination_id"]] == {c: row[c] for c in COLUMNS}
    assert cells[measured["destinations"][0]]["loss_pct"] == pytest.approx(400 / 30)


def test_custom_range_and_export_links(admin, measured):
    page = admin.get(
        f"/jobs/{measured['job']}/analytics?from=2026-01-01T00:00:00&to=2026-01-02T00:00:00"
    ).text
    assert 'data-from="2026-01-01T00:00:00+00:00"' in page
    assert [row["runs"] for row in _cells(page).values()] == [0, 0]
    assert (
        "/api/v1/reports?job={}&amp;from=2026-01-01T00%3A00%3A00%2B00%3A00&amp;"
        "to=2026-01-02T00%3A00%3A00%2B00%3A00&amp;format=xlsx".format(measured["job"])
    ) in page
    assert "format=csv" in page


@pytest.mark.parametrize(
    ("query", "field"),
    [("range=2w", "range"), ("from=yesterday", "from"), ("from=2026-01-02&to=2026-01-01", "from")],
)
def test_a_bad_range_is_422_naming_the_field(admin, measured, query, field):
    page = admin.get(f"/jobs/{measured['job']}/analytics?{query}")
    assert page.status_code == 422
    assert field in page.text


def test_runs_link_to_the_run_page_which_shows_every_probe(admin, measured):
    job_page = admin.get(f"/jobs/{measured['job']}").text
    run_ids = re.findall(r'href="/runs/(\d+)"', job_page)
    assert run_ids
    assert f'href="/jobs/{measured["job"]}/analytics"' in job_page
    page = admin.get(f"/runs/{run_ids[0]}").text
    # The newest run: i = 9, destination a lost its first probe.
    assert page.count("data-measurement=") == 2
    assert page.count('<tr data-seq="') == 6
    assert "lost" in page


def test_a_traceroute_run_shows_the_cli_hop_table(app, admin):
    hops = [
        {"ttl": 1, "addresses": ["10.0.0.1"], "probes": [{"rtt_ms": 1.0}, {"rtt_ms": 3.0}]},
        {"ttl": 2, "addresses": [], "probes": [{"rtt_ms": None}, {"rtt_ms": None}]},
        {
            "ttl": 3,
            "addresses": ["10.0.1.1", "10.0.2.1"],
            "probes": [{"rtt_ms": 4.0}, {"rtt_ms": None}],
        },
    ]
    with app.app_context():
        job, (dest,) = make_job("tj")
        measurement = Measurement(
            collector="traceroute",
            target="127.0.0.1",
            address="127.0.0.1",
            started_at=utcnow(),
            duration_ms=30.0,
            status="ok",
            error=None,
            metrics={"hop_count": 3},
            details={"method": "udp", "flow": {"sport": 33000, "dport": 33434}, "hops": hops},
        )
        write_round(job, [(dest, measurement)])
        run_id = db.session.execute(db.text("select max(id) from job_runs")).scalar()
        db.session.remove()
    page = admin.get(f"/runs/{run_id}").text
    rows = re.findall(r'<tr data-ttl="(\d+)">(.*?)</tr>', page, re.S)
    assert [int(ttl) for ttl, _ in rows] == [1, 2, 3]
    expected = hop_table(hops)
    assert expected[0]["stdev_ms"] == 1.0 and expected[2]["loss_pct"] == 50.0
    first = re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", rows[0][1])
    assert first == ["1", "10.0.0.1", "0.0 %", "2", "3.000", "2.000", "1.000", "3.000", "1.000"]
    assert "???" in rows[1][1]
    assert "10.0.1.1, 10.0.2.1" in rows[2][1] and "50.0 %" in rows[2][1]


def test_an_unknown_run_is_404(admin):
    assert admin.get("/runs/999999").status_code == 404
