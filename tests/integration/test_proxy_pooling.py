"""What the proxy is for: short sessions reuse a few long-lived backend connections (no new
TIME_WAIT to the server), and each client gets a clean session. Plus the pool's limits."""
import subprocess
import threading
import time

import pymysql
import pytest

from servers import APP_PASSWORD, Target


def time_wait_count(port):
    r = subprocess.run(["ss", "-Htan", "state", "time-wait",
                        f"( dport = :{port} or sport = :{port} )"],
                       capture_output=True, text=True, check=True)
    return len([l for l in r.stdout.splitlines() if l.strip()])


def server_connections(admin):
    with admin.cursor() as cur:
        cur.execute("SHOW GLOBAL STATUS LIKE 'Connections'")
        return int(cur.fetchone()[1])


def short_sessions(target, count):
    for _ in range(count):
        conn = target.connect()
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
        conn.close()


def test_a_thousand_short_sessions_reuse_the_pool(mariadb, proxy_factory):
    proxy = proxy_factory(pool__max_connections=4, pool__min_idle=1)
    admin = mariadb.admin()  # Opened before measuring: not counted in the deltas.

    # Direct over TCP: every session is a new server connection and leaves a TIME_WAIT.
    direct = Target("direct", host="127.0.0.1", port=mariadb.port)
    before = (server_connections(admin), time_wait_count(mariadb.port))
    short_sessions(direct, 1000)
    after = (server_connections(admin), time_wait_count(mariadb.port))
    assert after[0] - before[0] >= 1000
    assert after[1] - before[1] >= 900, "the direct run should reproduce the TIME_WAIT flood"

    # Through the proxy's Unix socket: at most pool-size backend connections, no TIME_WAIT.
    before = (server_connections(admin), time_wait_count(mariadb.port))
    short_sessions(proxy.unix, 1000)
    after = (server_connections(admin), time_wait_count(mariadb.port))
    assert after[0] - before[0] <= 4
    # TIME_WAITs of the direct run only expire meanwhile; at most the pool's first connects
    # could add any (none do: the proxy keeps its backend connections open).
    assert after[1] - before[1] <= 0
    admin.close()


def test_next_client_on_the_same_backend_sees_a_clean_session(proxy_factory, mariadb):
    proxy = proxy_factory(pool__max_connections=1, pool__min_idle=0)
    first = proxy.unix.connect()
    with first.cursor() as cur:
        cur.execute("SELECT CONNECTION_ID()")
        backend_id = cur.fetchone()[0]
        cur.execute("SET @leftover = 42")
        cur.execute("SET SESSION sql_mode = 'ANSI'")
        cur.execute("CREATE TEMPORARY TABLE scratch (x INT)")
        cur.execute("BEGIN")
        cur.execute("INSERT INTO t VALUES (100, 'uncommitted')")
        cur.execute("SELECT GET_LOCK('isolation-lock', 0)")
        assert cur.fetchone() == (1,)
        cur.execute("PREPARE leftover_stmt FROM 'SELECT 1'")
        cur.execute("USE other")
    first.close()

    second = proxy.unix.connect()  # Asks for schema app.
    with second.cursor() as cur:
        cur.execute("SELECT CONNECTION_ID()")
        assert cur.fetchone()[0] == backend_id, "pool of one: the same backend connection"
        cur.execute("SELECT @leftover, @@session.sql_mode = @@global.sql_mode, DATABASE()")
        assert cur.fetchone() == (None, 1, "app")
        cur.execute("SELECT COUNT(*) FROM t WHERE id = 100")
        assert cur.fetchone() == (0,)
        cur.execute("SELECT IS_FREE_LOCK('isolation-lock')")
        assert cur.fetchone() == (1,)
        with pytest.raises(pymysql.err.ProgrammingError) as error:
            cur.execute("SELECT * FROM scratch")
        assert error.value.args[0] == 1146
        with pytest.raises(pymysql.err.MySQLError) as error:
            cur.execute("EXECUTE leftover_stmt")
        assert error.value.args[0] == 1243
    second.close()

    third = proxy.unix.connect(database=None)  # No schema: DATABASE() must be NULL.
    with third.cursor() as cur:
        cur.execute("SELECT CONNECTION_ID(), DATABASE()")
        assert cur.fetchone() == (backend_id, None)
    third.close()


