"""GET /api/v1/events: the event log as a stream, resumed without loss, filtered, guarded.

The streams here are read over sockets from the app served by Werkzeug's threaded server
(a thread per stream), whose hub reads the log every 50 ms and whose keep-alive (and so the
re-check of the caller) comes every 0.3 s; changes are made through the test client. The
production server (gunicorn with gevent, SIGTERM, workers restarting) is in test_serve.py.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import delete, func, select

from netstats import live
from netstats.db import db, utcnow, write_transaction
from netstats.models import Event
from tests.sse import Reader, SocketStream, open_socket_stream
from tests.tcp_collector import register_tcp_collector


def _settings(database_url: str, instance_path, **extra) -> dict:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "PLUGINS_DIR": str(instance_path / "plugins"),
        "HUEY_NAME": f"live-{uuid.uuid4().hex[:8]}",
        "LIVE_POLL_S": 0.05,
        "LIVE_KEEPALIVE_S": 0.3,
        **extra,
    }


@pytest.fixture
def settings(request) -> dict:
    """Settings a test adds to the app's (given by an indirect parametrize)."""
    return getattr(request, "param", {})


@pytest.fixture
def app(database_url, instance_path, settings) -> Iterator:
    from netstats.app import create_app

    app = create_app(_settings(database_url, instance_path, **settings))
    yield app
    live.shutdown(app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def server(app) -> Iterator[int]:
    """The app on a threaded Werkzeug server on 127.0.0.1; its port."""
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_port
    live.shutdown(app)  # the streams end, and their threads with them
    httpd.shutdown()
    thread.join(10)


@pytest.fixture
def stream(server, api) -> Iterator[Callable[..., SocketStream]]:
    """Open a stream: ``stream("?after=3", headers={"Last-Event-ID": "5"}, auth=...)``; with
    the admin's token unless ``auth`` gives other headers."""
    opened: list[SocketStream] = []

    def open_stream(path: str = "", headers: dict | None = None, auth: dict | None = None):
        auth = api.headers if auth is None else auth
        opened.append(open_socket_stream(server, "/events" + path, {**auth, **(headers or {})}))
        return opened[-1]

    yield open_stream
    for one in opened:
        one.close()


def log_ids(app, kind: str | None = None) -> list[int]:
    with app.app_context():
        stmt = select(Event.id).order_by(Event.id)
        if kind:
            stmt = stmt.where(Event.kind == kind)
        ids = list(db.session.scalars(stmt))
        db.session.remove()
    return ids


def new_destination(api, name: str, **extra) -> dict:
    response = api.post("/destinations", json={"name": name, "host": "127.0.0.1", **extra})
    assert response.status_code == 201, response.json
    return response.json


def until_events(count: int):
    return lambda reader: len(reader.events) >= count


# --- the stream itself ------------------------------------------------------------------------


def test_a_stream_starts_at_once_then_sends_each_new_event_with_its_log_id(api, app, stream):
    opened = stream()
    assert opened.status == 200
    assert opened.headers["content-type"].startswith("text/event-stream")
    assert opened.headers["cache-control"] == "no-store"
    assert opened.headers["x-accel-buffering"] == "no"
    reader = opened.reader.read_until(lambda r: len(r.frames) >= 1)
    assert reader.frames[0].retry == 5000 and reader.frames[0].event is None
    assert reader.events == []

    made = new_destination(api, "first")
    reader.read_until(until_events(1))
    [frame] = reader.events
    assert frame.event == "destination"
    assert frame.id == log_ids(app)[-1]
    assert frame.data["action"] == "created" and frame.data["destination_id"] == made["id"]
    # Keep-alives are paced (0.3 s here): three of them take at least two periods.
    started = time.monotonic()
    reader.read_until(lambda r: r.comments.count("keepalive") >= 3)
    assert time.monotonic() - started >= 0.5


@pytest.mark.parametrize("how", ["header", "after", "header over after"])
def test_a_reconnecting_client_gets_every_missed_event_once_and_in_order(api, app, stream, how):
    for i in range(4):
        new_destination(api, f"d{i}")
    ids = log_ids(app)
    seen = ids[0]
    if how == "header":
        reader = stream(headers={"Last-Event-ID": str(seen)}).reader
    elif how == "after":
        reader = stream(f"?after={seen}").reader
    else:
        reader = stream("?after=0", headers={"Last-Event-ID": str(seen)}).reader
    reader.read_until(until_events(3))
    new_destination(api, "after-reconnect")
    reader.read_until(until_events(4))
    assert [f.id for f in reader.events] == [*ids[1:], log_ids(app)[-1]]
    reader.read_until(lambda r: r.comments.count("keepalive") >= 2)
    assert len(reader.events) == 4  # nothing twice


@pytest.mark.parametrize("settings", [{"LIVE_RING_EVENTS": 2}], indirect=True)
def test_resuming_from_before_the_hubs_memory_reads_the_log(api, app, stream):
    watcher = stream().reader.read_until(lambda r: len(r.frames) >= 1)  # the hub runs
    for i in range(6):
        new_destination(api, f"r{i}")
    watcher.read_until(until_events(6))
    ids = log_ids(app)
    assert live.get_hub(app).floor > ids[0]  # the first events are no longer in memory
    reader = stream(headers={"Last-Event-ID": str(ids[0])}).reader
    reader.read_until(until_events(5))
    assert [f.id for f in reader.events] == ids[1:]
    assert [f.data["name"] for f in reader.events] == [f"r{i}" for i in range(1, 6)]


def test_resuming_from_past_the_retention_gets_a_reset_then_goes_on(api, app, stream):
    for i in range(5):
        new_destination(api, f"old{i}")
    ids = log_ids(app)
    with app.app_context(), write_transaction():  # what retention does to the oldest events
        db.session.execute(delete(Event).where(Event.id <= ids[2]))
    reader = stream(headers={"Last-Event-ID": str(ids[0])}).reader
    reader.read_until(until_events(1))
    reset = reader.events[0]
    assert reset.event == "reset"
    assert reset.data == {"after": ids[0], "oldest": ids[3], "last": ids[-1]}
    assert reset.id == ids[-1]  # the client's Last-Event-ID moves past what it reloads
    new_destination(api, "new")
    reader.read_until(until_events(2))
    assert reader.events[1].data["name"] == "new"


def test_resuming_right_at_the_oldest_event_kept_needs_no_reset(api, app, stream):
    for i in range(4):
        new_destination(api, f"k{i}")
    ids = log_ids(app)
    with app.app_context(), write_transaction():
        db.session.execute(delete(Event).where(Event.id <= ids[1]))
    reader = stream(headers={"Last-Event-ID": str(ids[1])}).reader
    reader.read_until(until_events(2))
    assert [f.id for f in reader.events] == ids[2:]


def test_an_id_the_log_never_reached_gets_a_reset(api, app, stream):
    new_destination(api, "only")
    newest = log_ids(app)[-1]
    reader = stream(headers={"Last-Event-ID": str(newest + 1000)}).reader
    reader.read_until(until_events(1))
    assert reader.events[0].event == "reset"
    assert reader.events[0].id == newest
    new_destination(api, "next")
    reader.read_until(until_events(2))
    assert reader.events[1].data["name"] == "next"


def test_after_retention_emptied_the_log_ids_grow_on_and_resuming_is_a_reset(api, app, stream):
    new_destination(api, "gone")
    last = log_ids(app)[-1]
    with app.app_context(), write_transaction():
        db.session.execute(delete(Event))
    with app.app_context():
        assert live.current_position(app) == last  # the log's counter, not 0
        db.session.remove()
    reader = stream(headers={"Last-Event-ID": str(last - 1)}).reader
    reader.read_until(until_events(1))
    assert reader.events[0].event == "reset"
    new_destination(api, "back")
    reader.read_until(until_events(2))
    assert reader.events[1].id > last


def test_filters_by_job_destination_and_kind_add_up_and_combine(api, app, stream):
    a, b, c = (new_destination(api, n)["id"] for n in ("a", "b", "c"))
    stream().reader.read_until(lambda r: len(r.frames) >= 1)  # the hub follows from here
    position = live.current_position(app)

    def job(name, dests):
        body = {"name": name, "collector": "ping", "interval_s": 3600, "destinations": dests}
        response = api.post("/jobs", json={**body, "enabled": False})
        assert response.status_code == 201, response.json
        return response.json["id"]

    j1 = job("j1", [a])
    j2 = job("j2", [b, c])
    api.patch(f"/destinations/{a}", json={"description": "edited"})
    api.patch(f"/destinations/{b}", json={"description": "edited"})
    api.patch(f"/jobs/{j2}", json={"description": "x"})
    api.patch(f"/jobs/{j1}", json={"description": "x"})

    def seen(query: str, count: int) -> list[tuple]:
        reader = stream(f"?after={position}&{query}").reader
        reader.read_until(until_events(count))
        reader.read_until(lambda r: "keepalive" in r.comments)
        return [(f.event, f.data.get("job_id") or f.data["destination_id"]) for f in reader.events]

    assert seen(f"job={j2}", 2) == [("job", j2), ("job", j2)]
    assert seen(f"job={j1}&job={j2}", 4) == [("job", j1), ("job", j2), ("job", j2), ("job", j1)]
    assert seen(f"destination={a}", 3) == [("job", j1), ("destination", a), ("job", j1)]
    assert seen("kind=destination", 2) == [("destination", a), ("destination", b)]
    assert seen(f"kind=job&destination={c}", 2) == [("job", j2), ("job", j2)]
    assert seen(f"kind=job&kind=destination&destination={b}", 3) == [
        ("job", j2),
        ("destination", b),
        ("job", j2),
    ]


# --- who may listen ---------------------------------------------------------------------------


def test_a_stream_needs_a_token_or_a_login(app, client, stream):
    response = client.get("/api/v1/events")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    bad = client.get("/api/v1/events", headers={"Authorization": "Bearer nst_nope"})
    assert bad.status_code == 401

    from netstats.auth import create_user
    from tests.web.conftest import WebClient

    with app.app_context():
        create_user("viewer", "correct horse battery")
        db.session.commit()
    assert WebClient(client).login("viewer", "correct horse battery").status_code == 302
    cookie = client.get_cookie("session")
    opened = stream(auth={"Cookie": f"session={cookie.value}"})
    assert opened.status == 200
    opened.reader.read_until(lambda r: r.comments.count("keepalive") >= 2)


def test_a_revoked_tokens_stream_is_closed_at_its_next_keepalive(app, client, reader, stream):
    from netstats.auth import revoke_token
    from netstats.models import ApiToken, User

    events = stream(auth=reader.headers).reader
    events.read_until(lambda r: "keepalive" in r.comments)
    with app.app_context():
        viewers = select(ApiToken.id).join(User).where(User.name == "viewer")
        revoke_token(db.session.scalar(viewers))
        db.session.commit()
    events.read_to_end()
    assert events.comments[-1] == "access revoked"
    assert client.get("/api/v1/events", headers=reader.headers).status_code == 401


def test_a_bad_last_event_id_or_kind_is_a_422_naming_it(api):
    response = api.get("/events", headers={"Last-Event-ID": "12abc"})
    assert response.status_code == 422
    assert "Last-Event-ID" in response.json["error"]["fields"]
    response = api.get("/events?kind=run&kind=bogus")
    assert response.status_code == 422
    assert "kind" in response.json["error"]["fields"]
    assert api.get("/events?after=-1").status_code == 422


def wait_until(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("settings", [{"LIVE_MAX_STREAMS": 1}], indirect=True)
def test_a_process_holding_its_most_streams_answers_503_with_retry_after(api, app, stream):
    first = stream()
    first.reader.read_until(lambda r: len(r.frames) >= 1)
    refused = stream()
    assert refused.status == 503
    assert refused.headers["retry-after"] == "10"
    first.close()  # noticed at its next keep-alive
    wait_until(lambda: live.get_hub(app).streams == 0)
    assert stream().status == 200


def test_shutting_the_hub_down_ends_every_stream_cleanly(api, app, stream):
    readers = [stream().reader for _ in range(3)]
    for reader in readers:
        reader.read_until(lambda r: len(r.frames) >= 1)
    live.shutdown(app)
    for reader in readers:
        reader.read_to_end()  # the last chunk came: no connection cut


# --- what is logged ---------------------------------------------------------------------------


def test_job_changes_are_logged_once_each_and_no_change_logs_nothing(api, app):
    dest = new_destination(api, "j-dest")["id"]
    body = {"name": "life", "collector": "ping", "interval_s": 60, "destinations": [dest]}
    job = api.post("/jobs", json=body).json
    api.patch(f"/jobs/{job['id']}", json={"interval_s": 120})
    api.patch(f"/jobs/{job['id']}", json={"interval_s": 120})  # no change
    api.post(f"/jobs/{job['id']}/pause")
    api.post(f"/jobs/{job['id']}/pause")  # already paused
    api.post(f"/jobs/{job['id']}/resume")
    api.delete(f"/jobs/{job['id']}")
    with app.app_context():
        rows = db.session.scalars(select(Event).where(Event.kind == "job").order_by(Event.id))
        logged = [(e.payload["action"], e.payload["state"]) for e in rows]
        edited = db.session.scalars(
            select(Event).where(Event.kind == "job").order_by(Event.id).offset(1)
        ).first()
    assert logged == [
        ("created", "active"),
        ("edited", "active"),
        ("paused", "paused"),
        ("resumed", "active"),
        ("deleted", "active"),
    ]
    assert edited.payload["changed"] == ["interval_s"]
    assert edited.payload["job_id"] == job["id"] and edited.payload["destination_ids"] == [dest]


def test_destination_changes_are_logged_and_a_refused_change_logs_nothing(api, app):
    dest = new_destination(api, "d-life")
    api.patch(f"/destinations/{dest['id']}", json={"name": "d-life-2", "enabled": False})
    assert api.post("/destinations", json={"name": "d-life-2", "host": "::1"}).status_code == 409
    api.delete(f"/destinations/{dest['id']}")
    with app.app_context():
        rows = db.session.scalars(select(Event).order_by(Event.id)).all()
        logged = [(e.kind, e.payload["action"], e.payload["name"]) for e in rows]
    assert logged == [
        ("destination", "created", "d-life"),
        ("destination", "edited", "d-life-2"),
        ("destination", "deleted", "d-life-2"),
    ]
    assert rows[1].payload["changed"] == ["enabled", "name"]


def test_a_rolled_back_savepoint_drops_only_its_own_events(app):
    from netstats import events

    with app.app_context():
        with write_transaction():
            events.append("job", {"action": "kept-before"}, utcnow())
            try:
                with db.session.begin_nested():
                    events.append("job", {"action": "dropped"}, utcnow())
                    raise RuntimeError("undo the savepoint")
            except RuntimeError:
                pass
            with db.session.begin_nested():
                events.append("job", {"action": "kept-released"}, utcnow())
        with write_transaction():
            events.append("job", {"action": "rolled-back"}, utcnow())
            db.session.rollback()
        db.session.commit()
        actions = [e.payload["action"] for e in db.session.scalars(select(Event))]
    assert actions == ["kept-before", "kept-released"]


def test_an_import_logs_one_event_per_change_in_its_own_transaction(api, app):
    from netstats.config_file import import_config

    yaml = """
destinations:
  - {name: y1, host: 127.0.0.1}
  - {name: y2, host: "::1"}
jobs:
  - {name: yjob, collector: ping, interval_s: 60, destinations: [y1, y2]}
"""
    with app.app_context():
        import_config(yaml)
        kinds = [(e.kind, e.payload["action"]) for e in db.session.scalars(select(Event))]
        bad = "destinations:\n  - {name: y3, host: 127.0.0.1}\n  - {name: y3, host: '::1'}\n"
        with pytest.raises(Exception):  # noqa: B017 (whichever error: nothing may be logged)
            import_config(bad)
        db.session.rollback()
        count = db.session.scalar(select(func.count()).select_from(Event))
    assert kinds == [
        ("destination", "created"),
        ("destination", "created"),
        ("job", "created"),
    ]
    assert count == 3


@pytest.fixture
def tcp_port() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


def test_a_run_logs_its_start_then_its_end_with_the_destinations_it_measures(
    api, app, stream, tcp_port
):
    from netstats.engine.execution import execute_run

    register_tcp_collector(app)
    dest = new_destination(api, "tcp-dest")["id"]
    body = {"name": "tcp", "collector": "tcp", "interval_s": 3600, "params": {"port": tcp_port}}
    job = api.post("/jobs", json={**body, "destinations": [dest]}).json
    api.post(f"/jobs/{job['id']}/pause")
    run = api.post(f"/jobs/{job['id']}/run").json
    reader = stream(f"?job={job['id']}&kind=run&kind=run_started").reader
    reader.read_until(lambda r: len(r.frames) >= 1)
    with app.app_context():
        execute_run(run["id"])
        db.session.remove()
    reader.read_until(until_events(2))
    started, finished = reader.events
    assert started.event == "run_started" and finished.event == "run"
    assert started.id < finished.id
    assert started.data["run_id"] == finished.data["run_id"] == run["id"]
    assert started.data["destination_ids"] == [dest] and started.data["trigger"] == "manual"
    assert finished.data["status"] == "succeeded"
    assert [m["destination_id"] for m in finished.data["measurements"]] == [dest]
    assert "connect_ms" in finished.data["measurements"][0]["metrics"]


# --- what wakes the hub -------------------------------------------------------------------------


def _commit_one_event(app) -> None:
    from netstats import events

    with app.app_context(), write_transaction():
        events.append("job", {"action": "ping"}, utcnow())
    with app.app_context():
        db.session.remove()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_on_postgresql_a_commit_notifies_the_listener(app):
    from netstats.live.wakeup import Listen, channel_for

    channel = channel_for(app)
    assert isinstance(channel, Listen)
    channel.open()
    try:
        assert channel.connected
        _commit_one_event(app)
        assert channel.wait() is True
    finally:
        channel.close()


@pytest.mark.redis
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_beside_a_redis_queue_a_commit_publishes_to_the_subscriber(database_url, instance_path):
    from netstats.app import create_app
    from netstats.live.wakeup import RedisSubscription, channel_for
    from tests.test_worker import REDIS_URL

    app = create_app(_settings(database_url, instance_path, HUEY_URL=REDIS_URL))
    channel = channel_for(app)
    assert isinstance(channel, RedisSubscription)
    channel.open()
    try:
        if not channel.connected:
            from tests.conftest import require

            require(False, f"Redis at {REDIS_URL} does not answer")
        _commit_one_event(app)
        assert channel.wait() is True
    finally:
        channel.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("settings", [{"HUEY_URL": "redis://127.0.0.1:9/0"}], indirect=True)
def test_an_unreachable_wakeup_channel_falls_back_to_reading_the_log(api, app, stream, caplog):
    reader = stream().reader.read_until(lambda r: len(r.frames) >= 1)
    hub = live.get_hub(app)
    assert hub.channel.name == "redis" and not hub.channel.connected
    new_destination(api, "despite-redis")
    reader.read_until(until_events(1))
    assert reader.events[0].data["name"] == "despite-redis"
    assert "redis wake-up failed" in caplog.text and "reading the log every" in caplog.text


def test_reader_helper_sees_a_stream_end():
    reader = Reader(iter(["retry: 1\n\n", ": bye\n\n"]))
    reader.read_to_end()
    assert reader.comments == ["bye"] and reader.ended
