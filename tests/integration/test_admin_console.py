"""The admin console ([admin], docs/ADMIN.md): its listener, its accounts, and every SHOW
command, read with the mariadb CLI and PyMySQL while a known workload runs through the proxy:
the figures must match that workload exactly."""
import os
import subprocess
import time

import pymysql
import pytest

from mariadb_server import APP_PASSWORD, APP_USER

ADMIN_USER, ADMIN_PASSWORD = "ops", "ops-secret"


def start(proxy_factory, tmp_path, **settings):
    admin_socket = str(tmp_path / "admin.sock")
    admin = {"unix_socket": admin_socket,
             "users": [{"name": ADMIN_USER, "password": ADMIN_PASSWORD}]}
    admin.update(settings.pop("admin", {}))
    proxy = proxy_factory(admin=admin, **settings)
    proxy.admin_socket = admin_socket
    return proxy


def admin_connect(proxy, user=ADMIN_USER, password=ADMIN_PASSWORD, **kw):
    return pymysql.connect(unix_socket=proxy.admin_socket, user=user, password=password,
                           autocommit=True, **kw)


def query(conn, sql):
    """Rows as dicts (column name -> value as the driver converted it)."""
    with conn.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute(sql)
        return cur.fetchall()


def stats_once_counted(conn, user, queries):
    """SHOW STATS by user, once `user`'s queries count has reached `queries` (2 s at most): a
    command is counted just after its reply is written, so a client that has read the reply
    may ask before the count moves (its session may run on another worker)."""
    deadline = time.monotonic() + 2
    while True:
        stats = {row["user"]: row for row in query(conn, "SHOW STATS")}
        if stats[user]["queries"] >= queries or time.monotonic() > deadline:
            return stats
        time.sleep(0.01)


def totals(conn):
    return {row["name"]: row["value"] for row in query(conn, "SHOW TOTALS")}


def cli(proxy, sql, user=ADMIN_USER, password=ADMIN_PASSWORD, extra=()):
    args = ["mariadb", f"--socket={proxy.admin_socket}", f"--user={user}", "--batch",
            "--skip-ssl", *extra, "-e", sql]
    if password is not None:
        args.insert(3, f"--password={password}")
    return subprocess.run(args, capture_output=True, text=True, timeout=30)


def test_every_command_answers_the_mariadb_cli(proxy_factory, tmp_path):
    proxy = start(proxy_factory, tmp_path)
    client = proxy.unix.connect()  # A pool, a client and a server to show.
    commands = ["SHOW POOLS", "SHOW CLIENTS", "SHOW SERVERS", "SHOW BACKENDS", "SHOW STATS",
                "SHOW TOTALS", "SHOW CONFIG", "SHOW VERSION", "SHOW HELP", "HELP",
                "show pools;", "SHOW CLIENTS LIMIT 1", "SELECT @@version_comment LIMIT 1"]
    for sql in commands:
        result = cli(proxy, sql)
        assert result.returncode == 0, (sql, result.stderr)
        assert result.stdout.strip(), sql
    # The interactive client's own start (it runs SELECT @@version_comment) and `status`.
    result = cli(proxy, "status")
    assert result.returncode == 0, result.stderr
    assert "longlink" in result.stdout
    header = cli(proxy, "SHOW POOLS").stdout.splitlines()[0].split("\t")
    assert header == ["user", "pool", "mode", "cl_active", "cl_waiting", "cl_idle", "cl_pinned",
                      "sv_active", "sv_idle", "sv_opening", "sv_checking", "max_connections",
                      "maxwait_us", "wait_max_us", "pin_reasons"]
    version = cli(proxy, "SHOW VERSION").stdout.splitlines()
    assert version[0] == "version" and version[1].startswith("longlink ")
    client.close()


def test_unknown_commands_get_a_clear_error(proxy_factory, tmp_path):
    proxy = start(proxy_factory, tmp_path)
    result = cli(proxy, "SELECT * FROM app.t")
    assert result.returncode != 0
    assert "ERROR 1064 (42000)" in result.stderr and "SHOW HELP" in result.stderr
    conn = admin_connect(proxy)
    with pytest.raises(pymysql.err.ProgrammingError) as error:
        query(conn, "SHOW POOLS EXTENDED")
    assert error.value.args[0] == 1064
    # The session goes on after an error; SET is accepted and ignored.
    query(conn, "SET NAMES utf8mb4")
    assert query(conn, "SHOW VERSION")[0]["version"].startswith("longlink ")
    conn.ping()
    conn.close()


