"""``/metrics`` in real processes: two ``netstats serve`` processes on one database, a real
``netstats worker`` pinging 127.0.0.1, and a real Prometheus server (Debian's
``prometheus``, on 127.0.0.1 only, its own config and data folder) scraping both.

The counters never go down, whichever process answers, across a restart of one of them,
and Prometheus itself sees no counter reset.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import require
from tests.test_serve import Instance, call, free_port


def start_serve(instance: Instance, port: int, name: str) -> subprocess.Popen:
    proc = instance.start(name, "serve", "--port", str(port), "--workers", "1")
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, instance.log(name)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1):
                return proc
        except OSError:
            assert time.monotonic() < deadline, instance.log(name)
            time.sleep(0.1)


def scrape(port: int, token: str) -> dict[tuple, float]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (loopback)
        text = answer.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def counters(found: dict[tuple, float]) -> dict[tuple, float]:
    return {k: v for k, v in found.items() if k[0].endswith("_total")}


def query(port: int, promql: str) -> list[dict]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=10) as answer:
        body = json.loads(answer.read())
    assert body["status"] == "success", body
    return body["data"]["result"]


@pytest.fixture
def instance(database_url, tmp_path):
    require(os.geteuid() == 0, "the worker's ping needs root (raw sockets) here")
    path = tmp_path / "instance"
    path.mkdir(exist_ok=True)
    (path / "plugins").mkdir()
    instance = Instance(database_url, path, METRICS_CACHE_S="0")
    instance.run("users", "create", "admin", "--admin", "--password-stdin", stdin="long enough pw")
    instance.token = instance.run("tokens", "create", "admin", "--scope", "write").strip()
    instance.reader = instance.run("tokens", "create", "admin", "--scope", "read").strip()
    yield instance
    instance.stop_all()


def test_two_web_processes_a_restart_and_a_real_prometheus_see_counters_only_grow(
    instance, tmp_path
):
    prometheus = shutil.which("prometheus")
    require(prometheus is not None, "prometheus not installed (Debian package prometheus)")
    ports = [free_port(), free_port()]
    servers = [start_serve(instance, port, f"serve{i}") for i, port in enumerate(ports)]
    dest = call(instance, ports[0], "POST", "/destinations", {"name": "lo", "host": "127.0.0.1"})
    call(
        instance,
        ports[0],
        "POST",
        "/jobs",
        {
            "name": "loopback",
            "collector": "ping",
            "interval_s": 1,
            "params": {"count": 3, "interval": 0.01, "timeout": 0.5},
            "destinations": [dest["id"]],
        },
    )
    instance.start("worker", "worker", "--threads", "2")

    # A real Prometheus scraping both processes every second, with the read token.
    prom_port = free_port()
    (tmp_path / "token").write_text(instance.reader)
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: netstats\n"
        f"    authorization: {{credentials_file: {tmp_path / 'token'}}}\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{ports[0]}', '127.0.0.1:{ports[1]}']}}]\n"
    )
    prom_log = (tmp_path / "prometheus.log").open("w")
    prom = subprocess.Popen(
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=prom_log,
        stderr=subprocess.STDOUT,
    )
    instance.procs.append(prom)

    sent = (
        "netstats_probes_sent_total",
        (("collector", "ping"), ("destination", "lo"), ("netstats_job", "loopback")),
    )
    seen: list[dict[tuple, float]] = []

    def take(port: int) -> None:
        now = counters(scrape(port, instance.reader))
        if seen:
            for key, value in seen[-1].items():
                assert now.get(key, 0) >= value, (key, value, now.get(key), port)
        seen.append(now)

    deadline = time.monotonic() + 60
    while not seen or seen[-1].get(sent, 0) < 6:  # two rounds at least
        assert time.monotonic() < deadline, instance.log("worker")
        take(ports[len(seen) % 2])  # each process in turn
        time.sleep(0.2)
    for i in range(10):
        take(ports[i % 2])
        time.sleep(0.2)

    # One web process restarts on its port; what it says next is no less than before.
    servers[0].terminate()
    assert servers[0].wait(30) == 0
    before = seen[-1][sent]
    servers[0] = start_serve(instance, ports[0], "serve0-again")
    for i in range(6):
        take(ports[i % 2])
        time.sleep(0.2)
    assert seen[-1][sent] > before

    # Prometheus scraped both all along; it saw no counter go back, and both agree.
    deadline = time.monotonic() + 30
    while True:
        up = query(prom_port, "up")
        per_target = query(prom_port, f"count_over_time({sent[0]}[1m])")
        if (
            len(up) == 2
            and len(per_target) == 2
            and all(float(r["value"][1]) >= 5 for r in per_target)
        ):
            break
        assert time.monotonic() < deadline, (tmp_path / "prometheus.log").read_text()[-3000:]
        time.sleep(0.5)
    assert {r["metric"]["instance"] for r in up} == {f"127.0.0.1:{p}" for p in ports}
    assert all(r["metric"]["job"] == "netstats" for r in query(prom_port, sent[0]))
    resets = query(prom_port, f"resets({sent[0]}[5m])") + query(
        prom_port, 'resets(netstats_runs_total{status="ok"}[5m])'
    )
    assert resets and all(float(r["value"][1]) == 0 for r in resets)
    # Loss over a window from the two counters, as docs/prometheus.md shows: nothing lost on
    # the loopback.
    loss = query(
        prom_port,
        "1 - rate(netstats_probes_received_total[30s]) / rate(netstats_probes_sent_total[30s])",
    )
    assert loss and all(float(r["value"][1]) == 0 for r in loss)
    for name in ("serve0", "serve1", "serve0-again", "worker"):
        assert "Traceback" not in instance.log(name)
