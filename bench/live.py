"""Live updates benchmark: 1000 open event streams on one `netstats serve` process.

For each wake-up channel (SQLite polled; PostgreSQL LISTEN/NOTIFY; Redis pub/sub beside
SQLite), on a throwaway instance: a real `netstats serve --workers 1` (gunicorn, gevent),
1000 streams held by an asyncio client in a process of its own, and a writer process that
commits run events through the real write path (`write_outcome`: the run's state,
measurement, samples and event in one transaction). Prints:

- the web process's RSS with 1000 streams open (goal <= 100 MB);
- GET /api/v1/health and GET /api/v1/destinations latency p50/p95 while they are open
  (goal p95 <= 50 ms);
- commit-to-client latency over every (event, stream) pair, p50/p99: from the moment the
  writer's commit returned to the moment the client read the event (goal p99 <= 0.5 s with
  LISTEN/NOTIFY or Redis, <= 1.5 s with the SQLite poll);
- a reconnect storm: all 1000 drop their connection and reconnect at once with their
  Last-Event-ID while events go on being written: missed and duplicated events (goal 0);
- the time SIGTERM takes to stop the server with 1000 streams open;

and, as the peer, gunicorn's threaded worker (`-k gthread --threads 16`, the old README
line, one process): how many of 100 streams it opens and whether a GET answers meanwhile.
Everything on 127.0.0.1. No assertions: figures; the last line is one JSON object.

    .venv/bin/python bench/live.py [--streams 1000] [--backends sqlite,postgres,redis]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NETSTATS = str(Path(sys.executable).with_name("netstats"))
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
PASSWORD = "bench password"  # noqa: S105 (a throwaway instance's account)
GOALS = {"rss_mb": 100, "request_p95_ms": 50, "listen_p99_s": 0.5, "poll_p99_s": 1.5}


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


# --- the stream client (a process of its own) ---------------------------------------------------


class StreamClient:
    """N streams over raw asyncio connections; per stream, every event id and when it came."""

    def __init__(self, port: int, token: str, count: int):
        self.port, self.token, self.count = port, token, count
        self.received: list[list[tuple[int, float]]] = [[] for _ in range(count)]
        self.tasks: list[asyncio.Task] = []
        self.opened = 0
        self.all_open = asyncio.Event()

    async def one(self, index: int, query: str, last_id: int | None) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            headers = [
                f"GET /api/v1/events{query} HTTP/1.1",
                f"Host: 127.0.0.1:{self.port}",
                f"Authorization: Bearer {self.token}",
            ]
            if last_id is not None:
                headers.append(f"Last-Event-ID: {last_id}")
            writer.write(("\r\n".join(headers) + "\r\n\r\n").encode())
            head = await reader.readuntil(b"\r\n\r\n")
            if b" 200 " not in head.split(b"\r\n", 1)[0]:
                raise RuntimeError(head.decode(errors="replace"))
            first = True
            buffer = b""
            record = self.received[index]
            while True:
                size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                if size == 0:
                    return
                chunk = (await reader.readexactly(size + 2))[:-2]
                now = time.time()
                if first:
                    first = False
                    self.opened += 1
                    if self.opened >= self.count:
                        self.all_open.set()
                buffer += chunk
                *frames, buffer = buffer.split(b"\n\n")
                for frame in frames:
                    if frame.startswith(b"id: "):
                        record.append((int(frame[4 : frame.index(b"\n")]), now))
        finally:
            writer.close()

    async def open_all(self, query: str, last_ids=None) -> float:
        self.opened = 0
        self.all_open.clear()
        started = time.monotonic()
        self.tasks = [
            asyncio.create_task(self.one(i, query, None if last_ids is None else last_ids[i]))
            for i in range(self.count)
        ]
        await asyncio.wait_for(self.all_open.wait(), 120)
        return time.monotonic() - started

    async def drop_all(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def last_ids(self) -> list[int | None]:
        return [r[-1][0] if r else None for r in self.received]

    def lagging(self, event_id: int) -> int:
        return sum(1 for r in self.received if not r or r[-1][0] < event_id)


async def client_main(port: int, token: str, count: int) -> None:
    """Commands on stdin, one per line; an answer line on stdout for each."""
    client = StreamClient(port, token, count)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    query = ""
    while line := (await stdin.readline()).decode().split():
        command, *rest = line
        if command == "open":
            query, after = f"?after={rest[0]}", int(rest[0])
            took = await client.open_all(query)
            print(f"opened {took:.3f}", flush=True)
        elif command == "storm":
            last = [x if x is not None else after for x in client.last_ids()]
            await client.drop_all()
            took = await client.open_all(query, last)
            print(f"reopened {took:.3f}", flush=True)
        elif command == "wait":
            target, deadline = int(rest[0]), time.monotonic() + float(rest[1])
            while client.lagging(target) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            print(f"lagging {client.lagging(target)}", flush=True)
        elif command == "dump":
            Path(rest[0]).write_text(json.dumps(client.received))
            print("dumped", flush=True)
        elif command == "quit":
            await client.drop_all()
            print("bye", flush=True)
            return


class ClientProcess:
    def __init__(self, port: int, token: str, count: int):
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--client", str(port), token, str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, command: str) -> list[str]:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().split()
        if not answer:
            raise RuntimeError(f"the stream client died on {command!r}")
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask("quit")
                self.proc.wait(30)
            except Exception:
                self.proc.kill()


# --- the writer (a process of its own) ------------------------------------------------------------


def writer_main(count: int, rate: float) -> None:
    """Commit ``count`` runs at ``rate`` per second through write_outcome; print each commit."""
    from netstats.app import create_app
    from netstats.collectors import Measurement
    from netstats.db import db, utcnow, write_transaction
    from netstats.destinations import create_destination
    from netstats.engine.storage import Outcome, RunRef, write_outcome
    from netstats.jobs import create_job
    from netstats.models import JobRun

    app = create_app()
    worker = f"bench-writer-{os.getpid()}"
    with app.app_context():
        with write_transaction():
            name = f"bench-{uuid.uuid4().hex[:6]}"
            dest = create_destination({"name": name, "host": "127.0.0.1"})
            job = create_job(
                {"name": name, "collector": "ping", "interval_s": 3600, "enabled": False}
            )
            dest_id, job_id = dest.id, job.id
        start = time.monotonic()
        for n in range(count):
            time.sleep(max(0.0, start + n / rate - time.monotonic()))
            now = utcnow()
            with write_transaction():
                run = JobRun(
                    job_id=job_id,
                    job_version=1,
                    scheduled_at=now,
                    trigger="manual",
                    status="running",
                    attempt=1,
                    worker=worker,
                    started_at=now,
                )
                db.session.add(run)
                db.session.flush()
                ref = RunRef(run.id, job_id, now)
            metrics = {"sent": 5, "received": 5, "loss_pct": 0.0, "rtt_avg_ms": 0.05 + n * 1e-4}
            measured = Measurement("ping", "127.0.0.1", "127.0.0.1", now, 1.0, "ok", None, metrics)
            write_outcome(
                ref, worker, Outcome("succeeded", measurements=[(dest_id, measured)]), utcnow()
            )
            print(json.dumps({"run_id": ref.id, "committed": time.time()}), flush=True)
        db.session.remove()


def run_writer(env: dict, count: int, rate: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, "--writer", str(count), str(rate)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def commits_of(proc: subprocess.Popen) -> dict[int, float]:
    out, _ = proc.communicate(timeout=600)
    return {d["run_id"]: d["committed"] for d in map(json.loads, out.splitlines())}


# --- one backend ----------------------------------------------------------------------------


class Backend:
    """A throwaway instance on one database and wake-up channel, and its server."""

    def __init__(self, name: str, database_url: str | None, huey_url: str | None):
        self.name = name
        self.instance = Path(tempfile.mkdtemp(prefix=f"netstats-live-{name}-"))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NETSTATS_")}
        self.env |= {"NETSTATS_INSTANCE_PATH": str(self.instance), "PYTHONPATH": str(ROOT)}
        self.schema = None
        if database_url:
            self.schema = f"bench_{uuid.uuid4().hex[:8]}"
            self.base_url = database_url
            self._admin(f'CREATE SCHEMA "{self.schema}"')
            sep = "&" if "?" in database_url else "?"
            self.env["NETSTATS_DATABASE_URL"] = (
                f"{database_url}{sep}options=-csearch_path%3D{self.schema}"
            )
        if huey_url:
            self.env["NETSTATS_HUEY_URL"] = huey_url
        self.env["NETSTATS_HUEY_NAME"] = f"bench-live-{uuid.uuid4().hex[:6]}"
        self.server: subprocess.Popen | None = None
        self.port = free_port()
        self.cli("db", "upgrade")
        self.cli("users", "create", "bench", "--admin", "--password-stdin", stdin=PASSWORD)
        self.token = self.cli("tokens", "create", "bench", "--scope", "write").strip()

    def _admin(self, sql: str) -> None:
        import sqlalchemy as sa

        from netstats.config import normalize_database_url

        engine = sa.create_engine(normalize_database_url(self.base_url))
        with engine.begin() as conn:
            conn.execute(sa.text(sql))
        engine.dispose()

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [NETSTATS, *args], env=self.env, input=stdin, capture_output=True, text=True
        )
        if done.returncode:
            raise RuntimeError(done.stdout + done.stderr)
        return done.stdout

    def start(self, command: list[str]) -> None:
        log = (self.instance / "server.log").open("a")
        self.server = subprocess.Popen(
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.request("GET", "/api/v1/health", timeout=1)
                return
            except OSError:
                if self.server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((self.instance / "server.log").read_text()) from None
                time.sleep(0.1)

    def serve(self) -> None:
        self.start([NETSTATS, "serve", "--port", str(self.port), "--workers", "1"])

    def request(self, method: str, path: str, body=None, timeout: float = 10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
            conn.request(method, path, None if body is None else json.dumps(body), headers)
            answer = conn.getresponse()
            return answer.status, answer.read()
        finally:
            conn.close()

    def latencies(self, path: str, count: int) -> list[float]:
        """``count`` sequential GETs on one keep-alive connection, in ms."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.token}"}
        took = []
        try:
            for _ in range(count):
                t0 = time.perf_counter()
                conn.request("GET", path, headers=headers)
                answer = conn.getresponse()
                answer.read()
                took.append((time.perf_counter() - t0) * 1000)
                if answer.status != 200:
                    raise RuntimeError(f"GET {path}: {answer.status}")
        finally:
            conn.close()
        return took

    def log_events(self) -> list[tuple[int, str, dict]]:
        import sqlalchemy as sa

        from netstats.config import normalize_database_url

        url = self.env.get("NETSTATS_DATABASE_URL") or f"sqlite:///{self.instance}/netstats.sqlite"
        engine = sa.create_engine(normalize_database_url(url))
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, kind, payload FROM events ORDER BY id")).all()
        engine.dispose()
        return [(r[0], r[1], r[2] if isinstance(r[2], dict) else json.loads(r[2])) for r in rows]

    def stop(self) -> float:
        if self.server is None or self.server.poll() is not None:
            return float("nan")
        started = time.monotonic()
        self.server.send_signal(signal.SIGTERM)
        try:
            self.server.wait(60)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
        return time.monotonic() - started

    def cleanup(self) -> None:
        self.stop()
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {self.instance}")
            return
        if self.schema:
            self._admin(f'DROP SCHEMA "{self.schema}" CASCADE')
        shutil.rmtree(self.instance, ignore_errors=True)


