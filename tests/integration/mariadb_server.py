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

TLS: `tls_server_args(pki)` (pki.py) gives the --ssl-* options that make a server offer TLS
with the test CA's certificate; reload_certificate() puts other files in place and runs FLUSH
SSL. A Target may carry a `ClientTls` (Target.with_tls()): each client's arguments then ask for
TLS with the test CA and verify the certificate (chain and host name), or, with PLAIN, refuse
TLS although the other side offers it. provision_tls_accounts() adds 'secure' (REQUIRE SSL) and
'x509user' (REQUIRE X509) to a server started with TLS (conftest.py's `tls_mariadb`).
"""
import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import pymysql

APP_USER, APP_PASSWORD = "app", "app-secret"
RO_USER, RO_PASSWORD = "ro", "ro-secret"
SECURE_USER, SECURE_PASSWORD = "secure", "secure-secret"   # REQUIRE SSL (provision_tls_accounts)
X509_USER, X509_PASSWORD = "x509user", "x509-secret"        # REQUIRE X509
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


def tls_server_args(pki, cert=None, key=None):
    """mariadbd options for TLS with `pki`'s server certificate (or `cert`/`key`), and the CA
    for client certificates (REQUIRE X509 accounts; a client certificate is optional)."""
    return [f"--ssl-cert={cert or pki.server_cert}", f"--ssl-key={key or pki.server_key}",
            f"--ssl-ca={pki.ca}"]


class ClientTls:
    """What a client asks of TLS. `ca`: the CA file the client trusts; `cert`/`key`: a client
    certificate to present; `verify_identity`: check the host name too (the CA chain is
    checked whenever `ca` is given). `plain=True` (PLAIN) is a client that refuses TLS even
    when it is offered (the mariadb CLI of 10.11 asks for TLS by default: --skip-ssl).
    `min_version`/`max_version` (ssl.TLSVersion) bound PyMySQL's context only."""

    def __init__(self, ca=None, cert=None, key=None, verify_identity=True, plain=False,
                 min_version=None, max_version=None):
        self.ca, self.cert, self.key = ca, cert, key
        self.verify_identity, self.plain = verify_identity, plain
        self.min_version, self.max_version = min_version, max_version

    def ssl_context(self):
        """A PyMySQL `ssl=` context: the CA, host name checked (PyMySQL passes its `host`,
        "localhost" over a Unix socket, as the server name)."""
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.check_hostname = self.verify_identity
        if self.cert:
            ctx.load_cert_chain(self.cert, self.key)
        if self.min_version:
            ctx.minimum_version = self.min_version
        if self.max_version:
            ctx.maximum_version = self.max_version
        return ctx

    def option_file(self):
        """A libmariadb option file that turns on host name checking (MySQLdb 1.4 has no
        argument for it; libmariadb wants the `=1`)."""
        path = os.path.join(os.path.dirname(self.ca), "verify-server-cert.cnf")
        if not os.path.exists(path):
            with open(path, "w") as f:
                f.write("[client]\nssl-verify-server-cert=1\n")
        return path

    def __repr__(self):
        return "plain" if self.plain else f"tls(ca={os.path.basename(self.ca or '-')})"


PLAIN = ClientTls(plain=True)


class Target:
    """Where a client connects. `proxy` is the ProxyProcess behind it, or None for the server
    itself; `kind` is "direct" or "proxy", `transport` "tcp" or "unix". `tls`: None (each
    client's defaults), or a ClientTls the client arguments below carry out."""

    def __init__(self, kind, transport, host=None, port=None, unix_socket=None, proxy=None,
                 server=None, tls=None):
        self.kind, self.transport = kind, transport
        self.host, self.port, self.unix_socket = host, port, unix_socket
        self.proxy, self.server = proxy, server
        self.tls = tls

    def with_tls(self, tls):
        """The same place, reached with `tls` (a ClientTls, PLAIN or None)."""
        return Target(self.kind, self.transport, self.host, self.port, self.unix_socket,
                      self.proxy, self.server, tls)

    @property
    def wants_tls(self):
        return self.tls is not None and not self.tls.plain

    @property
    def name(self):
        return f"{self.kind}-{self.transport}"

    @property
    def is_proxy(self):
        return self.kind == "proxy"

    # --- PyMySQL ---
    def pymysql_args(self):
        """PyMySQL's connect() arguments. With TLS: `ssl` (an SSLContext). PyMySQL goes on
        without TLS when the other side does not offer it: check conn._secure."""
        args = ({"unix_socket": self.unix_socket} if self.transport == "unix"
                else {"host": self.host, "port": self.port})
        if self.wants_tls:
            args["ssl"] = self.tls.ssl_context()
        return args

    def connect(self, user=APP_USER, password=APP_PASSWORD, database="app", **kw):
        return pymysql.connect(user=user, password=password, database=database,
                               **self.pymysql_args(), **kw)

    # --- mysqlclient (MySQLdb, libmariadb) ---
    def mysqldb_args(self):
        """MySQLdb's connect() arguments. With TLS: `ssl` (mysql_ssl_set: libmariadb then
        insists on TLS and checks the chain) and, for the host name, an option file."""
        args = ({"unix_socket": self.unix_socket} if self.transport == "unix"
                else {"host": self.host, "port": self.port})
        if self.wants_tls:
            args["ssl"] = {k: v for k, v in (("ca", self.tls.ca), ("cert", self.tls.cert),
                                             ("key", self.tls.key)) if v}
            if self.tls.verify_identity:
                args["read_default_file"] = self.tls.option_file()
        return args

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
            args = ["--protocol=SOCKET", f"--socket={self.unix_socket}"]
        else:
            args = ["--protocol=TCP", f"--host={self.host}", f"--port={self.port}"]
        if self.tls is not None and self.tls.plain:
            args.append("--skip-ssl")
        elif self.tls is not None:
            args += ["--ssl", f"--ssl-ca={self.tls.ca}"]
            if self.tls.verify_identity:
                args.append("--ssl-verify-server-cert")
            if self.tls.cert:
                args += [f"--ssl-cert={self.tls.cert}", f"--ssl-key={self.tls.key}"]
        return args

    def libmariadb_args(self):
        """For tests/clients/libmariadb_client. Its TLS flags (--ssl-ca, --ssl-cert, --ssl-key,
        --ssl-verify) are what test_proxy_tls.py asks of it; without them it answers a usage
        error (exit 2), and the TLS tests skip."""
        if self.transport == "unix":
            args = ["--socket", self.unix_socket]
        else:
            args = ["--host", self.host, "--port", str(self.port)]
        if self.wants_tls:
            args += ["--ssl-ca", self.tls.ca, "--ssl-verify",
                     "1" if self.tls.verify_identity else "0"]
            if self.tls.cert:
                args += ["--ssl-cert", self.tls.cert, "--ssl-key", self.tls.key]
        return args

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
        return self.name if self.tls is None else f"{self.name}-{self.tls!r}"


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

    def reload_certificate(self, cert, key):
        """Copies `cert` and `key` over the files the server was started with (@@ssl_cert,
        @@ssl_key) and runs FLUSH SSL: new TLS connections get the new certificate, open ones
        keep theirs. The server must have been started with copies it may overwrite."""
        for source, variable in ((cert, "ssl_cert"), (key, "ssl_key")):
            target = self.variable(variable)
            assert target, f"the server has no {variable}"
            if os.path.abspath(source) != os.path.abspath(target):
                shutil.copyfile(source, target)
        self.execute("FLUSH SSL")

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

    def provision_tls_accounts(self):
        """'secure'@'%' and @'localhost' (password 'secure-secret', REQUIRE SSL) and 'x509user'
        (password 'x509-secret', REQUIRE X509: a client certificate signed by the server's
        --ssl-ca), each with ALL on app.*. REQUIRE SSL is about the client's own link: MariaDB
        10.11 refuses such a login without TLS over the Unix socket too (1045 "Access denied
        for user 'secure'@'localhost' (using password: YES)"), although require_secure_transport
        counts the socket as secure."""
        statements = []
        for user, password, require in ((SECURE_USER, SECURE_PASSWORD, "SSL"),
                                        (X509_USER, X509_PASSWORD, "X509")):
            for host in ("%", "localhost"):
                statements += [f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}' "
                               f"REQUIRE {require}",
                               f"GRANT ALL ON app.* TO '{user}'@'{host}'"]
        self.execute(*statements)

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
