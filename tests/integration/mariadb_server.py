"""A throwaway MariaDB server for the proxy's integration tests, and `Target`: where a client
connects (the server directly or the proxy, over TCP or a Unix socket).

MariaDBServer installs a fresh datadir in a scratch directory (mariadb-install-db), starts
`mariadbd --no-defaults` on a free loopback port with its own Unix socket, pid file and error
log, and creates what the tests use:

- databases `app` (table `t`: rows 1 'one', 2 'two', 3 'three'; procedure `two_results()`,
  which returns two result sets), `other`, `sbtest`, `slap`;
- 'app'@'%' and 'app'@'localhost', mysql_native_password 'app-secret': ALL on app.*, other.*,
  sbtest.*, slap.* (sysbench, mariadb-slap), and PROCESS;
- 'ro'@'%' and 'ro'@'localhost', password 'ro-secret': SELECT on app.*.

root logs in over the Unix socket without a password (admin()). stop() and start() keep the
port, socket and datadir, so a test can restart the server under a running proxy; start()
records in `accepting_since` (time.monotonic()) when the server first accepted again.
"""
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pymysql

APP_USER, APP_PASSWORD = "app", "app-secret"
RO_USER, RO_PASSWORD = "ro", "ro-secret"
DEFAULT_MAX_ALLOWED_PACKET = 16 * 1024 * 1024


def native_hash(password):
    """mysql_native_password's stored form: '*' + uppercase HEX(SHA1(SHA1(password)))."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Target:
    """Where a client connects. `proxy` is the ProxyProcess behind it, or None for the server
    itself; `kind` is "direct" or "proxy", `transport` "tcp" or "unix"."""

    def __init__(self, kind, transport, host=None, port=None, unix_socket=None, proxy=None,
                 server=None):
        self.kind, self.transport = kind, transport
        self.host, self.port, self.unix_socket = host, port, unix_socket
        self.proxy, self.server = proxy, server

    @property
    def name(self):
        return f"{self.kind}-{self.transport}"

    @property
    def is_proxy(self):
        return self.kind == "proxy"

    # --- PyMySQL ---
    def pymysql_args(self):
        if self.transport == "unix":
            return {"unix_socket": self.unix_socket}
        return {"host": self.host, "port": self.port}

    def connect(self, user=APP_USER, password=APP_PASSWORD, database="app", **kw):
        return pymysql.connect(user=user, password=password, database=database,
                               **self.pymysql_args(), **kw)

    # --- mysqlclient (MySQLdb, libmariadb) ---
    def mysqldb_args(self):
        if self.transport == "unix":
            return {"unix_socket": self.unix_socket}
        return {"host": self.host, "port": self.port}

    def mysqldb_connect(self, user=APP_USER, password=APP_PASSWORD, database="app", **kw):
        import MySQLdb
        args = dict(self.mysqldb_args(), user=user, password=password, **kw)
        if database:
            args["database"] = database
        return MySQLdb.connect(**args)

    # --- command-line clients ---
    def cli_args(self):
        """For mariadb, mariadb-slap and mariadb-admin."""
        if self.transport == "unix":
            return ["--protocol=SOCKET", f"--socket={self.unix_socket}"]
        return ["--protocol=TCP", f"--host={self.host}", f"--port={self.port}"]

    def sysbench_args(self):
        if self.transport == "unix":
            return [f"--mysql-socket={self.unix_socket}"]
        return [f"--mysql-host={self.host}", f"--mysql-port={self.port}"]

    def sqlalchemy_url(self, user=APP_USER, password=APP_PASSWORD, database="app"):
        if self.transport == "unix":
            return f"mysql+pymysql://{user}:{password}@/{database}?unix_socket={self.unix_socket}"
        return f"mysql+pymysql://{user}:{password}@{self.host}:{self.port}/{database}"

    def django_host_port(self):
        """Django's MySQL backend takes a socket path as HOST (a leading '/')."""
        if self.transport == "unix":
            return self.unix_socket, ""
        return self.host, str(self.port)

    # --- raw sockets ---
    def raw_socket(self, timeout=5):
        if self.transport == "unix":
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(timeout)
            s.connect(self.unix_socket)
            return s
        return socket.create_connection((self.host, self.port), timeout=timeout)

    def alive(self):
        return self.proxy.alive() if self.proxy else self.server.alive()

    def __repr__(self):
        return self.name