def measure_backend(backend: Backend, streams: int) -> dict:
    backend.serve()
    [worker_pid] = children(backend.server.pid)
    for i in range(20):
        backend.request("POST", "/api/v1/destinations", {"name": f"d{i}", "host": "127.0.0.1"})
    position = backend.log_events()[-1][0]
    figures: dict = {"rss_mb_idle": round(rss_mb(worker_pid), 1)}
    client = ClientProcess(backend.port, backend.token, streams)
    try:
        figures["open_s"] = float(client.ask(f"open {position}")[1])
        time.sleep(1)
        figures["rss_mb"] = round(rss_mb(worker_pid), 1)
        for name, path in (("health", "/api/v1/health"), ("destinations", "/api/v1/destinations")):
            took = backend.latencies(path, 200)
            figures[f"{name}_p50_ms"] = round(percentile(took, 50), 2)
            figures[f"{name}_p95_ms"] = round(percentile(took, 95), 2)

        # Commit-to-client latency: 60 runs at 3 a second, every stream listening.
        commits = commits_of(run_writer(backend.env, 60, 3.0))
        last = backend.log_events()[-1][0]
        figures["lagging_after_writes"] = int(client.ask(f"wait {last} 60")[1])
        dump = backend.instance / "received.json"
        client.ask(f"dump {dump}")
        received = json.loads(dump.read_text())
        run_of = {eid: p["run_id"] for eid, kind, p in backend.log_events() if kind == "run"}
        delays = [
            t - commits[run_of[eid]]
            for stream in received
            for eid, t in stream
            if eid in run_of and run_of[eid] in commits
        ]
        figures["deliveries"] = len(delays)
        # Per event: when its first stream got it (the wake-up) and its last (the fan-out).
        arrivals: dict[int, list[float]] = {}
        for stream in received:
            for eid, t in stream:
                if eid in run_of and run_of[eid] in commits:
                    arrivals.setdefault(eid, []).append(t - commits[run_of[eid]])
        figures["first_stream_p50_s"] = round(
            percentile([min(a) for a in arrivals.values()], 50), 4
        )
        figures["last_stream_p50_s"] = round(percentile([max(a) for a in arrivals.values()], 50), 4)
        figures["commit_to_client_p50_s"] = round(percentile(delays, 50), 4)
        figures["commit_to_client_p99_s"] = round(percentile(delays, 99), 4)
        figures["commit_to_client_max_s"] = round(max(delays), 4)

        # The reconnect storm, while 40 more runs are written at 4 a second.
        writer = run_writer(backend.env, 40, 4.0)
        time.sleep(3)
        figures["storm_reopen_s"] = float(client.ask("storm")[1])
        commits_of(writer)
        last = backend.log_events()[-1][0]
        figures["lagging_after_storm"] = int(client.ask(f"wait {last} 60")[1])
        figures["rss_mb_after_storm"] = round(rss_mb(worker_pid), 1)
        client.ask(f"dump {dump}")
        received = json.loads(dump.read_text())
        expected = [eid for eid, _, _ in backend.log_events() if eid > position]
        missed = duplicated = 0
        for stream in received:
            ids = [eid for eid, _ in stream]
            missed += len(set(expected) - set(ids))
            duplicated += len(ids) - len(set(ids))
        figures["storm_events"] = len(expected)
        figures["storm_missed"] = missed
        figures["storm_duplicated"] = duplicated
        figures["stop_with_streams_s"] = round(backend.stop(), 2)
    finally:
        client.close()
    return figures


