"""KILL through the proxy (docs/PROXY.md, "Connection ids and KILL").

The number a client library knows as its connection id (the greeting's, `mysql_thread_id()`,
what the mariadb CLI's Ctrl-C sends) is the proxy's session id; the thread ids the server tells
(CONNECTION_ID(), @@pseudo_thread_id, the process list) name backend connections. A KILL
through the proxy acts on the session either number names, if the killer could know it names
that session: its running statement is killed by query id after the proxy checked which
backend connection runs it, so that a thread id that by then serves another client is never
hit. Numbers the proxy does not know go to the server. Tests marked direct/proxy run the same
body against the server, the reference."""
import os
import signal
import subprocess
import threading
import time

import pymysql
import pytest

from client_checks import CLIENT_SIDE_LOSS, assert_closed, backend_thread, error_of
from mariadb_server import APP_PASSWORD, APP_USER, RO_PASSWORD, RO_USER


class Running:
    """Runs `sql` on `conn` in a thread; .join() gives (rows, error, seconds)."""

    def __init__(self, conn, sql):
        self.conn, self.sql = conn, sql
        self.rows = self.error = None
        self.seconds = None
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self):
        started = time.monotonic()
        try:
            with self.conn.cursor() as cur:
                cur.execute(self.sql)
                self.rows = cur.fetchall()
        except pymysql.err.MySQLError as e:
            self.error = e
        self.seconds = time.monotonic() - started

    def join(self, timeout=15):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"{self.sql!r} still running"
        return self.rows, self.error, self.seconds


