"""libmariadb (MariaDB Connector/C) from C++: tests/clients/libmariadb_client.cc run against the
server directly (which validates the program and the expectations) and through `longlink proxy`,
over TCP and over the Unix socket.

The program prints one line per check ("ok NAME: DETAIL") and stops at the first failure
("FAIL NAME: ..." and exit 1); "info" lines are facts this file judges per target. ctest sets
LONGLINK_LIBMARIADB_CLIENT to the built program."""
import os
import subprocess

import pytest

from conftest import ROOT, WHERE_ALL
from mariadb_server import APP_PASSWORD, APP_USER
from proxy_process import POOL_MODE

CLIENT = os.environ.get("LONGLINK_LIBMARIADB_CLIENT",
                        os.path.join(ROOT, "build", "tests", "clients", "libmariadb_client"))

UTF8_HEX = "żółć 😀".encode().hex().upper()

# Every line the program prints on success, in order; EXTENDED, STMT_CLOSE and PREPARED_KILL
# mark the lines that differ between the server and the proxy.
EXTENDED, STMT_CLOSE, PREPARED_KILL = "extended", "stmt_close", "prepared_kill"
EXPECTED = [
    "ok connect: database app, character set latin1",
    "ok server_info: contains MariaDB, server type MariaDB, version >= 10.2",
    "ok server_capabilities: FOUND_ROWS CONNECT_WITH_DB PROTOCOL_41 TRANSACTIONS "
    "SECURE_CONNECTION MULTI_STATEMENTS MULTI_RESULTS PS_MULTI_RESULTS PLUGIN_AUTH SESSION_TRACK; "
    "CLIENT_MYSQL clear (MariaDB extended capabilities)",
    EXTENDED,
    "ok select: ('1', 'one')('2', 'two')('3', 'three')",
    "ok null: (NULL, 'x', NULL)",
    "ok insert_id: 3 rows affected, insert id 1, then 4, LAST_INSERT_ID() 4",
    "ok found_rows: UPDATE without change: affected rows 4, "
    "mysql_info 'Rows matched: 4  Changed: 0  Warnings: 0'",
    "ok multi_statements: 3 results: ('1'), OK, ('2', '3')",
    "ok call: CALL two_results(): ('first'), ('second', '2'), OK; the next query works",
    "ok stmt_prepare: INSERT with 6 parameters, SELECT with 1 parameter and 6 fields",
    "ok stmt_insert: INT 7, VARCHAR 'prepared', DOUBLE 3.25, DATETIME 2024-02-29 13:45:59.123456, "
    "INT NULL, BLOB 100000 bytes in 4 pieces (mysql_stmt_send_long_data)",
    "ok stmt_fetch: id 7 read back equal, LENGTH(b) 100000",
    "ok stmt_reexecute: INT -8, VARCHAR 'again', DOUBLE -1.5e+300, "
    "DATETIME 1999-12-31 23:59:58.000000, INT 42, BLOB 70000 bytes in 2 pieces; id 7 still equal",
    "ok stmt_reset: long data discarded (stored 'kept'); a half-read result ended, ids 1 2 3",
    STMT_CLOSE,
    "ok ping: mysql_ping",
    "ok select_db: DATABASE() other",
    f"ok change_user: user {APP_USER}, database other, user variable gone",
    "ok reset_connection: @u NULL after the reset, DATABASE() still other",
    "ok set_character_set: utf8mb4 on the client and for the server's client, connection and "
    "results",
    f"ok utf8mb4_round_trip: 6 characters, 13 bytes, hex {UTF8_HEX}",
    "ok session_track_schema: USE other: other",
    "ok session_track_system_variables: time_zone=+05:00",
    "ok error: SELEC 1: 1064 (42000); SELECT 1 afterwards gives 1",
    PREPARED_KILL,
    "ok close: mysql_close",
]

# MariaDB 10.11 offers all four; the proxy relays extended metadata and masks the rest
# (docs/PROXY.md: progress reports, bulk execution and metadata caching are not offered).
EXTENDED_DIRECT = ("info server_extended_capabilities: PROGRESS=1 STMT_BULK_OPERATIONS=1 "
                   "EXTENDED_METADATA=1 CACHE_METADATA=1")
EXTENDED_PROXY = ("info server_extended_capabilities: PROGRESS=0 STMT_BULK_OPERATIONS=0 "
                  "EXTENDED_METADATA=1 CACHE_METADATA=0")
# The server prepares "KILL QUERY ?" and answers its execute with an unknown id with 1094; so
# does the proxy (docs/PROXY.md, "Connection ids and KILL").
KILL_DIRECT = ("info prepared_kill: prepared; execute: 1094 (HY000) "
               "Unknown thread id: 99999999")
KILL_PROXY = KILL_DIRECT
# A closed statement is closed on the server, except in transaction pooling, where the proxy
# keeps the server statements of a connection for the next client that prepares the same
# (docs/PROXY.md, "Prepared statements in transaction pooling"): no COM_STMT_CLOSE reaches the
# server, and the three stay prepared there.
STMT_CLOSED = "ok stmt_close: 3 statements closed: Com_stmt_close +3, Prepared_stmt_count back"
STMT_KEPT = "info stmt_close: Com_stmt_close +0, Prepared_stmt_count +3"


def expected_lines(is_proxy):
    """EXPECTED with the lines that differ resolved for the server or the proxy (in the pool
    mode the suite runs in: LONGLINK_TEST_POOL_MODE)."""
    kept = is_proxy and POOL_MODE == "transaction"
    infos = {EXTENDED: EXTENDED_PROXY if is_proxy else EXTENDED_DIRECT,
             STMT_CLOSE: STMT_KEPT if kept else STMT_CLOSED,
             PREPARED_KILL: KILL_PROXY if is_proxy else KILL_DIRECT}
    return [infos.get(line, line) for line in EXPECTED]


def client_args(target):
    if target.transport == "unix":
        where = ["--socket", target.unix_socket]
    else:
        where = ["--host", target.host, "--port", str(target.port)]
    return [CLIENT, *where, "--user", APP_USER, "--password", APP_PASSWORD, "--database", "app"]


@pytest.fixture(scope="session")
def client_bin():
    if not os.access(CLIENT, os.X_OK):
        pytest.fail(f"libmariadb_client not found at {CLIENT}; build first or set "
                    "LONGLINK_LIBMARIADB_CLIENT")
    return CLIENT


@pytest.mark.parametrize("where", WHERE_ALL)
def test_libmariadb_client(make_target, where, client_bin, mariadb):
    # min_idle=0: the janitor (every second) opens no warm connection that would count below.
    target = make_target(where, pool__min_idle=0)
    expected = expected_lines(target.is_proxy)
    # Twice: through the proxy the second run reuses the backend connection the first one left
    # with another character set, time zone, schema and session (reset before reuse).
    for run in (1, 2):
        with mariadb.admin() as admin:  # Opened before measuring: not in the delta.
            before = mariadb.status("Connections", admin)
            r = subprocess.run(client_args(target), capture_output=True, text=True, timeout=120)
            new_connections = mariadb.status("Connections", admin) - before
        lines = r.stdout.splitlines()
        log = f"\nproxy log:\n{target.proxy.log()}" if target.is_proxy else ""
        assert r.returncode == 0, f"run {run}: exit {r.returncode}\n{r.stdout}{r.stderr}{log}"
        assert lines == expected, f"run {run}"
        if target.is_proxy and run == 2:  # Proxy-specific: the pooled connection served it.
            assert new_connections == 0, new_connections
        elif not target.is_proxy:
            assert new_connections == 1, new_connections
    assert target.alive()
