"""A wheel built from the tree installs into a fresh venv and works there on its own.

The editable install the suite runs on serves everything from the checkout, so it cannot see
what a wheel leaves out (a package missing from setup.py's discovery, the migrations, the
front-end assets). These tests build the wheel as a user would, install it with its
dependencies into a new venv, and run it from a directory outside the checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.conftest import require

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "netstats" / "static" / "vendor"
ASSETS_STAMP = VENDOR / ".built"
BOOTSTRAP_CSS = "/static/vendor/bootstrap/bootstrap.min.css"
CHART_JS = "/static/vendor/chart.js/chart.umd.min.js"


def _run(args: list[str | Path], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=600, **kwargs
    )


def _build_wheel(source: Path, out: Path) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, source])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    require(ASSETS_STAMP.exists(), "the front-end assets are not built: run `make assets`")
    out = tmp_path_factory.mktemp("wheel")
    built = _build_wheel(ROOT, out)
    assert built.returncode == 0, built.stderr
    (path,) = out.glob("netstats-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel and its dependencies (from the package index or pip's cache)."""
    venv = tmp_path_factory.mktemp("venv")
    created = _run([sys.executable, "-m", "venv", venv])
    assert created.returncode == 0, created.stderr
    pip = _run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--prefer-binary", wheel])
    assert pip.returncode == 0, pip.stderr
    return venv


@pytest.fixture
def outside(tmp_path) -> dict:
    """Environment and working directory of a user of the installed package: no checkout."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("NETSTATS_") and k != "PYTHONPATH"
    }
    env["NETSTATS_INSTANCE_PATH"] = str(tmp_path / "instance")
    home = tmp_path / "home"
    home.mkdir()
    return {"env": env, "cwd": home}


def _tree_files(top: Path, pattern: str = "*") -> set[str]:
    return {
        p.relative_to(top).as_posix()
        for p in top.rglob(pattern)
        if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")
    }


def test_wheel_carries_every_module_migration_template_and_asset(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())

    def shipped(prefix: str) -> set[str]:
        return {n.removeprefix(prefix) for n in names if n.startswith(prefix)}

    # Exactly the tree's modules: none left out by discovery, none left over from a build.
    assert {n for n in shipped("netstats/") if n.endswith(".py")} == _tree_files(
        ROOT / "netstats", "*.py"
    )
    assert {n for n in shipped("netstats_plugins/") if n.endswith(".py")} == _tree_files(
        ROOT / "plugins", "*.py"
    )
    assert {"_dns/__init__.py", "_traceroute/__init__.py"} <= shipped("netstats_plugins/")

    migrations = shipped("netstats/migrations/")
    assert {"alembic.ini", "env.py", "script.py.mako"} <= migrations
    assert {n for n in migrations if n.startswith("versions/")} == {
        f"versions/{n}" for n in _tree_files(ROOT / "netstats/migrations/versions", "*.py")
    }
    assert shipped("netstats/templates/") == _tree_files(ROOT / "netstats/templates")
    assert "sample_config.yaml" in shipped("netstats/")

    vendor = shipped("netstats/static/vendor/")
    assert vendor == _tree_files(VENDOR)
    assert {
        "bootstrap/bootstrap.min.css",
        "bootstrap/bootstrap.bundle.min.js",
        "bootstrap-icons/bootstrap-icons.min.css",
        "bootstrap-icons/fonts/bootstrap-icons.woff2",
        "chart.js/chart.umd.min.js",
        "chartjs-adapter-date-fns/chartjs-adapter-date-fns.bundle.min.js",
        "chartjs-plugin-zoom/chartjs-plugin-zoom.min.js",
        "hammerjs/hammer.min.js",
    } <= vendor


def test_wheel_without_front_end_assets_is_refused(tmp_path):
    require(shutil.which("git") is not None, "git is needed to list the tree's files")
    listed = _run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT)
    assert listed.returncode == 0, listed.stderr
    clone = tmp_path / "clone"  # the tree as a fresh clone has it: no netstats/static/vendor
    for name in listed.stdout.splitlines():
        if (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    assert not (clone / "netstats/static/vendor").exists()

    built = _build_wheel(clone, tmp_path / "out")

    assert built.returncode != 0
    assert "front-end assets are not built" in built.stderr
    assert "make assets" in built.stderr
    assert not list((tmp_path / "out").glob("*.whl"))


def test_installed_wheel_migrates_and_serves_pages_with_their_assets(installed, outside):
    bin_dir = installed / "bin"
    where = _run([bin_dir / "python", "-c", "import netstats; print(netstats.__file__)"], **outside)
    package = Path(where.stdout.strip()).parent
    assert package.is_relative_to(installed), where.stdout + where.stderr

    upgrade = _run([bin_dir / "netstats", "db", "upgrade"], **outside)
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    assert "Running upgrade" in upgrade.stderr
    assert (Path(outside["env"]["NETSTATS_INSTANCE_PATH"]) / "netstats.sqlite").is_file()

    port = _free_port()
    log_path = outside["cwd"] / "up.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [bin_dir / "netstats", "up", "--host", "127.0.0.1", "--port", str(port), "--no-worker"],
            stdout=log,
            stderr=subprocess.STDOUT,
            **outside,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        status, login = _get_when_up(f"{base}/login", server, log_path)
        assert status == 200
        assert 'name="password"' in login.decode()
        linked = set(re.findall(r'(?:href|src)="(/static/vendor/[^"]+)"', login.decode()))
        assert BOOTSTRAP_CSS in linked
        for path in linked | {CHART_JS}:
            status, body = _get(f"{base}{path}")
            assert status == 200, path
            assert body == (package / path.removeprefix("/")).read_bytes(), path
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode == 0, log_path.read_text()
    assert "created user 'admin'" in log_path.read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (http://127.0.0.1 only)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _get_when_up(url: str, server: subprocess.Popen, log_path: Path) -> tuple[int, bytes]:
    deadline = time.monotonic() + 60
    while True:
        try:
            return _get(url)
        except urllib.error.URLError:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"netstats up did not serve {url}:\n{log_path.read_text()}")
            time.sleep(0.2)
