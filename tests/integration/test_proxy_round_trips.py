"""No round trip a client waits for that it would not wait for direct (issue 17): a login is
answered at the proxy, a short session holds a backend connection only from its first command
to its last, and a clean session's connection goes back to its pool at once (the reset travels
with the next client's first command), while a session that leaves a transaction or a lock has
its connection reset as it leaves. The server is stopped (SIGSTOP) to show which steps need it."""
import os
import signal
import threading
import time
from contextlib import contextmanager

import pymysql
import pytest

from mariadb_server import wait_until
from test_admin_console import admin_connect, query, start


def query_all(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


@contextmanager
def server_stopped(mariadb):
    """The server process stopped: it accepts nothing and answers nothing until resumed."""
    os.kill(mariadb.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(mariadb.process.pid, signal.SIGCONT)


def pool_row(admin):
    rows = [r for r in query(admin, "SHOW POOLS") if r["user"] == "app"]
    assert len(rows) == 1, rows
    return rows[0]


def test_a_login_waits_for_no_backend_connection(proxy_factory):
    """A pool of one whose connection a client holds: another client's login is answered at
    once (direct it would be too), and its first command waits for the connection."""
    proxy = proxy_factory(pool__max_connections=1, pool__min_idle=0, pool__queue_timeout="5s")
    holder = proxy.unix.connect(autocommit=True)
    assert query_all(holder, "SELECT 1") == ((1,),)
    started = time.monotonic()
    waiter = proxy.unix.connect(autocommit=True)
    assert time.monotonic() - started < 1.5, "the login waited for the pool"
    result = {}

    def first_command():
        result["rows"] = query_all(waiter, "SELECT 2")

    thread = threading.Thread(target=first_command)
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive(), "the first command should wait for the pool's one connection"
    holder.close()
    thread.join(timeout=5)
    assert result == {"rows": ((2,),)}
    waiter.close()


def test_logins_are_answered_while_the_server_is_stopped(proxy_factory, mariadb):
    """Once a schema is known, a login naming it (or none) needs nothing of the server; one
    naming a schema the proxy has not seen waits for the server, which checks it."""
    proxy = proxy_factory(pool__min_idle=1)
    warm = proxy.unix.connect(database="app", autocommit=True)
    assert query_all(warm, "SELECT DATABASE()") == (("app",),)
    warm.close()
    late = {}
    with server_stopped(mariadb):
        started = time.monotonic()
        known = proxy.unix.connect(database="app", autocommit=True)
        bare = proxy.unix.connect(database=None, autocommit=True)
        assert time.monotonic() - started < 1.5, "a login waited for the stopped server"

        def unseen_schema():
            try:
                proxy.unix.connect(database="sbtest_unseen", autocommit=True)
            except pymysql.err.OperationalError as error:
                late["error"] = error.args[0]

        def first_command():
            late["rows"] = query_all(known, "SELECT DATABASE()")

        threads = [threading.Thread(target=unseen_schema), threading.Thread(target=first_command)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        assert all(thread.is_alive() for thread in threads), "both need the server"
    for thread in threads:
        thread.join(timeout=10)
    assert late["rows"] == (("app",),)
    assert late["error"] == 1044  # The server's answer to a schema app may not enter.
    assert query_all(bare, "SELECT DATABASE()") == ((None,),)
    known.close()
    bare.close()


def test_an_unknown_schema_is_refused_at_login(proxy_factory, mariadb):
    """The server checks a schema the proxy has not seen: its ERR at login, as direct; a
    dropped schema the proxy knew is refused at the first command, which does not run."""
    proxy = proxy_factory()
    codes = []
    for target in (proxy.unix, mariadb.target("unix")):
        with pytest.raises(pymysql.err.OperationalError) as error:
            target.connect(database="no_such_schema")
        codes.append(error.value.args)
    assert codes[0] == codes[1] and codes[0][0] == 1044, codes
    root = mariadb.admin()
    query_all(root, "CREATE DATABASE IF NOT EXISTS short_lived")
    query_all(root, "GRANT ALL ON short_lived.* TO 'app'@'localhost'")
    query_all(root, "GRANT ALL ON short_lived.* TO 'app'@'%'")
    first = proxy.unix.connect(database="short_lived", autocommit=True)
    assert query_all(first, "SELECT DATABASE()") == (("short_lived",),)
    first.close()
    query_all(root, "DROP DATABASE short_lived")
    second = proxy.unix.connect(database="short_lived", autocommit=True)  # Known: answered.
    with pytest.raises(pymysql.err.OperationalError) as error:
        query_all(second, "CREATE TABLE t_never (id INT)")
    assert error.value.args[0] == 1049
    assert query_all(root, "SELECT COUNT(*) FROM information_schema.tables "
                           "WHERE table_name = 't_never'") == ((0,),)
    # Forgotten: the next login naming it is checked by the server again.
    with pytest.raises(pymysql.err.OperationalError) as error:
        proxy.unix.connect(database="short_lived")
    assert error.value.args[0] == 1049
    root.close()


def test_a_clean_session_gives_its_connection_back_at_once(proxy_factory, tmp_path, mariadb):
    """A clean session's connection is idle in its pool as soon as the client quits, with no
    reset (the server is stopped); a session that leaves a lock has it reset first, and the
    lock is free once that is done."""
    proxy = start(proxy_factory, tmp_path, pool__max_connections=1, pool__min_idle=0)
    admin = admin_connect(proxy)
    pinned = proxy.unix.connect(autocommit=True)
    assert query_all(pinned, "SELECT @x := 1") == ((1,),)  # A user variable: reset as it leaves.
    pinned.close()
    wait_until(lambda: pool_row(admin)["sv_idle"] == 1, 5, "the connection back after a reset")

    quiet = proxy.unix.connect(autocommit=True)
    assert query_all(quiet, "SELECT 1") == ((1,),)
    with server_stopped(mariadb):
        quiet.close()
        wait_until(lambda: pool_row(admin)["sv_idle"] == 1, 2,
                   "a clean session's connection idle while the server is stopped")

    locker = proxy.unix.connect(autocommit=True)
    assert query_all(locker, "SELECT GET_LOCK('round_trips', 0)") == ((1,),)
    with server_stopped(mariadb):
        locker.close()
        time.sleep(0.5)
        row = pool_row(admin)
        assert (row["sv_idle"], row["sv_active"]) == (0, 1), row  # Being reset.
    wait_until(lambda: pool_row(admin)["sv_idle"] == 1, 5, "the reset to end")
    direct = mariadb.target("unix").connect(autocommit=True)
    assert query_all(direct, "SELECT IS_FREE_LOCK('round_trips')") == ((1,),)
    direct.close()
    # The next client's session is fresh: no user variable, a fresh session's status.
    after = proxy.unix.connect(autocommit=True)
    assert query_all(after, "SELECT @x") == ((None,),)
    after.close()
    admin.close()
