"""``netstats serve`` as users run it: gunicorn with gevent workers, in real processes.

Streams over real sockets; a stop signal ends them cleanly (the last chunk of the body is
sent, the process exits at once, nothing is printed but log lines); a stream stays open
while the ``netstats worker`` behind it is restarted, and misses none of its runs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.sse import open_socket_stream
from tests.tcp_collector import SOURCE

NETSTATS = str(Path(sys.executable).with_name("netstats"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Instance:
    """An instance folder on the test's database, and the commands run on it."""

    def __init__(self, database_url: str, path: Path, **settings: str):
        self.path = path
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NETSTATS_")}
        self.env |= {
            "NETSTATS_INSTANCE_PATH": str(path),
            "NETSTATS_DATABASE_URL": database_url,
            "NETSTATS_PLUGINS_DIR": str(path / "plugins"),
            "NETSTATS_HUEY_NAME": f"serve-{path.name}",
            "PYTHONUNBUFFERED": "1",
            **{f"NETSTATS_{k}": v for k, v in settings.items()},
        }
        self.procs: list[subprocess.Popen] = []

    def run(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [NETSTATS, *args], env=self.env, input=stdin, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = (self.path / f"{name}.log").open("a")
        proc = subprocess.Popen(
            [NETSTATS, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.path / f"{name}.log").read_text()

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def instance(database_url, tmp_path):
    path = tmp_path / "instance"
    path.mkdir(exist_ok=True)
    (path / "plugins").mkdir()
    shutil.copy(SOURCE, path / "plugins" / "tcp_collector.py")
    instance = Instance(database_url, path, LIVE_KEEPALIVE_S="1")
    instance.run("users", "create", "admin", "--admin", "--password-stdin", stdin="long enough pw")
    instance.token = instance.run("tokens", "create", "admin", "--scope", "write").strip()
    yield instance
    instance.stop_all()


def serve(instance: Instance) -> int:
    port = free_port()
    proc = instance.start("serve", "serve", "--port", str(port), "--workers", "1")
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, instance.log("serve")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1):
                return port
        except OSError:
            assert time.monotonic() < deadline, instance.log("serve")
            time.sleep(0.1)


def call(instance: Instance, port: int, method: str, path: str, body: dict | None = None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {instance.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return json.loads(answer.read() or b"null")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_the_server_ends_its_streams_cleanly_and_at_once(instance, sig):
    port = serve(instance)
    auth = {"Authorization": f"Bearer {instance.token}"}
    streams = [open_socket_stream(port, "/events", auth, timeout=1) for _ in range(5)]
    for stream in streams:
        stream.reader.read_until(lambda r: len(r.frames) >= 1)
    server = instance.procs[-1]
    stopped_at = time.monotonic()
    server.send_signal(sig)
    for stream in streams:
        stream.reader.read_to_end(timeout=20)  # the zero-length last chunk: a clean end
        stream.close()
    assert server.wait(30) == 0
    # Well before gunicorn's graceful timeout (30 s), which open streams would wait out.
    assert time.monotonic() - stopped_at < 20
    log = instance.log("serve")
    assert "Traceback" not in log and "graceful timeout" not in log.lower()


def test_a_stream_stays_open_and_misses_no_run_while_the_worker_restarts(instance, tcp_server):
    port = serve(instance)
    dest = call(instance, port, "POST", "/destinations", {"name": "lo", "host": "127.0.0.1"})
    job = call(
        instance,
        port,
        "POST",
        "/jobs",
        {
            "name": "every-second",
            "collector": "tcp",
            "interval_s": 1,
            "params": {"port": tcp_server},
            "destinations": [dest["id"]],
        },
    )
    auth = {"Authorization": f"Bearer {instance.token}"}
    stream = open_socket_stream(port, f"/events?job={job['id']}&kind=run", auth)
    reader = stream.reader
    worker = instance.start("worker1", "worker", "--threads", "2")
    reader.read_until(lambda r: len(r.events) >= 3, timeout=60)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    before_restart = len(reader.events)
    instance.start("worker2", "worker", "--threads", "2")
    reader.read_until(lambda r: len(r.events) >= before_restart + 3, timeout=60)
    assert not reader.ended
    call(instance, port, "POST", f"/jobs/{job['id']}/pause")

    ids = [f.id for f in reader.events]
    assert ids == sorted(set(ids))
    statuses = {f.data["status"] for f in reader.events}
    assert statuses <= {"succeeded", "skipped"} and "succeeded" in statuses
    # Every run the log holds for the job up to the last one seen came down the stream.
    logged = logged_run_events(instance, job["id"], ids[-1])
    assert [f.data["run_id"] for f in reader.events] == logged
    stream.close()


def test_probe_now_measures_in_a_process_of_its_own_beside_the_streams(instance, tcp_server):
    port = serve(instance)
    auth = {"Authorization": f"Bearer {instance.token}"}
    stream = open_socket_stream(port, "/events", auth)
    stream.reader.read_until(lambda r: len(r.frames) >= 1)
    dest = call(instance, port, "POST", "/destinations", {"name": "lo", "host": "127.0.0.1"})
    probed = call(
        instance,
        port,
        "POST",
        f"/destinations/{dest['id']}/probe",
        {"collector": "tcp", "params": {"port": tcp_server}},
    )
    measurement = probed["measurement"]
    assert measurement["status"] == "ok" and measurement["metrics"]["connect_ms"] > 0
    stream.reader.read_until(lambda r: len(r.events) >= 1)  # the stream went on meanwhile
    stream.close()


def logged_run_events(instance: Instance, job_id: int, upto: int) -> list[int]:
    import sqlalchemy as sa

    from netstats.config import normalize_database_url

    engine = sa.create_engine(normalize_database_url(instance.env["NETSTATS_DATABASE_URL"]))
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, kind, payload FROM events WHERE kind = 'run' AND id <= :upto"),
            {"upto": upto},
        ).all()
    engine.dispose()
    payloads = [
        (r.id, r.payload if isinstance(r.payload, dict) else json.loads(r.payload)) for r in rows
    ]
    return [p["run_id"] for _, p in sorted(payloads) if p["job_id"] == job_id]


@pytest.fixture
def tcp_server():
    server = socket.create_server(("127.0.0.1", 0), backlog=128)
    yield server.getsockname()[1]
    server.close()


def test_serve_reports_a_bad_setting_in_one_line_and_stops(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETSTATS_")}
    env |= {"NETSTATS_INSTANCE_PATH": str(tmp_path), "NETSTATS_HUEY_URL": "sqlite:///q.db"}
    result = subprocess.run(
        [NETSTATS, "serve", "--port", str(free_port()), "--workers", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "netstats: configuration: HUEY_URL (NETSTATS_HUEY_URL) must be a redis://" in output
    assert "Traceback" not in output


# --- chunked request bodies (issue 13 item 8) -----------------------------------------------


def send_chunked(port: int, token: str, path: str, body: bytes, chunk: int = 4096):
    """POST ``body`` with Transfer-Encoding: chunked over a raw socket: (status, JSON answer)."""
    head = (
        f"POST /api/v1{path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        # Send from a thread and read here: a server that answers 413 early and closes
        # resets the connection, and the answer must have been read by then.
        sender = threading.Thread(target=_send_chunks, args=(sock, head, body, chunk))
        sender.start()
        answer = b""
        try:
            while part := sock.recv(65536):
                answer += part
        except ConnectionResetError:
            assert answer, "reset before any answer"
        sender.join(30)
    head, _, payload = answer.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    if b"chunked" in head.lower():
        payload = _dechunk(payload)
    return status, json.loads(payload or b"null")


def _send_chunks(sock: socket.socket, head: bytes, body: bytes, chunk: int) -> None:
    try:
        sock.sendall(head)
        for i in range(0, len(body), chunk):
            part = body[i : i + chunk]
            sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        sock.sendall(b"0\r\n\r\n")
        # The development server reads on after its answer until the client stops sending.
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the server answered before reading it all (413) and closed


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size, _, rest = data.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        out, data = out + rest[:n], rest[n + 2 :]
    return out


@pytest.fixture
def dev_server(app):
    """The werkzeug development server (``flask run``) on the test's app, in a thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(10)


def _chunked_cases(port: int, token: str) -> None:
    status, answer = send_chunked(port, token, "/destinations", b" " * (2 << 20) + b"{}")
    assert (status, answer["error"]["code"]) == (413, "too_large"), answer
    body = json.dumps({"name": "chunked", "host": "127.0.0.1"}).encode()
    status, created = send_chunked(port, token, "/destinations", body, chunk=7)
    assert status == 201, created
    probe = json.dumps({"collector": "nope"}).encode()
    status, answer = send_chunked(port, token, f"/destinations/{created['id']}/probe", probe)
    assert status == 422 and "collector" in answer["error"]["fields"], answer


def test_chunked_bodies_on_the_development_server(app, api, dev_server):
    _chunked_cases(dev_server, api.headers["Authorization"].split()[1])


def test_chunked_bodies_under_netstats_serve(instance):
    _chunked_cases(serve(instance), instance.token)
