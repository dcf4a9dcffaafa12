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

from client_checks import backend_thread
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
    proxy = proxy_factory(pool__mode="session", pool__max_connections=4, pool__min_idle=2)
    short_sessions(proxy.unix, 1)
    wait_until(lambda: app_backends(mariadb) >= 2, 5,
               "min_idle=2 backend connections as user app")
    time.sleep(1.2)  # One more janitor round: it must not overshoot.
    assert 2 <= app_backends(mariadb) <= 4, mariadb.processlist(user="app")


def app_backend_ids(mariadb):
    return {row[0] for row in mariadb.processlist(user="app")}


def test_an_idle_pool_holds_min_idle_and_opens_none(proxy_factory, mariadb):
    """Proxy-only (issue 10, defect 1): a connection out for its keepalive ping still counts
    toward min_idle. Before the fix the janitor opened another connection for every ping and
    retired the surplus after max_idle_time: with these settings 8 distinct backend connections
    in 30 s. Now the one connection stays, pinged, and no other is opened or closed."""
    no_app_backends(mariadb)
    proxy = proxy_factory(pool={"max_connections": 8, "min_idle": 1, "keepalive_interval": "1s",
                                "max_idle_time": "2s", "mode": "session"})
    short_sessions(proxy.unix, 1)
    seen = set()
    deadline = time.monotonic() + 7  # Several keepalive rounds and max_idle_time periods.
    while time.monotonic() < deadline:
        seen |= app_backend_ids(mariadb)
        time.sleep(0.1)
    assert len(seen) == 1, f"backend connections seen while idle: {sorted(seen)}"
    assert len(app_backend_ids(mariadb)) == 1
    assert not proxy.log_lines("closed idle backend connection"), proxy.log()


def connect_with_charset(target, charset):
    """A PyMySQL connection whose handshake names `charset` (its default collation): PyMySQL
    1.0 sends no SET NAMES, so the session's character set is the handshake's."""
    return pymysql.connect(**target.pymysql_args(), user="app", password="app-secret",
                           database="app", charset=charset)


# (charset, its default collation): eight pools of one user.
COLLATIONS = [("utf8mb4", "utf8mb4_general_ci"), ("latin1", "latin1_swedish_ci"),
              ("ascii", "ascii_general_ci"), ("cp1251", "cp1251_general_ci"),
              ("latin2", "latin2_general_ci"), ("greek", "greek_general_ci"),
              ("hebrew", "hebrew_general_ci"), ("koi8r", "koi8r_general_ci")]


