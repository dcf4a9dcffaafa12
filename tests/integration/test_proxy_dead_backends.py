"""Issue 4: never hand a client a dead connection. Backend connections die under the proxy
(the server's wait_timeout, KILL from an admin, a server restart, a full server), and every test
here makes one die and asserts what each client sees: no error where the proxy can absorb the
death, a clear one where it cannot (ERR 1927, then the connection is closed).

The tests run against MariaDB servers of this module's own (they change server globals, KILL
connections and restart the server), not the session's shared one:

- `short_wait_server`, started with --wait-timeout=2: every connection, the proxy's included,
  is closed by the server after 2 s without a command;
- `own_server` (through the `server` fixture): KILLs, restarts and max_connections.

Where the server alone shows the problem (a client idle past wait_timeout, a killed idle
connection) the same test also runs against the server directly and asserts the failure, which
proves the test reproduces it."""
import subprocess
import threading
import time
import uuid

import pymysql
import pytest

from client_checks import CLIENT_SIDE_LOSS, assert_closed, backend_thread, error_of, query_one
from conftest import WHERE_ALL
from mariadb_server import APP_USER, MariaDBServer, wait_until
from proxy_process import ProxyProcess

KILLED = 1927                     # ER_CONNECTION_KILLED, SQLSTATE 70100
TOO_MANY = 1040                   # ER_CON_COUNT_ERROR
READ_TIMEOUT = 30                 # a proxy that never answers fails a test instead of hanging it
DROPPED = "dropped idle backend connection"


# --- helpers ---------------------------------------------------------------------------------

def connect(target, **kw):
    kw.setdefault("read_timeout", READ_TIMEOUT)
    kw.setdefault("write_timeout", READ_TIMEOUT)
    return target.connect(**kw)


def run(conn, *statements):
    with conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql)
            cur.fetchall()
            while cur.nextset():
                cur.fetchall()


def backend_id(conn):
    return backend_thread(conn)


def assert_killed_error(e):
    """ERR 1927 'Connection was killed', SQLSTATE 70100, as MariaDB sends it."""
    assert e is not None, "expected ERR 1927, the query succeeded"
    assert e.args[0] == KILLED, e.args
    assert e.args[1].startswith("Connection was killed"), e.args
    assert getattr(e, "sqlstate", None) == "70100", (e.args, getattr(e, "sqlstate", None))


def new_session_works(target):
    conn = connect(target)
    try:
        assert query_one(conn, "SELECT v FROM t WHERE id = 3") == ("three",)
    finally:
        conn.close()


class Outcome:
    """What a client thread saw: its result or the error it got, and when (monotonic)."""

    def __init__(self):
        self.result = self.error = self.crash = None
        self.started = self.finished = None

    def run(self, fn, *args):
        self.started = time.monotonic()
        try:
            self.result = fn(*args)
        except pymysql.err.MySQLError as e:
            self.error = e
        except BaseException as e:  # noqa: B902 - reported by the test, not lost in a thread
            self.crash = e
        self.finished = time.monotonic()

    @property
    def elapsed(self):
        return self.finished - self.started

    def summary(self):
        if self.crash is not None:
            return f"crash {self.crash!r}"
        if self.error is not None:
            return self.error.args[0]
        return "ok"

    def __repr__(self):
        return f"<{self.summary()} result={self.result!r} error={self.error!r}>"


def in_thread(fn, *args):
    outcome = Outcome()
    thread = threading.Thread(target=outcome.run, args=(fn, *args), daemon=True)
    thread.start()
    return thread, outcome


def app_threads(server, conn=None):
    sql = "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s"
    if conn is None:
        return [row[0] for row in server.query(sql, (APP_USER,))]
    with conn.cursor() as cur:
        cur.execute(sql, (APP_USER,))
        return [row[0] for row in cur.fetchall()]


def running(server, marker):
    """Thread ids running a statement that contains `marker`."""
    rows = server.query("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE %s "
                        "AND ID <> CONNECTION_ID()", (f"%{marker}%",))
    return [row[0] for row in rows]


# --- fixtures --------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def sqlstate(monkeypatch):
    """PyMySQL drops an ERR packet's SQLSTATE; here every error raised from an ERR packet
    carries it as `.sqlstate` (so a test can check 70100 for ERR 1927; None when the packet
    has no '#' marker) and the packet's payload as `.packet`."""
    original = pymysql.err.raise_mysql_exception

    def raise_with_sqlstate(data):
        try:
            original(data)
        except pymysql.err.MySQLError as e:
            e.sqlstate = data[4:9].decode() if data[3:4] == b"#" else None
            e.packet = bytes(data)
            raise

    monkeypatch.setattr(pymysql.err, "raise_mysql_exception", raise_with_sqlstate)


@pytest.fixture(scope="module")
def short_wait_server():
    """A MariaDB started with --wait-timeout=2: it closes any connection (the proxy's backend
    connections too) that sends no command for 2 s."""
    server = MariaDBServer(extra_args=["--wait-timeout=2"])
    yield server
    server.close()


@pytest.fixture(scope="module")
def own_server():
    """A MariaDB of this module's own, which its tests KILL connections on and restart."""
    server = MariaDBServer()
    yield server
    server.close()


