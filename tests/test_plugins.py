"""The plugin framework: loading, isolation of broken plugins, listing, and the hook contract."""

from __future__ import annotations

import ast
import json
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from netstats import hookspecs
from netstats.plugins import build_plugins

HERE = Path(__file__).parent
TCP_PLUGIN = (HERE / "plugins" / "tcpconnect.py").read_text()


@pytest.fixture
def listening_port():
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def installed_distribution(tmp_path, monkeypatch):
    """Install the tcpconnect plugin as a distribution (netstats-tcpconnect 1.2) on sys.path."""
    site = tmp_path / "site"
    dist = site / "netstats_tcpconnect-1.2.dist-info"
    dist.mkdir(parents=True)
    (site / "netstats_tcpconnect.py").write_text(TCP_PLUGIN)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: netstats-tcpconnect\nVersion: 1.2\n"
    )
    (dist / "entry_points.txt").write_text("[netstats]\ntcpconnect = netstats_tcpconnect\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", str(site))
    yield site
    sys.modules.pop("netstats_tcpconnect", None)


def write_plugin(directory: Path, name: str, source: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.py").write_text(textwrap.dedent(source))


def test_an_installed_distribution_is_loaded_through_the_entry_point_group(
    installed_distribution, listening_port
):
    plugins = build_plugins(None)
    collector = plugins.collectors["tcpconnect"]
    assert plugins.collector_source("tcpconnect") == "netstats-tcpconnect 1.2"
    from netstats.collectors import Target

    [result] = collector.collect(
        [Target("127.0.0.1")], collector.params().load({"port": listening_port})
    )
    assert result.status == "ok" and result.metrics["failed_pct"] == 0.0
    assert len(result.distributions["connect_ms"]) == 3
    assert result.metrics["connect_avg_ms"] == pytest.approx(
        sum(result.distributions["connect_ms"]) / 3
    )


def test_the_probe_command_runs_an_installed_plugin_like_a_built_in(
    installed_distribution, listening_port, tmp_path
):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "netstats",
            "probe",
            "tcpconnect",
            "127.0.0.1",
            "--param",
            f"port={listening_port}",
            "--json",
        ],
        capture_output=True,
        text=True,
        env={**_env(tmp_path), "PYTHONPATH": str(installed_distribution)},
    )
    assert result.returncode == 0, result.stderr
    measurement = json.loads(result.stdout)
    assert measurement["collector"] == "tcpconnect" and measurement["address"] == "127.0.0.1"
    assert measurement["status"] == "ok"


def test_probe_rejects_bad_parameters_naming_them(installed_distribution, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "netstats", "probe", "tcpconnect", "127.0.0.1", "--param", "port=0"],
        capture_output=True,
        text=True,
        env={**_env(tmp_path), "PYTHONPATH": str(installed_distribution)},
    )
    assert result.returncode == 2 and "port" in result.stderr


def _env(tmp_path) -> dict:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("NETSTATS_")}
    env["NETSTATS_INSTANCE_PATH"] = str(tmp_path / "instance")
    return env


def test_a_one_file_plugin_in_the_plugins_directory_is_loaded(tmp_path):
    write_plugin(tmp_path / "plugins", "tcpconnect", TCP_PLUGIN)
    plugins = build_plugins(str(tmp_path / "plugins"))
    assert "tcpconnect" in plugins.collectors
    assert plugins.collector_source("tcpconnect").endswith("tcpconnect.py")