def wait_running(server, text, timeout=5):
    """Waits until the server runs a statement containing `text`; returns its thread id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = server.query("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE %s "
                            "AND ID <> CONNECTION_ID()", (f"%{text}%",))
        if rows:
            return rows[0][0]
        time.sleep(0.05)
    raise AssertionError(f"no statement with {text!r} started")


def error_code(fn, *args):
    e = error_of(fn, *args)
    return None if e is None else e.args[0]


def execute(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_kill_query_by_session_id(proxy_factory, mariadb):
    """KILL QUERY <victim's connection id> from another client of the same user interrupts
    the victim's statement at once; the victim's session goes on, on the same backend. Of an
    idle victim it does nothing."""
    proxy = proxy_factory(pool__max_connections=4)
    victim = proxy.unix.connect()
    victim_backend = execute(victim, "SELECT CONNECTION_ID()")[0][0]
    killer = proxy.tcp.connect()
    assert execute(killer, f"KILL QUERY {victim.thread_id()}") == ()
    assert execute(victim, "SELECT 'idle victim untouched'") == (("idle victim untouched",),)
    running = Running(victim, "SELECT SLEEP(20), 'kill-query-marker'")
    wait_running(mariadb, "kill-query-marker")
    execute(killer, f"KILL QUERY {victim.thread_id()}")
    rows, error, seconds = running.join()
    assert seconds < 10, (rows, error, seconds)
    # MariaDB answers a killed SLEEP() with 1 (or ERR 1317, depending on timing).
    assert error is None and rows == ((1, "kill-query-marker"),) or \
        (error is not None and error.args[0] == 1317), (rows, error)
    assert execute(victim, "SELECT CONNECTION_ID(), 'alive'") == ((victim_backend, "alive"),)
    assert execute(killer, "SELECT 'killer alive'") == (("killer alive",),)
    assert "killed session" in proxy.log(), proxy.log()
    for conn in (victim, killer):
        conn.close()


def test_kill_connection_by_session_id(proxy_factory, mariadb):
    """KILL <id> (CONNECTION) ends that client's connection, busy or idle; other clients and
    new sessions are unaffected."""
    proxy = proxy_factory(pool__max_connections=4)
    killer = proxy.unix.connect()

    busy = proxy.unix.connect()
    running = Running(busy, "SELECT SLEEP(20), 'kill-connection-marker'")
    wait_running(mariadb, "kill-connection-marker")
    execute(killer, f"KILL CONNECTION {busy.thread_id()}")
    rows, error, seconds = running.join()
    assert seconds < 10 and error is not None, (rows, error, seconds)
    assert error.args[0] in CLIENT_SIDE_LOSS + (1317, 1927), error
    assert_closed(busy)

    idle = proxy.tcp.connect()
    execute(idle, "SELECT 1")
    execute(killer, f"KILL {idle.thread_id()}")
    assert_closed(idle)
    assert "KILL CONNECTION from session" in proxy.log(), proxy.log()

    assert execute(killer, "SELECT 'killer alive'") == (("killer alive",),)
    fresh = proxy.unix.connect()
    assert execute(fresh, "SELECT 'new session'") == (("new session",),)
    for conn in (killer, fresh):
        conn.close()


def test_kill_never_reaches_another_clients_work(proxy_factory, mariadb):
    """A killer reads the process list while a victim holds the only backend connection (so it
    knows that thread id legitimately), the victim ends, and the next client takes over the
    same backend connection (a pool of one) and runs a long statement. KILL QUERY and KILL with
    the victim's greeting id and with that thread id leave that statement alone: ERR 1094, as
    the server answers for a connection that has ended. A KILL in a comment is refused."""
    # Two pools of one user (see the killer below), one connection each.
    proxy = proxy_factory(pool__max_connections=1, pool__max_user_connections=2,
                          pool__queue_timeout="5s")
    # FOUND_ROWS puts the killer in a pool of its own (the key has the capability bits).
    killer = proxy.tcp.connect(client_flag=pymysql.constants.CLIENT.FOUND_ROWS)
    victim = proxy.unix.connect()
    victim_id = victim.thread_id()
    backend = backend_thread(victim)
    assert backend in [row[0] for row in execute(killer, "SHOW PROCESSLIST")]
    victim.close()

    other = proxy.unix.connect()
    assert backend_thread(other) == backend
    running = Running(other, "SELECT SLEEP(1.5), 'finished'")
    time.sleep(0.3)
    for number in (victim_id, backend):
        for statement in (f"KILL QUERY {number}", f"kill {number};",
                          f"KILL HARD CONNECTION {number}", f"KILL QUERY {number} + 0"):
            assert error_code(execute, killer, statement) == 1094, statement
    for statement in (f"/*!KILL {backend} */", f"/*M!KILL QUERY {backend} */"):
        assert error_code(execute, killer, statement) == 1095, statement
    # The same through a statement prepared with SQL, which the server would run as written.
    execute(killer, "PREPARE stale_kill FROM 'KILL QUERY ?'")
    execute(killer, f"SET @stale = {backend}")
    assert error_code(execute, killer, "EXECUTE stale_kill USING @stale") == 1094
    rows, error, _ = running.join()
    assert error is None and rows == ((0, "finished"),), (rows, error)
    assert execute(killer, "SELECT 'the killer session still works'") == \
        (("the killer session still works",),)
    for conn in (other, killer):
        conn.close()


@pytest.mark.parametrize("where", ["direct-tcp", "proxy-tcp", "proxy-unix"])
@pytest.mark.parametrize("learnt_by", ["CONNECTION_ID()", "@@pseudo_thread_id", "processlist"])
def test_kill_query_by_the_id_the_server_told(make_target, mariadb, where, learnt_by):
    """An application learns a connection's thread id from the server (CONNECTION_ID() or
    @@pseudo_thread_id on that connection, or the process list, as pt-kill does) and KILLs its
    query from another connection: the statement stops, the connection goes on, as direct. A
    KILL of that id after the session ended gets ERR 1094, as direct."""
    target = make_target(where, pool__max_connections=4)
    victim = target.connect()
    killer = target.connect()
    marker = f"kill-by-id-{learnt_by[:6]}"
    if learnt_by == "processlist":
        running = Running(victim, f"SELECT SLEEP(20), '{marker}'")
        wait_running(mariadb, marker)
        ids = [row[0] for row in execute(killer, "SHOW FULL PROCESSLIST")
               if row[7] and marker in row[7] and "PROCESSLIST" not in row[7]]
        assert len(ids) == 1, ids
        thread = ids[0]
    else:
        thread = execute(victim, f"SELECT {learnt_by}")[0][0]
        running = Running(victim, f"SELECT SLEEP(20), '{marker}'")
        wait_running(mariadb, marker)
    assert execute(killer, f"KILL QUERY {thread}") == ()
    rows, error, seconds = running.join()
    assert seconds < 10, (rows, error, seconds)
    assert error is None and rows == ((1, marker),) or \
        (error is not None and error.args[0] == 1317), (rows, error)
    assert execute(victim, "SELECT 'victim alive'") == (("victim alive",),)
    victim.close()
    time.sleep(0.3)
    assert error_code(execute, killer, f"KILL QUERY {thread}") == 1094
    assert error_code(execute, killer, f"KILL {thread}") == 1094
    killer.close()


@pytest.mark.parametrize("where", ["direct-tcp", "proxy-unix"])
def test_kill_connection_by_the_id_the_server_told(make_target, where):
    """KILL <CONNECTION_ID() of another connection> ends that connection, as direct."""
    target = make_target(where, pool__max_connections=4)
    victim, killer = target.connect(), target.connect()
    thread = execute(victim, "SELECT CONNECTION_ID()")[0][0]
    assert execute(killer, f"KILL {thread}") == ()
    time.sleep(0.3)
    assert_closed(victim)
    assert execute(killer, "SELECT 'killer alive'") == (("killer alive",),)
    killer.close()


@pytest.mark.parametrize("where", ["direct-tcp", "proxy-tcp"])
def test_kill_of_the_own_connection_id(make_target, where):
    """KILL QUERY CONNECTION_ID() interrupts the KILL itself (ERR 1317) and the session goes
    on; KILL CONNECTION_ID() ends it (ERR 1927, then closed): as direct."""
    target = make_target(where)
    conn = target.connect()
    assert error_code(execute, conn, "KILL QUERY CONNECTION_ID()") == 1317
    assert execute(conn, "SELECT 'alive'") == (("alive",),)
    thread = execute(conn, "SELECT CONNECTION_ID()")[0][0]
    assert error_code(execute, conn, f"KILL QUERY {thread}") == 1317
    assert error_code(execute, conn, "KILL CONNECTION_ID()") == 1927
    assert_closed(conn)


KILL_ANSWERS = ["KILL 'abc'", "KILL NULL", "KILL -1", "KILL 4000000000 + 1", "KILL 0x7fffffff",
                "KILL QUERY 99999999", "KILL @unset", "KILL (SELECT 4000000007)",
                "KILL QUERY ID 999999999", "KILL no_such_column", "KILL 1 +", "KILL",
                "KILL QUERY", "KILL USER nobody_here",
                # Blanks and identifiers as the server's lexer reads them: \f and \v are
                # blanks; KILLé is an identifier (a syntax error), not KILL.
                "\f\vKILL 99999999", "KILL\u00e9 99999999"]


def test_kill_answers_what_the_server_answers(proxy_factory, mariadb):
    """KILL with an expression, a query id, a user, a malformed target: through the proxy the
    same answer (OK, or ERR code and message) as direct."""
    proxy = proxy_factory()
    direct, through = mariadb.target("tcp").connect(), proxy.tcp.connect()
    for statement in KILL_ANSWERS:
        answers = []
        for conn in (direct, through):
            e = error_of(execute, conn, statement)
            answers.append(None if e is None else e.args)
        assert answers[0] == answers[1], (statement, answers)
    for conn in (direct, through):
        assert execute(conn, "SELECT 'alive'") == (("alive",),)
        conn.close()


def test_kill_of_an_idle_pooled_connection_and_of_one_not_the_proxys(proxy_factory, mariadb):
    """The process list shows a killer the proxy's idle pooled connections and other clients'
    direct connections. KILL of an idle pooled connection of the same user closes it (OK; the
    pool opens another); KILL of a direct connection reaches the server, which ends it (OK);
    of another user's, the server's ERR 1095."""
    from mariadb_server import RO_PASSWORD, RO_USER
    proxy = proxy_factory(pool__min_idle=1)
    first = proxy.unix.connect()
    pooled = backend_thread(first)
    first.close()
    time.sleep(0.3)
    killer = proxy.tcp.connect(client_flag=pymysql.constants.CLIENT.FOUND_ROWS)  # Own pool.
    assert pooled in [row[0] for row in execute(killer, "SHOW PROCESSLIST")]
    assert execute(killer, f"KILL {pooled}") == ()
    time.sleep(0.3)
    assert pooled not in [row[0] for row in mariadb.processlist()]
    later = proxy.unix.connect()
    assert execute(later, "SELECT 'pool works'") == (("pool works",),)
    later.close()

    outsider = mariadb.target("tcp").connect()
    outsider_id = outsider.thread_id()
    assert execute(killer, f"KILL {outsider_id}") == ()
    time.sleep(0.3)
    assert_closed(outsider)
    stranger = mariadb.target("tcp").connect(user=RO_USER, password=RO_PASSWORD)
    assert error_code(execute, killer, f"KILL {stranger.thread_id()}") == 1095
    stranger.close()
    killer.close()


def test_kill_in_a_multi_statement_is_refused(proxy_factory):
    """A KILL inside a multi-statement query would run on the server with a raw thread id:
    the whole query is refused (ERR 1095) and nothing of it runs."""
    proxy = proxy_factory()
    conn = proxy.unix.connect(client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
    assert error_code(execute, conn, "SET @before = 1; KILL 1") == 1095
    assert execute(conn, "SELECT @before") == ((None,),)
    conn.close()


def test_kill_of_another_users_session(proxy_factory):
    """Sessions of another proxy user cannot be killed: ERR 1095, as on the server."""
    proxy = proxy_factory()
    victim = proxy.unix.connect(user=RO_USER, password=RO_PASSWORD)
    killer = proxy.unix.connect()
    assert error_code(execute, killer, f"KILL QUERY {victim.thread_id()}") == 1095
    assert error_code(execute, killer, f"KILL {victim.thread_id()}") == 1095
    assert execute(victim, "SELECT 'victim alive'") == (("victim alive",),)
    for conn in (victim, killer):
        conn.close()


def test_kill_of_the_own_session(proxy_factory):
    """KILL QUERY of the own id interrupts the KILL itself (ERR 1317) and the session goes on;
    KILL of the own id ends the session (ERR 1927, then closed)."""
    proxy = proxy_factory()
    conn = proxy.unix.connect()
    assert error_code(execute, conn, f"KILL QUERY {conn.thread_id()}") == 1317
    assert execute(conn, "SELECT 'alive'") == (("alive",),)
    assert error_code(execute, conn, f"KILL {conn.thread_id()}") == 1927
    assert_closed(conn)


def test_mariadb_cli_ctrl_c_kills_the_query(proxy_factory):
    """The mariadb CLI's Ctrl-C opens a second connection and sends KILL QUERY <its connection
    id>: through the proxy the running statement stops (ERR 1317) and the CLI goes on with
    the next statement (--force: batch mode would stop at the error)."""
    proxy = proxy_factory()
    cli = subprocess.Popen(
        ["mariadb", "--no-defaults", "-S", proxy.unix_socket, f"-u{APP_USER}",
         f"-p{APP_PASSWORD}", "--force", "app"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    try:
        cli.stdin.write("SELECT SLEEP(20) AS slept;\n")
        cli.stdin.flush()
        time.sleep(1.0)
        started = time.monotonic()
        os.kill(cli.pid, signal.SIGINT)
        output, _ = cli.communicate("SELECT 'after ctrl-c' AS note;\n", timeout=15)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert time.monotonic() - started < 10, output
    assert "Ctrl-C -- query killed" in output, output
    assert "Query execution was interrupted" in output, output
    assert "after ctrl-c" in output, output


def execute_with_integer(raw, statement, value):
    """COM_STMT_EXECUTE of `statement` with one LONGLONG parameter; the reply's packets."""
    import struct
    raw.command(b"\x17" + struct.pack("<IBI", statement, 0, 1) + b"\x00\x01\x08\x00" +
                struct.pack("<q", value))
    return raw.response()