@pytest.fixture
def server(own_server):
    """own_server, running (an earlier test may have failed while it was stopped), with no
    connections as user app left over from an earlier test's proxy."""
    if not own_server.alive():
        own_server.start()
    wait_until(lambda: not app_threads(own_server), 10,
               "backend connections of earlier tests to go away")
    return own_server


# --- 1. the server's wait_timeout -------------------------------------------------------------

IDLE = (3.0, 5.0, 4.0)  # seconds between queries, each past the server's wait_timeout of 2 s
def idle_sql():
    """The thread id (from the process list: the row with this query's own marker), the
    session's wait_timeout, a row. Not CONNECTION_ID(): through the proxy a session that asks
    it keeps its backend from later clients, and these rounds check that the pool's
    connections survive."""
    marker = f"longlink-idle-{uuid.uuid4().hex}"
    return ("SELECT (SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE "
            f"CONCAT(CHAR(37), '{marker}', CHAR(37))), @@session.wait_timeout, "
            "(SELECT v FROM t WHERE id = 2)")
IDLE_CLIENTS = [f"{kind}-{transport}-{library}" for kind in ("direct", "proxy")
                for transport in ("tcp", "unix") for library in ("pymysql", "sqlalchemy")]


def pymysql_idle_rounds(target, idle, record):
    """One PyMySQL connection (its defaults: autocommit off, so the read leaves a transaction
    open and only a live backend can answer the next query): a query, then idle, query, ...
    After an error it reconnects (ping(reconnect=True)), as an application would."""
    conn = connect(target)
    for pause in (0, *idle):
        time.sleep(pause)
        try:
            record["rows"].append(query_one(conn, idle_sql()))
        except pymysql.err.MySQLError as e:
            record["errors"].append(e.args)
            conn.ping(reconnect=True)
    conn.close()


def sqlalchemy_idle_rounds(target, idle, record):
    """A SQLAlchemy engine with a pool and pool_pre_ping=False: checkout, query, checkin
    (rollback), idle, ... On a disconnect error SQLAlchemy invalidates the pooled connection
    and the next checkout opens a new one."""
    import sqlalchemy
    engine = sqlalchemy.create_engine(target.sqlalchemy_url(), pool_pre_ping=False,
                                      pool_size=2, max_overflow=0,
                                      connect_args={"read_timeout": READ_TIMEOUT})
    try:
        for pause in (0, *idle):
            time.sleep(pause)
            try:
                with engine.connect() as conn:
                    record["rows"].append(tuple(conn.execute(sqlalchemy.text(idle_sql())).one()))
            except sqlalchemy.exc.DBAPIError as e:
                record["errors"].append(e.orig.args)
    finally:
        engine.dispose()


def idle_client(target, library, idle, record):
    try:
        (pymysql_idle_rounds if library == "pymysql" else sqlalchemy_idle_rounds)(
            target, idle, record)
    except BaseException as e:  # noqa: B902 - the test reports it
        record["crash"] = repr(e)


@pytest.fixture(scope="module")
def idle_rounds(short_wait_server, tmp_path_factory, request):
    """Runs all IDLE_CLIENTS at once (so the module waits ~12 s, not 8 x 12 s): the server
    directly and the proxy (default timers: nothing configured about wait_timeout), over TCP
    and the Unix socket, each with PyMySQL and SQLAlchemy. Returns ({client: record}, proxy),
    a record being {"rows": [...], "errors": [(code, message), ...], "crash": None}, and
    records["pooled"] = (the proxy's backend thread ids before the rounds, those of them still
    connected after). When only the direct tests are selected (`-k direct`) no proxy is
    started (proxy is None)."""
    proxy = None
    if any(item.name.startswith(("test_idle_past_wait_timeout_through", "test_keepalive"))
           for item in request.session.items):
        proxy = ProxyProcess(request.getfixturevalue("longlink_bin"), short_wait_server,
                             str(tmp_path_factory.mktemp("idle-proxy")))
    try:
        records, threads = {}, []
        if proxy:
            # One session fills the pool (min_idle=1): its connections then idle (or serve the
            # clients below) for the whole ~12 s, long past the server's wait_timeout.
            new_session_works(proxy.unix)
            time.sleep(0.3)
            pooled = set(app_threads(short_wait_server))
        for i, name in enumerate(IDLE_CLIENTS):
            kind, transport, library = name.split("-")
            if kind == "proxy" and proxy is None:
                continue
            target = (proxy.target(transport) if kind == "proxy"
                      else short_wait_server.target(transport))
            idle = IDLE[i % 3:] + IDLE[:i % 3]  # staggered
            records[name] = {"rows": [], "errors": [], "crash": None}
            threads.append(threading.Thread(target=idle_client,
                                            args=(target, library, idle, records[name])))
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads), f"idle clients hang: {records}"
        print(f"idle rounds took {time.monotonic() - started:.1f}s")
        if proxy:
            records["pooled"] = (pooled, pooled & set(app_threads(short_wait_server)))
    except BaseException:
        if proxy:
            proxy.kill()
        raise
    yield records, proxy
    if proxy:
        proxy.stop()


