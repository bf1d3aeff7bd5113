"""Reports through the API, on both databases, read back from the files: the Summary sheet
equals the summary API cell by cell; the CSV is RFC 4180 with every measurement; names that
look like formulas stay text; bad arguments are 4xx naming the field."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from netstats.db import db, utcnow, write_transaction
from netstats.models import Destination
from tests.rounds import make_job, write_pings

MINUTE = timedelta(minutes=1)
HOSTILE = ['=HYPERLINK("http://x","y")', "+1", "-1", "@SUM(A1:A2)", "\tx", "\rcr"]


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def day_start(days_ago: int = 2) -> datetime:
    now = utcnow()
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days_ago)


def pings(job: int, dest: int, base: datetime, rounds: int = 30) -> None:
    rtts = [[5.0 + (i % 7), 6.0, None if i % 5 == 0 else 7.5] for i in range(rounds)]
    write_pings(job, dest, base, MINUTE, rtts)


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _workbook(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return load_workbook(io.BytesIO(response.data))


def test_summary_sheet_equals_the_summary_api_cell_by_cell(ctx, api):
    job, (a, b) = make_job(destinations=["a", "b"])
    base = day_start()
    pings(job, a, base)
    pings(job, b, base + 10 * MINUTE, rounds=12)
    args = {"from": _iso(base), "to": _iso(base + timedelta(hours=2))}
    summary = api.get(f"/jobs/{job}/summary", query_string=args)
    assert summary.status_code == 200
    wb = _workbook(api.get("/reports", query_string={"job": str(job), **args}))
    assert wb.sheetnames == ["Summary", "Daily", "Events", "Measurements", "Charts", "About"]
    sheet = list(wb["Summary"].iter_rows(values_only=True))
    header, rows, total = sheet[0], sheet[1:-1], sheet[-1]
    assert len(rows) == len(summary.json["destinations"]) == 2
    percent = {"availability_pct": "availability (%)", "loss_pct": "loss (%)"}
    fields = ["runs", "ok", "error", "timeout", "sent", "received", "metric", "values"]
    fields += ["min", "p5", "p50", "mean", "p95", "p99", "max", "stddev"]
    for expected, got in zip(summary.json["destinations"], rows, strict=True):
        cells = dict(zip(header, got, strict=True))
        assert cells["destination"] == expected["destination"]
        for name in fields:
            column = next(h for h in header if h == name or h.startswith(name + " ("))
            want = expected[name]
            if isinstance(want, float):
                want = pytest.approx(want, rel=1e-12)
            assert cells[column] == want, name
        for name, column in percent.items():
            assert cells[column] * 100 == pytest.approx(expected[name], rel=1e-12), name
        assert cells["jitter (ms)"] == pytest.approx(expected["jitter_ms"], rel=1e-12)
        assert cells["quantiles"] == "exact"
        first = datetime.fromisoformat(expected["first_at"]).astimezone(UTC)
        assert cells["first"] == first.replace(tzinfo=None)
    totals = dict(zip(header, total, strict=True))
    assert totals["job"] == "Total"
    assert totals["runs"] == 42
    sent = sum(d["sent"] for d in summary.json["destinations"])
    received = sum(d["received"] for d in summary.json["destinations"])
    assert totals["loss (%)"] == pytest.approx((sent - received) / sent)


def test_workbook_sheets_have_frozen_headers_filters_formats_and_a_chart(ctx, api, tmp_path):
    job, (a,) = make_job()
    base = day_start(3)
    pings(job, a, base, rounds=5)
    write_pings(job, a, base + timedelta(days=1), MINUTE, [[None, None, None]] * 3 + [[4.0]])
    response = api.get(
        "/reports",
        query_string={
            "job": "ping",
            "from": (base - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "to": (base + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
            "tz": "Europe/Paris",
        },
    )
    assert "attachment" in response.headers["Content-Disposition"]
    path = tmp_path / "r.xlsx"
    path.write_bytes(response.data)
    wb = load_workbook(path)
    for name in ("Summary", "Daily", "Events", "Measurements"):
        ws = wb[name]
        assert ws.freeze_panes == "A2", name
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), name
    summary = wb["Summary"]
    header = [c.value for c in summary[1]]
    row = {h: c for h, c in zip(header, summary[2], strict=True)}
    assert row["loss (%)"].number_format == "0.00%"
    assert row["p50 (ms)"].number_format == "0.000"
    assert row["outages"].value == 1
    assert isinstance(row["longest outage start"].value, datetime)
    # Times are wall times in the report's zone: Paris is an hour or two ahead of UTC.
    first_utc = base.replace(tzinfo=None)
    assert row["first"].value - first_utc in (timedelta(hours=1), timedelta(hours=2))
    daily = list(wb["Daily"].iter_rows(values_only=True))
    assert [r[0].date() for r in daily[1:]] == sorted({r[0].date() for r in daily[1:]})
    assert len(daily) - 1 == 2  # two days with measurements
    events = list(wb["Events"].iter_rows(values_only=True))
    assert [(e[4], e[5]) for e in events[1:]] == [("ok", "timeout"), ("timeout", "ok")]
    measurements = list(wb["Measurements"].iter_rows(values_only=True))
    assert len(measurements) == 1 + 9
    assert measurements[0][0] == "time (Europe/Paris)"
    first = wb["Measurements"][2]
    assert first[0].number_format == "yyyy-mm-dd hh:mm:ss.000"
    assert first[0].value - first_utc in (timedelta(hours=1), timedelta(hours=2))
    assert first[7].number_format == "0.000"  # duration (ms)
    assert "rtt_avg_ms (ms)" in measurements[0]
    assert len(wb["Charts"]._charts) == 1
    about = {r[0]: r[1] for r in wb["About"].iter_rows(values_only=True) if r and r[0]}
    assert about["time zone"] == "Europe/Paris"
    assert "loss" in about and "1 - received / sent" in about["loss"]


def _hostile_job():
    job, ids = make_job(name=HOSTILE[0], destinations=["d"])
    with write_transaction():
        for i, name in enumerate(HOSTILE):
            if i == 0:
                db.session.get(Destination, ids[0]).name = name
            else:
                d = Destination(name=name, host="127.0.0.1")
                db.session.add(d)
                db.session.flush()
                ids.append(d.id)
        from netstats.models import Job

        db.session.get(Job, job).destinations = [db.session.get(Destination, d) for d in ids]
    base = day_start()
    for d in ids:
        pings(job, d, base, rounds=2)
    return job, base


def test_names_that_look_like_formulas_stay_text_in_xlsx_and_csv(ctx, api, tmp_path):
    job, base = _hostile_job()
    args = {"job": str(job), "from": _iso(base), "to": _iso(base + timedelta(hours=1))}
    response = api.get("/reports", query_string=args)
    path = tmp_path / "hostile.xlsx"
    path.write_bytes(response.data)
    wb = load_workbook(path)
    names = set()
    for ws in (wb["Summary"], wb["Measurements"], wb["Daily"]):
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
            names.add(row[2 if ws.title != "Summary" else 1].value)
    # XML reads a carriage return back as a line feed (end-of-line normalisation).
    assert {n.replace("\r", "\n") for n in HOSTILE} <= names
    assert wb["Summary"]["A2"].value == HOSTILE[0]  # the job's name, verbatim, as text

    text = api.get("/reports", query_string={**args, "format": "csv"}).get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    seen = {r[2] for r in rows[1:]}
    assert seen == {"'" + n for n in HOSTILE}
    assert {r[1] for r in rows[1:]} == {"'" + HOSTILE[0]}
    if shutil.which("libreoffice") or shutil.which("soffice"):
        _libreoffice_reads_text(text, tmp_path)


def _libreoffice_reads_text(text: str, tmp_path) -> None:
    office = shutil.which("libreoffice") or shutil.which("soffice")
    source = tmp_path / "hostile.csv"
    source.write_text(text, newline="")
    subprocess.run(
        [office, "--headless", "--convert-to", "xlsx", "--outdir", str(tmp_path), str(source)],
        check=True,
        timeout=120,
        capture_output=True,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    wb = load_workbook(tmp_path / "hostile.xlsx")
    for row in wb.active.iter_rows():
        for cell in row:
            assert cell.data_type != "f", (cell.coordinate, cell.value)


def test_csv_has_a_header_with_units_iso_utc_times_and_every_measurement(ctx, api):
    job, (a, b) = make_job(destinations=["a", "b"])
    base = day_start()
    pings(job, a, base, rounds=7)
    pings(job, b, base, rounds=3)
    response = api.get(
        "/reports",
        query_string={
            "job": "ping",
            "destination": "ping-a",
            "from": _iso(base),
            "to": _iso(base + timedelta(hours=1)),
            "format": "csv",
        },
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.is_streamed
    raw = response.get_data(as_text=True)
    assert raw.count("\r\n") == 8  # RFC 4180 line ends: the header and seven rows
    rows = list(csv.DictReader(io.StringIO(raw, newline="")))
    assert len(rows) == 7
    assert rows[0]["time (UTC)"] == base.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rows[0]["destination"] == "ping-a"
    assert rows[0]["loss_pct (%)"] == str(100 / 3)
    assert rows[1]["rtt_min_ms (ms)"] == "6.0"


def test_bad_arguments_are_422_naming_the_field(ctx, api):
    job, _ = make_job()
    make_job(name="other", destinations=["z"])
    base = day_start()
    cases = [
        ({"job": str(job), "tz": "Mars/Olympus"}, "tz"),
        ({"job": str(job), "from": _iso(base), "to": _iso(base - MINUTE)}, "from"),
        ({"job": "nope"}, "job"),
        ({"job": "999999"}, "job"),
        ({}, "job"),
        ({"job": str(job), "format": "pdf"}, "format"),
        ({"job": str(job), "destination": "other-z"}, "destination"),
        ({"job": str(job), "destination": "missing"}, "destination"),
        ({"job": str(job), "preset": "forever"}, "preset"),
        ({"job": str(job), "from": "yesterday"}, "from"),
    ]
    for args, field in cases:
        response = api.get("/reports", query_string=args)
        assert response.status_code == 422, (args, response.json)
        assert field in response.json["error"]["fields"], (args, response.json)


def test_reports_need_a_token_or_a_login(ctx, client):
    job, _ = make_job()
    assert client.get("/api/v1/reports", query_string={"job": str(job)}).status_code == 401


def test_presets_are_days_of_the_report_zone(ctx, api):
    from zoneinfo import ZoneInfo

    from netstats.reports.definition import preset_range

    zone = ZoneInfo("America/New_York")
    now = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)  # the day after DST began there
    start, end = preset_range("yesterday", now, zone)
    assert (start, end) == (
        datetime(2026, 3, 8, 5, 0, tzinfo=UTC),
        datetime(2026, 3, 9, 4, 0, tzinfo=UTC),
    )
    start, end = preset_range("last_month", now, zone)
    assert start == datetime(2026, 2, 1, 5, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 1, 5, 0, tzinfo=UTC)
    job, _ = make_job()
    response = api.get("/reports", query_string={"job": str(job), "preset": "yesterday"})
    assert response.status_code == 200


def test_cli_writes_xlsx_and_csv_files_and_names_a_bad_option(ctx, runner, api, tmp_path):
    job, (a,) = make_job()
    base = day_start()
    pings(job, a, base, rounds=4)
    span = ["--from", _iso(base), "--to", _iso(base + timedelta(hours=1))]
    out = tmp_path / "r.xlsx"
    result = runner.invoke(args=["report", "--job", "ping", *span, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "4 measurements" in result.output
    assert len(list(load_workbook(out)["Measurements"].iter_rows())) == 5
    args = {"job": str(job), "from": _iso(base), "to": _iso(base + timedelta(hours=1))}
    api_summary = list(_workbook(api.get("/reports", query_string=args))["Summary"].values)
    assert list(load_workbook(out)["Summary"].values) == api_summary
    csv_out = tmp_path / "r.csv"
    result = runner.invoke(args=["report", "--job", "ping", *span, "-o", str(csv_out)])
    assert result.exit_code == 0, result.output
    assert len(list(csv.reader(csv_out.open(newline="")))) == 5
    result = runner.invoke(args=["report", "--job", "ping", "--tz", "Nowhere/Land", "-o", str(out)])
    assert result.exit_code == 2 and "--tz" in result.output
    result = runner.invoke(args=["report", "--job", "nope", "-o", str(out)])
    assert result.exit_code == 1 and "nope" in result.output


def test_measurements_beyond_the_cap_are_left_to_the_csv_and_the_sheet_says_so(ctx, tmp_path):
    from netstats.reports.definition import define_report
    from netstats.reports.xlsx import write_workbook
    from netstats.schemas.reports import report_args

    job, (a,) = make_job()
    base = day_start()
    pings(job, a, base, rounds=5)
    args = {"job": [str(job)], "from": _iso(base), "to": _iso(base + timedelta(hours=1))}
    report = define_report(report_args.load(args))
    path = tmp_path / "capped.xlsx"
    assert write_workbook(report, str(path), cap=3) == 3
    rows = list(load_workbook(path)["Measurements"].values)
    assert len(rows) == 1 + 3 + 1
    assert rows[-1][0].startswith("Capped at 3 measurements") and "CSV" in rows[-1][0]
    about = {r[0]: r[1] for r in load_workbook(path)["About"].values if r and r[0]}
    assert "capped" in about["measurements sheet"]
