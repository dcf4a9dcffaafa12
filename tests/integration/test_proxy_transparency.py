"""What a client sees of its own session through the proxy is what it sees direct (issue 11):
each test runs one body against the server itself and through the proxy, and asserts the same
outcome, so that the server is the reference.

- A client's own wait_timeout is enforced as the server enforces it (the connection is reset;
  the next command gets 2006); DEFAULT hands it back to the pool (never timed out).
- A session the server ends while the client idles in a transaction (idle_transaction_timeout)
  ends the client's connection the same way, not with an ERR of the proxy's.
- The profiling history (SHOW PROFILES) of one client never shows in the next one's session.
"""
import time

import pymysql
import pytest

from client_checks import backend_thread
from mariadb_server import wait_until

WHERE = ["direct-tcp", "proxy-tcp", "proxy-unix"]
GONE = (2006, 2013)  # Server has gone away / lost connection: the client library's own codes.


def connect(target, **kw):
    return target.connect(autocommit=True, **kw)


def query(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def gone_code(conn, sql="SELECT 1"):
    """The client-side error code `sql` gets, or None if it succeeds."""
    try:
        query(conn, sql)
        return None
    except pymysql.err.OperationalError as e:
        return e.args[0]


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("setting", ["SET wait_timeout = 2", "SET SESSION wait_timeout = 1 + 1",
                                     "SET @@session.wait_timeout = 2, @x = 1"])
def test_the_clients_own_wait_timeout_ends_its_connection(make_target, where, setting):
    """A client that sets its own wait_timeout and idles past it is disconnected, as direct:
    the next command fails with 2006/2013. (Through the proxy the pool keeps the backend alive
    with pings, so without the proxy's own check the client would never be timed out.)"""
    target = make_target(where, pool__keepalive_interval="1s")
    conn = connect(target)
    query(conn, setting)
    assert query(conn, "SELECT @@wait_timeout") == ((2,),)
    time.sleep(3.5)
    assert gone_code(conn) in GONE
    # Others are not affected; a new session starts with the global value.
    fresh = connect(target)
    assert query(fresh, "SELECT @@wait_timeout = @@global.wait_timeout") == ((1,),)


@pytest.mark.parametrize("where", WHERE)
def test_wait_timeout_default_gives_the_timeout_back(make_target, where):
    """SET wait_timeout = DEFAULT after a short one: the global applies again (28800 s here),
    so the client survives a pause longer than the short value."""
    target = make_target(where)
    conn = connect(target)
    query(conn, "SET wait_timeout = 1")
    query(conn, "SET wait_timeout = DEFAULT")
    time.sleep(2.5)
    assert gone_code(conn) is None


@pytest.mark.parametrize("where", WHERE)
def test_a_session_interactive_timeout_changes_nothing_now(make_target, where):
    """SET SESSION interactive_timeout only matters at login (it becomes wait_timeout for an
    INTERACTIVE client then): a client that sets it short and idles longer keeps its connection,
    direct and through the proxy."""
    target = make_target(where)
    conn = connect(target)
    query(conn, "SET SESSION interactive_timeout = 1")
    time.sleep(2.5)
    assert gone_code(conn) is None


@pytest.mark.parametrize("where", WHERE)
def test_idle_transaction_timeout_closes_the_client_as_the_server_does(make_target, where):
    """The server ends a session left idle in a transaction (idle_transaction_timeout): direct,
    it resets the connection and the next command fails with 2006/2013; through the proxy the
    same, not an ERR 1927 of the proxy's (the transaction cannot move to another connection)."""
    target = make_target(where)
    conn = connect(target)
    query(conn, "SET idle_transaction_timeout = 1")
    query(conn, "BEGIN")
    query(conn, "SELECT v FROM t WHERE id = 1 FOR UPDATE")
    time.sleep(3)
    assert gone_code(conn) in GONE


@pytest.mark.parametrize("where", WHERE)
def test_profiling_history_is_per_client(make_target, where):
    """One client profiles its statements and leaves; the next client (on the same backend
    connection if the proxy reused it: pool of one) sees an empty SHOW PROFILES, as a new
    connection to the server does. (MariaDB keeps the history across COM_RESET_CONNECTION and
    COM_CHANGE_USER.)"""
    target = make_target(where, pool__max_connections=1, pool__min_idle=1)
    first = connect(target)
    query(first, "SET profiling = 1")
    query(first, "SELECT 'longlink-profiled-secret'")
    assert any("longlink-profiled-secret" in row[2] for row in query(first, "SHOW PROFILES"))
    first.close()
    second = connect(target)
    query(second, "SET profiling = 1")
    assert query(second, "SHOW PROFILES") == ()
    second.close()
    # Clients that never profile keep their pooled connection (no churn for the rest).
    threads = set()
    for _ in range(3):
        conn = connect(target)
        threads.add(backend_thread(conn))
        conn.close()
    if target.is_proxy:
        assert len(threads) == 1, threads


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("database", ["app", "other", None])
def test_a_new_session_sees_the_globals_of_now(make_target, server_globals, mariadb, where,
                                               database):
    """A client leaves; an admin changes a global (SET GLOBAL sql_mode, wait_timeout); the
    next client (on the same pooled backend connection: pool of one) starts with the new
    values, as a new connection to the server does. Its first command carries the reset, so
    this holds whatever schema it logs in with (the pooled one, another, none)."""
    target = make_target(where, pool__max_connections=1, pool__min_idle=1)
    first = connect(target)
    first_thread = backend_thread(first)
    first.close()
    time.sleep(0.3)  # The proxy takes the connection back.
    server_globals(sql_mode="ANSI_QUOTES", wait_timeout=12345)
    second = connect(target, database=database)
    assert query(second, "SELECT @@session.sql_mode, @@session.wait_timeout, DATABASE()") == \
        (("ANSI_QUOTES", 12345, database),)
    if target.is_proxy:
        assert backend_thread(second) == first_thread
    second.close()


SESSION_TRACK = 0x800000
TRACKING_STATEMENTS = [
    "SET @a = 1", "SET time_zone = '+01:00'", "SET sql_mode = ''", "USE other", "USE app",
    "SELECT @b := 2", "BEGIN", "SELECT v FROM t WHERE id = 1", "COMMIT",
    "CREATE TEMPORARY TABLE tracked (x INT)", "DROP TEMPORARY TABLE tracked",
    "SET session_track_state_change = 1", "SET @c = 3", "SELECT @d := 4",
    "SET session_track_state_change = 0", "SET @e = 5",
    "SET session_track_state_change = ON", "SET @f = 6",
    "SET session_track_state_change = DEFAULT", "SET @g = 7",
]


@pytest.mark.parametrize("deprecate_eof", [False, True])
def test_session_tracking_is_the_clients_own(mariadb, proxy_factory, deprecate_eof):
    """A client with CLIENT_SESSION_TRACK gets, statement by statement, byte for byte the reply
    the server sends it direct: the proxy's own state-change tracker (which it needs to know
    when a session can move) shows no entries and no SESSION_STATE_CHANGED flag the client's
    own settings would not have, and once the client turns the tracker on (or off, or back to
    DEFAULT) it gets what it asked for."""
    from raw_client import DEFAULT_CAPS, DEPRECATE_EOF, RawClient
    caps = DEFAULT_CAPS | SESSION_TRACK | (DEPRECATE_EOF if deprecate_eof else 0)
    proxy = proxy_factory(pool__max_connections=2)
    for attempt in range(2):  # A fresh connection, then a pooled one (reset) again.
        direct, through = RawClient(mariadb.target("tcp"), caps), RawClient(proxy.tcp, caps)
        for statement in TRACKING_STATEMENTS:
            assert through.query(statement) == direct.query(statement), (attempt, statement)
        direct.close()
        through.close()
        time.sleep(0.2)