@pytest.mark.parametrize("client", [c for c in IDLE_CLIENTS if c.startswith("direct")])
def test_idle_past_wait_timeout_fails_direct(idle_rounds, client):
    """The problem, reproduced: against the server itself, every query on a connection that
    was idle longer than wait_timeout fails with 'server has gone away' / 'lost connection'.
    PyMySQL's reconnecting client fails after every idle period; SQLAlchemy's pool replaces
    the connection after the error, so the query after the next idle period works on a new
    connection that was not idle (error, ok, error for three idle periods)."""
    record = idle_rounds[0][client]
    assert record["crash"] is None, record
    assert record["rows"] and record["rows"][0][1] == 2, f"wait_timeout is not 2: {record}"
    failures = len(IDLE) if client.endswith("pymysql") else (len(IDLE) + 1) // 2
    assert len(record["errors"]) == failures, f"queries after idling should fail: {record}"
    assert all(e[0] in CLIENT_SIDE_LOSS for e in record["errors"]), record["errors"]


@pytest.mark.parametrize("client", [c for c in IDLE_CLIENTS if c.startswith("proxy")])
def test_idle_past_wait_timeout_through_proxy(idle_rounds, client):
    """Through the proxy the same clients see 0 errors, and every query is answered by a
    backend connection with wait_timeout=2 (so the proxy faced the same server timeout)."""
    record = idle_rounds[0][client]
    assert record["crash"] is None, record
    assert record["errors"] == [], f"{client} saw errors through the proxy: {record}"
    assert len(record["rows"]) == len(IDLE) + 1, record
    assert all(row[1:] == (2, "two") for row in record["rows"]), record["rows"]


@pytest.mark.parametrize("client", ["proxy-tcp-pymysql", "proxy-unix-pymysql"])
def test_keepalive_keeps_a_held_backend(idle_rounds, client):
    """The backend held by an idle client session is kept alive (pinged at most every
    wait_timeout/2): CONNECTION_ID() is the same in every round, although the client was idle
    for up to 5 s with a transaction open (PyMySQL's autocommit off)."""
    record = idle_rounds[0][client]
    ids = [row[0] for row in record["rows"]]
    assert len(ids) == len(IDLE) + 1, f"not every round succeeded: {record}"
    assert len(set(ids)) == 1, f"the backend changed between rounds: {ids}"


def test_keepalive_keeps_pooled_backends(idle_rounds):
    """Idle pooled connections are pinged before the server's wait_timeout: the proxy's
    backend connections from before the rounds are all still connected after ~12 s (pooled or
    serving the clients, never 2 s without a command), and the server never closed one under
    the proxy (no 'dropped idle backend connection' line)."""
    records, proxy = idle_rounds
    before, after = records["pooled"]
    assert before, "no backend connection in the pool before the rounds"
    assert after == before, f"backend connections {sorted(before - after)} did not survive"
    assert DROPPED not in proxy.log(), proxy.log()


# --- 2. KILL of idle pooled backends ----------------------------------------------------------

def test_kill_idle_pooled_backends(server, proxy_factory):
    """An admin KILLs every idle pooled backend connection. The proxy watches idle pooled
    sockets: it logs one 'dropped idle backend connection <id>' line per killed connection at
    once, and the sessions that follow all succeed on other connections. check_delay=1h turns
    the ping at checkout off, so only the watching can keep a dead connection from a client."""
    proxy = proxy_factory(server=server, pool__max_connections=4, pool__min_idle=1,
                          pool__check_delay="1h", pool__mode="session")
    clients = [connect(proxy.target(t)) for t in ("unix", "tcp", "unix", "tcp")]
    killed = {backend_id(c) for c in clients}
    assert len(killed) == 4
    for c in clients:
        c.close()  # each backend connection is reset and goes back to the pool

    def all_idle():
        rows = server.query("SELECT ID, COMMAND FROM information_schema.PROCESSLIST "
                            "WHERE USER = %s", (APP_USER,))
        return {r[0] for r in rows if r[1] == "Sleep"} >= killed

    wait_until(all_idle, 5, "the 4 backend connections to be idle in the pool")
    time.sleep(0.3)
    admin = server.admin()
    for thread_id in killed:
        server.kill(thread_id, admin)
    admin.close()
    for thread_id in killed:
        proxy.wait_for_log(rf"{DROPPED} {thread_id}\b", timeout=2)

    used = []
    for i in range(8):
        conn = connect(proxy.target("unix" if i % 2 else "tcp"))
        used.append(backend_id(conn))
        assert query_one(conn, "SELECT v FROM t WHERE id = 1") == ("one",)
        conn.close()
    threads = [in_thread(new_session_works, proxy.target(t)) for t in ("unix", "tcp") * 2]
    for thread, _ in threads:
        thread.join(timeout=20)
    assert [o.summary() for _, o in threads] == ["ok"] * 4, [o for _, o in threads]
    assert not killed & set(used), f"a killed backend served a session: {used}"
    for thread_id in killed:
        assert len(proxy.log_lines(rf"{DROPPED} {thread_id}\b")) == 1, proxy.log()


# --- 3. KILL of the backend under an idle client ----------------------------------------------

CLEAN_STATE = ["SELECT COUNT(*) FROM t",  # an ordinary statement (autocommit is on here)
               "SET autocommit = 0",
               "SET time_zone = '+03:00'",
               "SET SESSION sql_mode = 'ANSI_QUOTES'",
               "SET NAMES latin1",
               "USE other"]
STATE_SQL = ("SELECT CONNECTION_ID(), @@autocommit, @@time_zone, @@sql_mode, "
             "@@character_set_client, DATABASE(), @@in_transaction")


