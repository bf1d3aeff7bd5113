"""Live pages in a real browser: new runs appear without a reload, and after the server
restarts under an open page, the page reconnects and catches up with no event missing."""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

RECORD = """() => {
    window.__seen = [];
    window.__notReloaded = true;
    window.netstats.live.on("run", null, (e) => window.__seen.push([e.id, e.data.run_id]));
}"""


def logged_runs(browser, job_id: int) -> list[tuple[int, int]]:
    """(event id, run id) of every run event of the job in the live instance's log."""
    db = sqlite3.connect(browser.live.instance / "netstats.sqlite")
    try:
        rows = db.execute(
            "SELECT id, payload FROM events WHERE kind = 'run' ORDER BY id"
        ).fetchall()
    finally:
        db.close()
    found = [(event_id, json.loads(payload)) for event_id, payload in rows]
    return [(event_id, p["run_id"]) for event_id, p in found if p["job_id"] == job_id]


def seen(page) -> list[tuple[int, int]]:
    return [tuple(pair) for pair in page.evaluate("window.__seen")]


def wait_for(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_job_page_shows_new_runs_live_and_catches_up_after_a_server_restart(browser):
    live = browser.live
    browser.login()
    name = f"live-{uuid.uuid4().hex[:6]}"
    destination = live.api("POST", "/destinations", {"name": name, "host": "127.0.0.1"})
    job = live.api(
        "POST",
        "/jobs",
        {
            "name": name,
            "collector": "ping",
            "interval_s": 1,
            "params": {"count": 1, "timeout": 1},
            "destinations": [destination["id"]],
        },
    )
    browser.visit(f"/jobs/{job['id']}")
    page = browser.page
    expect(page.locator("#live-status")).to_have_attribute("data-state", "open")
    expect(page.locator("#live-status")).to_have_text("Live")
    page.evaluate(RECORD)

    # New runs show up in the table as they finish, the page never reloading.
    wait_for(lambda: len(seen(page)) >= 2, "two run events in the page")
    newest = seen(page)[-1][1]
    expect(page.locator(f'#runs-table tr[data-run="{newest}"]')).to_have_attribute(
        "data-run-status", re.compile("succeeded|skipped")
    )
    browser.shoot("job-detail-live")

    # The server goes away while runs go on; the page says so, then comes back and catches up.
    browser.guard.expect_console_error(
        r"ERR_CONNECTION_REFUSED|Failed to load resource|api/v1/events"
    )
    before = len(seen(page))
    live.stop("server")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "reconnecting")
    expect(page.locator("#live-status")).to_have_text("Reconnecting…")
    browser.shoot("job-detail-reconnecting")
    down_at = logged_runs(browser, job["id"])[-1][0]
    wait_for(
        lambda: sum(1 for r in logged_runs(browser, job["id"]) if r[0] > down_at) >= 2,
        "two runs while the server is down",
    )
    live.start("server")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "open", timeout=30_000)

    live.api("POST", f"/jobs/{job['id']}/pause")
    time.sleep(2)  # a run already started finishes
    last_logged = logged_runs(browser, job["id"])[-1]
    wait_for(lambda: seen(page)[-1] == last_logged, "the page to catch up with the last run")
    first = seen(page)[0][0]
    expected = [pair for pair in logged_runs(browser, job["id"]) if pair[0] >= first]
    assert seen(page) == expected  # every run event since the page listened, once, in order
    assert len(seen(page)) > before + 2
    assert page.evaluate("window.__notReloaded") is True
    expect(page.locator(f'#runs-table tr[data-run="{last_logged[1]}"]')).to_be_visible()
    expect(page.locator("#job-state [data-state]")).to_have_attribute("data-state", "paused")


def test_the_dashboard_follows_runs_without_a_reload(browser):
    live = browser.live
    browser.login()
    name = f"dash-{uuid.uuid4().hex[:6]}"
    destination = live.api("POST", "/destinations", {"name": name, "host": "127.0.0.1"})
    page = browser.page
    browser.visit("/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "open")
    page.evaluate("() => { window.__notReloaded = true; }")
    job = live.api(
        "POST",
        "/jobs",
        {
            "name": name,
            "collector": "ping",
            "interval_s": 3600,
            "params": {"count": 1},
            "destinations": [destination["id"]],
        },
    )
    run = live.api("POST", f"/jobs/{job['id']}/run")
    expect(page.locator(f'#latest-runs tr[data-run="{run["id"]}"]')).to_have_attribute(
        "data-run-status", "succeeded", timeout=30_000
    )
    expect(page.locator("#stat-jobs [data-stat]")).not_to_have_text("0")
    assert page.evaluate("window.__notReloaded") is True
    browser.shoot("dashboard-live")
    live.api("DELETE", f"/jobs/{job['id']}")
