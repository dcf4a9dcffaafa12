"""Real clients, each test run against the server directly (which validates the test) and through
`longlink proxy`, over TCP and over the Unix socket: the mariadb CLI and mariadb-admin, PyMySQL,
mysqlclient (libmariadb), SQLAlchemy, Django, mariadb-slap and sysbench.

Assertions that hold only through the proxy are under `if target.is_proxy:` and say so."""
import os
import re
import subprocess

import MySQLdb
import pymysql
import pytest
from pymysql.constants import CLIENT

from conftest import PYTHON, WHERE_ALL
from mariadb_server import APP_PASSWORD, RO_PASSWORD

MiB = 1024 * 1024


def run(args, timeout=120):
    return subprocess.run(["nice", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("where", WHERE_ALL)
def test_mariadb_cli_and_admin(make_target, where):
    target = make_target(where)
    login = ["--no-defaults", *target.cli_args(), "-uapp", f"-p{APP_PASSWORD}"]
    r = run(["mariadb", *login, "app", "--batch", "-e",
             "SELECT v FROM t ORDER BY id; SHOW TABLES; SELECT DATABASE()"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n") == ["v", "one", "two", "three", "Tables_in_app", "t",
                                    "DATABASE()", "app", ""]
    # libmariadb uses MariaDB's extended capabilities only if "MariaDB" is in the greeting.
    r = run(["mariadb", *login, "-e", "status"])
    assert r.returncode == 0, r.stderr
    assert re.search(r"Server:\s+MariaDB", r.stdout), r.stdout
    # COM_STATISTICS and COM_PING.
    r = run(["mariadb-admin", *login, "status"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Uptime: ") and "Threads: " in r.stdout, r.stdout
    r = run(["mariadb-admin", *login, "ping"])
    assert r.returncode == 0 and "mysqld is alive" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("where", WHERE_ALL)
def test_pymysql_queries_multi_statements_call_and_local_infile(make_target, where, tmp_path):
    conn = make_target(where).connect(client_flag=CLIENT.MULTI_STATEMENTS, local_infile=True)
    with conn.cursor() as cur:
        cur.execute("SELECT id, v FROM t ORDER BY id")
        assert cur.fetchall() == ((1, "one"), (2, "two"), (3, "three"))
        cur.execute("CREATE TEMPORARY TABLE many (a INT, b VARCHAR(10))")
        cur.executemany("INSERT INTO many VALUES (%s, %s)", [(i, f"m{i}") for i in range(300)])
        assert cur.rowcount == 300
        cur.execute("SELECT COUNT(*), SUM(a) FROM many")
        assert cur.fetchall() == ((300, sum(range(300))),)
        # Multi-statements: three results, the middle one an OK.
        cur.execute("SELECT 1; DO 0; SELECT 2, 3")
        assert cur.fetchall() == ((1,),)
        assert cur.nextset() and cur.fetchall() == ()
        assert cur.nextset() and cur.fetchall() == ((2, 3),)
        assert not cur.nextset()
        # A CALL returning two result sets (and the final OK).
        cur.execute("CALL two_results()")
        assert cur.fetchall() == (("first",),)
        assert cur.nextset() and cur.fetchall() == (("second", 2),)
        cur.execute("SELECT @@global.local_infile")
        assert cur.fetchone() == (1,)
        cur.execute("CREATE TEMPORARY TABLE li (a INT, b VARCHAR(10))")
        data = tmp_path / "rows.csv"
        data.write_text("".join(f"{i},r{i}\n" for i in range(500)))
        cur.execute(f"LOAD DATA LOCAL INFILE '{data}' INTO TABLE li FIELDS TERMINATED BY ','")
        assert cur.rowcount == 500
        cur.execute("SELECT COUNT(*), SUM(a), MAX(b) FROM li")
        assert cur.fetchall() == ((500, sum(range(500)), "r99"),)
        with pytest.raises(pymysql.err.ProgrammingError) as error:
            cur.execute("SELECT * FROM no_such_table")
        assert error.value.args[0] == 1146
        cur.execute("SELECT 'still fine'")
        assert cur.fetchall() == (("still fine",),)
    conn.close()


@pytest.mark.parametrize("where", WHERE_ALL)
def test_pymysql_4_mib_blob_round_trip(make_target, where):
    conn = make_target(where).connect()
    blob = os.urandom(4 * MiB)
    with conn.cursor() as cur:
        cur.execute("CREATE TEMPORARY TABLE blobs (id INT PRIMARY KEY, b LONGBLOB)")
        cur.execute("INSERT INTO blobs VALUES (1, %s)", (blob,))
        cur.execute("SELECT b, LENGTH(b), MD5(b) FROM blobs WHERE id = 1")
        value, length, _ = cur.fetchone()
        assert length == len(blob) and value == blob
    conn.close()


@pytest.mark.parametrize("where", WHERE_ALL)
def test_packets_of_16_mib_and_more(make_target, where, server_globals):
    # Before the proxy starts: its backend connections take the limit at connect.
    server_globals(max_allowed_packet=64 * MiB)
    conn = make_target(where).connect(max_allowed_packet=64 * MiB)
    big = os.urandom(10 * MiB).hex()  # 20 MiB of text: packets of 0xFFFFFF, 0xFFFFFF, rest.
    with conn.cursor() as cur:
        cur.execute("SELECT @@max_allowed_packet")
        assert cur.fetchone() == (64 * MiB,)
        cur.execute("CREATE TEMPORARY TABLE big (v LONGTEXT)")
        cur.execute("INSERT INTO big VALUES (%s)", (big,))
        cur.execute("SELECT v, LENGTH(v) FROM big")
        value, length = cur.fetchone()
        assert length == len(big) and value == big
        # A command of exactly 0xFFFFFF bytes is followed by an empty packet.
        exact = "x" * (0xFFFFFF - len("SELECT LENGTH('')") - 1)
        cur.execute(f"SELECT LENGTH('{exact}')")
        assert cur.fetchone() == (len(exact),)
        cur.execute("SELECT 'after'")
        assert cur.fetchone() == ("after",)
    conn.close()


@pytest.mark.parametrize("where", WHERE_ALL)
def test_mysqlclient_commands(make_target, where):
    target = make_target(where)
    conn = target.mysqldb_connect()
    cur = conn.cursor()
    cur.execute("SELECT COUNT(*) FROM t")
    assert cur.fetchall() == ((3,),)
    # Parameters interpolated by the client: a plain COM_QUERY, no prepared statement.
    cur.execute("SELECT v FROM t WHERE id = %s AND v <> %s", (2, "it's"))
    assert cur.fetchall() == (("two",),)
    cur.execute("CREATE TEMPORARY TABLE m (a INT)")
    cur.executemany("INSERT INTO m VALUES (%s)", [(i,) for i in range(50)])
    cur.execute("SELECT SUM(a) FROM m")
    assert cur.fetchone() == (sum(range(50)),)
    conn.ping()                                    # COM_PING
    conn.select_db("other")                        # COM_INIT_DB
    cur.execute("SELECT DATABASE()")
    assert cur.fetchall() == (("other",),)
    assert conn.stat().startswith("Uptime: ")      # COM_STATISTICS
    conn.set_server_option(0)                      # COM_SET_OPTION: MULTI_STATEMENTS_ON
    cur.execute("SELECT 1; SELECT 2")
    assert cur.fetchall() == ((1,),)
    assert cur.nextset() and cur.fetchall() == ((2,),)
    cur.close()
    conn.change_user("ro", RO_PASSWORD, "app")     # COM_CHANGE_USER
    cur = conn.cursor()
    cur.execute("SELECT CURRENT_USER(), DATABASE()")
    user, db = cur.fetchone()
    assert user.startswith("ro@") and db == "app"
    with pytest.raises(MySQLdb.OperationalError) as error:
        cur.execute("INSERT INTO t VALUES (9, 'no')")  # ro has SELECT only.
    assert error.value.args[0] == 1142
    conn.close()


@pytest.mark.parametrize("where", WHERE_ALL)
def test_sqlalchemy_core_and_transactions(make_target, where):
    import sqlalchemy
    from sqlalchemy import text
    target = make_target(where)
    table = f"sa_{where.replace('-', '_')}"
    engine = sqlalchemy.create_engine(target.sqlalchemy_url(), pool_size=3, max_overflow=0)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE TABLE IF NOT EXISTS {table} (id INT PRIMARY KEY)"))
            conn.execute(text(f"DELETE FROM {table}"))
        meta = sqlalchemy.MetaData()
        t = sqlalchemy.Table("t", meta, autoload_with=engine)
        with engine.connect() as conn:
            rows = conn.execute(sqlalchemy.select(t.c.v).where(t.c.id >= 2)
                                .order_by(t.c.id)).fetchall()
        assert [r[0] for r in rows] == ["two", "three"]
        with engine.begin() as conn:
            conn.execute(text(f"INSERT INTO {table} VALUES (1)"))
        conn = engine.connect()
        trans = conn.begin()
        conn.execute(text(f"INSERT INTO {table} VALUES (2)"))
        trans.rollback()
        conn.close()
        # Another pooled connection sees the commit and not the rollback.
        with engine.connect() as a, engine.connect() as b:
            for c in (a, b):
                ids = [r[0] for r in c.execute(text(f"SELECT id FROM {table} ORDER BY id"))]
                assert ids == [1]
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()


DJANGO_SCRIPT = """
import sys
import django
from django.conf import settings
host, port, password = sys.argv[1:4]
settings.configure(DATABASES={"default": {
    "ENGINE": "django.db.backends.mysql", "NAME": "app", "USER": "app", "PASSWORD": password,
    "HOST": host, "PORT": port, "CONN_MAX_AGE": 0}})
django.setup()
from django.db import connection
total = 0
for _ in range(50):   # 50 "requests", each opening and closing its connection.
    connection.ensure_connection()
    assert connection.connection is not None
    with connection.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM t WHERE id > %s", [0])
        total += cur.fetchone()[0]
    connection.close()
    assert connection.connection is None
print(total)
"""


@pytest.mark.parametrize("where", WHERE_ALL)
def test_django_without_persistent_connections(make_target, where, mariadb):
    target = make_target(where)
    host, port = target.django_host_port()
    admin = mariadb.admin()  # Opened before measuring: not in the delta.
    before = mariadb.status("Connections", admin)
    r = run([PYTHON, "-c", DJANGO_SCRIPT, host, port, APP_PASSWORD])
    delta = mariadb.status("Connections", admin) - before
    admin.close()
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "150"
    if target.is_proxy:  # Proxy-specific: 50 client sessions on at most the pool's 4.
        assert delta <= 4, delta
    else:
        assert delta >= 50, delta


@pytest.mark.parametrize("where", WHERE_ALL)
def test_mariadb_slap(make_target, where):
    target = make_target(where)
    r = run(["mariadb-slap", "--no-defaults", *target.cli_args(), "-uapp", f"-p{APP_PASSWORD}",
             "--concurrency=8", "--iterations=2", "--number-of-queries=200",
             "--auto-generate-sql", "--create-schema=slap"])
    assert r.returncode == 0, r.stderr + r.stdout
    assert "Average number of seconds to run all queries" in r.stdout
    assert "Number of clients running queries: 8" in r.stdout


@pytest.mark.parametrize("where", WHERE_ALL)
def test_sysbench_oltp_read_write(make_target, where):
    target = make_target(where)
    common = ["sysbench", "oltp_read_write", "--db-driver=mysql", *target.sysbench_args(),
              "--mysql-user=app", f"--mysql-password={APP_PASSWORD}", "--mysql-db=sbtest",
              "--tables=1", "--table-size=1000"]
    run(common + ["cleanup"])  # Leftovers of an interrupted run.
    try:
        for step in (["prepare"], ["--threads=4", "--time=5", "--db-ps-mode=auto", "run"]):
            r = run(common + step)
            out = r.stdout + r.stderr
            assert r.returncode == 0, out
            assert "FATAL" not in out and "error" not in r.stderr.lower(), out
        transactions = re.search(r"transactions:\s+(\d+)", r.stdout)
        assert transactions and int(transactions.group(1)) > 0, r.stdout
        # "ignored errors" are deadlocks between sysbench's own threads (1213), which it
        # retries; a broken session would show as FATAL or as reconnects.
        reconnects = re.search(r"reconnects:\s+(\d+)", r.stdout)
        assert reconnects and int(reconnects.group(1)) == 0, r.stdout
    finally:
        r = run(common + ["cleanup"])
        assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("where", WHERE_ALL)
def test_failed_change_user_keeps_the_session(make_target, where):
    """mysqlclient's change_user with a wrong password (issue 10: the proxy closed the client).
    MariaDB resets the session, keeps the old user, schema and handshake character set, answers
    1045 after a second, and from the fourth attempt on "Unknown command" (1047)."""
    import time
    target = make_target(where)
    conn = target.mysqldb_connect(charset="latin1")
    cur = conn.cursor()
    cur.execute("SET NAMES utf8mb4")
    cur.execute("SET @kept = 1")
    cur.execute("CREATE TEMPORARY TABLE cu_tmp (a INT)")
    cur.execute("SET SESSION sql_mode = 'ANSI'")
    codes = []
    for _ in range(4):
        started = time.monotonic()
        with pytest.raises(MySQLdb.OperationalError) as error:
            conn.change_user("ro", "wrong-password", "app")
        assert time.monotonic() - started >= 0.9
        codes.append(error.value.args[0])
        cur = conn.cursor()
        cur.execute("SELECT CURRENT_USER(), DATABASE(), @@character_set_client, @kept, "
                    "@@sql_mode = @@global.sql_mode")
        user, db, charset, kept, default_mode = cur.fetchone()
        assert user.startswith("app@") and db == "app" and charset == "latin1"
        assert kept is None and default_mode == 1
        with pytest.raises(MySQLdb.ProgrammingError):
            cur.execute("SELECT * FROM cu_tmp")
    assert codes == [1045, 1045, 1045, 1047]
    conn.close()


@pytest.mark.parametrize("where", WHERE_ALL)
def test_use_of_a_ucs2_schema(make_target, mariadb, where):
    """After USE of a ucs2 schema MariaDB 10.11 sends an OK whose session state has a stray
    zero byte (issue 11, 5: the proxy answered ERR 1105 and closed). Clients read it as they
    would direct, and the proxy still learns the schema (a clean session moves on)."""
    mariadb.execute("CREATE DATABASE IF NOT EXISTS wide CHARACTER SET ucs2",
                    "GRANT ALL ON wide.* TO 'app'@'%', 'app'@'localhost'")
    target = make_target(where)
    conn = target.connect()
    with conn.cursor() as cur:
        cur.execute("USE wide")
        cur.execute("SELECT DATABASE(), @@character_set_database")
        assert cur.fetchone() == ("wide", "ucs2")
        cur.execute("USE app")
        cur.execute("SELECT DATABASE()")
        assert cur.fetchone() == ("app",)
    conn.close()
