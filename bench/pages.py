"""Pages benchmark: a destination page with a year of 1-minute ping data, in a real browser.

Builds its own instance (SQLite, in a temporary folder) with bench/series.py's data builders:
one ping destination with a year of 1-minute rounds of 5 probes (``rtt_ms``, ``sent``,
``received``, ``jitter_ms``, ``rtt_avg_ms``), bulk-loaded into ``samples`` and rolled up by
the first rollup pass. Then starts ``netstats serve`` on 127.0.0.1 and measures with
Playwright and Debian's Chromium, per range of the page's picker (1 y, 30 d, 24 h), median of
--repeat navigations:

- navigation to the first chart drawn: the page's ``netstats:first-chart`` performance mark
  (set by static/js/charts/smoke.js when the smoke chart has drawn), from navigation start;
- the series request as the browser saw it (request start to response end) and the bytes of
  its JSON (decoded body size);
- the server-side time of that same request, through Flask's test client in this process
  (median of 5), beside the read function alone;
- the chart's render time (Chart.js draw of the first answer), and a redraw of it.

The job analytics page (charts part B, 100 destinations over 30 days) is measured when the
app has that page (the endpoint ``web.analytics.page``, branch charts-b): see the hook
``analytics_figures``. Otherwise it says so, and its figure is null. Prints every figure
and ends with one JSON line. Asserts nothing. The machine is shared: a figure near its
goal needs a second run.

    .venv/bin/python bench/pages.py [--year-days 365] [--repeat 3] [--dests 100]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NETSTATS = str(Path(sys.executable).with_name("netstats"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
PASSWORD = "bench pages password"  # noqa: S105 (a throwaway instance)
RANGES = {"1y": 31_536_000, "30d": 2_592_000, "24h": 86_400}
ANALYTICS_ENDPOINT = "web.analytics.page"  # charts part B: /jobs/<id>/analytics
GOALS = {
    "first_chart_ms": ("<=", 1000),
    "render_ms": ("<", 50),
    "analytics_first_chart_ms": ("<=", 1000),
}


def log(message: str) -> None:
    print(message, flush=True)


def series_bench():
    """bench/series.py as a module: its instance and data builders."""
    spec = importlib.util.spec_from_file_location("bench_series", ROOT / "bench" / "series.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build(args, instance: Path) -> dict:
    """The instance: a year for one destination (and args.dests more with 30 days when the
    analytics page exists), rolled up; an admin account."""
    from netstats.auth import create_user
    from netstats.db import db
    from netstats.engine.rollups import rollup_pass
    from netstats.engine.storage import timestamp_us

    bench = series_bench()
    app = bench.build_app(f"sqlite:///{instance / 'netstats.sqlite'}", instance)
    has_analytics = ANALYTICS_ENDPOINT in {rule.endpoint for rule in app.url_map.iter_rules()}
    dests = args.dests if has_analytics else 0
    with app.app_context():
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        job_id, ids = bench.create_destinations(dests + 1)
        loaded = bench.load_history(args, job_id, ids, timestamp_us(now))
        begun = time.perf_counter()
        rollup_pass(now + timedelta(minutes=1))
        log(f"  rollup pass: {time.perf_counter() - begun:.1f} s")
        create_user("admin", PASSWORD, admin=True)
        db.session.commit()
        series_id = loaded["series"][ids[0]]["rtt_ms"]
    return {
        "app": app,
        "job": job_id,
        "destination": ids[0],
        "series": series_id,
        "samples": loaded["samples"],
        "has_analytics": has_analytics,
    }


def start_server(instance: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "NETSTATS_INSTANCE_PATH": str(instance)}
    log_file = (instance / "server.log").open("w")
    proc = subprocess.Popen(
        [NETSTATS, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env, stdout=log_file, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited:\n{(instance / 'server.log').read_text()}")
        try:
            url = f"http://127.0.0.1:{port}/api/v1/health"
            with urllib.request.urlopen(url, timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not answer within 30 s")


def navigate(page, url: str, ready: str) -> dict:
    """Open url, wait for ready (a selector), and read the page's own timings."""
    page.goto("about:blank")  # a new document each time, not a same-page hash change
    page.goto(url, wait_until="commit")
    page.wait_for_selector(ready, timeout=30_000)
    return page.evaluate(
        """() => {
          const mark = performance.getEntriesByName("netstats:first-chart")[0];
          const api = performance.getEntriesByType("resource")
            .filter((e) => e.name.includes("/api/v1/series/data?"));
          const first = api[0];
          const chart = (window.netstats.charts ?? [])[0];
          const nav = performance.getEntriesByType("navigation")[0];
          return {
            html_ms: nav ? nav.responseEnd : null,
            dom_ready_ms: nav ? nav.domContentLoadedEventStart : null,
            request_start_ms: first ? first.startTime : null,
            first_chart_ms: mark ? mark.startTime : null,
            render_ms: mark ? mark.detail.renderMs : null,
            request_ms: first ? first.responseEnd - first.requestStart : null,
            json_bytes: first ? first.decodedBodySize : null,
            url: first ? first.name : null,
            resolution: chart?.answer?.resolution ?? null,
            buckets: chart?.answer?.series?.[0]?.t?.length ?? null,
          };
        }"""
    )


def redraw_ms(page) -> float:
    """Draw the chart's answer again (Chart.js update): its render time in ms."""
    return page.evaluate("() => { const c = netstats.charts[0]; c.draw(); return c.renderMs }")