def test_one_user_is_capped_across_collations(proxy_factory, mariadb):
    """Proxy-only (issue 10, defect 3): each collation is its own pool, but all of a user's
    pools share pool.max_user_connections. Before, 8 collations x 3 held sessions took one
    user to 24 server connections with max_connections=4 per pool. Now clients beyond the cap
    wait (queue) and get an idle connection of another collation, moved by COM_CHANGE_USER;
    every client sees its own character set."""
    no_app_backends(mariadb)
    proxy = proxy_factory(pool={"max_connections": 4, "max_user_connections": 6, "min_idle": 0,
                                "queue_timeout": "10s", "mode": "session"})
    peak = [0]
    errors = []

    def client(charset, collation):
        try:
            for _ in range(3):
                conn = connect_with_charset(proxy.unix, charset)
                with conn.cursor() as cur:
                    cur.execute("SELECT @@character_set_client, @@collation_connection, "
                                "@@character_set_results")
                    assert cur.fetchone() == (charset, collation, charset)
                    time.sleep(0.05)
                conn.close()
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append((charset, collation, e))

    threads = [threading.Thread(target=client, args=pair) for pair in COLLATIONS for _ in range(3)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak[0] = max(peak[0], len(app_backend_ids(mariadb)))
        time.sleep(0.02)
    assert not errors, errors
    assert 1 <= peak[0] <= 6, peak[0]
    assert len(app_backend_ids(mariadb)) <= 6


def test_sibling_collation_reuses_an_idle_connection(proxy_factory, mariadb):
    """Proxy-only: at the user cap, a client of a new collation takes an idle connection of
    another collation instead of waiting for queue_timeout; the moved connection then serves
    its new collation across resets."""
    no_app_backends(mariadb)
    proxy = proxy_factory(pool={"max_connections": 4, "max_user_connections": 1, "min_idle": 0,
                                "queue_timeout": "1s", "mode": "session"})
    first = connect_with_charset(proxy.unix, "latin1")
    first.close()
    wait_until(lambda: len(app_backend_ids(mariadb)) == 1, 5, "one idle backend connection")
    (only,) = app_backend_ids(mariadb)
    for _ in range(2):  # Twice: the second time after the reset that ended the first session.
        conn = connect_with_charset(proxy.unix, "utf8mb4")
        with conn.cursor() as cur:
            cur.execute("SELECT @@character_set_client, @@collation_connection")
            assert cur.fetchone() + (backend_thread(conn),) == \
                ("utf8mb4", "utf8mb4_general_ci", only)
        conn.close()
    conn = connect_with_charset(proxy.unix, "latin1")
    with conn.cursor() as cur:
        cur.execute("SELECT @@character_set_client, @@collation_connection")
        assert cur.fetchone() + (backend_thread(conn),) == ("latin1", "latin1_swedish_ci", only)
    conn.close()


def test_total_cap_closes_another_users_idle_connection(proxy_factory, mariadb):
    """Proxy-only: backend.max_connections counts every pool; at the cap, a client of another
    user gets the place of an idle connection (closed) instead of waiting."""
    no_app_backends(mariadb)
    proxy = proxy_factory(pool__mode="session", backend={"max_connections": 1},
                          pool={"max_connections": 4, "min_idle": 0, "queue_timeout": "1s"})
    short_sessions(proxy.unix, 1)  # app
    wait_until(lambda: len(app_backend_ids(mariadb)) == 1, 5, "app's idle connection")
    conn = pymysql.connect(**proxy.unix.pymysql_args(), user="ro", password="ro-secret",
                           database="app")
    with conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        assert cur.fetchone()[0].startswith("ro@")
    assert len(app_backend_ids(mariadb)) == 0
    held = conn
    # At the cap with nothing idle: the next client waits queue_timeout, then gets 1040.
    with pytest.raises(pymysql.err.OperationalError) as error:
        short_sessions(proxy.unix, 1)
    assert error.value.args[0] == 1040, error.value.args
    assert "backend.max_connections=1" in error.value.args[1], error.value.args
    held.close()


def proxy_backend_ports(proxy, server_port):
    """Local ports of the proxy's TCP connections to the server (ss, by process)."""
    r = subprocess.run(["ss", "-Htnp", "state", "established", f"( dport = :{server_port} )"],
                       capture_output=True, text=True, check=True)
    return {int(line.split()[2].rsplit(":", 1)[1]) for line in r.stdout.splitlines()
            if f"pid={proxy.pid}," in line}


def time_wait_local_ports(server_port):
    r = subprocess.run(["ss", "-Htan", "state", "time-wait", f"( dport = :{server_port} )"],
                       capture_output=True, text=True, check=True)
    return {int(line.split()[2].rsplit(":", 1)[1]) for line in r.stdout.splitlines()}


def test_retired_connections_leave_their_time_wait_on_the_server(proxy_factory, mariadb):
    """Proxy-only: a pooled connection the proxy retires (here after max_idle_time) gets
    COM_QUIT, and the proxy closes its end only after the server has closed its own, so the
    TIME_WAIT is the database host's (the side that closes first keeps it), never the
    application host's: the proxy's whole point. Before, the proxy closed right after COM_QUIT
    and every retirement left a TIME_WAIT on the proxy's side."""
    no_app_backends(mariadb)
    proxy = proxy_factory(pool={"max_connections": 4, "min_idle": 0, "max_idle_time": "1s",
                                "mode": "session"})
    held = [proxy.unix.connect() for _ in range(4)]  # Four sessions: four backends.
    for conn in held:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
    ports = proxy_backend_ports(proxy, mariadb.port)
    assert len(ports) == 4, ports
    for conn in held:
        conn.close()
    wait_until(lambda: app_backends(mariadb) == 0, 10, "the idle connections to be retired")
    wait_until(lambda: not proxy_backend_ports(proxy, mariadb.port), 5,
               "the proxy to close its ends")
    assert not ports & time_wait_local_ports(mariadb.port), \
        f"TIME_WAIT on the proxy's side of {sorted(ports & time_wait_local_ports(mariadb.port))}"