def test_character_set_is_part_of_the_session(proxy_factory):
    proxy = proxy_factory(pool__max_connections=2, pool__min_idle=0)
    latin = proxy.unix.connect(charset="latin1")
    with latin.cursor() as cur:
        cur.execute("SELECT @@character_set_client, @@character_set_results")
        assert cur.fetchone() == ("latin1", "latin1")
    latin.close()
    utf = proxy.unix.connect(charset="utf8mb4")
    with utf.cursor() as cur:
        cur.execute("SET NAMES latin1")
    utf.close()
    utf = proxy.unix.connect(charset="utf8mb4")
    with utf.cursor() as cur:
        cur.execute("SELECT @@character_set_client, @@character_set_results")
        assert cur.fetchone() == ("utf8mb4", "utf8mb4")
    utf.close()


def test_full_pool_queues_then_answers_1040(proxy_factory):
    proxy = proxy_factory(pool__max_connections=2, pool__min_idle=0, pool__queue_timeout="1s")
    holders = [proxy.unix.connect() for _ in range(2)]
    started = time.monotonic()
    with pytest.raises(pymysql.err.OperationalError) as error:
        proxy.unix.connect()
    waited = time.monotonic() - started
    assert error.value.args[0] == 1040
    assert "max_connections=2" in error.value.args[1]
    assert 0.9 <= waited < 3

    # A waiting client gets the connection a leaving client gives back.
    result = {}

    def wait_for_one():
        conn = proxy.unix.connect()
        with conn.cursor() as cur:
            cur.execute("SELECT 7")
            result["value"] = cur.fetchone()[0]
        conn.close()

    waiter = threading.Thread(target=wait_for_one)
    waiter.start()
    time.sleep(0.3)
    holders.pop().close()
    waiter.join(timeout=5)
    assert result == {"value": 7}
    for h in holders:
        h.close()


def test_max_client_connections(proxy_factory):
    proxy = proxy_factory(proxy__max_client_connections=3, pool__max_connections=4)
    clients = [proxy.tcp.connect() for _ in range(3)]
    with pytest.raises(pymysql.err.OperationalError) as error:
        proxy.tcp.connect()
    assert error.value.args[0] == 1040
    assert "Too many connections" in error.value.args[1]
    clients.pop().close()
    time.sleep(0.2)
    again = proxy.tcp.connect()  # A slot is free again.
    again.close()
    for c in clients:
        c.close()


def test_kill_by_id_never_reaches_another_clients_work(proxy_factory):
    proxy = proxy_factory(pool__max_connections=4)
    victim = proxy.unix.connect()
    with victim.cursor() as cur:
        cur.execute("SELECT CONNECTION_ID()")
        victim_backend = cur.fetchone()[0]
    result = {}

    def long_query():
        with victim.cursor() as cur:
            cur.execute("SELECT SLEEP(1.5), 'finished'")
            result["row"] = cur.fetchone()

    thread = threading.Thread(target=long_query)
    thread.start()
    time.sleep(0.3)
    other = proxy.unix.connect()
    with other.cursor() as cur:
        for statement in (f"KILL QUERY {victim_backend}", f"kill {victim_backend};",
                          f"KILL HARD CONNECTION {victim_backend}", "KILL QUERY ID 1"):
            with pytest.raises(pymysql.err.MySQLError) as error:
                cur.execute(statement)
            assert error.value.args[0] == 1095, statement
        cur.execute("SELECT 'the killer session still works'")
        assert cur.fetchone() == ("the killer session still works",)
    other.close()
    thread.join(timeout=5)
    assert result["row"] == (0, "finished")
    victim.close()
