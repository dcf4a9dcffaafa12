"""Each client gets a clean session: through the proxy the next client on the same backend
connection (pool of one: the process list proves it is the same) sees nothing the previous one
left: user variables, session variables, temporary tables, an open transaction, GET_LOCK locks,
SQL prepared statements, SET NAMES, the schema it switched to.

The checks are validated three ways against the server itself: a new direct connection is clean
(the checks pass), the same connection without a reset is dirty (every check fires: they can
fail), and the same connection after COM_RESET_CONNECTION is clean except for the schema (what
MariaDB's reset does, and why the proxy must restore the schema itself)."""
import pymysql
import pytest

from client_checks import backend_thread

from conftest import WHERE_ALL, WHERE_DIRECT
from mariadb_server import wait_until

COM_RESET_CONNECTION = 0x1F
COM_INIT_DB = 0x02
LOCK = "longlink-isolation-lock"

ALL_LEFTOVERS = ["user variable", "sql_mode", "autocommit", "isolation level",
                 "temporary table", "uncommitted row", "transaction", "lock",
                 "prepared statement", "character set", "schema"]


def dirty(cur):
    """Leaves every kind of session state behind; the caller then disconnects."""
    cur.execute("SET @leftover = 42")
    cur.execute("SET SESSION sql_mode = 'ANSI'")
    cur.execute("SET SESSION autocommit = 0")
    cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE")
    cur.execute("CREATE TEMPORARY TABLE scratch (x INT)")
    cur.execute("BEGIN")
    cur.execute("INSERT INTO app.t VALUES (100, 'uncommitted')")
    cur.execute("SELECT GET_LOCK(%s, 0)", (LOCK,))
    assert cur.fetchone() == (1,)
    cur.execute("PREPARE leftover_stmt FROM 'SELECT 1'")
    cur.execute("SET NAMES latin1")
    cur.execute("USE other")


def leftovers(cur, schema="app"):
    """What of dirty() this session still sees; [] for a clean one that asked for `schema`."""
    found = []
    cur.execute("SELECT @leftover, @@session.sql_mode = @@global.sql_mode, @@autocommit, "
                "@@session.tx_isolation = @@global.tx_isolation, DATABASE()")
    user_var, default_mode, autocommit, default_isolation, database = cur.fetchone()
    if user_var is not None:
        found.append("user variable")
    if not default_mode:
        found.append("sql_mode")
    if autocommit != 1:
        found.append("autocommit")
    if not default_isolation:
        found.append("isolation level")
    try:
        cur.execute("SELECT COUNT(*) FROM app.scratch")
        cur.fetchall()
        found.append("temporary table")
    except pymysql.err.ProgrammingError as e:
        assert e.args[0] == 1146, e.args
    cur.execute("SELECT COUNT(*) FROM app.t WHERE id = 100")
    if cur.fetchone() != (0,):
        found.append("uncommitted row")
    cur.execute("SELECT @@in_transaction")
    if cur.fetchone() != (0,):
        found.append("transaction")
    cur.execute("SELECT IS_FREE_LOCK(%s)", (LOCK,))
    if cur.fetchone() != (1,):
        found.append("lock")
    try:
        cur.execute("EXECUTE leftover_stmt")
        cur.fetchall()
        found.append("prepared statement")
    except pymysql.err.MySQLError as e:
        assert e.args[0] == 1243, e.args  # Unknown prepared statement handler
    cur.execute("SELECT @@character_set_client, @@character_set_results")
    if cur.fetchone() != ("utf8mb4", "utf8mb4"):
        found.append("character set")
    if database != schema:
        found.append("schema")
    return found


# autocommit=None: PyMySQL neither sets nor "fixes" autocommit at connect (its default, False,
# would hide a leftover autocommit=0 and open a transaction with the first SELECT).


def connection_id(cur):
    # Not CONNECTION_ID(): a session that asks it keeps its backend from later clients.
    return backend_thread(cur.connection)


def wait_gone(mariadb, thread_id):
    """Direct only: the server ends a closed connection's thread (releasing its lock and
    rolling back) asynchronously; a new connection could otherwise see it still there."""
    wait_until(lambda: not mariadb.query("SELECT 1 FROM information_schema.PROCESSLIST "
                                         "WHERE ID = %s", (thread_id,)),
               5, f"thread {thread_id} to end")


