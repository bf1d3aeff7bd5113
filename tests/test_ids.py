"""Ids are never reused: a bookmark, an event or a log line naming an id means one object.

SQLite gives a new row the largest rowid plus one, so deleting the last destination and
creating another gave the new one the old id; tables whose ids users see are AUTOINCREMENT
there. PostgreSQL sequences never go back.
"""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from netstats.db import db, init_migrations

USER_VISIBLE_IDS = (
    "destinations",
    "jobs",
    "job_runs",
    "measurements",
    "users",
    "api_tokens",
    "events",
    "route_changes",
)


def test_a_deleted_destinations_id_is_not_given_to_the_next_one(api):
    first = api.post("/destinations", json={"name": "a", "host": "127.0.0.1"}).json["id"]
    assert api.delete(f"/destinations/{first}").status_code == 204
    second = api.post("/destinations", json={"name": "b", "host": "127.0.0.2"}).json["id"]
    assert second > first


def test_a_deleted_jobs_id_and_its_runs_ids_are_not_reused(app, api):
    from netstats.models import JobRun

    dest = api.post("/destinations", json={"name": "a", "host": "127.0.0.1"}).json["id"]
    body = {"name": "j", "collector": "ping", "interval_s": 10, "destinations": [dest]}

    def created() -> tuple[int, set[int]]:
        job = api.post("/jobs", json=body).json["id"]
        with app.app_context():
            runs = set(db.session.scalars(sa.select(JobRun.id).where(JobRun.job_id == job)))
        assert runs, "the first runs are planned at once"
        return job, runs

    job, runs = created()
    assert api.delete(f"/jobs/{job}").status_code == 204
    again, runs_again = created()
    assert again > job and min(runs_again) > max(runs)


@pytest.mark.parametrize("table", USER_VISIBLE_IDS)
def test_on_sqlite_tables_with_user_visible_ids_are_autoincrement(sqlite_template, table):
    """(PostgreSQL identities and sequences never reuse a value: nothing to check there.)"""
    with sqlite3.connect(sqlite_template) as conn:
        [sql] = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
    assert "AUTOINCREMENT" in sql.upper(), sql


def test_the_sqlite_rebuild_keeps_every_row_and_link(instance_path, tmp_path):
    """The migration copies each table; with foreign keys on, dropping the old one would
    have cascaded into the labels, the job links and the measurements."""
    from flask_migrate import downgrade, upgrade

    from netstats.app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'old.sqlite'}"})
    init_migrations(app)
    with app.app_context():
        upgrade(revision="41cf859f637e")  # the revision before the rebuild
        for statement in (
            "INSERT INTO destinations (id, name, host, family, description, enabled, created_at,"
            " updated_at) VALUES (1, 'a', '127.0.0.1', 'any', '', 1, '2026-01-01', '2026-01-01')",
            "INSERT INTO destination_labels VALUES (1, 'site', 's1')",
            "INSERT INTO jobs (id, name, description, collector, params, label_selector,"
            " interval_s, windows, timezone, retries, enabled, paused, version, created_at,"
            " updated_at) VALUES (1, 'j', '', 'ping', '{}', '{}', 10, '[]', 'UTC', 0, 1, 0, 1,"
            " '2026-01-01', '2026-01-01')",
            "INSERT INTO job_destinations VALUES (1, 1)",
        ):
            db.session.execute(sa.text(statement))
        db.session.commit()
        upgrade()
        db.session.remove()
        counts = [
            db.session.scalar(sa.select(sa.func.count()).select_from(sa.table(name)))
            for name in ("destinations", "destination_labels", "jobs", "job_destinations")
        ]
        foreign_keys = db.session.scalar(sa.text("PRAGMA foreign_keys"))
        db.session.remove()
        downgrade(revision="41cf859f637e")
        db.session.remove()
        after_downgrade = db.session.scalar(sa.text("SELECT count(*) FROM job_destinations"))
        db.session.remove()
        db.engine.dispose()
    assert counts == [1, 1, 1, 1] and foreign_keys == 1
    assert after_downgrade == 1
