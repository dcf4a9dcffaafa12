#!/usr/bin/python3
"""Records what real clients send to MariaDB, one file per connection, as seeds for
session_fuzzer (tests/fuzz/corpus/session/). Run it by hand when the clients or the scenarios
change, and commit its output (never the fuzzer's own findings):

    /usr/bin/python3 tests/fuzz/record_sessions.py [--libmariadb-client PATH]

It starts a throwaway MariaDB (tests/integration/mariadb_server.py), adds user `fuzz` with an
empty password (session_fuzzer's user: an empty auth response logs in whatever the scramble,
so the recorded logins replay), puts a relay on a Unix socket in front of the server and runs
each scenario through it: PyMySQL (queries, transactions, SET, USE, COM_INIT_DB, COM_PING,
multi-statements, CALL, LOAD DATA LOCAL INFILE, an error), the mariadb CLI (its login queries,
COM_FIELD_LIST of the auto-rehash), mariadb-admin (COM_STATISTICS, COM_PING) and
tests/clients/libmariadb_client (prepared statements, COM_CHANGE_USER, COM_RESET_CONNECTION,
COM_SET_OPTION, ...). The relay keeps the client's bytes of every connection; packets over
MAX_PAYLOAD are cut to that size (only COM_STMT_SEND_LONG_DATA's are: their length does not
change the session, and small seeds mutate faster).
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import pymysql  # noqa: E402

from mariadb_server import MariaDBServer  # noqa: E402

USER = "fuzz"
OUT = os.path.join(HERE, "corpus", "session")
MAX_PAYLOAD = 2048


def cut_long_packets(stream):
    """`stream` (client packets: int<3> length, int<1> sequence id, payload) with every payload
    longer than MAX_PAYLOAD cut to MAX_PAYLOAD bytes."""
    out, i = bytearray(), 0
    while i + 4 <= len(stream):
        length = int.from_bytes(stream[i:i + 3], "little")
        assert length < 0xFFFFFF, "a multi-chunk packet: cut_long_packets would break it"
        payload = stream[i + 4:i + 4 + length][:MAX_PAYLOAD]
        out += len(payload).to_bytes(3, "little") + stream[i + 3:i + 4] + payload
        i += 4 + length
    return bytes(out + stream[i:])


class Relay:
    """Accepts on a Unix socket, connects each client to the server's socket, and records the
    bytes each client sent (self.recorded: one bytes object per connection, in order)."""

    def __init__(self, server_socket, path):
        self.server_socket, self.path = server_socket, path
        self.recorded = []
        self.lock = threading.Lock()
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(path)
        self.listener.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX)
            server.connect(self.server_socket)
            sent = bytearray()
            with self.lock:
                self.recorded.append(sent)
            threading.Thread(target=self._pump, args=(client, server, sent), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    @staticmethod
    def _pump(source, sink, record):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if record is not None:
                    record += data
                sink.sendall(data)
        except OSError:
            pass
        for s in (sink, source):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def take(self):
        """The connections recorded since the last take()."""
        with self.lock:
            taken, self.recorded = self.recorded, []
        return [bytes(r) for r in taken]

    def close(self):
        self.listener.close()


def pymysql_scenarios(path):
    def connect(**kw):
        return pymysql.connect(unix_socket=path, user=USER, password="", database="app", **kw)

    def select():
        with connect() as c, c.cursor() as cur:
            cur.execute("SELECT 1")
            cur.execute("SELECT id, v FROM t ORDER BY id")
            cur.fetchall()

    def transaction():
        with connect() as c, c.cursor() as cur:
            c.begin()
            cur.execute("INSERT INTO t VALUES (10, 'ten')")
            c.rollback()
            cur.execute("START TRANSACTION")
            cur.execute("UPDATE t SET v = 'uno' WHERE id = 1")
            cur.execute("ROLLBACK")

    def set_use():
        with connect(autocommit=True) as c, c.cursor() as cur:
            cur.execute("SET @x = 1, SESSION sql_mode = 'ANSI'")
            cur.execute("SET NAMES utf8mb4")
            cur.execute("USE other")
            c.select_db("app")
            c.ping(reconnect=False)
            cur.execute("SELECT @x, DATABASE()")

    def multi_statements():
        flags = pymysql.constants.CLIENT.MULTI_STATEMENTS
        with connect(client_flag=flags) as c, c.cursor() as cur:
            cur.execute("SELECT 1; SELECT 2, 3; SET @y = 2")
            while cur.nextset():
                pass
            cur.execute("CALL two_results()")
            while cur.nextset():
                pass

    def local_infile():
        with tempfile.NamedTemporaryFile("w", suffix=".tsv") as f:
            f.write("20\ttwenty\n21\ttwenty-one\n")
            f.flush()
            with connect(local_infile=True) as c, c.cursor() as cur:
                cur.execute(f"LOAD DATA LOCAL INFILE '{f.name}' INTO TABLE t")
                c.rollback()

    def error():
        with connect() as c, c.cursor() as cur:
            try:
                cur.execute("SELEC nonsense")
            except pymysql.err.ProgrammingError:
                pass
            cur.execute("SELECT 'after the error'")

    return {"pymysql_select": select, "pymysql_transaction": transaction,
            "pymysql_set_use": set_use, "pymysql_multi_statements": multi_statements,
            "pymysql_local_infile": local_infile, "pymysql_error": error}


def run(args):
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"{args[0]} failed ({r.returncode}): {r.stdout}{r.stderr}")


def command_scenarios(path, libmariadb_client):
    cli = ["--protocol=SOCKET", f"--socket={path}", f"--user={USER}"]
    scenarios = {
        # Auto-rehash on: the CLI reads table and column names (SHOW TABLES, COM_FIELD_LIST).
        "mariadb_cli": lambda: run(["mariadb", *cli, "--auto-rehash", "app", "-e",
                                    "SELECT * FROM t; SHOW TABLES; USE other; SET @a = 1; "
                                    "SELECT @a, DATABASE()"]),
        "mariadb_admin": lambda: run(["mariadb-admin", *cli, "status", "ping"]),
    }
    if libmariadb_client:
        scenarios["libmariadb_client"] = lambda: run(
            [libmariadb_client, "--socket", path, "--user", USER, "--password", "",
             "--database", "app"])
    return scenarios


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--libmariadb-client",
                        default=os.path.join(ROOT, "build", "tests", "clients",
                                             "libmariadb_client"),
                        help="tests/clients/libmariadb_client, built (skipped if missing)")
    args = parser.parse_args()
    client = args.libmariadb_client if os.access(args.libmariadb_client, os.X_OK) else None
    if client is None:
        print(f"record_sessions: no {args.libmariadb_client}; skipping libmariadb_client")

    server = MariaDBServer()
    relay = None
    try:
        for host in ("localhost", "%"):
            server.execute(f"CREATE USER '{USER}'@'{host}'",
                           f"GRANT ALL ON app.* TO '{USER}'@'{host}'",
                           f"GRANT ALL ON other.* TO '{USER}'@'{host}'",
                           f"GRANT PROCESS ON *.* TO '{USER}'@'{host}'")
        path = os.path.join(server.dir, "relay.sock")
        relay = Relay(server.socket, path)
        scenarios = dict(pymysql_scenarios(path))
        scenarios.update(command_scenarios(path, client))
        os.makedirs(OUT, exist_ok=True)
        for name, scenario in scenarios.items():
            scenario()
            connections = [c for c in relay.take() if c]
            for i, sent in enumerate(connections):
                file = name if len(connections) == 1 else f"{name}_{i}"
                sent = cut_long_packets(sent)
                with open(os.path.join(OUT, file), "wb") as f:
                    f.write(sent)
                print(f"record_sessions: {file}: {len(sent)} bytes")
    finally:
        if relay:
            relay.close()
        server.close()


if __name__ == "__main__":
    main()