def measure_gthread_peer(backend: Backend) -> dict:
    """The old README line: gunicorn -k gthread --threads 16, one process."""
    backend.start(
        [GUNICORN, "-k", "gthread", "--threads", "16", "-w", "1", "--no-control-socket",
         "-b", f"127.0.0.1:{backend.port}", "wsgi:app"]
    )  # fmt: skip
    socks, opened = [], 0
    try:
        for _ in range(100):
            sock = socket.create_connection(("127.0.0.1", backend.port), timeout=3)
            sock.sendall(
                (
                    f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n"
                    f"Authorization: Bearer {backend.token}\r\n\r\n"
                ).encode()
            )
            socks.append(sock)
        deadline = time.monotonic() + 5
        for sock in socks:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                if sock.recv(1024).startswith(b"HTTP/1.1 200"):
                    opened += 1
            except TimeoutError:
                pass
        try:
            took = backend.latencies("/api/v1/health", 1)
            health = f"{took[0]:.1f} ms"
        except OSError:
            health = "timed out (5 s)"
    finally:
        for sock in socks:
            sock.close()
        backend.stop()
    return {"gthread16_streams_opened_of_100": opened, "gthread16_health_meanwhile": health}


def verdict(value, goal, lower_is_better=True) -> str:
    if value is None:
        return "n/a"
    return "met" if (value <= goal if lower_is_better else value >= goal) else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--backends", default="sqlite,postgres,redis")
    parser.add_argument("--no-peer", action="store_true", help="skip the gthread peer")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "NETSTATS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1/test"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("NETSTATS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    results: dict = {"streams": args.streams, "load_start": os.getloadavg()}
    setups = {
        "sqlite": (None, None),
        "postgres": (args.database_url, None),
        "redis": (None, args.redis_url),
    }
    for name in args.backends.split(","):
        database_url, huey_url = setups[name]
        try:
            backend = Backend(name, database_url, huey_url)
        except Exception as exc:
            print(f"{name}: skipped ({str(exc).strip().splitlines()[-1]})", flush=True)
            continue
        try:
            figures = measure_backend(backend, args.streams)
            if name == "sqlite" and not args.no_peer:
                figures |= measure_gthread_peer(backend)
        finally:
            backend.cleanup()
        results[name] = figures
        goal_p99 = GOALS["poll_p99_s"] if name == "sqlite" else GOALS["listen_p99_s"]
        channel = {"sqlite": "poll", "postgres": "LISTEN/NOTIFY", "redis": "Redis pub/sub"}[name]
        print(f"\n{name} ({channel} wake-up):")
        print(f"  {args.streams} streams open in {figures['open_s']:.2f} s")
        print(
            f"  RSS of the web process: {figures['rss_mb']} MB with the streams "
            f"({figures['rss_mb_idle']} MB before, {figures['rss_mb_after_storm']} MB after the "
            f"storm)  goal <= {GOALS['rss_mb']} MB: {verdict(figures['rss_mb'], GOALS['rss_mb'])}"
        )
        for what in ("health", "destinations"):
            p95 = figures[f"{what}_p95_ms"]
            print(
                f"  GET /api/v1/{what}: p50 {figures[f'{what}_p50_ms']} ms, p95 {p95} ms  "
                f"goal p95 <= {GOALS['request_p95_ms']} ms: {verdict(p95, GOALS['request_p95_ms'])}"
            )
        p99 = figures["commit_to_client_p99_s"]
        print(
            f"  commit to client over {figures['deliveries']} deliveries: p50 "
            f"{figures['commit_to_client_p50_s']} s, p99 {p99} s, max "
            f"{figures['commit_to_client_max_s']} s  goal p99 <= {goal_p99} s: "
            f"{verdict(p99, goal_p99)}"
        )
        print(
            f"    per event, median: first stream after {figures['first_stream_p50_s']} s, "
            f"last after {figures['last_stream_p50_s']} s"
        )
        print(
            f"  reconnect storm: all reopened in {figures['storm_reopen_s']:.2f} s; over "
            f"{figures['storm_events']} events x {args.streams} streams: "
            f"{figures['storm_missed']} missed, {figures['storm_duplicated']} duplicated  "
            f"goal 0: {verdict(figures['storm_missed'] + figures['storm_duplicated'], 0)}"
        )
        print(f"  SIGTERM with the streams open: stopped in {figures['stop_with_streams_s']} s")
        if "gthread16_streams_opened_of_100" in figures:
            opened = figures["gthread16_streams_opened_of_100"]
            health = figures["gthread16_health_meanwhile"]
            print(
                f"  peer, gthread --threads 16: {opened} of 100 streams opened, "
                f"GET /health meanwhile: {health}"
            )
    results["load_end"] = os.getloadavg()
    print(f"\nload average at end: {results['load_end']}")
    print(json.dumps(results))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        asyncio.run(client_main(int(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
    elif len(sys.argv) > 1 and sys.argv[1] == "--writer":
        writer_main(int(sys.argv[2]), float(sys.argv[3]))
    else:
        main()