def kill_idle_backend(server, conn):
    """KILLs the backend connection under `conn` (idle) and returns its id once it is gone
    from the server, plus a moment for the proxy to see the close."""
    thread_id = backend_id(conn)
    server.kill(thread_id)
    time.sleep(0.3)
    return thread_id


@pytest.mark.parametrize("where", WHERE_ALL)
def test_kill_under_idle_clean_client(server, make_target, where):
    """A client sets session variables and a schema (a clean state: SETs, USE, an ordinary
    statement, no transaction), goes idle, and an admin KILLs its backend connection.
    Direct: the next query fails (2006/2013). Through the proxy: the next query succeeds, on
    a new backend connection (CONNECTION_ID() differs), with autocommit, time_zone, sql_mode,
    SET NAMES and the schema as the client set them."""
    target = make_target(where, server=server, pool__max_connections=4)
    conn = connect(target, autocommit=True)
    run(conn, *CLEAN_STATE)
    before = query_one(conn, STATE_SQL)
    assert before[1:] == (0, "+03:00", "ANSI_QUOTES", "latin1", "other", 0), before
    killed = kill_idle_backend(server, conn)
    if not target.is_proxy:
        e = error_of(query_one, conn, STATE_SQL)
        assert e is not None and e.args[0] in CLIENT_SIDE_LOSS, e
        return
    after = query_one(conn, STATE_SQL)
    assert after[0] != killed, "CONNECTION_ID() is the killed backend's"
    assert after[1:] == before[1:], f"state before the KILL {before}, after {after}"
    assert query_one(conn, "SELECT v FROM app.t WHERE id = 2") == ("two",)
    assert query_one(conn, "SELECT CONNECTION_ID()") == (after[0],)
    assert killed not in app_threads(server)
    conn.close()
    new_session_works(target)


def test_kill_under_idle_client_is_noticed_while_idle(server, proxy_factory):
    """A backend killed under a client that stays idle is noticed without waiting for the
    client: once the client has been idle for a second the worker watches the held socket
    (epoll), and a socket already closed by then is reported at once. The proxy logs the
    loss within seconds, with no command from the client, and the client's next query runs
    on a fresh backend connection."""
    proxy = proxy_factory(pool__mode="session", server=server, pool__max_connections=4)
    conn = connect(proxy.unix, autocommit=True)
    # Killed before the watch starts (idle < 1 s) and after it (idle > 1 s).
    for idle_before_kill in (0.0, 1.6):
        thread_id = backend_id(conn)
        time.sleep(idle_before_kill)
        server.kill(thread_id)
        proxy.wait_for_log(rf"backend connection {thread_id} lost while the client was idle",
                           timeout=3)
        assert query_one(conn, "SELECT CONNECTION_ID()")[0] != thread_id
    conn.close()


CLEAN_CHANGES = {
    "autocommit-0": (["SET autocommit = 0"], "@@autocommit", 0),
    "time-zone": (["SET time_zone = '+03:00'"], "@@time_zone", "+03:00"),
    "sql-mode": (["SET SESSION sql_mode = 'ANSI_QUOTES'"], "@@sql_mode", "ANSI_QUOTES"),
    "set-names": (["SET NAMES latin1"], "@@character_set_client", "latin1"),
    "use": (["USE other"], "DATABASE()", "other"),
    "ordinary-statements": (["SELECT COUNT(*) FROM t", "SHOW TABLES", "DO 1",
                             "UPDATE t SET v = 'one' WHERE id = 1"], "DATABASE()", "app"),
}


@pytest.mark.parametrize("change", list(CLEAN_CHANGES))
def test_kill_under_idle_client_with_one_clean_change(server, proxy_factory, change):
    """The clean-state case one change at a time (so a failure names the change the proxy
    does not rebuild): the next query after the KILL succeeds on a new backend connection and
    sees the change."""
    statements, expression, value = CLEAN_CHANGES[change]
    proxy = proxy_factory(server=server, pool__max_connections=4)
    conn = connect(proxy.unix, autocommit=True)
    run(conn, *statements)
    killed = kill_idle_backend(server, conn)
    e = error_of(query_one, conn, f"SELECT CONNECTION_ID(), {expression}")
    assert e is None, f"{e!r}\nproxy log:\n{proxy.log()}"
    new_id, seen = query_one(conn, f"SELECT CONNECTION_ID(), {expression}")
    assert new_id != killed and seen == value, (killed, new_id, seen)
    conn.close()


DIRTY_STATES = {
    "user-variable-set": ["SET @x = 1"],
    "user-variable-select": ["SELECT @y := 2"],
    "open-transaction": ["BEGIN", "SELECT v FROM t WHERE id = 1 FOR UPDATE"],
    "autocommit-0-transaction": ["SET autocommit = 0", "SELECT v FROM t WHERE id = 1"],
    "temporary-table": ["CREATE TEMPORARY TABLE scratch (x INT)"],
    "prepare": ["PREPARE s FROM 'SELECT 1'"],
    "get-lock": ["SELECT GET_LOCK('longlink-dead-backends', 0)"],
    "lock-tables": ["LOCK TABLES t READ"],
    "call": ["CALL two_results()"],
    "clean-then-dirty": ["SET time_zone = '+01:00'", "USE other", "SET @z = 3"],
}