def server_ms(app, path: str, repeat: int = 5) -> float:
    """Median ms of the API call through Flask's test client (after a warm-up)."""
    from netstats.auth import create_token
    from netstats.db import db
    from netstats.models import User

    with app.app_context():
        user = db.session.query(User).filter_by(name="admin").one()
        _, secret = create_token(user, "read", "bench")
        db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    client.get(path, headers=headers)
    times = []
    for _ in range(repeat):
        begun = time.perf_counter()
        answer = client.get(path, headers=headers)
        times.append((time.perf_counter() - begun) * 1000)
        assert answer.status_code == 200, answer.data[:300]
    return statistics.median(times)


def analytics_figures(page, base: str, built: dict, repeat: int) -> dict:
    """HOOK for the job analytics page of charts part B: 100 destinations over 30 days.

    Runs only when the app has the endpoint ANALYTICS_ENDPOINT (then ``build`` loaded the 100
    destinations). As charts-b's page stands: ``/jobs/<id>/analytics?range=30d``, its root
    gets ``data-loaded="true"`` and each chart canvas ``data-drawn`` (Date.now() when drawn):
    the first chart is the earliest of those, from navigation start. Adjust here if the
    page changes; charts-b's bench/analytics_page.py measures its server side.
    """
    if not built["has_analytics"]:
        log("  job analytics page: not in this app (charts part B), not measured")
        return {"analytics_first_chart_ms": None}
    url = f"{base}/jobs/{built['job']}/analytics?range=30d"
    times = []
    for _ in range(repeat + 1):
        page.goto("about:blank")
        page.goto(url, wait_until="commit")
        page.wait_for_selector("[data-loaded=true] canvas[data-drawn]", timeout=30_000)
        times.append(
            page.evaluate(
                """() => Math.min(...[...document.querySelectorAll("canvas[data-drawn]")]
                    .map((c) => Number(c.dataset.drawn))) - performance.timeOrigin"""
            )
        )
    ms = statistics.median(times[1:])  # the first is a warm-up
    log(f"  job analytics page, {built['job']}: first chart {ms:.0f} ms (goal <= 1000)")
    return {"analytics_first_chart_ms": round(ms)}


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year-days", type=int, default=365)
    parser.add_argument("--dest-days", type=int, default=30)
    parser.add_argument("--dests", type=int, default=100, help="for the job analytics page")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for key in [k for k in os.environ if k.startswith("NETSTATS_") and "TEST" not in k]:
        del os.environ[key]
    from playwright.sync_api import sync_playwright

    load = os.getloadavg()
    log(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    instance = Path(tempfile.mkdtemp(prefix="netstats-bench-pages-"))
    server = None
    figures: dict = {}
    try:
        built = build(args, instance)
        figures["samples"] = built["samples"]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(instance, port)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            # Nothing but the bench's own server.
            context.route(
                "**/*",
                lambda r: r.continue_() if r.request.url.startswith(base) else r.abort(),
            )
            page = context.new_page()
            page.goto(f"{base}/login")
            page.get_by_label("User name").fill("admin")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{base}/")
            ranges = {}
            for name, seconds in RANGES.items():
                url = f"{base}/destinations/{built['destination']}#range={seconds}"
                navigate(page, url, "[data-smoke-chart][data-state=drawn]")  # warm-up
                runs = [
                    navigate(page, url, "[data-smoke-chart][data-state=drawn]")
                    for _ in range(args.repeat)
                ]
                redraw = statistics.median(redraw_ms(page) for _ in range(3))
                path = runs[-1]["url"].split(base, 1)[1]
                fig = {
                    "first_chart_ms": round(statistics.median(r["first_chart_ms"] for r in runs)),
                    "render_ms": round(statistics.median(r["render_ms"] for r in runs), 1),
                    "redraw_ms": round(redraw, 1),
                    "request_ms": round(statistics.median(r["request_ms"] for r in runs), 1),
                    "html_ms": round(statistics.median(r["html_ms"] for r in runs)),
                    "dom_ready_ms": round(statistics.median(r["dom_ready_ms"] for r in runs)),
                    "request_start_ms": round(
                        statistics.median(r["request_start_ms"] for r in runs)
                    ),
                    "server_ms": round(server_ms(built["app"], path), 1),
                    "json_bytes": runs[-1]["json_bytes"],
                    "resolution": runs[-1]["resolution"],
                    "buckets": runs[-1]["buckets"],
                }
                ranges[name] = fig
                log(
                    f"  destination page, {name}: first chart {fig['first_chart_ms']} ms "
                    f"(goal <= 1000), render {fig['render_ms']} ms (goal < 50; redraw "
                    f"{fig['redraw_ms']} ms); series request {fig['request_ms']} ms in the "
                    f"browser, {fig['server_ms']} ms server-side, {fig['json_bytes']:,} B of "
                    f"JSON, {fig['buckets']} buckets at {fig['resolution']}; page HTML "
                    f"{fig['html_ms']} ms, DOMContentLoaded {fig['dom_ready_ms']} ms, series "
                    f"request sent at {fig['request_start_ms']} ms"
                )
            figures["destination_page"] = ranges
            figures["first_chart_ms"] = ranges["1y"]["first_chart_ms"]
            figures["render_ms"] = max(r["render_ms"] for r in ranges.values())
            figures.update(analytics_figures(page, base, built, args.repeat))
            browser.close()
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            server.wait(15)
        shutil.rmtree(instance, ignore_errors=True)
    load = os.getloadavg()
    log(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    goals = {k: f"{o} {g}" for k, (o, g) in GOALS.items()}
    print(json.dumps({"bench": "pages", "goals": goals, "results": figures}))


if __name__ == "__main__":
    main()
