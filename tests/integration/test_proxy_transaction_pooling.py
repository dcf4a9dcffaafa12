"""Transaction pooling ([pool] mode = "transaction"): many clients share a few backend
connections between transactions, and each still sees exactly its own session.

- Isolation: clients interleaved on one backend connection (a pool of one; the process list
  proves it is the same thread) each see their own session variables, character set and
  collation, schema, autocommit, isolation level and LAST_INSERT_ID(), and none of the
  others'.
- Every pin reason: a client that leaves state only its connection has keeps that connection
  (another client of a pool of one waits and times out: the control that fails if the pin is
  removed), still sees its state, and the log names the reason.
- What the next command may read (warnings, SQL_CALC_FOUND_ROWS, LAST_INSERT_ID()) is kept
  until the client's next command decides, and no longer.
- A randomized workload through the proxy and directly gives the same results.
"""
import contextlib
import os
import random
import re
import resource
import threading
import time

import pymysql
import pytest

from client_checks import backend_thread
from mariadb_server import wait_until

TXN = {"pool__mode": "transaction", "pool__min_idle": 0}


def one_backend(proxy_factory, **settings):
    merged = dict(TXN, pool__max_connections=1, pool__queue_timeout="2s",
                  proxy__log_level="debug")
    merged.update(settings)
    return proxy_factory(**merged)


