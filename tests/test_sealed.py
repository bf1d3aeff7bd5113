"""The suite is sealed from the network: under CI nothing it sends can leave the machine.

``.ci/run`` runs the suite through ``scripts/sealed`` (a fresh network namespace with only
loopback). These tests hold it to that: a connection to an address outside loopback and the
lab fails at once, while loopback, PostgreSQL (its unix socket) and the namespace's own Redis
answer.
"""

from __future__ import annotations

import errno
import os
import socket
import time

import pytest

from tests.conftest import IN_CI

SEALED = IN_CI or bool(os.environ.get("NETSTATS_TEST_SEALED"))

pytestmark = pytest.mark.skipif(
    not SEALED, reason="not sealed (run through scripts/sealed, as .ci/run does)"
)

# Documentation addresses (RFC 5737, RFC 3849): never routed anywhere, so only a route out can
# make these connections do anything but fail at once.
OUTSIDE = [(socket.AF_INET, ("192.0.2.1", 80)), (socket.AF_INET6, ("2001:db8::1", 80))]


@pytest.mark.parametrize(("family", "address"), OUTSIDE, ids=["ipv4", "ipv6"])
def test_a_connection_beyond_the_machine_fails_at_once(family, address):
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        started = time.monotonic()
        with pytest.raises(OSError) as caught:
            sock.connect(address)
        elapsed = time.monotonic() - started
    assert caught.value.errno == errno.ENETUNREACH, caught.value
    assert elapsed < 0.2


def test_a_datagram_beyond_the_machine_is_refused_at_once():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, pytest.raises(OSError) as caught:
        sock.sendto(b"\0" * 12, ("192.0.2.53", 53))
    assert caught.value.errno == errno.ENETUNREACH


def test_the_only_interface_is_loopback():
    names = [name for _, name in socket.if_nameindex()]
    assert names == ["lo"]


def test_loopback_still_works():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            pass


@pytest.mark.redis
@pytest.mark.postgres
def test_postgresql_and_redis_answer_inside():
    """What the suite needs is inside: PostgreSQL by its socket, the namespace's own Redis."""
    import redis
    import sqlalchemy as sa

    from netstats.config import normalize_database_url
    from tests.conftest import PG_URL, require
    from tests.test_worker import REDIS_URL

    require(bool(PG_URL), "PostgreSQL not configured: set NETSTATS_TEST_DATABASE_URL")
    engine = sa.create_engine(normalize_database_url(PG_URL))
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        assert client.ping()
    finally:
        client.close()