class MariaDBServer:
    def __init__(self, max_allowed_packet="16M", max_connections=500, extra_args=()):
        self.dir = tempfile.mkdtemp(prefix="longlink-mariadb-")
        self.datadir = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.pid_file = os.path.join(self.dir, "mysqld.pid")
        self.log = os.path.join(self.dir, "error.log")
        self.port = free_port()
        self.args = [f"--max-allowed-packet={max_allowed_packet}",
                     f"--max-connections={max_connections}", *extra_args]
        self.process = None
        self.accepting_since = None
        try:
            self._install()
            self.start()
            self._provision()
        except BaseException:
            self.close()
            raise

    # --- lifecycle ---
    def _install(self):
        r = subprocess.run(["nice", "mariadb-install-db", "--no-defaults",
                            f"--datadir={self.datadir}", "--user=root",
                            "--auth-root-authentication-method=normal", "--skip-test-db"],
                           capture_output=True, text=True, timeout=180)
        if r.returncode != 0:
            raise AssertionError(f"mariadb-install-db failed ({r.returncode}):\n{r.stdout}\n"
                                 f"{r.stderr}")

    def start(self, timeout=60):
        """Starts mariadbd (again, after stop(): same port, socket and datadir)."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self.process = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={self.datadir}", "--user=root",
             f"--port={self.port}", "--bind-address=127.0.0.1", f"--socket={self.socket}",
             f"--pid-file={self.pid_file}", f"--log-error={self.log}",
             "--innodb-buffer-pool-size=32M", "--skip-log-bin",
             "--local-infile=1", "--performance-schema=OFF", *self.args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def accepting():
            if self.process.poll() is not None:
                raise AssertionError(f"mariadbd exited with {self.process.returncode}; "
                                     f"the end of {self.log}:\n{self.log_tail()}")
            try:
                pymysql.connect(unix_socket=self.socket, user="root", connect_timeout=2).close()
                socket.create_connection(("127.0.0.1", self.port), timeout=2).close()
                self.accepting_since = time.monotonic()
                return True
            except (pymysql.err.OperationalError, OSError):
                return False

        try:
            wait_until(accepting, timeout, "mariadbd to accept connections")
        except AssertionError as e:
            if "timed out" in str(e):
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"{e}; the end of {self.log}:\n{self.log_tail()}") from None
            raise

    def stop(self, timeout=60):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self):
        self.stop()
        self.start()

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def close(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, lines=40):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no error log)"

    # --- administration (root over the Unix socket) ---
    def admin(self, **kw):
        return pymysql.connect(unix_socket=self.socket, user="root", autocommit=True, **kw)

    def execute(self, *statements):
        with self.admin() as conn, conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)

    def query(self, sql, args=None):
        with self.admin() as conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()

    def status(self, name, conn=None):
        """SHOW GLOBAL STATUS value as an int. Without `conn` it opens an admin connection,
        which itself counts in 'Connections' and 'Threads_connected'."""
        sql = "SHOW GLOBAL STATUS LIKE %s"
        if conn is None:
            rows = self.query(sql, (name,))
        else:
            with conn.cursor() as cur:
                cur.execute(sql, (name,))
                rows = cur.fetchall()
        assert len(rows) == 1, f"no status variable {name!r}"
        return int(rows[0][1])

    def variable(self, name):
        return self.query(f"SELECT @@global.{name}")[0][0]

    def set_global(self, **variables):
        """set_global(max_allowed_packet=64 << 20, local_infile=1); returns the old values."""
        old = {name: self.variable(name) for name in variables}
        self.execute(*(f"SET GLOBAL {name} = {pymysql.converters.escape_item(value, 'utf8')}"
                       for name, value in variables.items()))
        return old

    def processlist(self, user=None):
        sql = "SELECT ID, USER, HOST, DB, COMMAND FROM information_schema.PROCESSLIST"
        if user:
            return self.query(sql + " WHERE USER = %s", (user,))
        return self.query(sql)

    def kill(self, thread_id, conn=None, gone_within=5):
        """KILL CONNECTION thread_id as root, then waits until the thread has left the process
        list (its socket is closed by then)."""
        if conn is None:
            self.execute(f"KILL CONNECTION {int(thread_id)}")
        else:
            with conn.cursor() as cur:
                cur.execute(f"KILL CONNECTION {int(thread_id)}")
        self.wait_gone(thread_id, conn, gone_within)

    def wait_gone(self, thread_id, conn=None, timeout=5):
        sql = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s"

        def gone():
            if conn is None:
                return self.query(sql, (thread_id,))[0][0] == 0
            with conn.cursor() as cur:
                cur.execute(sql, (thread_id,))
                return cur.fetchone()[0] == 0

        wait_until(gone, timeout, f"thread {thread_id} to leave the process list")

    def target(self, transport):
        if transport == "unix":
            return Target("direct", "unix", unix_socket=self.socket, server=self)
        return Target("direct", "tcp", host="127.0.0.1", port=self.port, server=self)

    def _provision(self):
        statements = ["CREATE DATABASE app", "CREATE DATABASE other", "CREATE DATABASE sbtest",
                      "CREATE DATABASE slap",
                      "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(100))",
                      "INSERT INTO app.t VALUES (1, 'one'), (2, 'two'), (3, 'three')",
                      "CREATE PROCEDURE app.two_results() BEGIN SELECT 'first'; "
                      "SELECT 'second', 2; END"]
        for host in ("%", "localhost"):
            statements += [
                f"CREATE USER '{APP_USER}'@'{host}' IDENTIFIED VIA mysql_native_password "
                f"USING PASSWORD('{APP_PASSWORD}')",
                f"GRANT ALL ON app.* TO '{APP_USER}'@'{host}'",
                f"GRANT ALL ON other.* TO '{APP_USER}'@'{host}'",
                f"GRANT ALL ON sbtest.* TO '{APP_USER}'@'{host}'",
                f"GRANT ALL ON slap.* TO '{APP_USER}'@'{host}'",
                f"GRANT PROCESS ON *.* TO '{APP_USER}'@'{host}'",
                f"CREATE USER '{RO_USER}'@'{host}' IDENTIFIED VIA mysql_native_password "
                f"USING PASSWORD('{RO_PASSWORD}')",
                f"GRANT SELECT ON app.* TO '{RO_USER}'@'{host}'",
            ]
        self.execute(*statements)
