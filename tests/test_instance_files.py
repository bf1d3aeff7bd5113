"""The instance's database files hold password and token hashes: only their owner reads them."""

from __future__ import annotations

import os
import stat

import pytest

from netstats.db import db
from tests.conftest import cli_runner


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def fresh_instance(instance_path):
    """An app on a new instance folder with its default SQLite database and queue."""
    from netstats.app import create_app

    def build():
        return create_app({"TESTING": True, "PLUGINS_DIR": str(instance_path / "plugins")})

    return build


def test_the_database_queue_and_their_wal_files_are_created_0600(fresh_instance, instance_path):
    os.umask(0o022)  # the usual umask, under which new files are 0644
    app = fresh_instance()
    assert cli_runner(app).invoke(args=["db", "upgrade"]).exit_code == 0
    api_app = app.test_client()
    from netstats.auth import create_token, create_user

    with app.app_context():
        _, secret = create_token(create_user("ops", "long password", admin=True), scope="write")
        db.session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    dest = api_app.post(
        "/api/v1/destinations", headers=headers, json={"name": "a", "host": "127.0.0.1"}
    )
    job = {"name": "j", "collector": "ping", "interval_s": 10, "destinations": [dest.json["id"]]}
    assert api_app.post("/api/v1/jobs", headers=headers, json=job).status_code == 201  # enqueues
    files = sorted(p.name for p in instance_path.iterdir() if p.is_file())
    assert {"netstats.sqlite", "netstats.sqlite-wal", "huey.sqlite", "secret_key"} <= set(files)
    for name in files:
        assert _mode(instance_path / name) == 0o600, f"{name} is {_mode(instance_path / name):o}"
    with app.app_context():
        db.engine.dispose()


def test_existing_database_files_readable_by_others_are_made_0600(fresh_instance, instance_path):
    for name in ("netstats.sqlite", "netstats.sqlite-wal", "netstats.sqlite-shm", "huey.sqlite"):
        (instance_path / name).touch()
        os.chmod(instance_path / name, 0o644)
    app = fresh_instance()
    with app.app_context():
        from netstats.engine.queue import get_queue

        get_queue()  # SqliteHuey opens its file when the queue is first used
    for name in ("netstats.sqlite", "netstats.sqlite-wal", "netstats.sqlite-shm", "huey.sqlite"):
        assert _mode(instance_path / name) == 0o600, name
    with app.app_context():
        db.engine.dispose()