@pytest.mark.parametrize("state", list(DIRTY_STATES))
def test_kill_under_idle_dirty_client(server, proxy_factory, state):
    """The same KILL under a client whose session state the proxy cannot rebuild (a user
    variable, a transaction, a temporary table, a prepared statement, a lock, a CALL): the
    proxy ends the client connection as the server ended the backend's (a close), so the next
    query fails in the client exactly as it does direct after a KILL of an idle connection
    (2013; checked against the server below). New sessions work."""
    proxy = proxy_factory(server=server, pool__max_connections=4)
    target = proxy.target(("tcp", "unix")[list(DIRTY_STATES).index(state) % 2])
    conn = connect(target, autocommit=True)
    run(conn, *DIRTY_STATES[state])
    killed = kill_idle_backend(server, conn)
    e = error_of(query_one, conn, "SELECT CONNECTION_ID(), @@in_transaction")
    direct = connect(server.target("tcp"), autocommit=True)
    run(direct, *DIRTY_STATES[state])
    kill_idle_backend(server, direct)
    e_direct = error_of(query_one, direct, "SELECT CONNECTION_ID(), @@in_transaction")
    assert e is not None and e_direct is not None
    assert e.args[0] == e_direct.args[0] == 2013, (e.args, e_direct.args)
    assert_closed(conn)
    assert killed not in app_threads(server)
    new_session_works(target)


IN_FLIGHT = "longlink-in-flight"


@pytest.mark.parametrize("where", WHERE_ALL)
def test_kill_in_flight(server, make_target, where):
    """An admin KILLs the backend connection while it runs the client's SELECT SLEEP(30): the
    client gets an error at once (direct: MariaDB sends none, PyMySQL raises 2013; the proxy:
    ERR 1927), the client connection is closed, the statement is never run again (it does not
    reappear in the process list), and new sessions work."""
    target = make_target(where, server=server, pool__max_connections=4)
    conn = connect(target, autocommit=True)
    thread_id = backend_id(conn)
    thread, outcome = in_thread(query_one, conn, f"SELECT SLEEP(30), '{IN_FLIGHT}'")
    wait_until(lambda: running(server, IN_FLIGHT) == [thread_id], 5, "the SLEEP to run")
    killed_at = time.monotonic()
    server.kill(thread_id)
    thread.join(timeout=10)
    assert not thread.is_alive(), "the client is still waiting 10 s after the KILL"
    assert outcome.finished - killed_at < 2, outcome.finished - killed_at
    if target.is_proxy:
        assert_killed_error(outcome.error)
    else:
        assert outcome.error is not None and outcome.error.args[0] == 2013, outcome
    assert_closed(conn)
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        assert running(server, IN_FLIGHT) == [], "the killed statement was run again"
        time.sleep(0.1)
    new_session_works(target)


# --- 4. server restart; server down -----------------------------------------------------------

BUSY = "longlink-busy"


