"""Parallel deletes of one row (issue 13 item 5): exactly one 204, the rest 404, never a 500,
on SQLite and PostgreSQL. Each thread is its own client with its own session, as parallel
requests to a threaded server are."""

from __future__ import annotations

import threading

import pytest

PARALLEL = 12


def _in_parallel(app, method: str, path: str, token: str) -> list[int]:
    barrier = threading.Barrier(PARALLEL)
    statuses: list[int] = []

    def call():
        client = app.test_client()
        barrier.wait()
        response = client.open(path, method=method, headers={"Authorization": f"Bearer {token}"})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=call) for _ in range(PARALLEL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return sorted(statuses)


@pytest.mark.parametrize("rounds", [3])
def test_parallel_detaching_deletes_of_a_used_destination_answer_one_204(app, api, rounds):
    token = api.headers["Authorization"].split()[1]
    for i in range(rounds):
        dest = api.post("/destinations", json={"name": f"d{i}", "host": "127.0.0.1"}).json["id"]
        for j in range(3):
            body = {"name": f"j{i}-{j}", "collector": "ping", "interval_s": 60}
            assert api.post("/jobs", json={**body, "destinations": [dest]}).status_code == 201
        path = f"/api/v1/destinations/{dest}?detach=true"
        assert _in_parallel(app, "DELETE", path, token) == [204] + [404] * (PARALLEL - 1)
        assert api.get(f"/destinations/{dest}").status_code == 404
        assert all(job["destinations"] == [] for job in api.get("/jobs").json["items"][-3:])


def test_parallel_deletes_of_a_job_answer_one_204(app, api):
    token = api.headers["Authorization"].split()[1]
    dest = api.post("/destinations", json={"name": "d", "host": "127.0.0.1"}).json["id"]
    body = {"name": "j", "collector": "ping", "interval_s": 60, "destinations": [dest]}
    job = api.post("/jobs", json=body).json["id"]
    assert _in_parallel(app, "DELETE", f"/api/v1/jobs/{job}", token) == [204] + [404] * (
        PARALLEL - 1
    )
