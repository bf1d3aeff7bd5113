"""The reports page: the form, its download through the report definition, errors beside
their fields, and the export buttons of the job and destination pages."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from html import unescape
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from netstats.db import utcnow
from tests.rounds import make_job, write_pings
from tests.web.conftest import error_for


def _job_with_data(app):
    with app.app_context():
        job, (dest,) = make_job()
        start = utcnow() - timedelta(hours=3)
        write_pings(job, dest, start, timedelta(minutes=1), [[5.0, 6.0]] * 4)
    return job, dest, start


def test_the_form_lists_jobs_and_downloads_the_workbook_it_describes(app, viewer):
    job, _dest, _start = _job_with_data(app)
    page = viewer.get(f"/reports?job={job}")
    assert page.status_code == 200
    assert re.search(rf'<option value="{job}" selected>ping \(ping\)</option>', page.text)
    response = viewer.get(
        f"/reports/download?job={job}&range=preset&preset=last_24h&tz=UTC&format=xlsx"
    )
    assert response.status_code == 200, response.text[:300]
    assert "attachment" in response.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(response.data))
    assert wb["Summary"]["C2"].value == 4  # runs


def test_a_custom_range_in_a_zone_downloads_the_csv(app, viewer):
    job, _dest, start = _job_with_data(app)
    local = start.astimezone(ZoneInfo("Asia/Tokyo"))
    frm = (local - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    to = (local + timedelta(minutes=2, seconds=30)).strftime("%Y-%m-%dT%H:%M:%S")
    response = viewer.get(
        "/reports/download",
        query_string={
            "job": job,
            "range": "custom",
            "from": frm,
            "to": to,
            "tz": "Asia/Tokyo",
            "format": "csv",
            "preset": "last_24h",
        },
    )
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))
    assert len(rows) == 1 + 3  # the rounds at 0, 1 and 2 minutes


def test_bad_input_shows_the_form_again_with_the_error_beside_its_field(app, viewer):
    job, _, _ = _job_with_data(app)
    page = viewer.get(
        f"/reports/download?job={job}&range=custom&from=2026-01-02T00:00&to=2026-01-01T00:00"
    )
    assert page.status_code == 422
    assert "before" in error_for(page.text, "from")
    page = viewer.get(f"/reports/download?job={job}&tz=Atlantis/Capital")
    assert page.status_code == 422 and "time zone" in error_for(page.text, "tz")
    page = viewer.get("/reports/download")
    assert page.status_code == 422 and error_for(page.text, "job")


def test_job_and_destination_pages_link_to_their_exports(app, viewer):
    job, dest, _ = _job_with_data(app)
    for path in (f"/jobs/{job}", f"/destinations/{dest}"):
        page = viewer.get(path)
        links = [unescape(h) for h in re.findall(r'href="(/reports/download[^"]+)"', page.text)]
        assert len(links) == 6, path
        for link in links[:2]:
            response = viewer.get(link)
            assert response.status_code == 200, (link, response.text[:300])
    page = viewer.get(f"/destinations/{dest}")
    assert f"destination={dest}" in unescape(page.text)


def test_reports_need_a_login(app, anonymous):
    job, _, _ = _job_with_data(app)
    assert anonymous.get(f"/reports/download?job={job}").status_code == 302


def test_a_workbook_too_large_for_a_request_is_built_by_the_worker_and_listed(
    app, viewer, tmp_path
):
    """The task runs in the request (Huey immediate mode): the consumer process itself is
    tested by tests/test_worker.py; here the queueing, the task, progress and download."""
    import os
    import stat

    from netstats.engine.queue import get_queue

    job, _, _ = _job_with_data(app)
    app.config["REPORT_REQUEST_ROWS"] = 2
    huey = get_queue(app).huey
    huey.immediate = True
    try:
        response = viewer.get(f"/reports/download?job={job}&preset=last_24h&format=xlsx")
    finally:
        huey.immediate = False
    assert response.status_code == 302
    page = viewer.get("/reports")
    assert "the worker is building it" in unescape(page.text)
    found = re.search(r'data-report-file="(\d+)" data-state="(\w+)"', page.text)
    assert found and found.group(2) == "ready", page.text[-3000:]
    assert "4 / 4 rows" in page.text
    report_id = found.group(1)
    path = os.path.join(app.instance_path, "reports", f"{report_id}.xlsx")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    download = viewer.get(f"/reports/files/{report_id}")
    assert download.status_code == 200
    assert load_workbook(io.BytesIO(download.data))["Summary"]["C2"].value == 4
    assert viewer.get("/reports/files/999").status_code == 404
    # A CSV streams whatever its length: never queued.
    app.config["REPORT_REQUEST_ROWS"] = 2
    assert viewer.get(f"/reports/download?job={job}&format=csv").status_code == 200
