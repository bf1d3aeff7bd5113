"""Browser tests: Debian's Chromium driven by Playwright against a live server and worker.

The session starts a real ``netstats serve`` (the production web server: gunicorn with a
gevent worker) and a real ``netstats worker`` as processes on a temporary instance (a copy
of the migrated SQLite template, SqliteHuey in the same folder), with an admin and a viewer
account; a test may restart either (``live.stop``, ``live.start``). Every page a test
opens is watched: a console error, an uncaught script error, or a request to anything but
the live server (aborted by route interception) fails the test. Screenshots go to
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import require

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NETSTATS = str(Path(sys.executable).with_name("netstats"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct horse battery"
VENDOR = Path(__file__).resolve().parents[2] / "netstats" / "static" / "vendor"


@dataclass
class Live:
    """The live server's address, its instance, and how to reach its database."""

    url: str
    instance: Path
    env: dict[str, str]
    logs: list[Path] = field(default_factory=list)
    token: str = ""
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str) -> None:
        """Start the web server ("server") or the worker ("worker")."""
        port = self.url.rsplit(":", 1)[1]
        args = {
            "server": ["serve", "--host", "127.0.0.1", "--port", port, "--workers", "1"],
            "worker": ["worker", "--threads", "2"],
        }[name]
        log = self.instance / f"{name}.log"
        if log not in self.logs:
            self.logs.append(log)
        with log.open("a") as out:
            self.procs[name] = subprocess.Popen(
                [NETSTATS, *args], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        if name == "server":
            _wait_until_up(self.url, self.procs[name], log)

    def stop(self, name: str) -> None:
        """Stop the web server or the worker as a service manager would (SIGTERM)."""
        _stop(self.procs.pop(name))

    def netstats(self, *args: str, stdin: str | None = None) -> str:
        """Run a ``netstats`` command on the live instance; its output."""
        result = subprocess.run(
            [NETSTATS, *args], env=self.env, input=stdin, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        """Call the live API as the admin (with a write token): for a test's own setup."""
        if not self.token:
            self.token = self.netstats("tokens", "create", "admin", "--scope", "write").strip()
        request = urllib.request.Request(  # noqa: S310 (the live server on 127.0.0.1)
            self.url + "/api/v1" + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return json.loads(answer.read() or b"null")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the live server exited ({proc.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/api/v1/health", timeout=1) as answer:  # noqa: S310 (127.0.0.1)
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"the live server did not answer within {timeout} s:\n{log.read_text()}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def live(tmp_path_factory, sqlite_template) -> Iterator[Live]:
    """``netstats serve`` and ``netstats worker`` on a fresh instance, for the whole session."""
    instance = tmp_path_factory.mktemp("live-instance")
    shutil.copy(sqlite_template, instance / "netstats.sqlite")
    env = {**os.environ, "NETSTATS_INSTANCE_PATH": str(instance), "PYTHONUNBUFFERED": "1"}
    live = Live(f"http://127.0.0.1:{_free_port()}", instance, env)
    live.netstats("users", "create", "admin", "--admin", "--password-stdin", stdin=PASSWORD)
    live.netstats("users", "create", "viewer", "--password-stdin", stdin=PASSWORD)

    try:
        live.start("worker")
        live.start("server")
        yield live
    finally:
        for proc in live.procs.values():
            _stop(proc)


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, headless, through Playwright; never a downloaded browser."""
    require(Path(CHROMIUM).exists(), f"Chromium not installed at {CHROMIUM}")
    require((VENDOR / "bootstrap").is_dir(), "front-end assets not built: run make assets")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "Playwright for Python is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Guard:
    """Watches a page: console errors, script errors, and requests that leave the server."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.expected: list[re.Pattern] = []

    def expect_console_error(self, pattern: str) -> None:
        """Tolerate one kind of console error the test provokes (a 422 answer, say)."""
        self.expected.append(re.compile(pattern))

    def route(self, route) -> None:
        url = route.request.url
        if url.startswith(self.base_url + "/") or url.startswith("data:"):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def console(self, message) -> None:
        if message.type == "error" and not any(p.search(message.text) for p in self.expected):
            self.errors.append(f"console: {message.text} at {message.location.get('url')}")

    def page_error(self, error) -> None:
        self.errors.append(f"script error: {error}")

    def check(self) -> None:
        assert self.outside == [], "requests that left the live server"
        assert self.errors == [], "errors in the browser console"


class Browser:
    """A logged-in (or not) browser tab on the live server, with its guard."""

    def __init__(self, page, guard: Guard, live: Live):
        self.page, self.guard, self.live = page, guard, live

    def url(self, path: str) -> str:
        return self.live.url + path

    def visit(self, path: str):
        """Open a page and check that it rendered cleanly (later errors fail at teardown)."""
        response = self.page.goto(self.url(path), wait_until="load")
        self.guard.check()
        return response

    def login(self, name: str = "admin", password: str = PASSWORD) -> None:
        self.visit("/login")
        self.page.get_by_label("User name").fill(name)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(self.url("/"))
        self.guard.check()

    def shoot(self, name: str) -> None:
        """Screenshots at desktop and phone width; the phone view must not scroll sideways."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            self.page.set_viewport_size(size)
            self.page.wait_for_timeout(100)
            overflow = self.page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {label} width"
            self.page.screenshot(path=SCREENSHOTS / f"{name}-{label}.png", full_page=True)
        self.page.set_viewport_size(DESKTOP)


@pytest.fixture
def browser(chromium, live) -> Iterator[Browser]:
    """A fresh browser context (no cookies) on the live server, checked at the end."""
    guard = Guard(live.url)
    context = chromium.new_context(viewport=DESKTOP)
    context.route("**/*", guard.route)
    page = context.new_page()
    page.on("console", guard.console)
    page.on("pageerror", guard.page_error)
    page.set_default_timeout(10_000)
    yield Browser(page, guard, live)
    try:
        guard.check()
    finally:
        context.close()