def err_of(packets):
    """(code, message) of a reply that is one ERR packet, or None for an OK."""
    first = packets[0]
    if first[:1] == b"\x00":
        return None
    assert first[:1] == b"\xff", packets
    return int.from_bytes(first[1:3], "little"), first[9:].decode()


@pytest.mark.parametrize("where", ["direct-tcp", "proxy-tcp", "proxy-unix"])
def test_prepared_kill_is_the_servers(make_target, mariadb, where):
    """KILL prepared with COM_STMT_PREPARE (as Connector/J with server prepares, PDO and
    libmariadb send it) gets the server's answers: `KILL ?` of an unknown id ERR 1094, `KILL
    QUERY ?` of another connection's CONNECTION_ID() interrupts its statement (OK), `KILL
    99999999` ERR 1094, and the statement can be executed again."""
    from raw_client import RawClient
    target = make_target(where, pool__max_connections=4)
    raw = RawClient(target)
    unknown = raw.prepare("KILL ?")
    assert err_of(execute_with_integer(raw, unknown, 99999999)) == \
        (1094, "Unknown thread id: 99999999")
    assert err_of(execute_with_integer(raw, unknown, 99999998)) == \
        (1094, "Unknown thread id: 99999998")
    fixed = raw.prepare("KILL 99999999")
    assert err_of(raw.execute(fixed)) == (1094, "Unknown thread id: 99999999")

    victim = target.connect()
    thread = execute(victim, "SELECT CONNECTION_ID()")[0][0]
    running = Running(victim, "SELECT SLEEP(20), 'prepared-kill-marker'")
    wait_running(mariadb, "prepared-kill-marker")
    query_kill = raw.prepare("KILL QUERY ?")
    assert err_of(execute_with_integer(raw, query_kill, thread)) is None
    rows, error, seconds = running.join()
    assert seconds < 10, (rows, error, seconds)
    assert error is None and rows == ((1, "prepared-kill-marker"),) or \
        (error is not None and error.args[0] == 1317), (rows, error)
    assert execute(victim, "SELECT 'victim alive'") == (("victim alive",),)
    victim.close()
    raw.close()


