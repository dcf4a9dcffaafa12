"""What the proxy is for: short sessions reuse a few long-lived backend connections (no new
connections and no new TIME_WAIT to the server), and the pool's limits.

The short-session test also runs against the server directly, where it must show the problem
(a connection and a TIME_WAIT per session): that proves the measurement can see it. The limits
(queueing, max_client_connections, min_idle) exist only in the proxy: proxy-only tests."""
import subprocess
import threading
import time

import pymysql
import pytest

from mariadb_server import wait_until

SESSIONS = 1000
POOL = 4


def time_wait_count(port):
    r = subprocess.run(["ss", "-Htan", "state", "time-wait",
                        f"( dport = :{port} or sport = :{port} )"],
                       capture_output=True, text=True, check=True)
    return len([line for line in r.stdout.splitlines() if line.strip()])


def short_sessions(target, count):
    for _ in range(count):
        conn = target.connect()
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
        conn.close()


def app_backends(mariadb):
    return len(mariadb.processlist(user="app"))


@pytest.mark.parametrize("where", ["direct-tcp", "proxy-unix", "proxy-tcp"])
def test_a_thousand_short_sessions(make_target, where, mariadb):
    target = make_target(where, pool__max_connections=POOL, pool__min_idle=1)
    # One admin connection, opened before the first reading and reused for the second: it
    # is not in the 'Connections' delta (a new connection per reading would add exactly 1).
    admin = mariadb.admin()
    before = (mariadb.status("Connections", admin), time_wait_count(mariadb.port))
    started = time.monotonic()
    short_sessions(target, SESSIONS)
    elapsed = time.monotonic() - started
    after = (mariadb.status("Connections", admin), time_wait_count(mariadb.port))
    admin.close()
    connections, time_waits = after[0] - before[0], after[1] - before[1]
    print(f"{where}: {SESSIONS} sessions in {elapsed:.1f}s, {connections} server connections, "
          f"{time_waits:+d} TIME_WAIT to port {mariadb.port}")
    if target.is_proxy:
        # Proxy-specific: at most the pool's size of backend connections, and (the proxy
        # keeps them open) no TIME_WAIT beyond that; earlier TIME_WAITs may expire meanwhile.
        assert connections <= POOL
        assert time_waits <= POOL
    else:
        # The problem the proxy solves, reproduced: a connection and a TIME_WAIT per session
        # (a few of the TIME_WAITs of earlier tests may expire during the run).
        assert connections >= SESSIONS
        assert time_waits >= 0.9 * SESSIONS, "the direct run should reproduce the TIME_WAIT flood"


def test_full_pool_queues_then_answers_1040(proxy_factory):
    """Proxy-only: max_connections=2, queue_timeout=1s; two clients hold open transactions."""
    proxy = proxy_factory(pool__max_connections=2, pool__min_idle=0, pool__queue_timeout="1s")
    holders = []
    for i in range(2):
        conn = proxy.unix.connect()
        with conn.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SELECT v FROM t WHERE id = %s FOR UPDATE", (i + 1,))
        holders.append(conn)
    started = time.monotonic()
    with pytest.raises(pymysql.err.OperationalError) as error:
        third = proxy.unix.connect()
        with third.cursor() as cur:
            cur.execute("SELECT 1")
    waited = time.monotonic() - started
    code, message = error.value.args
    assert code == 1040, message
    assert "max_connections=2" in message and "1000 ms" in message, message
    assert 0.9 <= waited < 3, waited

    # A waiting client gets the connection a leaving client gives back (its transaction
    # rolled back, so the row lock is free).
    result = {}

    def wait_for_one():
        conn = proxy.unix.connect()
        with conn.cursor() as cur:
            cur.execute("SELECT v FROM t WHERE id = 2 FOR UPDATE")
            result["value"] = cur.fetchone()[0]
        conn.close()

    waiter = threading.Thread(target=wait_for_one)
    waiter.start()
    time.sleep(0.3)
    assert waiter.is_alive(), "the waiter should be queued, not served"
    holders.pop().close()
    waiter.join(timeout=5)
    assert result == {"value": "two"}
    for h in holders:
        h.close()


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_max_client_connections(proxy_factory, transport):
    """Proxy-only."""
    proxy = proxy_factory(proxy__max_client_connections=3, pool__max_connections=4)
    target = proxy.target(transport)
    clients = [target.connect() for _ in range(3)]
    with pytest.raises(pymysql.err.OperationalError) as error:
        target.connect()
    assert error.value.args[0] == 1040
    assert "Too many connections" in error.value.args[1]
    clients.pop().close()

    def slot_free():
        try:
            target.connect().close()
            return True
        except pymysql.err.OperationalError as e:
            assert e.args[0] == 1040
            return False

    wait_until(slot_free, 2, "a client slot to free up")
    for c in clients:
        c.close()


def no_app_backends(mariadb):
    wait_until(lambda: app_backends(mariadb) == 0, 5,
               "earlier tests' backend connections to go away")


def test_min_idle_keeps_a_used_pool_filled(proxy_factory, mariadb):
    """Proxy-only: CONFIG.md, min_idle: "Idle connections kept open for every pool used since
    start (a janitor refills it every second)". One client session, then no clients: the pool
    holds min_idle backend connections as user app, never more than max_connections."""
    no_app_backends(mariadb)
    proxy = proxy_factory(pool__max_connections=4, pool__min_idle=2)
    short_sessions(proxy.unix, 1)
    wait_until(lambda: app_backends(mariadb) >= 2, 5,
               "min_idle=2 backend connections as user app")
    time.sleep(1.2)  # One more janitor round: it must not overshoot.
    assert 2 <= app_backends(mariadb) <= 4, mariadb.processlist(user="app")
