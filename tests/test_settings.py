"""Settings are checked when the app starts: a bad one is named, with what is accepted."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from netstats.config import ConfigError


def test_a_huey_url_that_is_not_redis_is_refused_when_the_app_is_built(instance_path):
    from netstats.app import create_app

    with pytest.raises(ConfigError, match=r"NETSTATS_HUEY_URL.*redis://.*'sqlite:///q.db'"):
        create_app({"TESTING": True, "HUEY_URL": "sqlite:///q.db"})


@pytest.mark.parametrize("command", [["worker"], ["users", "list"]])
def test_commands_report_a_bad_huey_url_in_one_line_without_a_traceback(tmp_path, command):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETSTATS_")}
    env |= {"NETSTATS_INSTANCE_PATH": str(tmp_path), "NETSTATS_HUEY_URL": "sqlite:///q.db"}
    result = subprocess.run(
        [sys.executable, "-m", "netstats", *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Error: configuration: HUEY_URL (NETSTATS_HUEY_URL) must be a redis://" in result.stderr
    assert "Traceback" not in result.stderr
