"""The destinations API, through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from netstats.db import db
from netstats.models import Destination, Job


def make(api, name="loop", host="127.0.0.1", **extra):
    response = api.post("/destinations", json={"name": name, "host": host, **extra})
    assert response.status_code == 201, response.json
    return response.json


def count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Destination))


def test_create_get_patch_delete_round_trip(api):
    created = make(api, labels={"env": "lab"}, description="loopback")
    assert created["family"] == "any" and created["enabled"] is True
    assert created["labels"] == {"env": "lab"}
    path = f"/destinations/{created['id']}"
    assert api.get(path).json["name"] == "loop"

    changed = api.patch(path, json={"host": "::1", "labels": {"env": "prod", "team": "net"}})
    assert changed.status_code == 200
    assert changed.json["host"] == "::1"
    assert changed.json["labels"] == {"env": "prod", "team": "net"}
    assert changed.json["description"] == "loopback"

    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404


def test_create_answers_location_of_the_new_destination(api):
    response = api.post("/destinations", json={"name": "a", "host": "localhost"})
    assert response.headers["Location"].endswith(f"/api/v1/destinations/{response.json['id']}")


def test_list_searches_filters_sorts_and_pages(api):
    make(api, "alpha", "127.0.0.1", labels={"env": "prod", "site": "par"})
    make(api, "beta", "::1", family="ipv6", labels={"env": "prod"})
    make(api, "gamma", "localhost", enabled=False, description="the Alpha backup")
    make(api, "delta", "127.0.0.2", labels={"env": "dev"})

    names = lambda r: [d["name"] for d in r.json["items"]]  # noqa: E731
    assert names(api.get("/destinations")) == ["alpha", "beta", "delta", "gamma"]
    assert names(api.get("/destinations?q=alpha")) == ["alpha", "gamma"]
    assert names(api.get("/destinations?enabled=false")) == ["gamma"]
    assert names(api.get("/destinations?family=ipv6")) == ["beta"]
    assert names(api.get("/destinations?label=env:prod")) == ["alpha", "beta"]
    assert names(api.get("/destinations?label=env:prod&label=site:par")) == ["alpha"]
    assert names(api.get("/destinations?sort=-name")) == ["gamma", "delta", "beta", "alpha"]
    assert names(api.get("/destinations?sort=-host"))[0] == "gamma"  # "localhost"

    page = api.get("/destinations?per_page=3&page=2").json
    assert (page["total"], page["page"], page["per_page"], page["pages"]) == (4, 2, 3, 2)
    assert [d["name"] for d in page["items"]] == ["gamma"]


def test_search_treats_percent_and_underscore_literally(api):
    make(api, "a_b", "127.0.0.1")
    make(api, "axb", "127.0.0.2")
    assert [d["name"] for d in api.get("/destinations?q=a_b").json["items"]] == ["a_b"]
    assert api.get("/destinations?q=%25").json["total"] == 0


@pytest.mark.parametrize(
    "query, field",
    [
        ("per_page=100000", "per_page"),
        ("sort=password", "sort"),
        ("page=0", "page"),
        ("label=nocolon", "label"),
        ("enabled=maybe", "enabled"),
    ],
)
def test_bad_list_arguments_are_422_naming_the_argument(api, query, field):
    response = api.get(f"/destinations?{query}")
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]


def test_duplicate_name_is_409_and_adds_nothing(api, app):
    make(api, "dup")
    response = api.post("/destinations", json={"name": "dup", "host": "127.0.0.2"})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "conflict"
    assert "name" in response.json["error"]["fields"]
    assert count(app) == 1


def test_rename_onto_existing_name_is_409(api):
    make(api, "one")
    two = make(api, "two", "127.0.0.2")
    response = api.patch(f"/destinations/{two['id']}", json={"name": "one"})
    assert response.status_code == 409
    assert api.get(f"/destinations/{two['id']}").json["name"] == "two"


def test_family_must_fit_an_address_literal_also_when_patching(api):
    response = api.post("/destinations", json={"name": "x", "host": "127.0.0.1", "family": "ipv6"})
    assert response.status_code == 422 and "family" in response.json["error"]["fields"]
    created = make(api, "y", "127.0.0.1")
    response = api.patch(f"/destinations/{created['id']}", json={"family": "ipv6"})
    assert response.status_code == 422 and "family" in response.json["error"]["fields"]
    assert api.get(f"/destinations/{created['id']}").json["family"] == "any"


def _job_using(app, destination_id: int, name: str) -> None:
    with app.app_context():
        job = Job(name=name, collector="ping", interval_s=60, params={})
        job.destinations.append(db.session.get(Destination, destination_id))
        db.session.add(job)
        db.session.commit()


def test_delete_in_use_destination_is_409_naming_jobs(api, app):
    dest = make(api)
    _job_using(app, dest["id"], "ping-loop")
    _job_using(app, dest["id"], "ping-loop-2")
    response = api.delete(f"/destinations/{dest['id']}")
    assert response.status_code == 409
    assert response.json["error"]["fields"]["jobs"] == ["ping-loop", "ping-loop-2"]
    assert "ping-loop" in response.json["error"]["message"]
    assert api.get(f"/destinations/{dest['id']}").status_code == 200


def test_delete_with_detach_removes_it_from_jobs_and_keeps_the_jobs(api, app):
    dest = make(api)
    _job_using(app, dest["id"], "ping-loop")
    assert api.delete(f"/destinations/{dest['id']}?detach=true").status_code == 204
    with app.app_context():
        job = db.session.scalar(select(Job))
        assert job.name == "ping-loop" and job.destinations == []


def test_validate_checks_without_saving(api, app):
    ok = api.post("/destinations/validate", json={"name": "n", "host": "Bücher.example"})
    assert ok.status_code == 200
    assert ok.json["host"] == {"kind": "hostname", "ascii": "xn--bcher-kva.example"}
    bad = api.post("/destinations/validate", json={"name": "n", "host": "a..b"})
    assert bad.status_code == 422 and "host" in bad.json["error"]["fields"]
    assert count(app) == 0


def test_validate_can_resolve_the_name(api):
    response = api.post(
        "/destinations/validate?resolve=true", json={"name": "n", "host": "localhost"}
    )
    assert response.status_code == 200
    assert "127.0.0.1" in response.json["host"]["addresses"]
    literal = api.post("/destinations/validate?resolve=true", json={"name": "n", "host": "::1"})
    assert literal.json["host"]["addresses"] == ["::1"]


def test_validate_reports_a_name_clash(api):
    make(api, "taken")
    response = api.post("/destinations/validate", json={"name": "taken", "host": "127.0.0.1"})
    assert response.status_code == 409


# --- errors and hostile input ----------------------------------------------------------------


def test_malformed_json_is_400(api, app):
    response = api.post(
        "/destinations", data='{"name": "x", "host":', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"
    assert count(app) == 0


def test_non_json_body_is_rejected_with_json_error(api):
    response = api.post("/destinations", data="name=x", content_type="text/plain")
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"


def test_oversized_body_is_413(api, app):
    response = api.post(
        "/destinations",
        json={"name": "big", "host": "127.0.0.1", "description": "x" * (2 * 1024 * 1024)},
    )
    assert response.status_code == 413
    assert response.json["error"]["code"] == "too_large"
    assert count(app) == 0


def test_unknown_id_is_404(api):
    for method in ("get", "patch", "delete"):
        response = getattr(api, method)("/destinations/999", json={})
        assert response.status_code == 404
        assert response.json["error"]["code"] == "not_found"


# Validation input only: none of these is ever resolved or contacted.
HOSTILE = [
    {"name": "x", "host": "127.0.0.1; rm -rf /"},
    {"name": "x", "host": "$(reboot)"},
    {"name": "x", "host": "`id`.example"},
    {"name": "x", "host": "a" * 10_000},
    {"name": "n" * 10_000, "host": "127.0.0.1"},
    {"name": "line\nbreak", "host": "127.0.0.1"},
    {"name": "x", "host": "host\x00name"},
    {"name": "x", "host": "127.0.0.1\r\nX-Injected: 1"},
    {"name": ["x"], "host": "127.0.0.1"},
    {"name": "x", "host": 2130706433},
    {"name": "x", "host": None},
    {"name": "x", "host": "127.0.0.1", "enabled": "yes"},
    {"name": "x", "host": "127.0.0.1", "labels": ["a", "b"]},
    {"name": "x", "host": "127.0.0.1", "labels": {"k": {"nested": 1}}},
    {"name": "x", "host": "127.0.0.1", "labels": {"bad key!": "v"}},
    {"name": "x", "host": "127.0.0.1", "family": "ipv5"},
    {"name": "x", "host": "127.0.0.1", "id": 7},
    {"name": "x", "host": "127.0.0.1", "is_admin": True},
    {"name": "x", "host": "[::1"},
    {"name": "x", "host": "999.1.1.1"},
    {"name": "x", "host": "-leading.example"},
    {"name": "x", "host": "xn--a.example"},
]


@pytest.mark.parametrize("body", HOSTILE, ids=lambda b: repr(b)[:40])
def test_hostile_input_is_422_naming_the_field_and_changes_nothing(api, app, body):
    response = api.post("/destinations", json=body)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "validation_error"
    assert response.json["error"]["fields"]
    assert count(app) == 0


@pytest.mark.parametrize("body", ["[]", '"string"', "42", "null", '[{"name": "x", "host": "h"}]'])
def test_wrong_json_document_type_is_422(api, app, body):
    response = api.post("/destinations", data=body, content_type="application/json")
    assert response.status_code == 422
    assert response.json["error"]["fields"]
    assert count(app) == 0


def test_hostile_patch_changes_nothing(api):
    dest = make(api)
    for body in HOSTILE:
        response = api.patch(f"/destinations/{dest['id']}", json=body)
        assert response.status_code == 422, (body, response.json)
    after = api.get(f"/destinations/{dest['id']}").json
    assert (after["name"], after["host"], after["updated_at"]) == (
        dest["name"],
        dest["host"],
        dest["updated_at"],
    )


# --- authentication and scopes ---------------------------------------------------------------


def test_missing_token_is_401(client):
    response = client.get("/api/v1/destinations")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("header", ["Bearer nst_wrong", "Basic YWRtaW46YWRtaW4=", "Bearer ", "x"])
def test_bad_token_is_401(client, api, header):
    response = client.get("/api/v1/destinations", headers={"Authorization": header})
    assert response.status_code == 401


def test_read_token_may_get_but_not_change(reader, api, app):
    dest = make(api)
    assert reader.get("/destinations").status_code == 200
    assert reader.get(f"/destinations/{dest['id']}").status_code == 200
    for response in (
        reader.post("/destinations", json={"name": "r", "host": "127.0.0.1"}),
        reader.patch(f"/destinations/{dest['id']}", json={"name": "r"}),
        reader.delete(f"/destinations/{dest['id']}"),
    ):
        assert response.status_code == 403
        assert response.json["error"]["code"] == "forbidden"
    assert count(app) == 1


def test_revoked_token_stops_working(api, app):
    from netstats.auth import revoke_token
    from netstats.models import ApiToken

    assert api.get("/destinations").status_code == 200
    with app.app_context():
        revoke_token(db.session.scalar(select(ApiToken.id)))
        db.session.commit()
    assert api.get("/destinations").status_code == 401


def test_health_needs_no_token(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json["database"] == "ok"
