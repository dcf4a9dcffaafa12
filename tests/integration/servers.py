"""A throwaway MariaDB server and a `longlink proxy` process, for the proxy's integration tests.

MariaDBServer installs a fresh datadir in a scratch directory (mariadb-install-db), starts
`mariadbd --no-defaults` on a free loopback port and its own Unix socket, and creates the users
and schemas the tests use. ProxyProcess writes a TOML config, starts the proxy and waits until
every listener accepts.
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

APP_PASSWORD = "app-secret"
RO_PASSWORD = "ro-secret"


def native_hash(password):
    """mysql_native_password's stored form: '*' + HEX(SHA1(SHA1(password)))."""
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


class MariaDBServer:
    def __init__(self, max_allowed_packet="16M"):
        self.dir = tempfile.mkdtemp(prefix="longlink-mariadb-")
        self.datadir = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.log = os.path.join(self.dir, "error.log")
        self.port = free_port()
        self.max_allowed_packet = max_allowed_packet
        self.process = None
        r = subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.datadir}",
                            "--user=root", "--auth-root-authentication-method=normal",
                            "--skip-test-db"], capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError(f"mariadb-install-db failed: {r.stdout}\n{r.stderr}")
        self.start()
        self._provision()

    def start(self):
        self.process = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={self.datadir}", "--user=root",
             f"--port={self.port}", "--bind-address=127.0.0.1", f"--socket={self.socket}",
             f"--pid-file={os.path.join(self.dir, 'mysqld.pid')}", f"--log-error={self.log}",
             "--innodb-buffer-pool-size=32M", "--skip-log-bin", "--max-connections=500",
             "--local-infile=1", f"--max-allowed-packet={self.max_allowed_packet}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def accepting():
            if self.process.poll() is not None:
                raise AssertionError("mariadbd exited:\n" + self.log_tail())
            try:
                pymysql.connect(unix_socket=self.socket, user="root").close()
                return True
            except pymysql.err.OperationalError:
                return False

        wait_until(accepting, 60, "mariadbd to accept connections")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, lines=30):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no error log)"

    def admin(self):
        return pymysql.connect(unix_socket=self.socket, user="root", autocommit=True)

    def execute(self, *statements):
        with self.admin() as conn, conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)

    def query(self, sql):
        with self.admin() as conn, conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    def _provision(self):
        statements = ["CREATE DATABASE app", "CREATE DATABASE other", "CREATE DATABASE sbtest",
                      "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(100))",
                      "INSERT INTO app.t VALUES (1, 'one'), (2, 'two'), (3, 'three')"]
        for host in ("%", "localhost"):
            statements += [
                f"CREATE USER 'app'@'{host}' IDENTIFIED BY '{APP_PASSWORD}'",
                f"GRANT ALL ON app.* TO 'app'@'{host}'",
                f"GRANT ALL ON other.* TO 'app'@'{host}'",
                f"GRANT ALL ON sbtest.* TO 'app'@'{host}'",
                f"GRANT ALL ON slap.* TO 'app'@'{host}'",
                f"GRANT PROCESS ON *.* TO 'app'@'{host}'",
                f"CREATE USER 'ro'@'{host}' IDENTIFIED BY '{RO_PASSWORD}'",
                f"GRANT SELECT ON app.* TO 'ro'@'{host}'",
            ]
        self.execute(*statements)


class Target:
    """Where a client connects: the server directly or the proxy, over TCP or a Unix socket."""

    def __init__(self, name, host=None, port=None, unix_socket=None):
        self.name, self.host, self.port, self.unix_socket = name, host, port, unix_socket

    def pymysql_args(self):
        if self.unix_socket:
            return {"unix_socket": self.unix_socket}
        return {"host": self.host, "port": self.port}

    def connect(self, user="app", password=APP_PASSWORD, database="app", **kw):
        return pymysql.connect(user=user, password=password, database=database,
                               **self.pymysql_args(), **kw)

    def cli_args(self):
        if self.unix_socket:
            return ["--protocol=SOCKET", f"--socket={self.unix_socket}"]
        return ["--protocol=TCP", f"--host={self.host}", f"--port={self.port}"]

    def __repr__(self):
        return self.name


class ProxyProcess:
    def __init__(self, binary, server, workdir, **settings):
        self.dir = workdir
        self.tcp_port = free_port()
        self.unix_socket = os.path.join(workdir, "proxy.sock")
        self.stderr_path = os.path.join(workdir, "proxy.log")
        pool = {"max_connections": 4, "min_idle": 1, "queue_timeout": '"2s"'}
        proxy = {"workers": 2, "log_level": '"info"', "handshake_timeout": '"5s"'}
        for key, value in settings.items():
            section, name = key.split("__")
            target = pool if section == "pool" else proxy
            target[name] = f'"{value}"' if isinstance(value, str) else value
        lines = ["[proxy]"] + [f"{k} = {v}" for k, v in proxy.items()]
        lines += ["[listen]", f'tcp = ["127.0.0.1:{self.tcp_port}"]',
                  f'unix_socket = "{self.unix_socket}"',
                  "[backend]", f'address = "127.0.0.1:{server.port}"',
                  "[pool]"] + [f"{k} = {v}" for k, v in pool.items()]
        lines += ["[[users]]", 'name = "app"', f'password = "{APP_PASSWORD}"',
                  "[[users]]", 'name = "ro"', f'password_hash = "{native_hash(RO_PASSWORD)}"']
        self.config = os.path.join(workdir, "longlink.toml")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.stderr = open(self.stderr_path, "w")
        self.process = subprocess.Popen([binary, "proxy", "--config", self.config],
                                        stdout=subprocess.DEVNULL, stderr=self.stderr)

        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"proxy exited with {self.process.returncode}:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.tcp_port), timeout=1).close()
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.unix_socket)
                s.close()
                return True
            except OSError:
                return False

        wait_until(ready, 10, "the proxy to listen")
        self.tcp = Target("proxy-tcp", host="127.0.0.1", port=self.tcp_port)
        self.unix = Target("proxy-unix", unix_socket=self.unix_socket)

    def log(self):
        with open(self.stderr_path) as f:
            return f.read()

    def alive(self):
        return self.process.poll() is None

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise AssertionError("proxy did not stop within 10 s of SIGTERM")
            assert code == 0, f"proxy exited with {code}:\n{self.log()}"
        self.stderr.close()
