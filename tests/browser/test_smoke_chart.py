"""The smoke chart of the destination page and the dashboard's sparklines, in a real browser,
on data a real ``netstats worker`` measured against the lab's echo responder (delay, jitter
and loss set here).

The live session's worker runs in the host's namespace, which must never probe the lab's
addresses: it is stopped while a second ``netstats worker`` on the same instance runs in the
lab's prober namespace (the SQLite file is shared through the filesystem), the job is paused
before that worker stops, and the live worker starts again (a paused job's runs end skipped
before they measure anything).
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import NETSTATS
from tests.lab.ping_lab import ping_lab

pytestmark = [pytest.mark.browser, pytest.mark.lab]

# The worker runs until this many rounds succeeded (at most RUN_FOR_S_MAX seconds: a loaded
# machine starts the worker slowly and runs overlap).
ROUNDS = 12
RUN_FOR_S_MAX = 120
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def measured(live, lab_available):
    """A destination on the lab's responder pinged every second by a real worker until ROUNDS
    rounds succeeded, 5 probes a round, every 7th request dropped."""
    with ping_lab() as lab:
        lab.responder.configure(delay_ms=8.0, jitter_ms=4.0, seed=5, drop_every=7)
        dest = live.api("POST", "/destinations", {"name": "lab-responder", "host": lab.v4[0]})
        live.stop("worker")
        log = live.instance / "lab-worker.log"
        with log.open("w") as out:
            worker = lab.prober.popen(
                NETSTATS,
                "worker",
                "--threads",
                "2",
                env=live.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            job = live.api(
                "POST",
                "/jobs",
                {
                    "name": "lab-smoke",
                    "collector": "ping",
                    "params": {"count": 5, "interval": 0.05, "timeout": 0.5},
                    "destinations": [dest["id"]],
                    "interval_s": 1,
                },
            )
            deadline = time.monotonic() + RUN_FOR_S_MAX
            while time.monotonic() < deadline:
                time.sleep(1)
                runs = live.api("GET", f"/jobs/{job['id']}/runs?per_page=100")["items"]
                if sum(r["status"] == "succeeded" for r in runs) >= ROUNDS:
                    break
        finally:
            if "job" in locals():
                live.api("POST", f"/jobs/{job['id']}/pause")
                time.sleep(2)  # the run in progress finishes
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            live.start("worker")
        records = lab.responder.records()
    assert len(records) >= 5 * ROUNDS, log.read_text()[-3000:]
    return {"job": job["id"], "destination": dest["id"], "records": records}


def _announce_run(live, job: int, destination: int) -> None:
    """A run event of the job and destination in the live instance's event log, as the
    worker writes one (no probe: the lab's worker is gone); the live hub sends it on."""
    import os

    from netstats import events
    from netstats.app import create_app
    from netstats.db import db, utcnow

    saved = os.environ.get("NETSTATS_INSTANCE_PATH")
    os.environ["NETSTATS_INSTANCE_PATH"] = str(live.instance)
    try:
        app = create_app(
            {"TESTING": True, "DATABASE_URL": f"sqlite:///{live.instance / 'netstats.sqlite'}"}
        )
    finally:
        if saved is None:
            del os.environ["NETSTATS_INSTANCE_PATH"]
        else:
            os.environ["NETSTATS_INSTANCE_PATH"] = saved
    with app.app_context():
        now = utcnow()
        payload = {
            "run_id": 0,
            "job_id": job,
            "status": "succeeded",
            "measurements": [{"destination_id": destination, "started_at": now.isoformat()}],
        }
        events.append("run", payload, now)
        db.session.commit()
        db.engine.dispose()


def _series_requests(page) -> list[str]:
    found: list[str] = []
    page.on("request", lambda r: found.append(r.url) if "/api/v1/series/data?" in r.url else None)
    return found


def _range_ms(url: str) -> tuple[float, float]:
    query = parse_qs(urlparse(url).query)
    from datetime import datetime

    return tuple(datetime.fromisoformat(query[k][0]).timestamp() * 1000 for k in ("from", "to"))


def _api_path(url: str) -> str:
    return url.split("/api/v1", 1)[1]


def test_smoke_chart_draws_the_series_apis_median_and_loss(browser, measured):
    browser.login()
    page = browser.page
    requests = _series_requests(page)
    browser.visit(f"/destinations/{measured['destination']}#range=3600")
    chart = page.locator(f"#smoke-{measured['job']}")
    expect(chart).to_have_attribute("data-state", "drawn")
    expect(chart.locator("[data-resolution]")).to_have_attribute("data-resolution", "raw")
    assert len(requests) == 1
    query = parse_qs(urlparse(requests[0]).query)
    width = page.evaluate("window.netstats.charts[0].canvas.parentElement.clientWidth")
    assert abs(int(query["points"][0]) - width) <= 1  # about one bucket per pixel
    start, end = _range_ms(requests[0])
    assert abs((end - start) - HOUR_MS) < 1000

    answer = browser.live.api("GET", _api_path(requests[0]))["series"][0]
    drawn = page.evaluate(
        """() => {
          const c = window.netstats.charts[0];
          const median = c.chart.data.datasets.find((d) => d.label === "median").data;
          return { t: median.map((p) => p.x), p50: median.map((p) => p.y),
                   loss: median.map((_, i) => c.lossAt(i)),
                   options: { parsing: c.chart.options.parsing,
                              animation: c.chart.options.animation,
                              radius: c.chart.options.elements.point.radius },
                   renderMs: c.renderMs };
        }"""
    )
    assert drawn["options"] == {"parsing": False, "animation": False, "radius": 0}
    assert drawn["t"] == answer["t"]
    assert drawn["p50"] == answer["p50"]
    assert drawn["loss"] == answer["loss_pct"]
    filled = [i for i, c in enumerate(answer["count"]) if c]
    assert len(filled) >= 3
    lossy = [i for i in filled if answer["loss_pct"][i]]
    assert lossy, "drop_every=7 loses a probe in some bucket"
    # The whole range: the probes the responder saw, and the ones it answered.
    records = measured["records"]
    assert sum(answer["sent"][i] for i in filled) == len(records)
    assert sum(answer["received"][i] for i in filled) == sum(1 for r in records if r["replies"])

    # The same bucket in the table view (reached by keyboard below).
    chart.get_by_role("button", name="Table").click()
    row = chart.locator(f"tr[data-t='{answer['t'][lossy[0]]}']")
    cells = row.locator("td").all_inner_texts()
    p50 = answer["p50"][lossy[0]]
    assert cells[3] == (f"{p50:.3f}" if p50 < 10 else f"{p50:.1f}")
    loss = answer["loss_pct"][lossy[0]]
    assert cells[-1] == (str(int(loss)) if loss == int(loss) else f"{loss:.1f}")
    chart.get_by_role("button", name="Table").click()
    # The screenshot: zoomed to the measured seconds (what drag-to-zoom does).
    first, last = answer["t"][filled[0]], answer["t"][filled[-1]]
    loads = page.evaluate("window.netstats.charts[0].requests")
    page.evaluate(f"window.netstats.charts[0].zoomTo({first - 3000}, {last + 5000})")
    page.wait_for_function(f"() => window.netstats.charts[0].requests === {loads + 1}")
    expect(chart).to_have_attribute("data-state", "drawn")
    page.mouse.move(0, 0)
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.locator("#destination-charts").screenshot(path=DOCS_IMG / "destination-smoke.png")
    page.screenshot(path=DOCS_IMG / "destination.png", full_page=True)
    browser.shoot("destination-smoke")


def test_range_picker_and_zoom_change_the_request_and_back_returns(browser, measured):
    browser.login()
    page = browser.page
    requests = _series_requests(page)
    browser.visit(f"/destinations/{measured['destination']}#range=3600")
    chart = page.locator(f"#smoke-{measured['job']}")
    expect(chart).to_have_attribute("data-state", "drawn")
    picker = page.locator("[data-range-picker]")

    picker.get_by_role("button", name="7 d").click()
    page.wait_for_function("() => window.netstats.charts[0].answer.resolution !== 'raw'")
    start, end = _range_ms(requests[-1])
    assert abs((end - start) - 7 * 24 * HOUR_MS) < 1000
    expect(picker.get_by_role("button", name="7 d")).to_have_attribute("aria-pressed", "true")
    assert "range=604800" in page.url

    picker.get_by_role("button", name="1 h").click()
    expect(chart.locator("[data-resolution]")).to_have_attribute("data-resolution", "raw")
    before = len(requests)
    loads = page.evaluate("window.netstats.charts[0].requests")
    hour = _range_ms(requests[-1])

    # Drag across the middle third of the plot: the zoomed range is fetched again.
    box = page.locator(f"#smoke-{measured['job']} canvas").first.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.4, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()
    page.wait_for_function(f"() => window.netstats.charts[0].requests === {loads + 1}")
    expect(chart.get_by_role("button", name="Back")).to_be_enabled()
    zoomed = _range_ms(requests[-1])
    assert len(requests) == before + 1
    assert hour[0] < zoomed[0] < zoomed[1] < hour[1]
    assert (zoomed[1] - zoomed[0]) < 0.3 * (hour[1] - hour[0])
    # A live run event of the chart's job and destination fetches it again: the zoom stays.
    _announce_run(browser.live, measured["job"], measured["destination"])
    page.wait_for_function(
        f"() => window.netstats.charts[0].requests === {loads + 2}", timeout=20_000
    )
    page.wait_for_timeout(200)
    assert _range_ms(requests[-1]) == zoomed
    expect(chart.get_by_role("button", name="Back")).to_be_enabled()

    chart.get_by_role("button", name="Back").click()
    expect(chart.get_by_role("button", name="Back")).to_be_disabled()
    assert _range_ms(requests[-1]) == hour
    # Back on the preset range, which follows now: a run event slides it.
    page.wait_for_function(f"() => window.netstats.charts[0].requests === {loads + 3}")
    _announce_run(browser.live, measured["job"], measured["destination"])
    page.wait_for_function(
        f"() => window.netstats.charts[0].requests === {loads + 4}", timeout=20_000
    )
    page.wait_for_timeout(200)
    slid = _range_ms(requests[-1])
    assert slid[1] > hour[1] and abs((slid[1] - slid[0]) - HOUR_MS) < 1000

    # A custom range.
    page.locator("details.range-custom summary").click()
    picker.get_by_label("From", exact=True).fill("2026-01-01T00:00")
    picker.get_by_label("To", exact=True).fill("2026-01-02T00:00")
    picker.get_by_role("button", name="Show").click()
    page.wait_for_function("() => location.hash.startsWith('#from=')")
    start, end = _range_ms(requests[-1])
    assert abs((end - start) - 24 * HOUR_MS) < 1000
    expect(chart).to_have_attribute("data-state", "empty")


def test_table_view_is_reachable_by_keyboard(browser, measured):
    browser.login()
    page = browser.page
    browser.visit(f"/destinations/{measured['destination']}#range=3600")
    chart = page.locator(f"#smoke-{measured['job']}")
    expect(chart).to_have_attribute("data-state", "drawn")
    page.locator("body").focus()
    for _ in range(80):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent.trim()")
        inside = page.evaluate(
            f"document.getElementById('smoke-{measured['job']}').contains(document.activeElement)"
        )
        if focused == "Table" and inside:
            break
    else:
        pytest.fail("the Table button is not reachable with Tab")
    page.keyboard.press("Enter")
    table = chart.get_by_role("table")
    expect(table).to_be_visible()
    filled = page.evaluate(
        "window.netstats.charts[0].answer.series[0].count.filter(Boolean).length"
    )
    assert filled >= 3 and table.locator("tbody tr").count() == filled  # one row per bucket
    expect(chart.get_by_role("button", name="Table")).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('smoke-table')")


def test_dashboard_shows_latest_rtt_loss_and_a_sparkline(browser, measured):
    browser.login()
    page = browser.page
    requests = _series_requests(page)
    browser.visit("/")
    row = page.locator(f"#latest-{measured['destination']}")
    expect(row).to_contain_text("lab-responder")
    expect(row).to_contain_text("ms")
    spark = row.locator("canvas.sparkline")
    expect(spark).to_have_attribute("data-state", "drawn")
    assert any(f"job={measured['job']}" in u for u in requests)
    query = parse_qs(urlparse(next(u for u in requests if f"job={measured['job']}" in u)).query)
    assert int(query["points"][0]) <= 120  # a sparkline asks for about its width
    label = spark.get_attribute("aria-label")
    found = re.search(
        r"now [\d.]+ ms, between [\d.]+ and [\d.]+, loss ([\d.]+) % \(resolution ", label
    )
    records = measured["records"]
    lost = sum(1 for r in records if not r["replies"])
    assert found and float(found.group(1)) == round(100 * lost / len(records), 1), label
    page.screenshot(path=DOCS_IMG / "dashboard.png", full_page=True)
    browser.shoot("dashboard-latest")
