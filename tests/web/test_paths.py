"""The destination page's "Path over time" sections: one per traceroute job measuring it."""

from __future__ import annotations


def test_each_traceroute_job_of_a_destination_gets_a_path_section_and_others_none(admin, api):
    dest = api.post("/destinations", json={"name": "far", "host": "127.0.0.1"}).json["id"]
    jobs = {}
    for name, collector in (
        ("trace-a", "traceroute"),
        ("trace-b", "traceroute"),
        ("pings", "ping"),
    ):
        body = {"name": name, "collector": collector, "params": {}, "destinations": [dest]}
        jobs[name] = api.post("/jobs", json={**body, "interval_s": 60}).json["id"]
    page = admin.get(f"/destinations/{dest}").text
    for name in ("trace-a", "trace-b"):
        assert f'id="paths-{jobs[name]}"' in page
        assert f'data-job="{jobs[name]}" data-destination="{dest}"' in page
    assert f'id="paths-{jobs["pings"]}"' not in page
    assert page.count("data-path-view") == 2
    assert 'aria-controls="paths-{}-table"'.format(jobs["trace-a"]) in page


def test_a_destination_without_traceroute_jobs_has_no_path_section(admin, api):
    dest = api.post("/destinations", json={"name": "near", "host": "127.0.0.1"}).json["id"]
    assert "data-path-view" not in admin.get(f"/destinations/{dest}").text