def test_server_restart_with_idle_and_busy_clients(server, proxy_factory):
    """mariadbd is stopped (SIGTERM) and started again on the same port under these clients:

    - clean-unix (time_zone and schema set), clean-tcp, clean-sqlalchemy (an engine with
      pool_pre_ping=False): idle through the restart; their next query succeeds on a new
      backend connection with their state;
    - clean-during-downtime: sends a query while the server is down; it is answered after the
      restart, within 1 s of the server accepting;
    - dirty-variable (SET @v), dirty-transaction (BEGIN ... FOR UPDATE): their connections
      end as the server ended their backends' (the next query fails in the client: 2006 or
      2013, as direct);
    - busy (SELECT SLEEP(20) running): an error at once (the server's 1053 or 1927), closed,
      never run again.
    A new session succeeds within 1 s of the server accepting again."""
    import sqlalchemy
    proxy = proxy_factory(server=server, pool__max_connections=12, pool__min_idle=1,
                          backend__retry_timeout="10s")
    conns = {name: connect(proxy.target(transport), autocommit=True) for name, transport in
             [("clean-unix", "unix"), ("clean-tcp", "tcp"), ("clean-during-downtime", "unix"),
              ("dirty-variable", "tcp"), ("dirty-transaction", "unix"), ("busy", "tcp")]}
    run(conns["clean-unix"], "SET time_zone = '+02:00'", "USE other")
    run(conns["clean-during-downtime"], "SET time_zone = '-04:00'")
    run(conns["dirty-variable"], "SET @v = 1")
    run(conns["dirty-transaction"], "BEGIN", "SELECT v FROM t WHERE id = 3 FOR UPDATE")
    before = {name: backend_id(c) for name, c in conns.items()}
    engine = sqlalchemy.create_engine(proxy.tcp.sqlalchemy_url(), pool_pre_ping=False,
                                      pool_size=1, max_overflow=0,
                                      connect_args={"read_timeout": READ_TIMEOUT})
    with engine.connect() as c:
        before["clean-sqlalchemy"] = c.execute(sqlalchemy.text("SELECT CONNECTION_ID()")).one()[0]
    busy_thread, busy = in_thread(query_one, conns["busy"], f"SELECT SLEEP(20), '{BUSY}'")
    wait_until(lambda: running(server, BUSY) == [before["busy"]], 5, "the busy SLEEP to run")

    stopped_at = time.monotonic()
    server.stop()
    busy_thread.join(timeout=5)
    assert not busy_thread.is_alive(), "the busy client still waits 5 s after the shutdown"
    time.sleep(0.5)
    downtime_thread, downtime = in_thread(
        query_one, conns["clean-during-downtime"], "SELECT CONNECTION_ID(), @@time_zone")
    time.sleep(1.5)
    assert downtime_thread.is_alive(), f"answered while the server was down: {downtime}"
    server.start()
    accepting = server.accepting_since
    new_thread, new_session = in_thread(new_session_works, proxy.unix)
    new_thread.join(timeout=10)
    downtime_thread.join(timeout=10)

    outcomes = {"busy": busy, "clean-during-downtime": downtime, "new-session": new_session}
    for name in ("clean-unix", "clean-tcp", "dirty-variable", "dirty-transaction"):
        outcomes[name] = Outcome()
        outcomes[name].run(query_one, conns[name],
                           "SELECT CONNECTION_ID(), @@time_zone, DATABASE()")

    def sqlalchemy_query():
        with engine.connect() as c:
            return tuple(c.execute(sqlalchemy.text("SELECT CONNECTION_ID(), 'sa'")).one())

    outcomes["clean-sqlalchemy"] = Outcome()
    outcomes["clean-sqlalchemy"].run(sqlalchemy_query)
    engine.dispose()
    seen = {name: o.summary() for name, o in outcomes.items()}
    busy_ok = seen["busy"] if seen["busy"] in (1053, KILLED) else "1053 or 1927"
    expected = {"busy": busy_ok, "clean-during-downtime": "ok", "new-session": "ok",
                "clean-unix": "ok", "clean-tcp": "ok", "dirty-variable": "gone",
                "dirty-transaction": "gone", "clean-sqlalchemy": "ok"}
    for name in ("dirty-variable", "dirty-transaction"):
        if seen[name] in (2006, 2013):
            seen[name] = "gone"
    assert seen == expected, f"{outcomes}\nproxy log:\n{proxy.log()}"

    assert busy.finished - stopped_at < 3, "the busy client waited for its error"
    assert_closed(conns["busy"])
    for name in ("dirty-variable", "dirty-transaction"):
        assert_closed(conns[name])
    assert outcomes["clean-unix"].result[1:] == ("+02:00", "other"), outcomes["clean-unix"]
    assert outcomes["clean-tcp"].result[1:] == ("SYSTEM", "app"), outcomes["clean-tcp"]
    assert downtime.result[1] == "-04:00", downtime
    for name in ("clean-unix", "clean-tcp", "clean-during-downtime", "clean-sqlalchemy"):
        assert outcomes[name].result[0] != before[name], f"{name}: the same CONNECTION_ID()"
    assert downtime.finished - accepting < 1, f"answered {downtime.finished - accepting:.2f}s " \
                                              "after the server accepted again"
    assert new_session.finished - accepting < 1, f"a new session took " \
                                                 f"{new_session.finished - accepting:.2f}s"
    assert running(server, BUSY) == [], "the busy statement was run again after the restart"
    for c in conns.values():
        c.close()


def test_server_down_new_sessions_wait(server, proxy_factory):
    """mariadbd is down for 5 s. Through a proxy with retry_timeout=10s, sessions opened while
    it is down (at +0.3 s and +3 s, TCP and Unix) wait and succeed within 1 s of the server
    accepting again. Through a proxy with retry_timeout=2s a session gets ERR 1105
    'longlink: ...' naming the refused connection after ~2 s, and one opened after the restart
    succeeds (the pool refills without a proxy restart). Logging about the failing backend is
    rate-limited (far fewer lines than connection attempts)."""
    waiting = proxy_factory(server=server, backend__retry_timeout="10s", pool__min_idle=1)
    giving_up = proxy_factory(server=server, backend__retry_timeout="2s", pool__min_idle=0)
    new_session_works(waiting.unix)
    new_session_works(giving_up.tcp)
    log_lines_before = len(waiting.log().splitlines())

    def session(target):
        conn = connect(target)
        try:
            return query_one(conn, "SELECT CONNECTION_ID(), v FROM t WHERE id = 1")
        finally:
            conn.close()

    server.stop()
    down_at = time.monotonic()
    sessions = {}
    time.sleep(0.3)
    sessions["giving-up"] = in_thread(session, giving_up.unix)
    for t in ("tcp", "unix"):
        sessions[f"early-{t}"] = in_thread(session, waiting.target(t))
    time.sleep(2.7)
    for t in ("tcp", "unix"):
        sessions[f"late-{t}"] = in_thread(session, waiting.target(t))
    time.sleep(max(0.0, down_at + 5 - time.monotonic()))
    assert all(thread.is_alive() for name, (thread, _) in sessions.items()
               if name != "giving-up"), f"answered while the server was down: {sessions}"
    log_lines_down = len(waiting.log().splitlines()) - log_lines_before
    server.start()
    accepting = server.accepting_since
    for thread, _ in sessions.values():
        thread.join(timeout=12)
    outcomes = {name: o for name, (_, o) in sessions.items()}
    seen = {name: o.summary() for name, o in outcomes.items()}
    expected = {"giving-up": 1105, "early-tcp": "ok", "early-unix": "ok", "late-tcp": "ok",
                "late-unix": "ok"}
    assert seen == expected, f"{outcomes}\nproxy log:\n{waiting.log()}\n{giving_up.log()}"

    gave_up = outcomes["giving-up"]
    assert gave_up.error.args[1].startswith("longlink: "), gave_up.error.args
    assert "refused" in gave_up.error.args[1].lower(), gave_up.error.args
    assert 1.8 <= gave_up.elapsed < 3.5, f"gave up after {gave_up.elapsed:.2f}s"
    for name in ("early-tcp", "early-unix", "late-tcp", "late-unix"):
        late = outcomes[name].finished - accepting
        assert late < 1, f"{name} succeeded {late:.2f}s after the server accepted again"
        assert outcomes[name].result[1] == "one"
    started = time.monotonic()
    new_session_works(giving_up.unix)
    assert time.monotonic() - started < 1
    # 4 sessions retrying for ~5 s with a backoff capped at 500 ms make 40 or more attempts.
    assert log_lines_down <= 20, f"{log_lines_down} log lines in 5 s:\n{waiting.log()}"


