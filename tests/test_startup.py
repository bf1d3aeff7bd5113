"""The command starts at once: listing commands builds no app and imports no database layer,
and a probe loads the plugins only. Guarded by which packages a run imported, not by time
(bench/startup.py prints the times)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

HEAVY = ("scapy", "sqlalchemy", "flask_sqlalchemy", "alembic", "flask_migrate", "dns", "openpyxl")

PROBE = """
import json, sys
from netstats.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _imported(tmp_path, *args: str) -> set[str]:
    """The modules a ``netstats ARGS`` run imported, and their top-level packages."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETSTATS_")}
    env["NETSTATS_INSTANCE_PATH"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=60
    )
    modules = json.loads(result.stderr.strip().splitlines()[-1])
    return {*modules, *(m.split(".")[0] for m in modules)}


def test_help_imports_no_database_layer_no_migrations_and_no_packet_library(tmp_path):
    assert _imported(tmp_path, "--help") & set(HEAVY) == set()
    assert not (tmp_path / "netstats.sqlite").exists()


def test_version_is_netstats_own(tmp_path):
    from netstats import __version__

    result = subprocess.run(
        [sys.executable, "-m", "netstats", "--version"], capture_output=True, text=True
    )
    assert result.stdout.strip() == f"netstats, version {__version__}"


def test_probe_ping_loads_no_database_layer_no_app_and_no_other_collector_engine(tmp_path):
    imported = _imported(tmp_path, "probe", "ping", "127.0.0.1", "--count", "1")
    assert imported & {"sqlalchemy", "flask_sqlalchemy", "alembic", "flask_migrate"} == set()
    assert imported & {"scapy", "dns", "huey"} == set()  # traceroute's, dns's, the queue's
    assert "netstats.app" not in imported and not (tmp_path / "netstats.sqlite").exists()


APP = """
import json, sys
from netstats.app import create_app
create_app({"DATABASE_URL": "sqlite:///" + sys.argv[1]})
print(json.dumps(sorted(sys.modules)))
"""


def test_a_web_process_loads_no_spreadsheet_nor_prometheus_library_until_asked(tmp_path):
    # Every web process holds up to a thousand streams in 100 MB (docs/live.md): openpyxl
    # (27 MB) waits for the first workbook, prometheus_client (13 MB) for the first scrape.
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETSTATS_")}
    env["NETSTATS_INSTANCE_PATH"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", APP, str(tmp_path / "app.sqlite")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    modules = {m.split(".")[0] for m in json.loads(result.stdout.strip().splitlines()[-1])}
    assert modules & {"openpyxl", "prometheus_client", "scapy", "dns"} == set()
