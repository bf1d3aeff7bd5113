"""Hostile input through HTTP (issue 13 item 4): every case a 4xx naming what is wrong, no 500,
nothing changed, on SQLite and PostgreSQL."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from netstats.db import db
from netstats.models import Destination, Job

INT32_PAST, INT64_PAST, TWENTY_DIGITS = 2**31, 2**63, 10**19 + 1


@pytest.fixture
def job(api) -> dict:
    destination = api.post("/destinations", json={"name": "lo", "host": "127.0.0.1"}).json
    body = {"name": "j", "collector": "ping", "interval_s": 60, "destinations": [destination["id"]]}
    return api.post("/jobs", json=body).json


def rows(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Destination)),
            db.session.scalar(select(func.count()).select_from(Job)),
        )


def refused(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.json["error"]
    if field is not None:
        assert field in error["fields"], error
    return error


PAST = [INT32_PAST, INT64_PAST, TWENTY_DIGITS]
ID_PATHS = [
    "/destinations/{n}",
    "/destinations/{n}/status",
    "/jobs/{n}",
    "/jobs/{n}/schedule",
    "/jobs/{n}/summary",
    "/jobs/{n}/runs",
    "/jobs/{n}/routes",
    "/jobs/{n}/status",
]


def test_an_id_past_its_column_in_a_path_is_404_naming_the_range(api, job):
    for path in ID_PATHS:
        for n in PAST:
            error = refused(api.get(path.format(n=n)), 404)
            assert "ids run from 1 to 2147483647" in error["message"], path


def test_id_0_is_the_same_404_for_every_method_and_only_after_authentication(api, client):
    refused(api.get("/jobs/0"), 404)
    for method in ("get", "patch", "delete"):
        for path in ("/jobs/0", "/destinations/0"):
            answer = getattr(api, method)(path, json={"name": "x"} if method == "patch" else None)
            error = refused(answer, 404)
            assert "ids run from 1 to 2147483647" in error["message"], (method, path)
            assert getattr(client, method)(f"/api/v1{path}").status_code == 401, (method, path)
    assert "ids run from 1" in refused(api.get("/runs/0"), 404)["message"]


def test_a_run_id_past_64_bits_is_404_and_one_within_is_an_ordinary_404(api):
    assert "9223372036854775807" in refused(api.get(f"/runs/{INT64_PAST}"), 404)["message"]
    assert refused(api.get(f"/runs/{INT32_PAST}"), 404)["message"] == f"No run {INT32_PAST}."


def test_writes_to_an_id_past_its_column_are_404_and_change_nothing(app, api, job):
    before = rows(app)
    refused(api.patch(f"/destinations/{INT64_PAST}", json={"name": "x"}), 404)
    refused(api.delete(f"/jobs/{TWENTY_DIGITS}"), 404)
    refused(api.post(f"/destinations/{INT32_PAST}/probe", json={}), 404)
    assert rows(app) == before


ID_QUERIES = [
    ("/destinations?page={n}", "page"),
    ("/jobs?page={n}", "page"),
    ("/jobs?destination={n}", "destination"),
    ("/series?job={n}", "job"),
    ("/series?destination={n}", "destination"),
    ("/series/data?job={n}&destination=1&metric=rtt_avg_ms", "job"),
    ("/jobs/{job}/routes?destination={n}", "destination"),
    ("/jobs/{job}/runs?page={n}", "page"),
    ("/reports?job={n}&format=csv", "job"),
    ("/reports?job={job}&destination={n}&format=csv", "destination"),
]


def test_an_id_or_page_past_its_range_in_a_query_is_422_naming_it(api, job):
    for query, field in ID_QUERIES:
        for n in PAST:
            refused(api.get(query.format(n=n, job=job["id"])), 422, field)


def test_a_destination_id_past_its_column_in_a_body_is_422_naming_it(app, api, job):
    before = rows(app)
    for n in PAST:
        body = {"name": "k", "collector": "ping", "interval_s": 60, "destinations": [n]}
        refused(api.post("/jobs", json=body), 422, "destinations")
        refused(api.patch(f"/jobs/{job['id']}", json={"destinations": [n]}), 422, "destinations")
    assert rows(app) == before


def test_json_nested_deep_is_400_and_changes_nothing(app, api):
    before = rows(app)
    for depth in (33, 1000, 100_000):
        body = '{"name": "a", "host": "127.0.0.1", "labels": ' + "[" * depth + "]" * depth + "}"
        response = api.post("/destinations", data=body, content_type="application/json")
        assert "nests deeper than 32" in refused(response, 400)["message"]
    assert rows(app) == before


def test_json_nested_within_the_limit_reaches_the_schema(api):
    body = '{"name": "a", "host": "127.0.0.1", "labels": ' + "[" * 30 + "]" * 30 + "}"
    refused(api.post("/destinations", data=body, content_type="application/json"), 422, "labels")


def test_a_lone_surrogate_or_nul_in_body_text_is_422_naming_the_field(app, api):
    before = rows(app)
    for field in ("name", "description", "host"):
        for text, problem in (("\\ud800", "lone surrogates"), ("\\u0000", "NUL")):
            fields = {"name": "a", "host": "127.0.0.1", field: f"x{text}y"}
            body = "{" + ", ".join(f'"{k}": "{v}"' for k, v in fields.items()) + "}"
            response = api.post("/destinations", data=body, content_type="application/json")
            assert problem in refused(response, 422, field)["fields"][field][0]
    assert rows(app) == before


def test_a_lone_surrogate_in_a_key_or_nested_value_is_named_by_its_path(api, job):
    body = '{"name": "n", "collector": "ping", "interval_s": 60, "params": {"x\\ud800": 1}}'
    error = refused(api.post("/jobs", data=body, content_type="application/json"), 422, "params")
    assert error["fields"]["params"] == {
        "x\ud800": ["Key: Must not contain lone surrogates (not valid Unicode text)."]
    }
    body = '{"labels": {"env": "a\\udfff"}}'
    path = "/destinations/1"
    error = refused(api.patch(path, data=body, content_type="application/json"), 422, "labels")
    assert "lone surrogates" in error["fields"]["labels"]["env"][0]


def test_nul_in_a_query_string_is_422_naming_the_argument(api):
    for query in ("/destinations?q=%00", "/jobs?q=a%00", "/jobs?collector=%00"):
        refused(api.get(query), 422, query.split("?")[1].split("=")[0])


OUT_OF_YEARS = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]


def test_a_job_date_whose_utc_form_leaves_years_1_to_9999_is_422(app, api, job):
    before = rows(app)
    for field in ("starts_at", "ends_at"):
        for value in OUT_OF_YEARS:
            body = {"name": "d", "collector": "ping", "interval_s": 60, field: value}
            error = refused(api.post("/jobs", json=body), 422, field)
            assert "years 1 to 9999" in error["fields"][field][0]
            refused(api.patch(f"/jobs/{job['id']}", json={field: value}), 422, field)
    assert rows(app) == before


RANGE_QUERIES = [
    ("/jobs/{job}/runs?", "since"),
    ("/jobs/{job}/runs?", "until"),
    ("/jobs/{job}/summary?", "from"),
    ("/jobs/{job}/summary?", "to"),
    ("/series/data?job={job}&destination={dest}&metric=rtt_avg_ms&", "from"),
    ("/series/data?job={job}&destination={dest}&metric=rtt_avg_ms&", "to"),
    ("/jobs/{job}/routes?destination={dest}&", "to"),
    ("/jobs/{job}/status?", "from"),
    ("/reports?job={job}&format=csv&", "from"),
    ("/reports?job={job}&format=csv&from=2026-01-01T00:00:00Z&", "to"),
]


def test_a_range_bound_out_of_range_is_422_naming_it(api, job):
    for query, field in RANGE_QUERIES:
        for value in [*OUT_OF_YEARS, "9999-12-31T23:59:59Z"]:
            path = query.format(job=job["id"], dest=job["destinations"][0])
            refused(api.get(path + urlencode({field: value})), 422, field)


def test_a_job_starting_at_the_last_second_a_datetime_holds_is_planned(api):
    body = {"name": "late", "collector": "ping", "interval_s": 60}
    late = api.post("/jobs", json={**body, "starts_at": "9999-12-31T23:59:59Z"})
    assert late.status_code == 201, late.json
    schedule = api.get(f"/jobs/{late.json['id']}/schedule?count=5")
    assert schedule.status_code == 200, schedule.json
    assert schedule.json["times"] == ["9999-12-31T23:59:59+00:00"]
    windowed = {**body, "name": "late-windowed", "timezone": "Pacific/Kiritimati"}
    windowed["windows"] = [{"days": ["fri"], "start": "23:00", "end": "01:00"}]
    late = api.post("/jobs", json={**windowed, "starts_at": "9999-12-30T00:00:00Z"})
    assert late.status_code == 201, late.json
    assert api.get(f"/jobs/{late.json['id']}/schedule").status_code == 200


def test_a_search_pattern_with_nul_never_reaches_like(app):
    from netstats.db import contains_pattern
    from netstats.errors import Invalid

    with pytest.raises(Invalid) as refused_:
        contains_pattern("a\x00")
    assert refused_.value.fields == {"q": ["Must not contain NUL characters."]}
    assert contains_pattern("50%_\\") == "%50\\%\\_\\\\%"


def test_a_last_event_id_past_64_bits_or_not_ascii_digits_is_422(api):
    for header in [str(2**63), "9" * 30, "\u00b2", "\u0661"]:
        answer = api.get("/events", headers={"Last-Event-ID": header})
        assert answer.status_code == 422, header
        assert "Last-Event-ID" in answer.json["error"]["fields"]
    answer = api.get(f"/events?after={2**63}")
    assert answer.status_code == 422 and "after" in answer.json["error"]["fields"]