HOOK = "from netstats import hookimpl\n@hookimpl\n"
BROKEN = {
    "import_error": ("import no_such_module_anywhere\n", "cannot import"),
    "syntax_error": ("def broken(:\n", "cannot import"),
    "hook_raises": (
        HOOK + "def netstats_collectors():\n    raise RuntimeError('boom')\n",
        "boom",
    ),
    "returns_garbage": (
        HOOK + "def netstats_collectors():\n    return ['not a collector']\n",
        "not a Collector",
    ),
    "misspelled_hook": (
        HOOK + "def netstats_colectors():\n    return []\n",
        "netstats_colectors",
    ),
    "wrong_arguments": (
        HOOK + "def netstats_collectors(nonsense):\n    return []\n",
        "nonsense",
    ),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_broken_plugin_is_reported_and_the_others_still_work(tmp_path, case):
    source, message = BROKEN[case]
    write_plugin(tmp_path / "plugins", "tcpconnect", TCP_PLUGIN)
    write_plugin(tmp_path / "plugins", f"bad_{case}", source)
    plugins = build_plugins(str(tmp_path / "plugins"))
    assert "tcpconnect" in plugins.collectors
    assert any(message in e.message for e in plugins.errors), plugins.errors


def test_two_plugins_claiming_one_collector_name_keep_the_first(tmp_path):
    write_plugin(tmp_path / "plugins", "a_tcp", TCP_PLUGIN)
    write_plugin(tmp_path / "plugins", "b_tcp", TCP_PLUGIN)
    plugins = build_plugins(str(tmp_path / "plugins"))
    assert plugins.collector_source("tcpconnect").endswith("a_tcp.py")
    assert any("already provided" in e.message for e in plugins.errors)


def test_a_broken_plugin_does_not_take_the_app_down(app, client, api, instance_path):
    write_plugin(instance_path / "plugins", "bad", "raise SystemError('plugin crash')\n")
    from netstats.app import create_app

    fresh = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": app.config["DATABASE_URL"],
            "PLUGINS_DIR": str(instance_path / "plugins"),
        }
    )
    body = fresh.test_client().get("/api/v1/collectors", headers=api.headers).json
    assert any("plugin crash" in e["message"] for e in body["errors"])


def test_plugins_command_lists_source_parameters_metrics_and_broken_plugins(tmp_path):
    write_plugin(tmp_path / "plugins", "tcpconnect", TCP_PLUGIN)
    write_plugin(tmp_path / "plugins", "bad", "import no_such_module_anywhere\n")
    env = {**_env(tmp_path), "NETSTATS_PLUGINS_DIR": str(tmp_path / "plugins")}
    result = subprocess.run(
        [sys.executable, "-m", "netstats", "plugins"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "tcpconnect: TCP connect time" in result.stdout
    assert "port: integer" in result.stdout and "connect_ms [ms]" in result.stdout
    assert "BROKEN plugin bad" in result.stderr


def test_collectors_endpoint_gives_parameters_as_json_schema(app, api, instance_path):
    write_plugin(instance_path / "plugins", "tcpconnect", TCP_PLUGIN)
    from netstats.app import create_app

    fresh = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": app.config["DATABASE_URL"],
            "PLUGINS_DIR": str(instance_path / "plugins"),
        }
    )
    client = fresh.test_client()
    one = client.get("/api/v1/collectors/tcpconnect", headers=api.headers).json
    assert one["params"]["properties"]["port"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 65535,
    }
    assert one["params"]["required"] == ["port"]
    assert one["params"]["properties"]["timeout"]["default"] == 1.0
    assert one["metrics"][:2] == [
        {
            "name": "connect_ms",
            "unit": "ms",
            "description": "Time to complete each TCP handshake.",
            "kind": "distribution",
        },
        {
            "name": "connect_avg_ms",
            "unit": "ms",
            "description": "Mean handshake time.",
            "kind": "gauge",
        },
    ]
    listing = client.get("/api/v1/collectors", headers=api.headers).json
    assert "tcpconnect" in [c["name"] for c in listing["items"]]
    assert client.get("/api/v1/collectors/nope", headers=api.headers).status_code == 404


def test_trace_plugins_prints_every_hook_call(tmp_path):
    write_plugin(tmp_path / "plugins", "tcpconnect", TCP_PLUGIN)
    env = {
        **_env(tmp_path),
        "NETSTATS_PLUGINS_DIR": str(tmp_path / "plugins"),
        "NETSTATS_TRACE_PLUGINS": "true",
    }
    result = subprocess.run(
        [sys.executable, "-m", "netstats", "plugins"], capture_output=True, text=True, env=env
    )
    assert "hook netstats_collectors" in result.stderr
    assert "returned" in result.stderr


# --- what loading the plugins costs ----------------------------------------------------------