# --- 5. no leaks after 1,000 backend deaths ---------------------------------------------------

CHURN_CLIENTS = 4


def churn(server, target, deaths, stats):
    """One client session; `deaths` times: an admin KILLs its (idle) backend connection, the
    client's next query is answered on a new one with its SET replayed. A query that loses the
    race with the proxy noticing the death gets an error instead: counted, and the client
    reconnects."""
    admin = server.admin()
    conn = connect(target, autocommit=True)
    run(conn, "SET time_zone = '+01:00'")
    thread_id = backend_id(conn)
    try:
        for _ in range(deaths):
            server.kill(thread_id, admin)
            stats["deaths"] += 1
            time.sleep(0.005)
            try:
                new_id, zone = query_one(conn, "SELECT CONNECTION_ID(), @@time_zone")
            except pymysql.err.MySQLError as e:
                stats["errors"].append(e.args)
                conn.close()
                conn = connect(target, autocommit=True)
                run(conn, "SET time_zone = '+01:00'")
                new_id, zone = backend_id(conn), "+01:00"
            assert new_id != thread_id and zone == "+01:00", (thread_id, new_id, zone)
            thread_id = new_id
    finally:
        conn.close()
        admin.close()


def churn_round(server, proxy, deaths_each):
    """CHURN_CLIENTS churn() clients at once; returns their stats added up."""
    stats = [{"deaths": 0, "errors": []} for _ in range(CHURN_CLIENTS)]
    threads = [in_thread(churn, server, proxy.target("unix" if i % 2 else "tcp"),
                         deaths_each, stats[i]) for i in range(CHURN_CLIENTS)]
    for thread, _ in threads:
        thread.join(timeout=120)
    crashes = [o for _, o in threads if o.summary() != "ok"]
    assert not crashes, f"{crashes}\nproxy log:\n{proxy.log()[-5000:]}"
    return {"deaths": sum(s["deaths"] for s in stats),
            "errors": [e for s in stats for e in s["errors"]]}


def test_no_fd_or_memory_growth_after_1000_backend_deaths(server, proxy_factory):
    """4 clients each have their backend connection killed 250 times (after a warm-up of 100
    deaths), each death absorbed by a transparent reattach. The proxy's open file descriptors
    and VmRSS do not grow (fds: at most 2 more, for the pool's idle count; RSS: < 2 MiB), and
    the server sees no more connections from the proxy than its pool allows. Session pooling:
    a client's backend thread id stays its own between commands only there (in transaction
    pooling a killed id may be another client's by then)."""
    proxy = proxy_factory(server=server, pool__max_connections=8, pool__min_idle=1,
                          pool__mode="session")
    churn_round(server, proxy, 25)
    time.sleep(1.5)  # the janitor settles the pool's idle count
    fds, rss = proxy.fd_count(), proxy.rss_kib()
    started = time.monotonic()
    stats = churn_round(server, proxy, 250)
    elapsed = time.monotonic() - started
    time.sleep(1.5)
    fds_after, rss_after = proxy.fd_count(), proxy.rss_kib()
    print(f"{stats['deaths']} deaths in {elapsed:.1f}s; fds {fds} -> {fds_after}; "
          f"VmRSS {rss} -> {rss_after} KiB; {len(stats['errors'])} lost races")
    assert stats["deaths"] == 1000
    assert len(stats["errors"]) <= 10, stats["errors"]
    assert all(e[0] == KILLED for e in stats["errors"]), stats["errors"]
    assert fds_after - fds <= 2, f"fds grew from {fds} to {fds_after}"
    assert rss_after - rss < 2048, f"VmRSS grew from {rss} KiB to {rss_after} KiB"
    assert len(app_threads(server)) <= 8


# --- 6. a full server: ERR 1040 ---------------------------------------------------------------

def proxy_sockets(proxy, port):
    """The proxy's TCP sockets to the server's port, in any state (connecting included)."""
    r = subprocess.run(["ss", "-Htanp", "dst", f"127.0.0.1:{port}"], capture_output=True,
                       text=True, check=True)
    return sum(f"pid={proxy.pid}," in line for line in r.stdout.splitlines())


class Sampler:
    """Samples f() every 50 ms in a thread; .max is the largest value seen."""

    def __init__(self, f):
        self.f, self.max, self.done = f, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.is_set():
            self.max = max(self.max, self.f())
            self.done.wait(0.05)

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.max


