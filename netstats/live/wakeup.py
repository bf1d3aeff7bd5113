"""What wakes a process's hub when events commit: PostgreSQL LISTEN, Redis pub/sub, or a clock.

Each channel's ``wait()`` returns when new events may be in the log: a notification came
(True), or its period passed (False; the hub then reads the log anyway, so a lost
notification costs only latency). A channel whose connection fails falls back to waiting
``poll_s`` and tries to reconnect every ``RECONNECT_S``. Under gevent every wait here
yields to the other greenlets: ``select`` and sockets are patched, and psycopg (3.1.14 on)
and redis-py use them.
"""

from __future__ import annotations

import logging
import os
import selectors
import threading
import time

from flask import Flask

from netstats.events import CHANNEL, redis_channel, wakeup_channel

log = logging.getLogger(__name__)

# Even when notified, the hub reads the log at least this often (seconds).
SAFETY_S = 5.0
# A failed channel tries to reconnect this often (seconds); meanwhile it polls.
RECONNECT_S = 10.0


class Poll:
    """SQLite alone: no notification, the log is read every ``poll_s`` seconds."""

    name = "poll"

    def __init__(self, poll_s: float):
        self.poll_s = poll_s
        self._closed = threading.Event()

    def open(self) -> None:
        """Nothing to connect."""

    def wait(self) -> bool:
        self._closed.wait(self.poll_s)
        return False

    def close(self) -> None:
        self._closed.set()


class _Reconnecting(Poll):
    """A notifying channel that polls while its connection is down."""

    def __init__(self, poll_s: float):
        super().__init__(poll_s)
        self._down_since: float | None = None
        self._retry_at = 0.0

    def open(self) -> None:
        try:
            self._connect()
        except Exception as exc:
            self._failed(exc)
        else:
            self._down_since = None

    def wait(self) -> bool:
        if self._down_since is not None:
            if time.monotonic() < self._retry_at:
                return super().wait()
            self.open()
            if self._down_since is not None:
                return super().wait()
            log.info("live updates: %s wake-up restored", self.name)
        try:
            return self._wait_connected()
        except Exception as exc:
            if not self._closed.is_set():
                self._failed(exc)
            return False

    @property
    def connected(self) -> bool:
        return self._down_since is None

    def _failed(self, exc: Exception) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning(
                "live updates: %s wake-up failed (%s); reading the log every %.1f s, "
                "reconnecting every %.0f s",
                self.name,
                exc,
                self.poll_s,
                RECONNECT_S,
            )
        self._retry_at = time.monotonic() + RECONNECT_S
        self._disconnect()

    def close(self) -> None:
        super().close()
        self._disconnect()

    def _connect(self) -> None:
        raise NotImplementedError

    def _wait_connected(self) -> bool:
        raise NotImplementedError

    def _disconnect(self) -> None:
        raise NotImplementedError


class Listen(_Reconnecting):
    """PostgreSQL: a dedicated autocommit connection that LISTENs; NOTIFY comes at commit."""

    name = "listen"

    def __init__(self, engine, poll_s: float):
        super().__init__(poll_s)
        self.engine = engine
        self._conn = None
        self._pipe_r, self._pipe_w = os.pipe()

    def _connect(self) -> None:
        # A connection of its own, not the pool's: the pool may be busy with requests.
        dialect = self.engine.dialect
        cargs, cparams = dialect.create_connect_args(self.engine.url)
        conn = dialect.connect(*cargs, **cparams)
        conn.autocommit = True
        conn.execute(f"LISTEN {CHANNEL}")
        self._conn = conn

    def _wait_connected(self) -> bool:
        pgconn = self._conn.pgconn
        # A selector, not select(): a process holding a thousand streams has descriptors
        # beyond select()'s limit of 1024. (Under gevent, gevent's selector.)
        with selectors.DefaultSelector() as selector:
            selector.register(pgconn.socket, selectors.EVENT_READ)
            selector.register(self._pipe_r, selectors.EVENT_READ)
            ready = {key.fd for key, _ in selector.select(SAFETY_S)}
        if pgconn.socket not in ready:
            return False
        pgconn.consume_input()
        if pgconn.status != 0:  # CONNECTION_OK
            raise ConnectionError("the LISTEN connection was closed")
        notified = False
        while pgconn.notifies() is not None:
            notified = True
        return notified

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("closing the LISTEN connection failed", exc_info=True)

    def close(self) -> None:
        os.write(self._pipe_w, b"x")
        super().close()


class RedisSubscription(_Reconnecting):
    """A Redis queue beside SQLite: one subscription per process; writers publish after commit."""

    name = "redis"

    def __init__(self, url: str, channel: str, poll_s: float):
        super().__init__(poll_s)
        self.url, self.channel = url, channel
        self._client = None
        self._pubsub = None

    def _connect(self) -> None:
        import redis

        # Kept: a client that is garbage-collected closes its pool, the subscription with it.
        self._client = redis.Redis.from_url(
            self.url, socket_connect_timeout=2, health_check_interval=30
        )
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self.channel)
        self._pubsub = pubsub

    def _wait_connected(self) -> bool:
        deadline = time.monotonic() + SAFETY_S
        while not self._closed.is_set() and time.monotonic() < deadline:
            # Short waits, so that a close is seen within a second.
            if self._pubsub.get_message(timeout=1.0) is not None:
                while self._pubsub.get_message(timeout=0) is not None:
                    pass
                return True
        return False

    def _disconnect(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        client, self._client = self._client, None
        for closable in (pubsub, client):
            if closable is not None:
                try:
                    closable.close()
                except Exception:
                    log.debug("closing the Redis subscription failed", exc_info=True)


def channel_for(app: Flask):
    """The wake-up channel of ``app``'s configuration (see ``netstats.events.wakeup_channel``)."""
    from netstats.db import db

    poll_s = float(app.config["LIVE_POLL_S"])
    kind = wakeup_channel(app.config)
    if kind == "listen":
        with app.app_context():
            return Listen(db.engine, poll_s)
    if kind == "redis":
        return RedisSubscription(app.config["HUEY_URL"], redis_channel(app.config), poll_s)
    return Poll(poll_s)