HEAVY = ("scapy", "dns", "sqlalchemy", "alembic", "flask")
ENGINES = (
    "netstats_plugins._ping.engine",
    "netstats_plugins._traceroute.engine",
    "netstats_plugins._dns.probe",
)
IMPORTS_REPORT = """
import json, socket, sys
from netstats.collectors import CollectorError, Target
from netstats.plugins import build_plugins

def loaded():
    tops = {m.split(".")[0] for m in sys.modules}
    return sorted(tops & set(HEAVY)) + sorted(set(ENGINES) & set(sys.modules))

plugins = build_plugins(None)
report = {"errors": [e.message for e in plugins.errors], "built": loaded()}
for name, raw in RUNS:
    collector = plugins.collectors[name]
    try:
        [m] = collector.collect([Target("127.0.0.1")], collector.params().load(raw))
        status = m.status
    except CollectorError as exc:  # no raw sockets here: the engine was loaded all the same
        status = str(exc)
    report[name] = {"status": status, "loaded": loaded()}
print(json.dumps(report))
"""


def test_building_the_plugins_loads_no_engine_and_a_collect_loads_only_its_own():
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a DNS server that never answers
    silent.bind(("127.0.0.1", 0))
    runs = [
        ("ping", {"count": 1, "timeout": 0.5}),
        ("dns", {"name": "lab.test", "port": silent.getsockname()[1], "count": 1, "timeout": 0.1}),
        ("traceroute", {"method": "udp", "max_hops": 1, "timeout": 0.5}),
    ]
    script = f"HEAVY = {HEAVY!r}\nENGINES = {ENGINES!r}\nRUNS = {runs!r}\n" + IMPORTS_REPORT
    with silent:
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["errors"] == [] and report["built"] == []
    assert report["ping"]["loaded"] == ["netstats_plugins._ping.engine"]
    assert report["dns"]["loaded"] == [
        "dns",
        "netstats_plugins._dns.probe",
        "netstats_plugins._ping.engine",
    ]
    assert report["traceroute"]["loaded"] == ["dns", "scapy", *sorted(ENGINES)]
    assert report["dns"]["status"] == "timeout"


def test_two_plugins_with_misspelled_hooks_are_both_reported(tmp_path):
    write_plugin(tmp_path / "plugins", "tcpconnect", TCP_PLUGIN)
    for name in ("a_bad", "b_bad"):
        write_plugin(
            tmp_path / "plugins", name, HOOK + "def netstats_colectors():\n    return []\n"
        )
    plugins = build_plugins(str(tmp_path / "plugins"))
    reported = sorted(e.plugin for e in plugins.errors if "netstats_colectors" in e.message)
    assert reported == ["a_bad", "b_bad"]
    assert "tcpconnect" in plugins.collectors
    assert not {"a_bad", "b_bad"} & set(plugins.sources)


# --- the hook contract ---------------------------------------------------------------------


def test_hook_netstats_collectors(tmp_path):
    write_plugin(tmp_path / "plugins", "tcpconnect", TCP_PLUGIN)
    plugins = build_plugins(str(tmp_path / "plugins"))
    answers = dict(plugins.call_each("netstats_collectors"))
    [collector] = answers["tcpconnect"][0]
    assert collector.name == "tcpconnect"


HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("netstats_"))


def test_the_plugin_example_in_the_docs_is_the_plugin_the_tests_install():
    docs = (HERE.parent / "docs" / "plugins.md").read_text()
    example = docs.split("Example: a complete plugin")[1].split("```python\n")[1].split("```")[0]
    # The module docstrings differ (the file says what the tests do with it); the code may not.
    assert example.split('"""', 2)[2] == TCP_PLUGIN.split('"""', 2)[2]


def test_every_hook_has_a_test_named_after_it():
    tests = set()
    for path in HERE.rglob("test_*.py"):
        tests |= {
            n.name for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)
        }
    assert [h for h in HOOKS if f"test_hook_{h}" not in tests] == []


def test_every_hook_is_documented_with_an_example():
    docs = (HERE.parent / "docs" / "plugins.md").read_text()
    headings = set(re.findall(r"^### `(netstats_\w+)", docs, re.M))
    assert [h for h in HOOKS if h not in headings] == []
    for hook in HOOKS:
        section = docs.split(f"### `{hook}")[1].split("\n### ")[0]
        assert "```python" in section, f"{hook} has no example"