def app_connections(mariadb):
    return mariadb.query("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                         "WHERE USER = 'app'")[0][0]


def wait_for_at_most(mariadb, count):
    """The server has at most `count` connections of app (earlier tests' proxies may take a
    moment to close theirs)."""
    wait_until(lambda: app_connections(mariadb) <= count, 5,
               f"at most {count} backend connections")


def query_all(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def test_clients_interleave_on_one_backend_and_keep_their_own_sessions(proxy_factory, mariadb):
    proxy = one_backend(proxy_factory)
    a = proxy.tcp.connect(autocommit=True)
    b = proxy.unix.connect(autocommit=True, database="other")
    thread_a = backend_thread(a)
    query_all(a, "SET SESSION time_zone = '+05:00', sql_mode = 'ANSI'")
    query_all(a, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    query_all(a, "SET NAMES utf8mb4 COLLATE utf8mb4_bin")
    query_all(b, "SET SESSION time_zone = '-03:00'")
    assert backend_thread(b) == thread_a  # One connection serves both.
    query_all(a, "USE other")
    query_all(b, "USE app")
    query_all(a, "SET SESSION autocommit = 0")
    query_all(a, "COMMIT")
    for _ in range(3):
        assert query_all(a, "SELECT @@time_zone, @@sql_mode, @@tx_isolation, "
                            "@@collation_connection, DATABASE(), @@autocommit") == \
            (("+05:00", "REAL_AS_FLOAT,PIPES_AS_CONCAT,ANSI_QUOTES,IGNORE_SPACE,ANSI",
              "READ-COMMITTED", "utf8mb4_bin", "other", 0),)
        query_all(a, "COMMIT")
        assert query_all(b, "SELECT @@time_zone, @@sql_mode = @@global.sql_mode, "
                            "@@tx_isolation = @@global.tx_isolation, @@collation_connection, "
                            "DATABASE(), @@autocommit") == \
            (("-03:00", 1, 1, "utf8mb4_general_ci", "app", 1),)
    assert backend_thread(a) == backend_thread(b) == thread_a
    wait_for_at_most(mariadb, 1)
    a.close()
    b.close()


def test_an_idle_client_holds_no_connection(proxy_factory, mariadb):
    proxy = proxy_factory(**dict(TXN, pool__max_connections=2))
    clients = [proxy.tcp.connect(autocommit=True) for _ in range(20)]
    for i, conn in enumerate(clients):
        query_all(conn, "SET SESSION time_zone = %s", (f"+0{i % 10}:00",))
    for i, conn in enumerate(clients):
        assert query_all(conn, "SELECT @@time_zone") == ((f"+0{i % 10}:00",),)
    wait_for_at_most(mariadb, 2)
    for conn in clients:
        conn.close()


@contextlib.contextmanager
def idle_clients(proxy_factory, descriptors):
    """A transaction-pooling proxy (a pool of 4) and `open_clients(count)`, which connects
    `count` more clients over its Unix socket, each answered once and then left idle, and
    returns all so far. This process's descriptor limit is raised to `descriptors` meanwhile
    (the test is skipped if the hard limit is lower); the clients are closed at the end."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < descriptors:
        pytest.skip(f"the descriptor limit ({hard}) is below {descriptors:,}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, descriptors), hard))
    clients = []

    def open_clients(count):
        for _ in range(count):
            conn = proxy.unix.connect(autocommit=True)
            assert query_all(conn, "SELECT 1") == ((1,),)
            clients.append(conn)
        return clients

    try:
        proxy = proxy_factory(**dict(TXN, pool__max_connections=4))
        yield proxy, open_clients
    finally:
        for conn in clients:
            conn.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.skipif(os.environ.get("LONGLINK_SANITIZED") == "1",
                    reason="a sanitizer's allocator pads every allocation")
def test_an_idle_client_costs_the_proxy_under_2_kib(proxy_factory):
    """Memory per idle client in transaction pooling (issue 17's target: 2 KiB at the descriptor
    limit; bench/proxy.sh measures it with 19,800 clients). Between commands a session holds its
    object and one pending read, no coroutine frame. The growth of VmRSS from 500 to 2,500 idle
    clients over the Unix socket, each logged in and answered once."""
    with idle_clients(proxy_factory, descriptors=3000) as (proxy, open_clients):
        clients = open_clients(500)  # Warms the allocator, the buffer pools and session tables.
        time.sleep(0.5)
        before = proxy.rss_kib()
        clients = open_clients(2000)
        time.sleep(0.5)
        after = proxy.rss_kib()
        per_client = (after - before) * 1024 / 2000
        print(f"VmRSS {before} -> {after} KiB: {per_client:.0f} bytes per idle client")
        assert per_client <= 2048, f"{per_client:.0f} bytes per idle client"
        assert query_all(clients[0], "SELECT 2") == ((2,),)  # Idle sessions still answer.
        assert query_all(clients[-1], "SELECT 3") == ((3,),)


def cpu_ns(pid):
    """CPU time of all the process's threads so far, in ns (schedstat: finer than ticks)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            total += int(f.read().split()[0])
    return total


@pytest.mark.skipif(os.environ.get("LONGLINK_SANITIZED") == "1",
                    reason="a sanitizer's checks multiply every visit's cost")
def test_idle_clients_cost_the_proxy_no_cpu(proxy_factory):
    """The workers' sweep (every 250 ms) visits a session only when it is due: while a command
    is in progress, on every pass; while its client idles, at the first of its deadlines (the
    wait_timeout it set, its held backend's keepalive, watching that backend after 1 s), which
    only a command can move. So 4,000 idle clients in transaction pooling, holding no backend,
    cost the proxy's threads almost nothing; before, each pass visited every session (a cache
    miss or more each)."""
    with idle_clients(proxy_factory, descriptors=4500) as (proxy, open_clients):
        clients = open_clients(4000)
        time.sleep(1)  # Every session has been swept once since its command.
        pid = proxy.process.pid
        before = cpu_ns(pid)
        time.sleep(4)
        spent = cpu_ns(pid) - before
        print(f"{spent / 1e6:.1f} ms of CPU in 4 s with 4,000 idle clients")
        # Measured: 64-98 ms when every pass visited every session; 10-15 ms now.
        assert spent < 35e6, f"{spent / 1e6:.1f} ms of CPU in 4 s"
        assert query_all(clients[0], "SELECT 2") == ((2,),)  # Idle sessions still answer.
        assert query_all(clients[-1], "SELECT 3") == ((3,),)


def test_a_transaction_keeps_its_connection_until_it_ends(proxy_factory):
    proxy = one_backend(proxy_factory, pool__queue_timeout="300ms")
    a = proxy.tcp.connect(autocommit=True)
    b = proxy.tcp.connect(autocommit=True)
    query_all(a, "BEGIN")
    query_all(a, "INSERT INTO app.t VALUES (500, 'in a transaction')")
    with pytest.raises(pymysql.err.OperationalError) as error:
        query_all(b, "SELECT 1")
    assert error.value.args[0] == 1040  # Too many connections: the pool's one is a's.
    assert query_all(a, "SELECT v FROM app.t WHERE id = 500") == (("in a transaction",),)
    query_all(a, "ROLLBACK")
    assert query_all(b, "SELECT COUNT(*) FROM app.t WHERE id = 500") == ((0,),)
    a.close()
    b.close()


# (reason, statements that leave the state, a query that reads it back, what it returns,
# the log's words)
PINS = [
    ("user variable", ["SET @mine = 41"], "SELECT @mine + 1", ((42,),), "user variable"),
    ("user variable by SELECT", ["SELECT @mine := 41"], "SELECT @mine + 1", ((42,),),
     "user variable"),
    # The server takes non-ASCII characters into a bare name as into any identifier.
    ("user variable with a non-ASCII name by SELECT", ["SELECT @caf\u00e9 := 41"],
     "SELECT @caf\u00e9 + 1", ((42,),), "user variable"),
    ("temporary table", ["CREATE TEMPORARY TABLE scratch (x INT)",
                         "INSERT INTO scratch VALUES (7)"],
     "SELECT x FROM scratch", ((7,),), "temporary table"),
    ("GET_LOCK", ["SELECT GET_LOCK('txn-pool-lock', 0)"],
     "SELECT IS_USED_LOCK('txn-pool-lock') = CONNECTION_ID()", ((1,),), "GET_LOCK"),
    ("LOCK TABLES", ["LOCK TABLES app.t READ"], "SELECT COUNT(*) FROM app.t", ((3,),),
     "LOCK TABLES"),
    ("SQL PREPARE", ["PREPARE mine FROM 'SELECT 5'"], "EXECUTE mine", ((5,),), "PREPARE"),
    ("SET TRANSACTION", ["SET TRANSACTION READ ONLY"], "SELECT 1", ((1,),), "SET TRANSACTION"),
    ("XA", ["XA START 'txn-pool-xa'"], "SELECT 1", ((1,),), None),
    ("one-shot variable", ["SET SESSION insert_id = 900"], "SELECT @@insert_id", ((900,),),
     "for the next statement only"),
    ("CONNECTION_ID", ["SELECT CONNECTION_ID()"], "SELECT 1", ((1,),), "connection id"),
    ("sequence", ["CREATE SEQUENCE IF NOT EXISTS app.txn_seq", "SELECT NEXTVAL(app.txn_seq)"],
     "SELECT LASTVAL(app.txn_seq) IS NOT NULL", ((1,),), "sequence"),
    ("session tracking", ["SET SESSION session_track_schema = OFF"],
     "SELECT @@session_track_schema", ((0,),), "session_track"),
]


@pytest.mark.parametrize("case", PINS, ids=[c[0] for c in PINS])
def test_state_that_cannot_move_pins_the_session(proxy_factory, case):
    _, statements, read_back, expected, log_words = case
    proxy = one_backend(proxy_factory, pool__queue_timeout="300ms")
    a = proxy.tcp.connect(autocommit=True)
    b = proxy.tcp.connect(autocommit=True)
    for sql in statements:
        query_all(a, sql)
    # Control: a pool of one, held by a: b waits and gives up.
    with pytest.raises(pymysql.err.OperationalError) as error:
        query_all(b, "SELECT 1")
    assert error.value.args[0] == 1040
    assert query_all(a, read_back) == expected
    if log_words:
        assert proxy.log_lines(f"pinned to backend connection .*{log_words}")
    a.close()  # The pin ends with the session: b gets the connection, reset.
    assert query_all(b, "SELECT @mine, @@insert_id") == ((None, 0),)
    b.close()


def test_a_reset_ends_a_pin(proxy_factory):
    proxy = one_backend(proxy_factory, pool__queue_timeout="300ms")
    a = proxy.tcp.connect(autocommit=True)
    b = proxy.tcp.connect(autocommit=True)
    query_all(a, "SET @mine = 1")
    with pytest.raises(pymysql.err.OperationalError):
        query_all(b, "SELECT 1")
    query_all(a, "SET SESSION time_zone = '+01:00'")
    a._execute_command(0x1F, b"")  # COM_RESET_CONNECTION
    assert a._read_packet().is_ok_packet()
    assert query_all(b, "SELECT 1") == ((1,),)
    assert query_all(a, "SELECT @mine, @@time_zone") == ((None, "SYSTEM"),)
    a.close()
    b.close()


def run_later(sql, conn, results):
    def run():
        started = time.monotonic()
        results.append((query_all(conn, sql), time.monotonic() - started))
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_warnings_stay_readable_until_the_next_command(proxy_factory):
    proxy = one_backend(proxy_factory, pool__queue_timeout="5s")
    a = proxy.tcp.connect(autocommit=True)
    b = proxy.tcp.connect(autocommit=True)
    query_all(a, "SELECT CAST('12abc' AS UNSIGNED)")  # Warning 1292.
    results = []
    waiting = run_later("SELECT 1", b, results)
    time.sleep(0.3)
    assert results == []  # b waits: a's warnings are still on the connection.
    warnings = query_all(a, "SHOW WARNINGS")
    assert warnings == (("Warning", 1292, "Truncated incorrect INTEGER value: '12abc'"),)
    query_all(a, "SELECT @@warning_count")
    waiting.join(3)
    assert results and results[0][0] == ((1,),)  # a's next statement let it go.
    a.close()
    b.close()


def test_found_rows_after_sql_calc_found_rows(proxy_factory):
    proxy = one_backend(proxy_factory, pool__queue_timeout="5s")
    a = proxy.tcp.connect(autocommit=True)
    b = proxy.tcp.connect(autocommit=True)
    query_all(a, "SELECT SQL_CALC_FOUND_ROWS id FROM app.t LIMIT 1")
    results = []
    waiting = run_later("SELECT id FROM app.t", b, results)  # FOUND_ROWS() there: 3.
    time.sleep(0.3)
    assert query_all(a, "SELECT FOUND_ROWS()") == ((3,),)
    waiting.join(3)
    assert results and len(results[0][0]) == 3
    a.close()
    b.close()


def test_last_insert_id_moves_with_the_session(proxy_factory, mariadb):
    mariadb.execute("CREATE TABLE IF NOT EXISTS app.txn_auto "
                    "(id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
    proxy = one_backend(proxy_factory, pool__queue_timeout="5s")
    a = proxy.tcp.connect(autocommit=True)
    b = proxy.tcp.connect(autocommit=True)
    with a.cursor() as cur:
        cur.execute("INSERT INTO app.txn_auto (v) VALUES (1)")
        mine = cur.lastrowid
    results = []
    waiting = run_later("INSERT INTO app.txn_auto (v) VALUES (2)", b, results)
    time.sleep(0.3)
    assert results == []  # a's LAST_INSERT_ID() is not known yet: a keeps the connection.
    query_all(a, "SELECT 1")  # The proxy learns it with this command, and lets go.
    waiting.join(3)
    assert results
    assert query_all(b, "SELECT LAST_INSERT_ID()") == ((mine + 1,),)
    assert query_all(a, "SELECT LAST_INSERT_ID()") == ((mine,),)
    # In a transaction too.
    query_all(a, "BEGIN")
    query_all(a, "INSERT INTO app.txn_auto (v) VALUES (3)")
    query_all(a, "COMMIT")
    query_all(b, "INSERT INTO app.txn_auto (v) VALUES (4)")
    query_all(b, "SELECT 1")  # b's LAST_INSERT_ID() is learnt: b lets go.
    assert query_all(a, "SELECT LAST_INSERT_ID()") == ((mine + 2,),)
    assert query_all(b, "SELECT LAST_INSERT_ID()") == ((mine + 3,),)
    a.close()
    b.close()


def test_a_schema_refused_at_login_is_refused_as_direct(proxy_factory, mariadb):
    proxy = proxy_factory(**TXN)
    answers = []
    for connect in (lambda: pymysql.connect(host="127.0.0.1", port=mariadb.port, user="app",
                                            password="app-secret", database="no_such_db"),
                    lambda: proxy.tcp.connect(database="no_such_db")):
        with pytest.raises(pymysql.err.OperationalError) as error:
            connect()
        answers.append(error.value.args)
    assert answers[0] == answers[1]
    assert answers[0][0] == 1044  # app may not see other schemas.


# The randomized workload: each client has a table of its own, a lock name of its own.
def random_program(rng, client, steps, pins):
    """`pins`: also statements that pin the session (then clients take turns more than they
    interleave); without, every session moves between connections all the time."""
    table = f"app.rand_{client}"
    program = []
    kinds = ["set", "names", "use", "txn", "insert", "warn", "select"]
    if pins:
        kinds += ["uservar", "temp", "lock", "getlock"]
    for _ in range(steps):
        kind = rng.choice(kinds)
        if kind == "set":
            program.append(rng.choice([
                f"SET SESSION time_zone = '+0{rng.randint(0, 9)}:00'",
                "SET SESSION sql_mode = 'ANSI'", "SET SESSION sql_mode = DEFAULT",
                f"SET SESSION div_precision_increment = {rng.randint(0, 9)}",
                "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"]))
        elif kind == "names":
            program.append(rng.choice(["SET NAMES latin1", "SET NAMES utf8mb4",
                                       "SET NAMES utf8mb4 COLLATE utf8mb4_bin"]))
        elif kind == "use":
            program.append(rng.choice(["USE app", "USE other"]))
        elif kind == "uservar":
            program.append(f"SET @v{client} = {rng.randint(0, 100)}")
        elif kind == "temp":
            program.append(f"CREATE TEMPORARY TABLE IF NOT EXISTS tmp_{client} (x INT)")
        elif kind == "txn":
            program += ["BEGIN", f"INSERT INTO {table} (v) VALUES ({rng.randint(0, 9)})",
                        rng.choice(["COMMIT", "ROLLBACK"])]
        elif kind == "lock":
            program += [f"LOCK TABLES {table} WRITE", f"SELECT COUNT(*) FROM {table}",
                        "UNLOCK TABLES"]
        elif kind == "getlock":
            program += [f"SELECT GET_LOCK('rand-{client}', 0)",
                        f"SELECT RELEASE_LOCK('rand-{client}')"]
        elif kind == "insert":
            program += [f"INSERT INTO {table} (v) VALUES (1)", "SELECT LAST_INSERT_ID() > 0"]
        elif kind == "warn":
            program += ["SELECT CAST('1x' AS UNSIGNED)", "SHOW WARNINGS"]
        program.append("SELECT @@time_zone, @@sql_mode, @@div_precision_increment, "
                       "@@tx_isolation, @@character_set_client, @@collation_connection, "
                       f"DATABASE(), @v{client}, @@autocommit")
    program.append(f"SELECT COUNT(*) FROM {table}")
    return program


def run_program(conn, program):
    out = []
    for sql in program:
        try:
            out.append((sql, query_all(conn, sql)))
        except pymysql.err.MySQLError as e:
            out.append((sql, ("error", e.args[0])))
    return out


@pytest.mark.parametrize("seed,pins", [(1, True), (2, True), (3, False), (4, False)])
def test_random_workloads_give_direct_results(proxy_factory, mariadb, seed, pins):
    clients, steps = 8, 25
    rng = random.Random(seed)
    programs = [random_program(rng, c, steps, pins) for c in range(clients)]

    def reset_tables():
        for c in range(clients):
            mariadb.execute(f"DROP TABLE IF EXISTS app.rand_{c}",
                            f"CREATE TABLE app.rand_{c} (id INT AUTO_INCREMENT PRIMARY KEY, "
                            "v INT)")

    reset_tables()
    direct = []
    for program in programs:  # One after another: no interference to speak of.
        conn = pymysql.connect(host="127.0.0.1", port=mariadb.port, user="app",
                               password="app-secret", database="app", autocommit=True)
        direct.append(run_program(conn, program))
        conn.close()

    reset_tables()
    proxy = proxy_factory(**dict(TXN, pool__max_connections=2 if not pins else 3,
                                 pool__queue_timeout="20s"))
    results = [None] * clients

    def client(c):
        conn = proxy.tcp.connect(autocommit=True)
        results[c] = run_program(conn, programs[c])
        conn.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for c in range(clients):
        assert results[c] == direct[c], f"client {c}"
    wait_for_at_most(mariadb, 3)
    if not pins:  # Every client moved: many restores, a release after each statement.
        proxy.stop()
        line = proxy.log_lines(r"pool 'app'/.*/transaction: ")[0]
        releases = int(re.search(r"(\d+) releases", line).group(1))
        assert releases >= clients * steps, line

def test_the_counters_say_why(proxy_factory):
    """At its stop the proxy logs each pool's counters (the struct the admin console and
    metrics will read): clients, holders, pinned clients by reason, releases, reattaches and
    state replays."""
    proxy = proxy_factory(**dict(TXN, pool__max_connections=2))
    pinned = proxy.tcp.connect(autocommit=True)
    query_all(pinned, "SET @mine = 1")
    moving = proxy.tcp.connect(autocommit=True)
    query_all(moving, "SET SESSION time_zone = '+01:00'")
    for _ in range(3):
        query_all(moving, "SELECT 1")
    proxy.stop()
    lines = proxy.log_lines(r"pool 'app'/.*/transaction: ")
    assert len(lines) == 1, proxy.log()
    line = lines[0]
    assert "2 clients, 1 holding a connection (pinned: user_variable 1)" in line, line
    # moving: login, SET, 3 SELECTs: five releases; four reattaches (one per command), of
    # which at least the first after the SET restored the time zone on another connection or
    # found it already there.
    counts = {name: int(number) for number, name in
              re.findall(r"(\d+) (releases|reattaches|state replays)", line)}
    assert counts["releases"] >= 5, line
    assert counts["reattaches"] >= 4, line
    pinned.close()
    moving.close()


def test_a_users_own_pool_mode(proxy_factory, mariadb):
    """[[users]] pool_mode: app pools transactions in a proxy whose pool.mode is session (20
    clients on a pool of 2, one after another, each still connected); ro, not listed with a
    mode, holds a connection per client from its first command (its third client's first
    command waits and gives up; a client that only logs in holds none)."""
    from proxy_process import default_users
    users = [dict(u, pool_mode="transaction") if u["name"] == "app" else u
             for u in default_users()]
    proxy = proxy_factory(users=users, pool__mode="session", pool__max_connections=2,
                          pool__min_idle=0, pool__queue_timeout="300ms")
    apps = [proxy.tcp.connect(autocommit=True) for _ in range(20)]
    for conn in apps:
        assert query_all(conn, "SELECT 1") == ((1,),)
    ros = [proxy.tcp.connect(user="ro", password="ro-secret", autocommit=True)
           for _ in range(3)]
    for conn in ros[:2]:
        assert query_all(conn, "SELECT 1") == ((1,),)
    with pytest.raises(pymysql.err.OperationalError) as error:
        query_all(ros[2], "SELECT 1")
    assert error.value.args[0] == 1040
    ros[0].close()  # Its connection goes back to the pool: the third client gets it.
    assert query_all(ros[2], "SELECT 1") == ((1,),)
    for conn in apps + ros[1:]:
        conn.close()


def test_a_connection_whose_state_matches_is_preferred(proxy_factory):
    """Two idle connections, one with a's time zone and one without: a and b, taking turns,
    each get the one that matches their session, so nothing is replayed (the counters)."""
    proxy = proxy_factory(**dict(TXN, pool__max_connections=2))
    a = proxy.tcp.connect(autocommit=True)
    b = proxy.tcp.connect(autocommit=True)
    query_all(a, "BEGIN")
    query_all(b, "BEGIN")  # Two connections now.
    query_all(a, "SET SESSION time_zone = '+01:00'")
    query_all(a, "COMMIT")
    query_all(b, "COMMIT")
    for _ in range(10):
        assert query_all(a, "SELECT @@time_zone") == (("+01:00",),)
        assert query_all(b, "SELECT @@time_zone") == (("SYSTEM",),)
    a.close()
    b.close()
    proxy.stop()
    line = proxy.log_lines(r"pool 'app'/.*/transaction: ")[0]
    replays = int(re.search(r"(\d+) state replays", line).group(1))
    assert replays <= 2, line  # At most the first turns, before the two settle.
