"""Fixtures for longlink's integration tests: real sockets in private network namespaces.

Each namespace is created by the test (`ip netns add`), has loopback up, tcp_tw_reuse=0 (so
loopback TIME_WAIT behaves like a remote server's) and a small ephemeral port range, and is
deleted afterwards with every process left in it. Without the privilege to create namespaces
the tests skip, saying why.
"""
import itertools
import json
import os
import signal
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LONGLINK = os.environ.get("LONGLINK_BIN", os.path.join(ROOT, "build", "src", "longlink"))
SOCKGEN = os.environ.get("LONGLINK_SOCKGEN", os.path.join(ROOT, "tests", "tools", "sockgen.py"))
PYTHON = "/usr/bin/python3"
PORT_RANGE = (20000, 21999)

_counter = itertools.count()


class Netns:
    """A named network namespace and helpers to run things inside it."""

    def __init__(self, name):
        self.name = name
        self.children = []

    def cmd(self, *args):
        return ["ip", "netns", "exec", self.name, *args]

    def run(self, *args, env=None, check=False):
        return subprocess.run(self.cmd(*args), capture_output=True, text=True, env=env,
                              check=check, timeout=120)

    def longlink(self, *args, env=None):
        return self.run(LONGLINK, *args, env=env)

    def diagnose_json(self, *args):
        r = self.longlink("diagnose", "--json", *args)
        assert r.returncode == 0, f"diagnose failed ({r.returncode}): {r.stderr}"
        return json.loads(r.stdout)

    def ss_count(self, state):
        r = self.run("ss", "-tan", "state", state, check=True)
        return len(r.stdout.splitlines()) - 1  # header line

    def sockgen(self, *ops):
        """Starts sockgen holding its sockets; returns (process, ready line fields)."""
        p = subprocess.Popen(self.cmd(PYTHON, SOCKGEN, *ops, "--hold"), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.children.append(p)
        line = p.stdout.readline()
        if not line.startswith("ready"):
            p.kill()
            raise AssertionError(f"sockgen failed: {line} {p.stderr.read()}")
        fields = dict(kv.split("=") for kv in line.split()[1:])
        return p, {k: int(v) for k, v in fields.items()}


def _create(name):
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    ns = Netns(name)
    ns.run("ip", "link", "set", "lo", "up", check=True)
    ns.run("sysctl", "-qw", "net.ipv4.tcp_tw_reuse=0",
           f"net.ipv4.ip_local_port_range={PORT_RANGE[0]} {PORT_RANGE[1]}", check=True)
    return ns


def _destroy(ns):
    for p in ns.children:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
    pids = subprocess.run(["ip", "netns", "pids", ns.name], capture_output=True, text=True)
    for pid in pids.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    subprocess.run(["ip", "netns", "del", ns.name], capture_output=True)


def _can_create_netns():
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    name = f"longlink-probe-{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if r.returncode != 0:
        return f"cannot create a network namespace: {r.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


@pytest.fixture(scope="session")
def netns_ok():
    reason = _can_create_netns()
    if reason:
        pytest.skip(reason)
    if not os.access(LONGLINK, os.X_OK):
        pytest.fail(f"longlink binary not found at {LONGLINK}; build first")


@pytest.fixture
def netns(netns_ok):
    ns = _create(f"longlink-t-{os.getpid()}-{next(_counter)}")
    yield ns
    _destroy(ns)


@pytest.fixture(scope="module")
def module_netns(netns_ok):
    ns = _create(f"longlink-m-{os.getpid()}-{next(_counter)}")
    yield ns
    _destroy(ns)


# --- The proxy's tests: one MariaDB for the session, a fresh proxy per test. ---
# mariadb_server.py and proxy_process.py hold the harness; a test names where its clients
# connect as "direct-tcp", "direct-unix", "proxy-tcp" or "proxy-unix" (WHERE_*), and gets a
# Target for it from `make_target`, so one test body runs against the server itself (which
# validates the test) and through the proxy. `pytest -k direct` needs no longlink binary.

WHERE_DIRECT = ["direct-tcp", "direct-unix"]
WHERE_PROXY = ["proxy-tcp", "proxy-unix"]
WHERE_ALL = WHERE_DIRECT + WHERE_PROXY


@pytest.fixture(scope="session")
def mariadb():
    from mariadb_server import MariaDBServer
    server = MariaDBServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """The test PKI (pki.py): CA, wrong CA, server/expired/wrong-host/client certificates."""
    from pki import make_pki
    return make_pki(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="session")
def tls_mariadb(pki, tmp_path_factory):
    """A second MariaDB for the session that offers TLS (over TCP and its Unix socket) with
    `pki`'s server certificate, and knows the accounts of provision_tls_accounts() ('secure'
    REQUIRE SSL, 'x509user' REQUIRE X509) besides the usual ones. It was started with copies
    of the certificate files, so that reload_certificate() may overwrite them; `.pki` is the
    PKI, `.cert_files` the (cert, key) it serves by default."""
    import shutil
    from mariadb_server import MariaDBServer, tls_server_args
    live = tmp_path_factory.mktemp("tls-mariadb-cert")
    cert, key = str(live / "server-cert.pem"), str(live / "server-key.pem")
    shutil.copyfile(pki.server_cert, cert)
    shutil.copyfile(pki.server_key, key)
    server = MariaDBServer(extra_args=tls_server_args(pki, cert=cert, key=key))
    try:
        server.provision_tls_accounts()
    except BaseException:
        server.close()
        raise
    server.pki = pki
    server.cert_files = (pki.server_cert, pki.server_key)
    yield server
    server.close()


@pytest.fixture(scope="session")
def longlink_bin():
    if not os.access(LONGLINK, os.X_OK):
        pytest.fail(f"longlink binary not found at {LONGLINK}; build first or set LONGLINK_BIN")
    return LONGLINK


@pytest.fixture
def proxy_factory(tmp_path, request):
    """proxy_factory(pool__max_connections=2, proxy={"handshake_timeout": "2s"}, ...) starts a
    proxy in front of the session's MariaDB (or of `server=`, a MariaDBServer of the test's
    own; then the session's server is not started); each is stopped (SIGTERM, exit 0) after
    the test."""
    from proxy_process import ProxyProcess, stop_all
    binary = request.getfixturevalue("longlink_bin")
    started = []

    def start(server=None, **settings):
        if server is None:
            server = request.getfixturevalue("mariadb")
        workdir = tmp_path / f"proxy{len(started)}"
        workdir.mkdir()
        p = ProxyProcess(binary, server, str(workdir), **settings)
        started.append(p)
        return p

    yield start
    stop_all(started)


@pytest.fixture
def proxy(proxy_factory, request):
    """A proxy with the default config, or with overrides given by indirect parametrization:
    @pytest.mark.parametrize("proxy", [{"pool__max_connections": 1}], indirect=True)."""
    return proxy_factory(**getattr(request, "param", {}))


@pytest.fixture
def make_target(request):
    """make_target("proxy-unix", pool__max_connections=1) -> Target. For "direct-*" the
    settings are ignored and no proxy is started. `server=` (a MariaDBServer) replaces the
    session's server, for the target and for the proxy."""
    def make(where, server=None, **proxy_settings):
        kind, transport = where.split("-")
        if kind == "direct":
            return (server or request.getfixturevalue("mariadb")).target(transport)
        return request.getfixturevalue("proxy_factory")(server=server,
                                                        **proxy_settings).target(transport)
    return make


@pytest.fixture
def server_globals(mariadb):
    """server_globals(max_allowed_packet=64 << 20): SET GLOBAL now, the old values after."""
    saved = {}

    def set_globals(**variables):
        old = mariadb.set_global(**variables)
        for name, value in old.items():
            saved.setdefault(name, value)

    yield set_globals
    if saved:
        mariadb.set_global(**saved)