def test_admin_accounts_only(proxy_factory, tmp_path):
    """The admin listener refuses the data listeners' users and wrong passwords; the data
    listener knows no admin command (it goes to the server, which has none)."""
    proxy = start(proxy_factory, tmp_path)
    for user, password in ((APP_USER, APP_PASSWORD), (ADMIN_USER, "wrong"), ("nobody", "x")):
        with pytest.raises(pymysql.err.OperationalError) as error:
            admin_connect(proxy, user=user, password=password)
        assert error.value.args[0] == 1045, (user, error.value.args)
        assert f"Access denied for user '{user}'" in error.value.args[1]
    with pytest.raises(pymysql.err.OperationalError) as error:
        pymysql.connect(unix_socket=proxy.unix_socket, user=ADMIN_USER, password=ADMIN_PASSWORD)
    assert error.value.args[0] == 1045
    app = proxy.unix.connect()
    with app.cursor() as cur:
        with pytest.raises(pymysql.err.ProgrammingError) as error:
            cur.execute("SHOW POOLS")
    assert error.value.args[0] == 1064  # The server's syntax error: no admin command there.
    app.close()
    assert "access denied for user 'nobody'" in proxy.log()


def test_root_logs_in_by_peer_credentials(proxy_factory, tmp_path):
    """As MariaDB's unix_socket plugin: root (the tests run as root) logs in as root on the
    admin socket without a password; not as another name, and not when turned off."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    proxy = start(proxy_factory, tmp_path)
    result = cli(proxy, "SHOW TOTALS", user="root", password=None)
    assert result.returncode == 0, result.stderr
    assert "logins_total" in result.stdout
    with pytest.raises(pymysql.err.OperationalError):
        admin_connect(proxy, user="daemon", password="")
    off = start(proxy_factory, tmp_path / "off" if (tmp_path / "off").mkdir() is None else None,
                admin={"unix_socket_auth": False})
    with pytest.raises(pymysql.err.OperationalError) as error:
        admin_connect(off, user="root", password="")
    assert error.value.args[0] == 1045


def test_figures_match_a_known_workload(proxy_factory, tmp_path):
    """N sessions with M queries each, K of them pinned by a user variable: SHOW POOLS,
    SHOW STATS, SHOW TOTALS, SHOW CLIENTS and SHOW SERVERS say exactly that."""
    n_sessions, m_queries, k_pinned = 5, 7, 2
    proxy = start(proxy_factory, tmp_path, pool__mode="transaction", pool__min_idle=0,
                  pool__max_connections=4)
    admin = admin_connect(proxy)
    before = totals(admin)
    assert before["logins_total"] == "0" and before["queries_total"] == "0"

    sessions = []
    for i in range(n_sessions):
        conn = proxy.unix.connect(autocommit=True)
        with conn.cursor() as cur:
            for q in range(m_queries):
                cur.execute("SELECT %s", (q,))
                assert cur.fetchone() == (q,)
            if i < k_pinned:
                cur.execute("SET @mine = 1")  # Pins the session (user_variable).
        sessions.append(conn)

    pools = query(admin, "SHOW POOLS")
    assert len(pools) == 1
    pool = pools[0]
    assert pool["user"] == APP_USER and pool["mode"] == "transaction"
    assert pool["cl_pinned"] == k_pinned
    assert pool["pin_reasons"] == f"user_variable={k_pinned}"
    assert pool["cl_active"] == k_pinned  # Pinned sessions hold their connection.
    assert pool["cl_idle"] == n_sessions - k_pinned and pool["cl_waiting"] == 0
    assert pool["sv_active"] == k_pinned
    assert pool["max_connections"] == 4

    statements = n_sessions * m_queries + k_pinned
    stats = stats_once_counted(admin, APP_USER, statements)
    app = stats[APP_USER]
    assert app["logins"] == n_sessions
    assert app["queries"] == statements
    assert app["transactions"] == statements  # Every statement ran in autocommit.
    assert app["errors"] == 0
    assert app["bytes_received"] > 0 and app["bytes_sent"] > 0
    assert stats["*"]["queries"] == statements

    after = totals(admin)
    assert int(after["logins_total"]) == n_sessions
    assert int(after["logins_last_minute"]) == n_sessions
    assert int(after["queries_total"]) == statements
    assert int(after["clients_connected"]) == n_sessions
    assert int(after["clients_pinned"]) == k_pinned
    # Five logins, and at most two connections for the pinned plus one shared.
    assert int(after["server_connects_total"]) <= k_pinned + 1
    assert int(after["server_connects_saved_total"]) == (
        n_sessions - int(after["server_connects_total"]))

    clients = query(admin, "SHOW CLIENTS")
    assert len(clients) == n_sessions
    assert sorted(c["pinned"] for c in clients).count("user_variable") == k_pinned
    assert all(c["user"] == APP_USER and c["address"] == "unix" and c["state"] == "idle"
               for c in clients)
    held = sorted(c["backend_thread"] for c in clients if c["backend_thread"])
    servers = query(admin, "SHOW SERVERS")
    active = sorted(s["thread_id"] for s in servers if s["state"] == "active")
    assert held == active and len(active) == k_pinned
    with sessions[0].cursor() as cur:
        cur.execute("SELECT CONNECTION_ID()")  # A pinned session's own connection.
        assert cur.fetchone()[0] in active
    statements += 1

    # An error counts; a transaction of three statements counts once.
    with sessions[-1].cursor() as cur:
        with pytest.raises(pymysql.err.ProgrammingError):
            cur.execute("SELECT * FROM no_such_table")
        cur.execute("BEGIN")
        cur.execute("SELECT 1")
        cur.execute("COMMIT")
    app = stats_once_counted(admin, APP_USER, statements + 4)[APP_USER]
    assert app["errors"] == 1
    assert app["queries"] == statements + 4
    assert app["transactions"] == statements + 2  # The failed SELECT, and BEGIN..COMMIT.
    for conn in sessions:
        conn.close()
    admin.close()


def test_backends_and_config(proxy_factory, tmp_path):
    proxy = start(proxy_factory, tmp_path)
    conn = proxy.unix.connect()
    conn.close()
    admin = admin_connect(proxy)
    backend = query(admin, "SHOW BACKENDS")[0]
    assert backend["address"] == f"127.0.0.1:{proxy.server.port}"
    assert backend["reachable"] == 1 and backend["connects"] >= 1
    assert backend["wait_timeout"] > 0  # Learnt from the server.
    assert backend["server_version"]
    config = {row["key"]: row["value"] for row in query(admin, "SHOW CONFIG")}
    assert config["backend.address"] == f"127.0.0.1:{proxy.server.port}"
    assert config["admin.unix_socket"] == proxy.admin_socket
    assert config["users.app.password"] == "<hidden>"
    assert APP_PASSWORD not in str(config) and ADMIN_PASSWORD not in str(config)
    admin.close()


def test_bad_input_on_the_admin_socket(proxy_factory, tmp_path):
    """Garbage, a huge query and an unknown command byte: a clear error or a close, and the
    console goes on serving others."""
    import socket
    proxy = start(proxy_factory, tmp_path)
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(proxy.admin_socket)
        s.recv(4096)
        s.sendall(b"\x05\x00\x00\x01garbage")
        data = s.recv(4096)
        assert data == b"" or data[4] == 0xFF
    admin = admin_connect(proxy)
    with pytest.raises(pymysql.err.OperationalError):
        query(admin, "SHOW " + "X" * (70 * 1024))
    admin = admin_connect(proxy)
    with pytest.raises(pymysql.err.OperationalError) as error:
        admin._execute_command(0x16, b"x")  # COM_STMT_PREPARE: not served here.
        admin._read_ok_packet()
    assert error.value.args[0] == 1047
    assert query(admin_connect(proxy), "SHOW VERSION")


def test_query_digests(proxy_factory, tmp_path):
    """SHOW QUERIES: one row per statement shape with exact counts, rows and errors; prepared
    statements of transaction pooling by their text; RESET QUERIES empties it; off without
    max_query_digests."""
    proxy = start(proxy_factory, tmp_path, pool__mode="transaction")
    conn = proxy.unix.connect(autocommit=True)
    with conn.cursor() as cur:
        for i in range(10):
            cur.execute(f"SELECT {i}, 'x{i}'")
        cur.execute("CREATE TEMPORARY TABLE IF NOT EXISTS nothing (a INT)")
        for _ in range(3):
            with pytest.raises(pymysql.err.ProgrammingError):
                cur.execute("SELECT * FROM no_such_table WHERE id = 5")
        cur.execute("SELECT 1 " + "-- padding\n" * 200)  # Longer than the digest reads.
    conn.close()
    admin = admin_connect(proxy)
    rows = {row["digest_text"]: row for row in query(admin, "SHOW QUERIES")}
    select = rows["SELECT ?, ?"]
    assert select["count"] == 10 and select["rows"] == 10 and select["errors"] == 0
    assert select["min_us"] <= select["avg_us"] <= select["max_us"]
    missing = rows["SELECT * FROM no_such_table WHERE id = ?"]
    assert missing["count"] == 3 and missing["errors"] == 3
    assert rows["SELECT ?..."]["count"] == 1  # The long one: cut where the digest stops reading.
    assert len(query(admin, "SHOW QUERIES LIMIT 1")) == 1
    query(admin, "RESET QUERIES")
    assert query(admin, "SHOW QUERIES") == ()

    off = start(proxy_factory, tmp_path / "off" if (tmp_path / "off").mkdir() is None else None,
                admin={"max_query_digests": 0})
    c = off.unix.connect()
    with c.cursor() as cur:
        cur.execute("SELECT 1")
    c.close()
    assert query(admin_connect(off), "SHOW QUERIES") == ()


def test_prepared_statement_digests(proxy_factory, tmp_path):
    """In transaction pooling the proxy knows each prepared statement's text: its executes
    are digested under it."""
    from raw_client import RawClient
    proxy = start(proxy_factory, tmp_path, pool__mode="transaction")
    client = RawClient(proxy.unix)
    statement = client.prepare("SELECT ? + 1")
    for i in range(4):
        client.execute(statement, params=(i,))
    client.sock.close()
    admin = admin_connect(proxy)
    rows = {row["digest_text"]: row for row in query(admin, "SHOW QUERIES")}
    assert rows["SELECT ? + ?"]["count"] == 4
    assert rows["SELECT ? + ?"]["rows"] == 4


def test_prometheus_metrics(proxy_factory, tmp_path):
    """/metrics parses with the Prometheus client library's own parser, and its counters move
    as the workload runs."""
    import urllib.request
    from prometheus_client.parser import text_string_to_metric_families
    from mariadb_server import free_port
    port = free_port()
    proxy = start(proxy_factory, tmp_path, metrics__listen=f"127.0.0.1:{port}")

    def scrape():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            assert reply.status == 200
            assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = reply.read().decode()
        samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                samples[key] = sample.value
        return samples

    def value(samples, name, **labels):
        matches = [v for (n, l), v in samples.items()
                   if n == name and all(dict(l).get(k) == v2 for k, v2 in labels.items())]
        return sum(matches)

    before = scrape()
    assert value(before, "longlink_backend_up") == 1
    conn = proxy.unix.connect(autocommit=True)
    with conn.cursor() as cur:
        for i in range(6):
            cur.execute("SELECT %s", (i,))
    after = scrape()
    assert value(after, "longlink_pool_logins_total", user=APP_USER) == 1
    assert value(after, "longlink_pool_queries_total", user=APP_USER) == 6
    assert value(after, "longlink_pool_command_duration_seconds_count", user=APP_USER) == 6
    assert value(after, "longlink_pool_clients", user=APP_USER, state="idle") + value(
        after, "longlink_pool_clients", user=APP_USER, state="active") == 1
    assert value(after, "longlink_client_connections") == 1
    assert value(after, "longlink_backend_connects_total") >= 1
    conn.close()
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/nothing", timeout=5)
    assert error.value.code == 404