@pytest.mark.parametrize("where", WHERE_ALL)
def test_next_client_on_the_same_backend_sees_a_clean_session(make_target, where, mariadb):
    target = make_target(where, pool__max_connections=1, pool__min_idle=0)
    first = target.connect(charset="utf8mb4", autocommit=None)
    with first.cursor() as cur:
        first_id = connection_id(cur)
        dirty(cur)
    first.close()
    if not target.is_proxy:
        wait_gone(mariadb, first_id)

    second = target.connect(charset="utf8mb4", autocommit=None)  # Asks for schema app.
    with second.cursor() as cur:
        if target.is_proxy:  # Proxy-specific: a pool of one, so the same backend connection.
            assert connection_id(cur) == first_id
        assert leftovers(cur) == []
        cur.execute("SELECT v FROM t WHERE id = 1")  # The unqualified name resolves in app.
        assert cur.fetchone() == ("one",)
    second.close()

    # No schema asked for: DATABASE() is NULL.
    third = target.connect(charset="utf8mb4", autocommit=None, database=None)
    with third.cursor() as cur:
        if target.is_proxy:
            assert connection_id(cur) == first_id
        cur.execute("SELECT DATABASE()")
        assert cur.fetchone() == (None,)
    third.close()


@pytest.mark.parametrize("where", WHERE_DIRECT)
def test_the_checks_see_a_dirty_session(make_target, where):
    """Control: the same connection, not reset, shows every leftover."""
    conn = make_target(where).connect(charset="utf8mb4", autocommit=None)
    with conn.cursor() as cur:
        dirty(cur)
        assert leftovers(cur) == ALL_LEFTOVERS
    conn.close()


@pytest.mark.parametrize("where", WHERE_DIRECT)
def test_com_reset_connection_keeps_only_the_schema(make_target, where):
    """MariaDB 10.11's COM_RESET_CONNECTION clears everything dirty() does except the current
    schema, and restores the handshake's character set; COM_INIT_DB then completes the reset."""
    conn = make_target(where).connect(charset="utf8mb4", autocommit=None)
    with conn.cursor() as cur:
        before = connection_id(cur)
        dirty(cur)
    conn._execute_command(COM_RESET_CONNECTION, b"")
    ok = conn._read_packet()
    assert ok.is_ok_packet()
    with conn.cursor() as cur:
        assert connection_id(cur) == before
        assert leftovers(cur) == ["schema"]
    conn._execute_command(COM_INIT_DB, b"app")
    assert conn._read_packet().is_ok_packet()
    with conn.cursor() as cur:
        assert leftovers(cur) == []
    conn.close()


@pytest.mark.parametrize("where", WHERE_ALL)
def test_the_handshake_character_set_is_kept(make_target, where):
    target = make_target(where, pool__max_connections=2, pool__min_idle=0)
    for charset in ("latin1", "utf8mb4", "latin1"):
        conn = target.connect(charset=charset)
        with conn.cursor() as cur:
            cur.execute("SELECT @@character_set_client, @@character_set_results, "
                        "@@character_set_connection")
            assert cur.fetchone() == (charset,) * 3
            cur.execute("SELECT v FROM t WHERE id = 3")
            assert cur.fetchone() == ("three",)
            cur.execute("SET NAMES utf8" if charset == "latin1" else "SET NAMES latin1")
        conn.close()


@pytest.mark.parametrize("where", WHERE_ALL)
def test_handshake_flags_hold_in_every_pooled_session(make_target, mariadb, where):
    """IGNORE_SPACE (`mariadb -i`) puts IGNORE_SPACE into sql_mode at login and INTERACTIVE
    makes wait_timeout the interactive_timeout; COM_RESET_CONNECTION forgets both (issue 11,
    point 1: the second client on a pooled connection got 1064). Every session through a pool
    of one must look like a fresh login with the same handshake, as direct."""
    from pymysql.constants import CLIENT
    interactive = mariadb.variable("interactive_timeout")
    target = make_target(where, pool__max_connections=1)
    for _ in range(3):
        conn = target.connect(client_flag=CLIENT.IGNORE_SPACE | CLIENT.INTERACTIVE)
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT (*) FROM t")  # A space after the name: IGNORE_SPACE.
            assert cur.fetchone() == (3,)
            cur.execute("SELECT FIND_IN_SET('IGNORE_SPACE', @@sql_mode) > 0, @@wait_timeout")
            assert cur.fetchone() == (1, interactive)
        conn.close()
