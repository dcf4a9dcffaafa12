"""A `longlink proxy` process for the integration tests.

ProxyProcess writes a TOML config (the format docs/CONFIG.md describes), starts
`$LONGLINK_BIN proxy --config FILE` with stderr captured to a file, and waits until every
listener accepts. Settings override the defaults either as `section__key=value` keywords
(`pool__max_connections=2`, `proxy__handshake_timeout="2s"`) or as one dict per section
(`pool={"max_connections": 2}`); `users=[...]` replaces the user list.
"""
import json
import os
import re
import signal
import socket
import subprocess
import time

from mariadb_server import APP_PASSWORD, APP_USER, RO_PASSWORD, RO_USER, Target, free_port
from mariadb_server import native_hash

READY_TIMEOUT = 10
STOP_TIMEOUT = 5

# What AddressSanitizer, LeakSanitizer and UBSan write to stderr when they find something (the
# sanitizer build, scripts/test.sh). A report is a failure even when the exit code is 0: UBSan
# goes on after a runtime error, and a leak report needs a clean exit to happen at all.
SANITIZER_REPORT = re.compile(r"^(==\d+==ERROR: (Address|Leak)Sanitizer|.*: runtime error: |"
                              r"SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer)", re.M)


# LONGLINK_TEST_POOL_MODE=transaction runs every proxy of the suite in transaction pooling
# (scripts/test.sh runs the client and transparency suites in both modes); a test's own
# pool__mode wins.
POOL_MODE = os.environ.get("LONGLINK_TEST_POOL_MODE", "")


def sanitizer_reports(text):
    """The lines of `text` that start a sanitizer report; [] for a clean run."""
    return [m.group(0) for m in SANITIZER_REPORT.finditer(text)]


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # A TOML basic string for everything the tests write.
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # An inline table: [admin] users = [{ name = ..., ... }].
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def default_users():
    return [{"name": APP_USER, "password": APP_PASSWORD},
            {"name": RO_USER, "password_hash": native_hash(RO_PASSWORD)}]


class ProxyProcess:
    def __init__(self, binary, server, workdir, users=None, **settings):
        self.dir = workdir
        self.server = server
        self.tcp_port = free_port()
        self.unix_socket = os.path.join(workdir, "proxy.sock")
        self.stderr_path = os.path.join(workdir, "proxy.stderr")
        self.config_path = os.path.join(workdir, "longlink.toml")
        self.sections = {
            "proxy": {"workers": 2, "log_level": "info", "handshake_timeout": "5s"},
            "listen": {"tcp": [f"127.0.0.1:{self.tcp_port}"], "unix_socket": self.unix_socket},
            "backend": {"address": f"127.0.0.1:{server.port}"},
            "pool": {"max_connections": 4, "min_idle": 1, "queue_timeout": "2s"},
        }
        if POOL_MODE:
            self.sections["pool"]["mode"] = POOL_MODE
        for key, value in settings.items():
            if isinstance(value, dict):
                self.sections.setdefault(key, {}).update(value)
            else:
                section, name = key.split("__", 1)
                self.sections.setdefault(section, {})[name] = value
        self.users = default_users() if users is None else users
        with open(self.config_path, "w") as f:
            f.write(self.config_text())
        os.chmod(self.config_path, 0o600)  # It holds passwords (the proxy warns otherwise).

        self.stderr = open(self.stderr_path, "w")
        self.process = subprocess.Popen([binary, "proxy", "--config", self.config_path],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=self.stderr)
        try:
            self._wait_ready()
        except BaseException:
            self.kill()
            raise
        self.tcp = Target("proxy", "tcp", host="127.0.0.1", port=self.tcp_port, proxy=self,
                          server=server)
        self.unix = Target("proxy", "unix", unix_socket=self.unix_socket, proxy=self,
                           server=server)

    def config_text(self):
        lines = []
        for section, values in self.sections.items():
            lines.append(f"[{section}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
            lines.append("")
        for user in self.users:
            lines.append("[[users]]")
            lines += [f"{k} = {toml_value(v)}" for k, v in user.items()]
            lines.append("")
        return "\n".join(lines)

    def _listeners_accept(self):
        try:
            socket.create_connection(("127.0.0.1", self.tcp_port), timeout=1).close()
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(1)
                s.connect(self.unix_socket)
            return True
        except OSError:
            return False

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the proxy exited with {self.process.returncode} before "
                                     f"listening; its stderr:\n{self.log()}\nconfig:\n"
                                     f"{self.config_text()}")
            if self._listeners_accept():
                return
            time.sleep(0.05)
        raise AssertionError(f"the proxy did not accept on 127.0.0.1:{self.tcp_port} and "
                             f"{self.unix_socket} within {READY_TIMEOUT}s; its stderr:\n"
                             f"{self.log()}")

    def target(self, transport):
        return self.tcp if transport == "tcp" else self.unix

    def log(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except OSError:
            return "(no stderr file)"

    def alive(self):
        return self.process.poll() is None

    @property
    def pid(self):
        return self.process.pid

    def log_lines(self, pattern):
        """The lines of the proxy's stderr that match the regular expression `pattern`."""
        return [line for line in self.log().splitlines() if re.search(pattern, line)]

    def wait_for_log(self, pattern, timeout=5):
        """Waits until a line of the proxy's stderr matches `pattern` (a regular expression);
        returns the matching lines."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.log_lines(pattern)
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} in the proxy's stderr within "
                             f"{timeout}s; it holds:\n{self.log()}")

    def fd_count(self):
        """Open file descriptors of the proxy process (/proc/PID/fd)."""
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def rss_kib(self):
        """VmRSS of the proxy process in KiB (/proc/PID/status)."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError(f"no VmRSS in /proc/{self.pid}/status")

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.stderr.close()

    def stop(self):
        """SIGTERM; the proxy must exit 0 within STOP_TIMEOUT seconds, and its stderr must hold
        no sanitizer report (in a sanitizer build, LeakSanitizer checks at that exit)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"the proxy did not exit within {STOP_TIMEOUT}s of SIGTERM; "
                                     f"its stderr:\n{self.log()}")
        self.stderr.close()
        code = self.process.returncode
        assert code == 0, f"the proxy exited with {code}; its stderr:\n{self.log()}"
        reports = sanitizer_reports(self.log())
        assert not reports, f"sanitizer report in the proxy's stderr: {reports}\n{self.log()}"


def stop_all(proxies):
    """Stops every proxy (ProxyProcess.stop); then fails with every failure together."""
    failures = []
    for proxy in proxies:
        try:
            proxy.stop()
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "\n".join(failures)