def test_full_server_err_1040(server, proxy_factory):
    """The server (max_connections=10, 8 taken by root connections) has room for 2 more
    connections as user app; MariaDB's minimum max_connections is 10, hence the fillers.
    Control: directly, 2 of 4 clients connect and 2 get ERR 1040 at once. Through a proxy with
    pool max_connections=4 and retry_timeout=3s, 4 clients at once: 2 succeed, 2 get an error
    saying 'Too many connections' after ~3 s of retrying, and the proxy never has more than 4
    sockets to the server. When a slot frees up during the retrying, the waiting client gets it
    within 1 s. Afterwards (max_connections restored) new sessions work."""
    proxy = proxy_factory(server=server, pool__max_connections=4, pool__min_idle=0,
                          pool__queue_timeout="10s", backend__retry_timeout="3s",
                          pool__mode="session")
    wait_until(lambda: not app_threads(server), 5, "the proxy's start-up connection to close")
    admin = server.admin()
    old = server.variable("max_connections")
    fillers, held = [], []
    sampler = Sampler(lambda: proxy_sockets(proxy, server.port))
    try:
        with admin.cursor() as cur:
            cur.execute("SET GLOBAL max_connections = 10")
        while server.status("Threads_connected", admin) < 8:
            fillers.append(server.admin())
        assert server.status("Threads_connected", admin) == 8

        direct = [error_of(lambda: held.append(connect(server.target("tcp"))))
                  for _ in range(4)]
        assert [e and e.args[0] for e in direct] == [None, None, TOO_MANY, TOO_MANY], direct
        for c in held:
            c.close()
        held.clear()
        wait_until(lambda: server.status("Threads_connected", admin) == 8, 5,
                   "the direct clients to go")

        def hold(target):
            conn = connect(target)
            held.append(conn)
            return backend_id(conn)

        threads = [in_thread(hold, proxy.target(t)) for t in ("unix", "tcp", "unix", "tcp")]
        for thread, _ in threads:
            thread.join(timeout=15)
        outcomes = [o for _, o in threads]
        assert sorted(o.summary() == "ok" for o in outcomes) == [False, False, True, True], \
            f"{outcomes}\nproxy log:\n{proxy.log()}"
        for o in outcomes:
            if o.summary() == "ok":
                assert o.elapsed < 1, o.elapsed
                continue
            message = o.error.args[1]
            assert o.error.args[0] in (TOO_MANY, 1105), o.error.args
            assert "too many connections" in message.lower(), (o.error.args, o.error.packet)
            if o.error.args[0] == TOO_MANY:
                assert o.error.sqlstate == "08004", (o.error.args, o.error.packet)
            assert 2.7 <= o.elapsed < 5, f"the error came after {o.elapsed:.2f}s"

        waiting_thread, waiting = in_thread(hold, proxy.unix)
        time.sleep(1)
        assert waiting_thread.is_alive(), f"not waiting for a slot: {waiting}"
        freed_at = time.monotonic()
        fillers.pop().close()
        waiting_thread.join(timeout=10)
        assert waiting.summary() == "ok", f"{waiting}\nproxy log:\n{proxy.log()}"
        assert waiting.finished - freed_at < 1, waiting.finished - freed_at
        assert len(app_threads(server, admin)) == 3
    finally:
        most = sampler.stop()
        for c in held + fillers:
            c.close()
        with admin.cursor() as cur:
            cur.execute(f"SET GLOBAL max_connections = {int(old)}")
        admin.close()
    assert most <= 4, f"the proxy had {most} sockets to the server (pool max_connections=4)"
    new_session_works(proxy.tcp)


def test_server_refusing_before_its_greeting(server, proxy_factory):
    """A server with every slot taken, the SUPER user's extra one included (max_connections=10
    and 11 root connections), refuses a new connection before its greeting: ERR 1040 in the
    pre-4.1 form, without a SQLSTATE (control: directly, PyMySQL gets 1040 at connect). The
    proxy retries for retry_timeout=1s, then answers its client, which has logged in with
    CLIENT_PROTOCOL_41, with a well-formed ERR: 1040, SQLSTATE 08004, 'Too many
    connections' (or 1105 'longlink: ...' naming it)."""
    proxy = proxy_factory(server=server, pool__max_connections=4, pool__min_idle=0,
                          backend__retry_timeout="1s")
    wait_until(lambda: not app_threads(server), 5, "the proxy's start-up connection to close")
    admin = server.admin()
    old = server.variable("max_connections")
    fillers = []
    try:
        with admin.cursor() as cur:
            cur.execute("SET GLOBAL max_connections = 10")
        while server.status("Threads_connected", admin) < 11:
            fillers.append(server.admin())
        direct = error_of(connect, server.target("tcp"))
        assert direct is not None and direct.args[0] == TOO_MANY, direct
        assert direct.sqlstate is None, "the server's refusal should be the pre-greeting form"
        outcome = Outcome()
        outcome.run(connect, proxy.unix)
    finally:
        for c in fillers:
            c.close()
        with admin.cursor() as cur:
            cur.execute(f"SET GLOBAL max_connections = {int(old)}")
        admin.close()
    e = outcome.error
    assert e is not None, outcome
    assert 0.9 <= outcome.elapsed < 3, f"the error came after {outcome.elapsed:.2f}s"
    assert e.args[0] in (TOO_MANY, 1105), (e.args, e.packet)
    assert "too many connections" in e.args[1].lower(), (e.args, e.packet)
    assert e.sqlstate == ("08004" if e.args[0] == TOO_MANY else "08S01"), (e.args, e.packet)
    new_session_works(proxy.tcp)
