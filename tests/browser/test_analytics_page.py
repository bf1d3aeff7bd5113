"""The job analytics page and the run page in a real browser, on data a real ``netstats
worker`` measured against the lab's echo responder.

The live session's worker runs in the host's namespace, which cannot reach the lab: it is
stopped while a second real worker, on the same instance and queue, runs inside the lab's
prober namespace (as in tests/test_series_lab.py), then the jobs are paused, that worker
stops and the live one starts again. So no probe ever leaves the lab.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import NETSTATS
from tests.lab.ping_lab import ping_lab

pytestmark = [pytest.mark.browser, pytest.mark.lab]

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"

RUN_FOR_S = 14
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


@pytest.fixture(scope="module")
def measured(live, lab_available):
    """A ping job over three responder addresses and one address nobody answers, and a
    traceroute job over one responder address, measured for RUN_FOR_S seconds."""
    with ping_lab() as lab:
        lab.responder.configure(delay_ms=4.0, jitter_ms=2.0, seed=5, drop_every=6)
        names = ["lab-a", "lab-b", "lab-c", "lab-absent"]
        hosts = [*lab.v4, lab.absent_v4]
        dests = [
            live.api("POST", "/destinations", {"name": n, "host": h})["id"]
            for n, h in zip(names, hosts, strict=True)
        ]
        live.stop("worker")
        log = live.instance / "lab-worker.log"
        env = {**live.env, "NETSTATS_ROLLUP_EVERY_S": "3600"}
        with log.open("a") as out:
            worker = lab.prober.popen(
                NETSTATS, "worker", "--threads", "2", env=env, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            ping = live.api(
                "POST",
                "/jobs",
                {
                    "name": "lab-analytics",
                    "collector": "ping",
                    "params": {"count": 5, "interval": 0.02, "timeout": 0.3},
                    "destinations": dests,
                    "interval_s": 1,
                },
            )
            trace = live.api(
                "POST",
                "/jobs",
                {
                    "name": "lab-trace",
                    "collector": "traceroute",
                    "params": {"method": "icmp", "max_hops": 3, "timeout": 0.5, "interval": 0.01},
                    "destinations": [dests[0]],
                    "interval_s": 3,
                },
            )
            time.sleep(RUN_FOR_S)
            for job in (ping, trace):
                live.api("POST", f"/jobs/{job['id']}/pause")
            time.sleep(2)  # the runs in progress finish
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            live.start("worker")
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
        return {"ping": ping["id"], "trace": trace["id"], "destinations": dests}


def _answers(page, pattern: str) -> list:
    found = []
    page.on("response", lambda r: found.append(r) if re.search(pattern, r.url) else None)
    return found


def _tab_to(page, locator, presses: int = 80) -> None:
    for _ in range(presses):
        page.keyboard.press("Tab")
        if locator.evaluate("node => node === document.activeElement"):
            return
    pytest.fail("not reachable by Tab")


def _document(page, name: str) -> None:
    """The page at desktop width, full length, for docs/web.md."""
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=DOCS_IMG / f"{name}.png", full_page=True)


def _datasets(locator) -> list[dict]:
    return locator.evaluate(
        "canvas => Chart.getChart(canvas).data.datasets.map(d => ({label: d.label,"
        " data: d.data, status: d.status || null}))"
    )


def test_analytics_page_draws_the_apis_numbers(browser, live, measured):
    browser.login()
    page = browser.page
    series = _answers(page, r"/api/v1/series/data\?")
    status = _answers(page, r"/api/v1/jobs/\d+/status\?")
    job = measured["ping"]
    browser.visit(f"/jobs/{job}")
    page.locator("#job-analytics").click()
    page.wait_for_url(re.compile(rf"/jobs/{job}/analytics$"))
    page.get_by_role("link", name="1 h").click()
    page.wait_for_url(re.compile(r"range=1h"))
    root = page.locator("[data-analytics]")
    expect(root).to_have_attribute("data-loaded", "true")

    # The summary table is GET /api/v1/jobs/<id>/summary over the page's range, cell by cell.
    start, end = root.get_attribute("data-from"), root.get_attribute("data-to")
    summary = live.api("GET", f"/jobs/{job}/summary?" + urlencode({"from": start, "to": end}))
    rows = page.locator("#summary-table tbody tr")
    expect(rows).to_have_count(4)
    for expected in summary["destinations"]:
        row = page.locator(f"#summary-table tr[data-destination='{expected['destination_id']}']")
        for col in COLUMNS:
            cell = row.locator(f"td[data-col='{col}']")
            assert json.loads(cell.get_attribute("data-value")) == expected[col], col
            value = expected[col]
            text = (
                "—" if value is None else (str(value) if isinstance(value, int) else f"{value:.3f}")
            )
            expect(cell).to_have_text(text)
    by_name = {r["destination"]: r for r in summary["destinations"]}
    assert by_name["lab-absent"]["loss_pct"] == 100.0 and by_name["lab-absent"]["p50"] is None
    # The responder drops every 6th request to each address (lab-a's are shared with the
    # traceroute job's probes) and holds each reply 4 +- 2 ms (more on a loaded machine:
    # the responder is a Python process; tests/test_series_lab.py checks the truth exactly).
    assert 0 < by_name["lab-b"]["loss_pct"] < 100 and by_name["lab-b"]["runs"] >= 5
    assert 2.0 <= by_name["lab-b"]["p50"] <= 30

    # The comparison: p50 lines with the series API's numbers, then p95 from the same answer.
    compare = page.locator("#compare")
    answer = series[-1].json()
    width = compare.locator("[data-chart-box]").evaluate("n => n.clientWidth")
    assert f"points={round(width)}" in series[-1].url
    canvas = compare.locator("canvas")
    for stat in ("p50", "p95"):
        if stat == "p95":
            compare.get_by_role("button", name="p95").click()
            expect(canvas).to_have_attribute("data-stat", "p95")
        drawn = _datasets(canvas)
        assert [d["label"] for d in drawn] == [s["destination"] for s in answer["series"]]
        for d, s in zip(drawn, answer["series"], strict=True):
            assert [p["x"] for p in d["data"]] == s["t"]
            assert [p["y"] for p in d["data"]] == s[stat]
        expect(compare.locator("[data-resolution]")).to_contain_text(
            {"raw": "raw data"}.get(answer["resolution"], answer["resolution"])
        )
    assert any(v is not None for v in answer["series"][0]["p50"])

    # Side by side: the summary's p50, p95 and loss.
    bars = _datasets(page.locator("#bars canvas"))
    assert [d["label"] for d in bars] == ["p50", "p95", "loss %"]
    for d, key in zip(bars, ("p50", "p95", "loss_pct"), strict=True):
        assert [p["y"] for p in d["data"]] == [r[key] for r in summary["destinations"]]

    # Runs by status: stacked bars per bucket and the doughnut, the status API's numbers.
    runs = status[-1].json()
    assert sum(runs["totals"].values()) >= 5
    drawn = _datasets(page.locator("#status canvas"))
    present = [s for s, n in runs["totals"].items() if n]
    assert [d["status"] for d in drawn] == present
    for d in drawn:
        assert [p["y"] for p in d["data"]] == runs["statuses"][d["status"]]
    expect(page.locator("#status [data-resolution]")).to_contain_text(
        f"runs per {runs['step_ms'] // 60000} min" if runs["step_ms"] >= 60000 else "runs per"
    )
    doughnut = page.locator("#status-total canvas").evaluate(
        "c => Chart.getChart(c).data.datasets[0].data"
    )
    assert doughnut == [runs["totals"][s] for s in present]
    timing = _datasets(page.locator("#timing canvas"))
    assert [p["y"] for p in timing[0]["data"]] == runs["lateness_mean_ms"]
    assert [p["y"] for p in timing[2]["data"]] == runs["duration_mean_ms"]

    # The comparison's table, by keyboard, with the chart's numbers.
    toggle = compare.locator("[data-table-toggle]")
    _tab_to(page, toggle)
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    table = compare.get_by_role("region", name="Comparison over time as a table")
    expect(table).to_be_visible()
    page.keyboard.press("Tab")
    assert table.evaluate("node => node === document.activeElement")
    p95 = next(v for v in answer["series"][0]["p95"] if v is not None)
    expect(table).to_contain_text(f"{p95:.3f}")
    page.keyboard.press("Enter")  # the toggle is behind: the status table by keyboard too
    status_toggle = page.locator("#status [data-table-toggle]")
    _tab_to(page, status_toggle)
    page.keyboard.press("Enter")
    expect(page.get_by_role("region", name="Runs by status as a table")).to_be_visible()
    toggle.click()
    status_toggle.click()

    # Export links name the job and the page's range.
    href = page.locator("#export-xlsx").get_attribute("href")
    assert href == "/api/v1/reports?" + urlencode(
        {"job": job, "from": start, "to": end, "format": "xlsx"}
    )

    # A custom range (UTC) around the measurements: the page and every request follow it.
    first = min(r["first_at"] for r in summary["destinations"] if r["first_at"])
    last = max(r["last_at"] for r in summary["destinations"] if r["last_at"])
    begin = datetime.fromisoformat(first) - timedelta(seconds=20)
    finish = datetime.fromisoformat(last) + timedelta(seconds=20)
    page.locator("#range-from").fill(begin.strftime("%Y-%m-%dT%H:%M:%S"))
    page.locator("#range-to").fill(finish.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Custom range").click()
    page.wait_for_url(re.compile(r"from="))
    expect(root).to_have_attribute("data-loaded", "true")
    wanted = urlencode({"from": begin.strftime("%Y-%m-%dT%H:%M:%S+00:00")})
    assert wanted in series[-1].url and wanted in status[-1].url
    assert series[-1].json()["step_ms"] < answer["step_ms"]
    browser.shoot("job-analytics")
    _document(page, "job-analytics")


def test_run_pages_show_the_probes_and_the_hop_table(browser, live, measured):
    browser.login()
    page = browser.page
    browser.visit(f"/jobs/{measured['ping']}")
    link = page.locator("#runs-table a.run-link").first
    run_id = int(link.get_attribute("href").rsplit("/", 1)[1])
    link.click()
    page.wait_for_url(re.compile(rf"/runs/{run_id}$"))
    run = live.api("GET", f"/runs/{run_id}")
    expect(page.locator("[data-measurement]")).to_have_count(len(run["measurements"]))
    absent = next(m for m in run["measurements"] if m["target"] == "10.71.0.99")
    expect(page.locator(f"#m-{absent['id']} [data-probe-table] tbody tr")).to_have_count(5)
    expect(page.locator(f"#m-{absent['id']}")).to_contain_text("lost")
    answered = next(m for m in run["measurements"] if m["metrics"].get("rtt_avg_ms"))
    first = next(p for p in answered["details"]["probes"] if p["rtt_ms"] is not None)
    expect(page.locator(f"#m-{answered['id']} tr[data-seq='{first['seq']}']")).to_contain_text(
        f"{first['rtt_ms']:.3f} ms"
    )
    browser.shoot("run-ping")
    _document(page, "run-ping")

    traces = live.api("GET", f"/jobs/{measured['trace']}/runs?status=succeeded")["items"]
    assert traces
    browser.visit(f"/runs/{traces[0]['id']}")
    trace = live.api("GET", f"/runs/{traces[0]['id']}")["measurements"][0]
    hops = trace["details"]["hops"]
    rows = page.locator(f"[data-hop-table='{trace['id']}'] tbody tr")
    expect(rows).to_have_count(len(hops))
    last = rows.nth(len(hops) - 1)
    expect(last.locator("td").first).to_have_text(", ".join(hops[-1]["addresses"]) or "???")
    assert hops[-1]["addresses"] == ["10.71.0.2"]
    sent = len(hops[-1]["probes"])
    expect(last.locator("td").nth(2)).to_have_text(str(sent))
    browser.shoot("run-traceroute")
    _document(page, "run-traceroute")


def test_a_traceroute_jobs_analytics_page_has_its_path_over_time(browser, measured):
    browser.login()
    page = browser.page
    job = measured["trace"]
    browser.visit(f"/jobs/{job}/analytics?range=1h")
    expect(page.locator("[data-analytics]")).to_have_attribute("data-loaded", "true")
    view = page.locator(f"#paths-{job}")
    expect(view).to_have_attribute("data-loaded", "21600")
    expect(view.locator("[data-route-history] > li").first).to_have_attribute("data-kind", "run")
    assert int(view.locator("[data-hop-canvas]").get_attribute("data-cells")) >= 1
    expect(page.locator("#path-destination")).to_have_value(str(measured["destinations"][0]))
