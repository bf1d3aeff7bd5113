"""netstats up: the first-look command sets up an instance and measures localhost."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from tests.conftest import require


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.lab
def test_up_initialises_and_the_sample_jobs_measure_within_a_minute(tmp_path):
    require(os.geteuid() == 0, "ping of the sample jobs needs root (raw sockets)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETSTATS_")}
    env["NETSTATS_INSTANCE_PATH"] = str(tmp_path)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "netstats", "up", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'netstats.sqlite'}")
    try:
        deadline = time.monotonic() + 60
        measured = 0
        while time.monotonic() < deadline and not measured:
            time.sleep(1)
            try:
                with engine.connect() as conn:
                    measured = conn.execute(
                        sa.text("SELECT count(*) FROM measurements WHERE status = 'ok'")
                    ).scalar()
            except sa.exc.OperationalError:
                continue  # not migrated yet
        with engine.connect() as conn:
            users = conn.execute(sa.text("SELECT name, is_admin FROM users")).all()
            targets = {r[0] for r in conn.execute(sa.text("SELECT target FROM measurements"))}
        assert measured > 0
        assert users == [("admin", 1)]
        assert targets <= {"127.0.0.1", "::1", "localhost"}
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
        engine.dispose()
    assert "created user 'admin' with password:" in output


def test_initialising_twice_keeps_users_and_configuration(app):
    from netstats.cli.up import initialise_instance
    from netstats.db import db
    from netstats.models import Destination, Job, User

    with app.app_context():
        password = initialise_instance()
        counts = [
            db.session.scalar(sa.select(sa.func.count()).select_from(m))
            for m in (User, Destination, Job)
        ]
        assert password and counts[0] == 1 and counts[1] >= 2 and counts[2] >= 1
        assert initialise_instance() is None
        assert [
            db.session.scalar(sa.select(sa.func.count()).select_from(m))
            for m in (User, Destination, Job)
        ] == counts