@pytest.mark.parametrize("where", ["direct-tcp", "proxy-tcp"])
def test_sql_prepared_kill_is_the_servers(make_target, mariadb, where):
    """KILL prepared with SQL (PREPARE s FROM 'KILL QUERY ?'; EXECUTE s USING @id) answers as
    the server does: an unknown id ERR 1094, another connection's CONNECTION_ID() interrupts
    its statement; after DEALLOCATE, EXECUTE gets the server's ERR 1243."""
    target = make_target(where, pool__max_connections=4)
    killer = target.connect()
    execute(killer, "PREPARE unknown_kill FROM 'KILL ?'")
    execute(killer, "SET @nobody = 99999999")
    e = error_of(execute, killer, "EXECUTE unknown_kill USING @nobody")
    assert e is not None and e.args == (1094, "Unknown thread id: 99999999"), e
    victim = target.connect()
    thread = execute(victim, "SELECT CONNECTION_ID()")[0][0]
    running = Running(victim, "SELECT SLEEP(20), 'sql-prepared-kill'")
    wait_running(mariadb, "sql-prepared-kill")
    execute(killer, "PREPARE query_kill FROM 'KILL QUERY ?'")
    execute(killer, f"SET @victim = {thread}")
    assert execute(killer, "EXECUTE query_kill USING @victim") == ()
    rows, error, seconds = running.join()
    assert seconds < 10, (rows, error, seconds)
    assert execute(victim, "SELECT 'victim alive'") == (("victim alive",),)
    execute(killer, "DEALLOCATE PREPARE query_kill")
    assert error_code(execute, killer, "EXECUTE query_kill USING @victim") == 1243
    for conn in (victim, killer):
        conn.close()
