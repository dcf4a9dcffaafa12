"""Real clients through `longlink proxy`, over TCP and over the Unix socket: the mariadb CLI,
PyMySQL, mysqlclient (libmariadb), SQLAlchemy, Django, mariadb-slap and sysbench."""
import os
import subprocess

import MySQLdb
import pymysql
import pytest
from pymysql.constants import CLIENT

from servers import APP_PASSWORD, RO_PASSWORD, Target

TRANSPORTS = ["tcp", "unix"]


def target_of(proxy, transport):
    return proxy.tcp if transport == "tcp" else proxy.unix


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_mariadb_cli(proxy, transport):
    target = target_of(proxy, transport)
    r = subprocess.run(["mariadb", "--no-defaults", *target.cli_args(), "-uapp",
                        f"-p{APP_PASSWORD}", "app", "--batch", "-e",
                        "SELECT v FROM t ORDER BY id; SHOW TABLES; SELECT DATABASE()"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n") == ["v", "one", "two", "three", "Tables_in_app", "t",
                                    "DATABASE()", "app", ""]
    # The greeting mirrors the backend's version (libmariadb needs "MariaDB" in it).
    r = subprocess.run(["mariadb", "--no-defaults", *target.cli_args(), "-uapp",
                        f"-p{APP_PASSWORD}", "-e", "status"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert "MariaDB" in r.stdout


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_pymysql_results_multi_statements_call_and_local_infile(proxy, transport, tmp_path):
    conn = target_of(proxy, transport).connect(client_flag=CLIENT.MULTI_STATEMENTS,
                                              local_infile=True)
    with conn.cursor() as cur:
        cur.execute("SELECT id, v FROM t ORDER BY id")
        assert cur.fetchall() == ((1, "one"), (2, "two"), (3, "three"))
        cur.execute("SELECT 1; SELECT 2, 3")
        assert cur.fetchall() == ((1,),)
        assert cur.nextset()
        assert cur.fetchall() == ((2, 3),)
        cur.execute("CREATE TEMPORARY TABLE li (a INT, b VARCHAR(10))")
        data = tmp_path / "rows.csv"
        data.write_text("".join(f"{i},r{i}\n" for i in range(500)))
        cur.execute(f"LOAD DATA LOCAL INFILE '{data}' INTO TABLE li FIELDS TERMINATED BY ','")
        cur.execute("SELECT COUNT(*), SUM(a) FROM li")
        assert cur.fetchall() == ((500, sum(range(500))),)
        cur.execute("DROP PROCEDURE IF EXISTS two_results")
        cur.execute("CREATE PROCEDURE two_results() BEGIN SELECT 'first'; SELECT 'second'; END")
        cur.execute("CALL two_results()")
        assert cur.fetchall() == (("first",),)
        assert cur.nextset()
        assert cur.fetchall() == (("second",),)
        with pytest.raises(pymysql.err.ProgrammingError) as error:
            cur.execute("SELECT * FROM no_such_table")
        assert error.value.args[0] == 1146
        cur.execute("SELECT 'still fine'")
        assert cur.fetchall() == (("still fine",),)
    conn.close()


def test_packets_of_16_mib_and_more(mariadb, proxy_factory):
    mariadb.execute("SET GLOBAL max_allowed_packet = 64 * 1024 * 1024")
    try:
        proxy = proxy_factory()  # Its backend connections see the new limit.
        conn = proxy.unix.connect()
        big = os.urandom(10 * 1024 * 1024).hex()  # 20 MiB of text: two chunks and a bit.
        with conn.cursor() as cur:
            cur.execute("CREATE TEMPORARY TABLE big (v LONGTEXT)")
            cur.execute("INSERT INTO big VALUES (%s)", (big,))
            cur.execute("SELECT v, LENGTH(v) FROM big")
            value, length = cur.fetchone()
            assert length == len(big) and value == big
            # Exactly 0xFFFFFF bytes of payload ends with an empty packet.
            exact = "x" * (0xFFFFFF - len("SELECT LENGTH('')") - 1)
            cur.execute(f"SELECT LENGTH('{exact}')")
            assert cur.fetchone() == (len(exact),)
        conn.close()
    finally:
        mariadb.execute("SET GLOBAL max_allowed_packet = 16 * 1024 * 1024")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_mysqlclient_commands(proxy, transport):
    target = target_of(proxy, transport)
    kw = {"unix_socket": target.unix_socket} if target.unix_socket else {
        "host": target.host, "port": target.port}
    conn = MySQLdb.connect(user="app", password=APP_PASSWORD, database="app", **kw)
    cur = conn.cursor()
    cur.execute("SELECT COUNT(*) FROM t")
    assert cur.fetchall() == ((3,),)
    conn.ping()                                   # COM_PING
    conn.select_db("other")                       # COM_INIT_DB
    cur.execute("SELECT DATABASE()")
    assert cur.fetchall() == (("other",),)
    assert "Uptime" in conn.stat()                # COM_STATISTICS
    conn.set_server_option(MySQLdb.constants.CLIENT.MULTI_STATEMENTS and 0)  # SET_OPTION on
    cur.execute("SELECT 1; SELECT 2")
    assert cur.fetchall() == ((1,),)
    assert cur.nextset() and cur.fetchall() == ((2,),)
    cur.close()
    conn.change_user("ro", RO_PASSWORD, "app")     # COM_CHANGE_USER: re-authenticated at the proxy
    cur = conn.cursor()
    cur.execute("SELECT CURRENT_USER(), DATABASE()")
    user, db = cur.fetchone()
    assert user.startswith("ro@") and db == "app"
    with pytest.raises(MySQLdb.OperationalError):
        cur.execute("INSERT INTO t VALUES (9, 'no')")  # ro has SELECT only.
    conn.close()


def test_sqlalchemy_transactions(proxy):
    import sqlalchemy
    engine = sqlalchemy.create_engine(
        f"mysql+pymysql://app:{APP_PASSWORD}@/app?unix_socket={proxy.unix_socket}",
        pool_size=2, pool_pre_ping=False)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE IF NOT EXISTS sa (id INT PRIMARY KEY)"))
        conn.execute(sqlalchemy.text("DELETE FROM sa"))
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("INSERT INTO sa VALUES (1)"))
    conn = engine.connect()
    trans = conn.begin()
    conn.execute(sqlalchemy.text("INSERT INTO sa VALUES (2)"))
    trans.rollback()
    conn.close()
    with engine.connect() as conn:
        rows = conn.execute(sqlalchemy.text("SELECT id FROM sa ORDER BY id")).fetchall()
    assert [r[0] for r in rows] == [1]
    engine.dispose()


def test_django_without_persistent_connections(proxy):
    script = f"""
import django
from django.conf import settings
settings.configure(DATABASES={{"default": {{
    "ENGINE": "django.db.backends.mysql", "NAME": "app", "USER": "app",
    "PASSWORD": "{APP_PASSWORD}", "HOST": "{proxy.unix_socket}", "CONN_MAX_AGE": 0}}}})
django.setup()
from django.db import connection
total = 0
for _ in range(50):   # 50 "requests", each opening and closing its connection.
    with connection.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM t")
        total += cur.fetchone()[0]
    connection.close()
print(total)
"""
    r = subprocess.run(["/usr/bin/python3", "-c", script], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "150"


def test_mariadb_slap(proxy):
    r = subprocess.run(["mariadb-slap", "--no-defaults", *proxy.unix.cli_args(), "-uapp",
                        f"-p{APP_PASSWORD}", "--concurrency=8", "--iterations=2",
                        "--number-of-queries=200", "--auto-generate-sql",
                        "--create-schema=slap"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "Average number of seconds to run all queries" in r.stdout


def test_sysbench_oltp_read_write_with_prepared_statements(proxy):
    common = ["sysbench", "oltp_read_write", "--db-driver=mysql",
              f"--mysql-socket={proxy.unix_socket}", "--mysql-user=app",
              f"--mysql-password={APP_PASSWORD}", "--mysql-db=sbtest", "--tables=1",
              "--table-size=1000"]
    for step in (["prepare"], ["--threads=4", "--time=4", "--db-ps-mode=auto", "run"],
                 ["cleanup"]):
        r = subprocess.run(common + step, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        if "run" in step:
            assert "FATAL" not in r.stdout + r.stderr
            transactions = [l for l in r.stdout.splitlines() if "transactions:" in l]
            assert transactions and int(transactions[0].split()[1]) > 0
            # "ignored errors" are deadlocks between sysbench's own threads (1213), which
            # sysbench retries; a broken session would show as FATAL or as reconnects.
            reconnects = [l for l in r.stdout.splitlines() if "reconnects:" in l]
            assert reconnects and int(reconnects[0].split()[1]) == 0, r.stdout
