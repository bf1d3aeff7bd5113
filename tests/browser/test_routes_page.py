"""The destination page's "Path over time" on lab data, in a real browser against the live
server: the hop-by-time view, its table (reached by keyboard) and the route history with a
route change and a flap.

The live worker cannot reach the lab's namespaces, so the data comes from the real engine run
by this test process: ``execute_run`` in a thread moved into a lab client namespace, writing
into the live instance's database (SQLite, no network needed). The job is paused and its runs
are inserted without a queue task, so the live worker never runs it (and never sends a probe
from the host's namespace).
"""

from __future__ import annotations

import json
import re
import shutil

import pytest
from playwright.sync_api import expect

from netstats.db import db, utcnow
from netstats.engine.execution import execute_run
from netstats.models import JobRun
from tests.conftest import require
from tests.lab.netns import Lab
from tests.lab.routers import RouterLab, build_router_lab, run_in

pytestmark = [pytest.mark.browser, pytest.mark.lab]


@pytest.fixture(scope="module")
def routers(lab_available) -> RouterLab:
    require(shutil.which("nft") is not None, "nftables is not installed (apt-get install nftables)")
    lab = Lab("nrb")
    try:
        yield build_router_lab(lab)
    finally:
        lab.close()


@pytest.fixture(scope="module")
def lab_paths(live, routers, tmp_path_factory):
    """A destination measured by a traceroute job whose path switched on r1: four traces on
    the usual branch, a one-trace blip, three back, then three on the other branch."""
    import os

    from netstats.app import create_app

    target = routers.ecmp_target.v4
    dest = live.api("POST", "/destinations", {"name": "lab-ecmp", "host": target})
    # Active only from 2100 and paused: the live worker's planner never plans a run of it.
    job = live.api(
        "POST",
        "/jobs",
        {
            "name": "lab-paths",
            "collector": "traceroute",
            "params": {"method": "udp", "max_hops": 6, "timeout": 0.5, "interval": 0.01},
            "destinations": [dest["id"]],
            "interval_s": 60,
            "starts_at": "2100-01-01T00:00:00Z",
        },
    )
    live.api("POST", f"/jobs/{job['id']}/pause")
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

    def run(times: int) -> None:
        for _ in range(times):
            with app.app_context():
                row = JobRun(
                    job_id=job["id"], job_version=1, scheduled_at=utcnow(), trigger="manual"
                )
                db.session.add(row)  # no queue task: only this test executes it
                db.session.commit()
                run_id = row.id

            def execute(run_id=run_id) -> None:
                with app.app_context():
                    execute_run(run_id)

            run_in(lab_client.ns, execute)

    with routers.client() as lab_client:
        try:
            run(4)
            first = live.api("GET", f"/jobs/{job['id']}/runs")["items"][-1]["id"]
            usual = live.api("GET", f"/runs/{first}")["measurements"][0]["details"]["hops"]
            usual_branch = usual[1]["addresses"][0]
            other = next(h for h in routers.ecmp_paths if h.v4 != usual_branch)
            routers.steer(v4=other)
            run(1)
            routers.steer()
            run(3)
            routers.steer(v4=other)
            run(3)
        finally:
            routers.steer()
    with app.app_context():
        db.engine.dispose()
    return {"job": job["id"], "destination": dest["id"], "usual": usual_branch, "other": other.v4}


def test_path_over_time_shows_the_hops_the_table_and_the_route_history(browser, lab_paths):
    browser.login()
    page = browser.page
    hops_answers = []
    page.on(
        "response",
        lambda r: hops_answers.append(r) if re.search(r"/jobs/\d+/hops\?", r.url) else None,
    )
    browser.visit(f"/destinations/{lab_paths['destination']}")
    view = page.locator(f"#paths-{lab_paths['job']}")
    expect(view).to_have_attribute("data-loaded", "21600")
    view.get_by_role("button", name="1 h").click()
    expect(view).to_have_attribute("data-loaded", "3600")
    matrix = json.loads(hops_answers[-1].body())
    assert matrix["traces"] == 11 and [h["ttl"] for h in matrix["hops"]] == [1, 2, 3]

    canvas = view.locator("[data-hop-canvas]")
    assert int(canvas.get_attribute("data-cells")) >= 3
    expect(canvas).to_have_attribute("data-drawn", "loss")
    view.get_by_role("button", name="Median RTT").click()
    expect(canvas).to_have_attribute("data-drawn", "rtt")
    expect(view.get_by_role("button", name="Median RTT")).to_have_attribute("aria-pressed", "true")

    # Addresses on hover: the branch row of the newest column.
    box = canvas.bounding_box()
    newest = max(i for i, sent in enumerate(matrix["hops"][1]["sent"]) if sent is not None)
    columns = len(matrix["t"])
    gutter = min(190, max(90, box["width"] * 0.28))
    x = box["x"] + gutter + (newest + 0.5) * (box["width"] - gutter) / columns
    page.mouse.move(x, box["y"] + 22 * 1.5)
    tooltip = view.locator("[data-hop-tooltip]")
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text("TTL 2")
    expect(tooltip).to_contain_text(lab_paths["other"])

    # The table, by keyboard: tab to its toggle, open it, tab into it.
    toggle = view.locator("[data-table-toggle]")
    expect(toggle).to_have_text("Show the numbers as a table")
    for _ in range(60):
        page.keyboard.press("Tab")
        if toggle.evaluate("node => node === document.activeElement"):
            break
    else:
        pytest.fail("the table's toggle is not reachable by Tab")
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(toggle).to_have_text("Hide the table")
    table = view.get_by_role("region", name="Hop by time as a table")
    expect(table).to_be_visible()
    page.keyboard.press("Tab")
    assert table.evaluate("node => node === document.activeElement")
    # Its numbers are the API's: the newest column's branch hop.
    row = table.locator("tbody tr").first
    branch = matrix["hops"][1]
    loss = branch["loss_pct"][newest]
    expect(row.locator("td[data-ttl='2']")).to_contain_text(
        f"{loss:.0f} %" if loss == int(loss) else f"{loss:.1f} %"
    )
    expect(row.locator("td[data-ttl='2']")).to_contain_text(" | ".join(branch["addresses"][newest]))

    # The route history: the change (hop 2, usual -> other), the flap, the runs, newest first.
    history = view.locator("[data-route-history] > li")
    expect(history).to_have_count(6)
    kinds = [history.nth(i).get_attribute("data-kind") for i in range(6)]
    assert kinds == ["change", "run", "run", "flap", "run", "run"]
    change = history.first
    expect(change).to_contain_text("Route change")
    expect(change.locator("li[data-ttl='2']")).to_contain_text(
        f"TTL 2{lab_paths['usual']}→{lab_paths['other']}"
    )
    expect(view.locator("[data-route-summary]")).to_contain_text("1 route change · 1 flap")
    browser.shoot("destination-paths")
