"""TLS (issue 13): toward clients ([client_tls], [listen] require_tls, [[users]] require_tls)
and toward the backend ([backend_tls]), against `tls_mariadb` (conftest.py), a MariaDB that
offers TLS with the test PKI's certificate (pki.py).

The server is the reference: each test runs its body against the server itself (`-k direct`
runs those alone, with no longlink binary) and through the proxy, with the mariadb CLI,
PyMySQL, mysqlclient and libmariadb over TCP and the Unix socket; where a proxy outcome can be
compared with the server's exactly, the proxy parametrization also takes the direct outcome in
the same test and asserts equality. Through the proxy `SHOW SESSION STATUS LIKE 'Ssl_cipher'`
is answered by the backend connection: non-empty iff [backend_tls] is on, whatever the
client's own link. What MariaDB 10.11 does, measured here and mirrored by the proxy:

- a certificate the client cannot verify: the client's own error (libmariadb 2026 "TLS/SSL
  error: certificate has expired" / "... Validation of SSL server certificate failed" for a
  host name mismatch / "... self-signed certificate in certificate chain" for a CA it does not
  trust, the server sending its CA along; "unable to get local issuer certificate" when only
  the leaf is sent; PyMySQL 2003 "Can't connect to MySQL server on ... ([SSL:
  CERTIFICATE_VERIFY_FAILED] certificate verify failed: <the same reason>)");
- require_secure_transport=ON: a plain TCP login gets 1045 "Access denied for user
  'app'@'localhost' (using password: YES)" (SQLSTATE 28000; the same for a wrong password or
  an unknown user); the Unix socket counts as secure;
- REQUIRE SSL: a plain login gets the same 1045, over the Unix socket too;
- a client certificate from another CA: the server's TLS alert "unknown ca" (PyMySQL 2013,
  libmariadb 2026 "TLS/SSL error: tlsv1 alert unknown ca" or 2013 "Lost connection");
- TLS session resumption does not show in the server's status (tickets are stateless:
  Ssl_session_cache_hits stays 0; Ssl_sessions_reused reads 0 even on a connection the
  client saw resumed), so tls_wire.WireRelay watches the handshakes on the wire;
- the mariadb CLI of 10.11 asks for TLS whenever it is offered (its --ssl defaults to on),
  over the Unix socket too; PyMySQL and mysqlclient only when given TLS arguments.

libmariadb: tests/clients/libmariadb_client has no TLS flags yet; its checks here skip until
it takes --ssl-ca FILE, --ssl-cert FILE, --ssl-key FILE, --ssl-verify 0|1 and prints, after a
--login-only login, "ok tls: cipher CIPHER, version VERSION, server Ssl_cipher 'VALUE'"
("cipher none, version none" on a plain link)."""
import os
import re
import shutil
import signal
import ssl
import subprocess
import threading
import time
import types

import MySQLdb
import pymysql
import pytest

from client_checks import CLIENT_SIDE_LOSS, backend_thread, error_of, query_one
from conftest import ROOT
from mariadb_server import (APP_PASSWORD, APP_USER, PLAIN, SECURE_PASSWORD, SECURE_USER,
                            X509_PASSWORD, X509_USER, ClientTls, free_port, native_hash,
                            wait_until)
from pki import issue
from proxy_process import ProxyProcess, default_users, stop_all
from tls_wire import WireRelay

MiB = 1024 * 1024
ACCESS_DENIED = 1045               # ER_ACCESS_DENIED_ERROR, SQLSTATE 28000
CR_CONN_HOST_ERROR = 2003          # PyMySQL's error for a failed TLS handshake
CR_SSL_CONNECTION_ERROR = 2026     # libmariadb's
LOOKUP_USER, LOOKUP_PASSWORD = "longlink_tls_lookup", "lookup-secret"
DROPPED = "dropped idle backend connection"
LIBMARIADB_CLIENT = os.environ.get("LONGLINK_LIBMARIADB_CLIENT",
                                   os.path.join(ROOT, "build", "tests", "clients",
                                                "libmariadb_client"))
LIBMARIADB_TLS_FLAGS = ("libmariadb_client takes no TLS flags yet (wanted: --ssl-ca FILE "
                        "--ssl-cert FILE --ssl-key FILE --ssl-verify 0|1, and an 'ok tls: ...' "
                        "line after --login-only)")

WHERE = ["direct-tcp", "direct-unix", "proxy-tcp", "proxy-unix"]
# The proxy with [backend_tls] off and on: SHOW STATUS LIKE 'Ssl_cipher' tells them apart.
WHERE_BACKEND = ["direct-tcp", "direct-unix", "proxy-tcp-backend_plain", "proxy-tcp-backend_tls",
                 "proxy-unix-backend_plain", "proxy-unix-backend_tls"]

# The reason in a verification error; a CA the client does not trust reads differently as the
# other side sends its CA along (MariaDB does, with --ssl-ca) or only its own certificate.
UNTRUSTED = r"(self-signed certificate in certificate chain|unable to get local issuer certificate)"
VERIFY_REASONS = {
    "pymysql": {"wrong_ca": rf"certificate verify failed: {UNTRUSTED} \(",
                "expired": r"certificate verify failed: certificate has expired \(",
                "wrong_host": r"certificate verify failed: (IP address mismatch, certificate is "
                              r"not valid for '127\.0\.0\.1'|Hostname mismatch, certificate is "
                              r"not valid for 'localhost')\. \("},
    "libmariadb": {"wrong_ca": rf"^TLS/SSL error: {UNTRUSTED}$",
                   "expired": r"^TLS/SSL error: certificate has expired$",
                   "wrong_host": r"^TLS/SSL error: Validation of SSL server certificate failed$"},
}
VERIFY_CODES = {"pymysql": CR_CONN_HOST_ERROR, "libmariadb": CR_SSL_CONNECTION_ERROR}


# --- what each client sees: ("ok", CURRENT_USER(), client TLS?, client cipher, server's
# Ssl_cipher) or ("error", code, text) ---------------------------------------------------------

def failed(e):
    return ("error", e.args[0], e.args[1] if len(e.args) > 1 else "")


def pymysql_tls(conn):
    """(cipher, version) of the client's link, or ("", None) without TLS. Not conn._secure:
    PyMySQL sets it for any Unix socket."""
    if isinstance(conn._sock, ssl.SSLSocket):
        return conn._sock.cipher()[0], conn._sock.version()
    return "", None


def ssl_cipher(cursor):
    cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
    return cursor.fetchone()[1]


def probe_pymysql(target, user=APP_USER, password=APP_PASSWORD):
    try:
        conn = pymysql.connect(user=user, password=password, database="app", connect_timeout=10,
                               read_timeout=30, **target.pymysql_args())
    except pymysql.err.MySQLError as e:
        return failed(e)
    try:
        cipher, _ = pymysql_tls(conn)
        with conn.cursor() as cur:
            cur.execute("SELECT CURRENT_USER()")
            who = cur.fetchone()[0]
            return ("ok", who, bool(cipher), cipher, ssl_cipher(cur))
    finally:
        conn.close()


def probe_mysqlclient(target, user=APP_USER, password=APP_PASSWORD):
    """mysqlclient 1.4 cannot tell its cipher: with `ssl` libmariadb insists on TLS (2026 "SSL
    is required, but the server does not support it" otherwise), so a login means TLS; the
    cipher reads "?"."""
    try:
        conn = MySQLdb.connect(user=user, password=password, database="app", connect_timeout=10,
                               **target.mysqldb_args())
    except MySQLdb.MySQLError as e:
        return failed(e)
    try:
        cur = conn.cursor()
        cur.execute("SELECT CURRENT_USER()")
        who = cur.fetchone()[0]
        return ("ok", who, target.wants_tls, "?" if target.wants_tls else "", ssl_cipher(cur))
    finally:
        conn.close()


SSL_LINE = re.compile(r"^SSL:\s+(?:Cipher in use is (\S+)|Not in use)\s*$", re.M)


def probe_cli(target, user=APP_USER, password=APP_PASSWORD):
    """The mariadb CLI: CURRENT_USER(), Ssl_cipher and `\\s` ("SSL: Cipher in use is X")."""
    run = subprocess.run(["mariadb", *target.cli_args(), f"--user={user}",
                          f"--password={password}", "--batch", "--skip-column-names", "-e",
                          "SELECT CURRENT_USER(); SHOW SESSION STATUS LIKE 'Ssl_cipher'; \\s",
                          "app"], capture_output=True, text=True, timeout=30)
    if run.returncode != 0:
        line = run.stderr.strip().splitlines()[-1]   # ERROR 2026 (HY000): TLS/SSL error: ...
        return ("error", int(line.split()[1]), line.split(": ", 1)[1])
    lines = run.stdout.splitlines()
    ssl_line = SSL_LINE.search(run.stdout)
    assert ssl_line, run.stdout
    cipher = ssl_line.group(1) or ""
    return ("ok", lines[0], bool(cipher), cipher, lines[1].split("\t", 1)[1])


LIBMARIADB_TLS = re.compile(r"^ok tls: cipher (\S+), version (\S+), server Ssl_cipher '(.*)'$",
                            re.M)


def probe_libmariadb(target, user=APP_USER, password=APP_PASSWORD):
    if not os.access(LIBMARIADB_CLIENT, os.X_OK):
        pytest.skip(f"no libmariadb_client at {LIBMARIADB_CLIENT}")
    run = subprocess.run([LIBMARIADB_CLIENT, *target.libmariadb_args(), "--user", user,
                          "--password", password, "--database", "app", "--login-only", "1"],
                         capture_output=True, text=True, timeout=30)
    if run.returncode == 2 and "unknown flag" in run.stderr:
        pytest.skip(LIBMARIADB_TLS_FLAGS)
    for line in run.stdout.splitlines():
        if line.startswith("FAIL login"):
            detail = line.split("(error ", 1)[1]
            return ("error", int(detail.split()[0]), detail.split("]: ", 1)[1].rstrip(")"))
    login = re.search(r"^ok login: (.*)$", run.stdout, re.M)
    tls = LIBMARIADB_TLS.search(run.stdout)
    if not (login and tls):
        pytest.skip(f"{LIBMARIADB_TLS_FLAGS}; it printed {run.stdout!r}")
    cipher = "" if tls.group(1) == "none" else tls.group(1)
    return ("ok", login.group(1), bool(cipher), cipher, tls.group(3))


PROBES = {"cli": probe_cli, "pymysql": probe_pymysql, "mysqlclient": probe_mysqlclient,
          "libmariadb": probe_libmariadb}


def connect(target, **kw):
    kw.setdefault("read_timeout", 30)
    kw.setdefault("write_timeout", 30)
    return target.connect(**kw)


def run_sql(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


# --- fixtures ------------------------------------------------------------------------------

def client_tls(pki, cert=None, key=None, **extra):
    """A [client_tls] table: the server certificate (or `cert`/`key`) and `extra` keys."""
    return dict({"cert": cert or pki.server_cert, "key": key or pki.server_key}, **extra)


def backend_tls(pki, **extra):
    """A [backend_tls] table trusting the test CA."""
    return dict({"enabled": True, "ca": pki.ca}, **extra)


def proxy_configs(pki):
    """The configurations shared_proxies() starts by name."""
    return {
        "backend_plain": {"client_tls": client_tls(pki)},
        "backend_tls": {"client_tls": client_tls(pki), "backend_tls": backend_tls(pki)},
        "expired": {"client_tls": client_tls(pki, pki.expired_cert, pki.expired_key)},
        "wrong_host": {"client_tls": client_tls(pki, pki.wrong_host_cert, pki.wrong_host_key)},
        "require_tls": {"client_tls": client_tls(pki), "backend_tls": backend_tls(pki),
                        "listen": {"require_tls": True}},
        "client_certs": {"client_tls": client_tls(pki, ca=pki.ca)},
        "listed_secure": {"client_tls": client_tls(pki), "backend_tls": backend_tls(pki),
                          "users": default_users() + [{"name": SECURE_USER,
                                                       "password": SECURE_PASSWORD,
                                                       "require_tls": True}]},
        "lookup": {"client_tls": client_tls(pki), "backend_tls": backend_tls(pki), "users": [],
                   "auth": {"user": LOOKUP_USER, "password": LOOKUP_PASSWORD}},
    }


@pytest.fixture(scope="module")
def lookup_account(tls_mariadb):
    """An [auth] lookup account on tls_mariadb (as test_proxy_accounts.py has on `mariadb`)."""
    tls_mariadb.execute(f"CREATE USER IF NOT EXISTS '{LOOKUP_USER}'@'%' IDENTIFIED BY "
                        f"'{LOOKUP_PASSWORD}'",
                        f"GRANT SELECT ON mysql.global_priv TO '{LOOKUP_USER}'@'%'")
    yield
    tls_mariadb.execute(f"DROP USER IF EXISTS '{LOOKUP_USER}'@'%'")


@pytest.fixture(scope="module")
def shared_proxies(tls_mariadb, pki, tmp_path_factory, request):
    """shared_proxies(name) -> a proxy in front of tls_mariadb with proxy_configs()[name],
    started at first use and kept for the module (for tests that change nothing in it); each
    must stop cleanly at the end."""
    started = {}
    configs = proxy_configs(pki)

    def get(name):
        if name not in started:
            if name == "lookup":
                request.getfixturevalue("lookup_account")
            workdir = tmp_path_factory.mktemp(f"tls-proxy-{name}")
            started[name] = ProxyProcess(request.getfixturevalue("longlink_bin"), tls_mariadb,
                                         str(workdir), **configs[name])
        return started[name]

    yield get
    stop_all(started.values())


@pytest.fixture
def place(tls_mariadb, shared_proxies):
    """place("proxy-unix-backend_tls", tls) -> a Target: tls_mariadb itself, or the shared
    proxy of that configuration ("backend_tls" when the name has none), reached with `tls`."""
    def make(where, tls=None, config="backend_tls"):
        kind, transport, *rest = where.split("-")
        if kind == "direct":
            base = tls_mariadb.target(transport)
        else:
            base = shared_proxies(rest[0] if rest else config).target(transport)
        return base.with_tls(tls)
    return make


@pytest.fixture
def verified(pki):
    """The client TLS most tests use: the test CA, chain and host name checked."""
    return ClientTls(ca=pki.ca)


@pytest.fixture
def tls_globals(tls_mariadb):
    """tls_globals(wait_timeout=2): SET GLOBAL on tls_mariadb now, the old values after."""
    saved = {}

    def set_globals(**variables):
        for name, value in tls_mariadb.set_global(**variables).items():
            saved.setdefault(name, value)

    yield set_globals
    if saved:
        tls_mariadb.set_global(**saved)


@pytest.fixture
def served_certificate(tls_mariadb):
    """served_certificate(cert, key): tls_mariadb serves that certificate (FLUSH SSL) until
    the test ends."""
    changed = []

    def serve(cert, key):
        tls_mariadb.reload_certificate(cert, key)
        changed.append(True)

    yield serve
    if changed:
        tls_mariadb.reload_certificate(*tls_mariadb.cert_files)


@pytest.fixture
def fresh_proxy(request, tls_mariadb, pki):
    """fresh_proxy(**settings): a proxy of the test's own in front of tls_mariadb (for tests
    that change or kill something), with [client_tls] and, unless backend=False,
    [backend_tls]. proxy_factory is asked for only then, so that a direct run needs no
    longlink binary."""
    def start(backend=True, **settings):
        settings.setdefault("client_tls", client_tls(pki))
        if backend:
            settings.setdefault("backend_tls", backend_tls(pki))
        return request.getfixturevalue("proxy_factory")(server=tls_mariadb, **settings)
    return start


# --- 1. a TLS session with each client -------------------------------------------------------

@pytest.mark.parametrize("where", WHERE_BACKEND)
@pytest.mark.parametrize("client", sorted(PROBES))
def test_each_client_gets_a_verified_tls_session(place, verified, client, where):
    """Each client with the test CA, chain and host name checked (CLI --ssl --ssl-ca
    --ssl-verify-server-cert; PyMySQL an SSLContext with check_hostname; mysqlclient `ssl` and
    ssl-verify-server-cert; libmariadb --ssl-ca --ssl-verify 1), over TCP and the Unix socket:
    the client reports a cipher (through the proxy the one it gets direct); the server's
    Ssl_cipher (where the query lands) is the client's own direct, and through the proxy
    non-empty iff [backend_tls] is on."""
    target = place(where, verified)
    outcome = PROBES[client](target)
    assert outcome[:3] == ("ok", f"{APP_USER}@localhost", True), outcome
    _, _, _, cipher, server_cipher = outcome
    if not target.is_proxy:
        assert server_cipher and cipher in (server_cipher, "?"), outcome
        return
    direct = PROBES[client](place("direct-" + target.transport, verified))
    assert cipher == direct[3], (outcome, direct)
    if where.endswith("backend_tls"):
        assert server_cipher, f"[backend_tls] is on but Ssl_cipher is empty: {outcome}"
    else:
        assert server_cipher == "", f"[backend_tls] is off but Ssl_cipher is set: {outcome}"


def pymysql_link(target):
    """(cipher, version, certificate CN) of a new PyMySQL TLS connection to `target`."""
    conn = connect(target)
    try:
        assert query_one(conn, "SELECT v FROM t WHERE id = 2") == ("two",)
        subject = dict(item[0] for item in conn._sock.getpeercert()["subject"])
        return (*pymysql_tls(conn), subject["commonName"])
    finally:
        conn.close()


@pytest.mark.parametrize("where", WHERE)
def test_pymysql_cipher_and_version_as_with_the_server(place, verified, where):
    """PyMySQL negotiates TLS 1.3 with the server (OpenSSL 3 defaults on both sides) and sees
    the PKI's server certificate (CN localhost); with the proxy, the same cipher, version and
    certificate subject."""
    link = pymysql_link(place(where, verified))
    assert link[0] and link[1:] == ("TLSv1.3", "localhost"), link
    if where.startswith("proxy"):
        assert link == pymysql_link(place(where.replace("proxy", "direct"), verified))


@pytest.mark.parametrize("where", WHERE)
def test_the_cli_asks_for_tls_whenever_it_is_offered(place, where):
    """The 10.11 CLI without any TLS option ("--ssl" defaults to on) negotiates TLS with the
    server and with the proxy, over TCP and over the Unix socket (the proxy offers TLS on both
    listeners once [client_tls] is set); with --skip-ssl it stays plain."""
    outcome = probe_cli(place(where))
    assert outcome[:3] == ("ok", f"{APP_USER}@localhost", True), outcome
    plain = probe_cli(place(where, PLAIN))
    assert plain[:4] == ("ok", f"{APP_USER}@localhost", False, ""), plain


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("client", ["pymysql", "mysqlclient"])
def test_plain_clients_stay_plain(place, client, where):
    """A client that asks for no TLS (PyMySQL and mysqlclient by default) logs in in plain
    text where TLS is offered but not required."""
    outcome = PROBES[client](place(where))
    assert outcome[:4] == ("ok", f"{APP_USER}@localhost", False, ""), outcome


# --- 2. certificates a client refuses --------------------------------------------------------

def verification_case(case, where, pki, served_certificate, place):
    """The Target for `case` at `where`: the server (serving that certificate) or a proxy with
    it as [client_tls] cert; the client trusts the test CA, or for "wrong_ca" the wrong one."""
    trust = ClientTls(ca=pki.wrong_ca if case == "wrong_ca" else pki.ca)
    if where.startswith("direct"):
        if case == "expired":
            served_certificate(pki.expired_cert, pki.expired_key)
        elif case == "wrong_host":
            served_certificate(pki.wrong_host_cert, pki.wrong_host_key)
        return place(where, trust)
    return place(where, trust, config={"wrong_ca": "backend_plain"}.get(case, case))


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("client", ["cli", "mysqlclient", "pymysql", "libmariadb"])
@pytest.mark.parametrize("case", ["wrong_ca", "expired", "wrong_host"])
def test_a_certificate_the_client_cannot_verify(place, pki, served_certificate, case, client,
                                                where):
    """A client that trusts another CA, a proxy (or server) certificate past its notAfter, one
    for another host name ("wrong.example"; the client checks 127.0.0.1 or localhost): the
    client refuses with its own error, which names the reason. Through the proxy the error is
    the one the server's certificate gets (the same text, but for an untrusted CA: the server
    sends its CA along and the client reads "self-signed certificate in certificate chain",
    a proxy that sends its certificate alone gets "unable to get local issuer
    certificate")."""
    library = "pymysql" if client == "pymysql" else "libmariadb"
    target = verification_case(case, where, pki, served_certificate, place)
    outcome = PROBES[client](target)
    assert outcome[:2] == ("error", VERIFY_CODES[library]), outcome
    assert re.search(VERIFY_REASONS[library][case], outcome[2]), outcome
    if target.is_proxy and case != "wrong_ca":
        direct = verification_case(case, "direct-" + target.transport, pki, served_certificate,
                                   place)
        assert outcome == PROBES[client](direct)


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("client", ["cli", "mysqlclient"])
def test_a_wrong_host_name_passes_a_client_that_checks_the_chain_only(place, pki,
                                                                      served_certificate, client,
                                                                      where):
    """Without host name checking (CLI --ssl-ca without --ssl-verify-server-cert, mysqlclient
    with only `ssl`), the wrong.example certificate is accepted: it is signed by the CA."""
    target = verification_case("wrong_host", where, pki, served_certificate, place)
    outcome = PROBES[client](target.with_tls(ClientTls(ca=pki.ca, verify_identity=False)))
    assert outcome[:3] == ("ok", f"{APP_USER}@localhost", True), outcome


# --- 3. TLS required --------------------------------------------------------------------------

@pytest.fixture
def require_tls(tls_globals):
    """require_tls(where): the server with require_secure_transport=ON (set for this test), or
    the proxy with [listen] require_tls = true."""
    def make(where):
        if where.startswith("direct"):
            tls_globals(require_secure_transport="ON")
    return make


@pytest.mark.parametrize("where", WHERE)
def test_listen_require_tls_refuses_plain_tcp_as_require_secure_transport(place, verified,
                                                                          require_tls, where):
    """[listen] require_tls = true, as require_secure_transport=ON: a plain TCP login is
    refused with 1045 "Access denied for user 'app'@'localhost' (using password: YES)"
    (whether the password is right or not, whether the user exists or not); the same login
    over TLS, or plain over the Unix socket, gets in."""
    require_tls(where)
    target = place(where, config="require_tls")
    plain, tls = target.with_tls(PLAIN), target.with_tls(verified)
    denied = "Access denied for user '{}'@'localhost' (using password: YES)"
    for user, password in ((APP_USER, APP_PASSWORD), (APP_USER, "wrong"), ("nosuch", "x")):
        outcome = probe_pymysql(plain, user, password)
        if target.transport == "tcp" or password != APP_PASSWORD:
            assert outcome == ("error", ACCESS_DENIED, denied.format(user)), (user, outcome)
        else:
            assert outcome[:3] == ("ok", f"{APP_USER}@localhost", False), outcome
    assert probe_pymysql(tls)[:3] == ("ok", f"{APP_USER}@localhost", True)
    cli = probe_cli(plain)
    if target.transport == "tcp":
        assert cli == ("error", ACCESS_DENIED, denied.format(APP_USER)), cli
    else:
        assert cli[:3] == ("ok", f"{APP_USER}@localhost", False), cli
    assert probe_cli(tls)[:3] == ("ok", f"{APP_USER}@localhost", True)


@pytest.mark.parametrize("where", WHERE + ["proxy-tcp-lookup", "proxy-unix-lookup"])
def test_an_account_that_requires_tls(place, verified, where):
    """'secure' is REQUIRE SSL on the server; through the proxy it is a listed user with
    require_tls = true ("listed_secure"), or an account read from the server by [auth]
    ("lookup", [backend_tls] on). A plain login is refused with 1045 "Access denied for user
    'secure'@'localhost' (using password: YES)" over TCP and over the Unix socket alike (for
    REQUIRE SSL the server does not count the socket as secure); over TLS it gets in as
    secure@localhost. Other users are not affected."""
    target = place(where, config="listed_secure")
    plain, tls = target.with_tls(PLAIN), target.with_tls(verified)
    denied = ("error", ACCESS_DENIED,
              f"Access denied for user '{SECURE_USER}'@'localhost' (using password: YES)")
    assert probe_pymysql(plain, SECURE_USER, SECURE_PASSWORD) == denied
    assert probe_cli(plain, SECURE_USER, SECURE_PASSWORD) == denied
    assert probe_pymysql(tls, SECURE_USER, SECURE_PASSWORD)[:3] == \
        ("ok", f"{SECURE_USER}@localhost", True)
    assert probe_cli(tls, SECURE_USER, SECURE_PASSWORD)[:3] == \
        ("ok", f"{SECURE_USER}@localhost", True)
    assert probe_pymysql(plain)[:3] == ("ok", f"{APP_USER}@localhost", False)


# --- 4. client certificates -------------------------------------------------------------------

@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("certificate", ["signed", "wrong_ca", "none"])
def test_client_certificates(place, pki, certificate, where):
    """[client_tls] ca: the proxy asks for a client certificate and checks it against that CA,
    as the server started with --ssl-ca does. One signed by it gets in; one from another CA is
    refused in the handshake (TLS alert "unknown ca": PyMySQL 2013); with no certificate the
    client gets in (only REQUIRE X509 accounts need one: test_require_x509)."""
    cert, key = {"signed": (pki.client_cert, pki.client_key),
                 "wrong_ca": (pki.wrong_client_cert, pki.wrong_client_key),
                 "none": (None, None)}[certificate]
    target = place(where, ClientTls(ca=pki.ca, cert=cert, key=key), config="client_certs")
    outcome = probe_pymysql(target)
    if certificate in ("signed", "none"):
        assert outcome[:3] == ("ok", f"{APP_USER}@localhost", True), outcome
    else:
        # The alert arrives after the client's side of a TLS 1.3 handshake: PyMySQL reads it
        # as 2013 ("tlsv1 alert unknown ca"; "certificate required" for none), or meets the
        # closed socket first.
        assert outcome[0] == "error" and outcome[1] in CLIENT_SIDE_LOSS + (CR_CONN_HOST_ERROR,), \
            outcome
        if certificate == "wrong_ca" and "alert" in outcome[2]:
            assert "unknown ca" in outcome[2], outcome


@pytest.mark.parametrize("where", ["direct-tcp", "direct-unix", "proxy-tcp", "proxy-unix"])
def test_an_x509_account_through_a_proxy_with_a_client_certificate(tls_mariadb, pki,
                                                                   fresh_proxy, where):
    """'x509user' is REQUIRE X509. Direct, its client presents the PKI's client certificate;
    through the proxy the proxy presents it to the server ([backend_tls] cert/key): the login
    works as x509user@localhost. Without a certificate the server refuses it (1045), direct
    and, when [backend_tls] has none, through the proxy."""
    kind, transport = where.split("-")
    with_cert = ClientTls(ca=pki.ca, cert=pki.client_cert, key=pki.client_key)
    users = default_users() + [{"name": X509_USER, "password": X509_PASSWORD}]
    if kind == "direct":
        good = tls_mariadb.target(transport).with_tls(with_cert)
        bad = tls_mariadb.target(transport).with_tls(ClientTls(ca=pki.ca))
    else:
        good = fresh_proxy(users=users, backend_tls=backend_tls(pki, cert=pki.client_cert,
                                                                key=pki.client_key))
        bad = fresh_proxy(users=users)
        good = good.target(transport).with_tls(ClientTls(ca=pki.ca))
        bad = bad.target(transport).with_tls(ClientTls(ca=pki.ca))
    assert probe_pymysql(good, X509_USER, X509_PASSWORD)[:3] == \
        ("ok", f"{X509_USER}@localhost", True)
    outcome = probe_pymysql(bad, X509_USER, X509_PASSWORD)
    assert outcome[0] == "error", outcome
    if kind == "direct":
        assert outcome == ("error", ACCESS_DENIED, f"Access denied for user '{X509_USER}'"
                           "@'localhost' (using password: YES)")


# --- 5. TLS to the backend --------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["backend_tls", "backend_plain"])
@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_a_require_ssl_account_needs_backend_tls(tls_mariadb, pki, fresh_proxy, verified,
                                                 lookup_account, transport, backend):
    """The 'secure' account (REQUIRE SSL) logs in through the proxy, listed or read by [auth],
    only when the proxy's own link to the server is TLS: with [backend_tls] off the server
    refuses the proxy's login, and the client gets an error (the client's link is TLS either
    way). Proxy-only: direct, the client's link is the server's (test_an_account_that_requires
    _tls covers it)."""
    on = backend == "backend_tls"
    listed = fresh_proxy(backend=on, users=default_users() + [{"name": SECURE_USER,
                                                               "password": SECURE_PASSWORD}])
    lookup = fresh_proxy(backend=on, users=[],
                         auth={"user": LOOKUP_USER, "password": LOOKUP_PASSWORD})
    for proxy in (listed, lookup):
        outcome = probe_pymysql(proxy.target(transport).with_tls(verified), SECURE_USER,
                                SECURE_PASSWORD)
        if on:
            assert outcome[:3] == ("ok", f"{SECURE_USER}@localhost", True), outcome
            assert outcome[4], outcome          # The backend link is TLS.
        else:
            assert outcome[0] == "error", outcome
        assert proxy.alive()


BACKEND_FAILURES = {
    # case: ([backend_tls] settings, what the direct client's ssl error and the proxy log say)
    "wrong_ca": (lambda pki: {"ca": pki.wrong_ca}, UNTRUSTED),
    "wrong_name": (lambda pki: {"server_name": "wrong.example"},
                   r"(?i)host ?name mismatch|not valid for .?wrong\.example"),
    "expired": (lambda pki: {}, r"certificate has expired"),
}


@pytest.mark.parametrize("where", ["direct-tcp", "proxy-tcp"])
@pytest.mark.parametrize("case", sorted(BACKEND_FAILURES))
def test_backend_certificate_verification_failures(tls_mariadb, pki, fresh_proxy,
                                                   served_certificate, verified, case, where):
    """The proxy checks the server's certificate as a client would ([backend_tls] verify is on
    by default): trusting the wrong CA, expecting another name (server_name), or facing an
    expired certificate, it cannot log in; its client gets an error and the proxy's log names
    the reason, in OpenSSL's words, which a client connecting directly with the same trust
    gets from the server too."""
    settings, reason = BACKEND_FAILURES[case]
    settings = settings(pki)
    if case == "expired":
        served_certificate(pki.expired_cert, pki.expired_key)
    if where.startswith("direct"):
        ctx = ClientTls(ca=settings.get("ca", pki.ca)).ssl_context()
        name = settings.get("server_name")
        if name:
            wrap = ctx.wrap_socket
            ctx.wrap_socket = lambda sock, server_hostname=None: wrap(sock, server_hostname=name)
        with pytest.raises(pymysql.err.OperationalError) as refused:
            pymysql.connect(host="127.0.0.1", port=tls_mariadb.port, user=APP_USER,
                            password=APP_PASSWORD, ssl=ctx, connect_timeout=10)
        assert refused.value.args[0] == CR_CONN_HOST_ERROR, refused.value.args
        assert re.search(reason, refused.value.args[1]), refused.value.args
        return
    proxy = fresh_proxy(backend_tls=backend_tls(pki, **settings), pool__min_idle=0,
                        backend__connect_timeout="2s")
    outcome = probe_pymysql(proxy.tcp.with_tls(verified))
    assert outcome[0] == "error", outcome
    lines = proxy.wait_for_log(reason)
    assert lines, proxy.log()
    assert proxy.alive()


@pytest.mark.parametrize("kind", ["direct", "proxy-tls13", "proxy-tls12", "proxy-off"])
def test_tls_session_resumption(tls_mariadb, pki, fresh_proxy, verified, kind):
    """Backend TLS sessions are resumed ([backend_tls] session_resumption, on by default):
    among the proxy's handshakes with the server (watched on the wire by a relay, as the
    server's status does not show resumption) later ones resume an earlier session, with
    TLS 1.3 and with max_version = "TLSv1.2"; with session_resumption = false none does.
    Direct: PyMySQL offering its last session resumes through the same relay (the reference
    that the relay sees resumption)."""
    relay = WireRelay(tls_mariadb.port)
    try:
        if kind == "direct":
            saved = {}
            ctx = verified.ssl_context()
            wrap = ctx.wrap_socket
            ctx.wrap_socket = lambda sock, server_hostname=None: wrap(
                sock, server_hostname=server_hostname, session=saved.get("session"))
            for _ in range(3):
                conn = pymysql.connect(host="127.0.0.1", port=relay.port, user=APP_USER,
                                       password=APP_PASSWORD, database="app", ssl=ctx)
                run_sql(conn, "SELECT 1")
                saved["session"] = conn._sock.session
                conn.close()
        else:
            extra = {"tls13": {}, "tls12": {"max_version": "TLSv1.2"},
                     "off": {"session_resumption": False}}[kind.split("-")[1]]
            proxy = fresh_proxy(backend_tls=backend_tls(pki, **extra),
                                backend__address=f"127.0.0.1:{relay.port}",
                                pool__max_connections=4, pool__min_idle=1)
            held = []
            for i in range(4):   # Each holds a transaction open, and so its own backend.
                conn = connect(proxy.target("tcp" if i % 2 else "unix").with_tls(verified),
                               autocommit=False)
                run_sql(conn, f"SELECT v FROM t WHERE id = {i % 3 + 1}")  # A transaction now.
                cipher, version = run_sql(conn, "SELECT (SELECT VARIABLE_VALUE FROM "
                                          "information_schema.SESSION_STATUS WHERE "
                                          "VARIABLE_NAME = 'SSL_CIPHER'), (SELECT "
                                          "VARIABLE_VALUE FROM information_schema.SESSION_STATUS"
                                          " WHERE VARIABLE_NAME = 'SSL_VERSION')")[0]
                assert cipher, "the backend connection is not TLS"
                if kind == "proxy-tls12":
                    assert version == "TLSv1.2", version
                held.append(conn)
                time.sleep(0.2)
            for conn in held:
                conn.rollback()
                conn.close()
        wait_until(lambda: len(relay.tls_handshakes) >= 3, 5, "3 TLS handshakes on the relay")
        handshakes = relay.tls_handshakes
        resumed = [h for h in handshakes if h.resumed]
        if kind == "proxy-off":
            assert not resumed and not any(h.offered for h in handshakes), handshakes
        else:
            assert len(resumed) >= 1 and not handshakes[0].resumed, handshakes
        if kind == "proxy-tls12":
            assert {h.version for h in handshakes} == {"TLSv1.2"}, handshakes
    finally:
        relay.close()


# --- 6. dead backends and keepalive over TLS --------------------------------------------------

def test_kill_of_idle_pooled_tls_backends_is_noticed(tls_mariadb, pki, fresh_proxy, verified):
    """As test_proxy_dead_backends.test_kill_idle_pooled_backends, with [backend_tls]: an admin
    KILLs the idle pooled TLS connections; the proxy logs each as dropped at once (it watches
    idle sockets under TLS too: the server's close arrives as TLS close_notify or a bare EOF),
    and the next sessions work on new TLS connections. check_delay=1h: no ping at checkout.
    Proxy-only: a pool is the proxy's."""
    proxy = fresh_proxy(pool__max_connections=2, pool__min_idle=1, pool__check_delay="1h",
                        pool__mode="session")
    clients = [connect(proxy.target(t).with_tls(verified)) for t in ("unix", "tcp")]
    killed = {backend_thread(c) for c in clients}
    assert len(killed) == 2
    for c in clients:
        c.close()

    def all_idle():
        rows = tls_mariadb.query("SELECT ID, COMMAND FROM information_schema.PROCESSLIST "
                                 "WHERE USER = %s", (APP_USER,))
        return {r[0] for r in rows if r[1] == "Sleep"} >= killed

    wait_until(all_idle, 5, "the backend connections to be idle in the pool")
    time.sleep(0.3)
    for thread_id in killed:
        tls_mariadb.kill(thread_id)
    for thread_id in killed:
        proxy.wait_for_log(rf"{DROPPED} {thread_id}\b", timeout=2)
    for transport in ("tcp", "unix", "tcp"):
        conn = connect(proxy.target(transport).with_tls(verified))
        assert backend_thread(conn) not in killed
        assert query_one(conn, "SELECT v FROM t WHERE id = 3") == ("three",)
        with conn.cursor() as cur:
            assert ssl_cipher(cur), "the new backend connection is not TLS"
        conn.close()


@pytest.mark.parametrize("kind", ["direct", "proxy"])
def test_keepalive_over_tls_past_a_short_wait_timeout(tls_mariadb, pki, fresh_proxy, verified,
                                                      tls_globals, kind):
    """wait_timeout = 2 s (SET GLOBAL before the proxy starts). Direct, a TLS client idle for
    3.5 s loses its connection (2013/2006: the problem). Through the proxy with [backend_tls],
    clients idle as long (PyMySQL, autocommit off: each holds its backend) see no error and
    the same backend connection before and after, and the pooled connections from before are
    all still connected: the keepalive pings went over TLS."""
    tls_globals(wait_timeout=2)
    if kind == "direct":
        targets = [tls_mariadb.target(t).with_tls(verified) for t in ("tcp", "unix")]
    else:
        proxy = fresh_proxy(pool__min_idle=1)
        targets = [proxy.target(t).with_tls(verified) for t in ("tcp", "unix")]
        connect(targets[0]).close()   # The pool holds a connection from now on.
    conns = [connect(t, autocommit=False) for t in targets]
    before = []
    for conn in conns:
        assert query_one(conn, "SELECT v FROM t WHERE id = 2") == ("two",)
        before.append(backend_thread(conn))
    pooled = {r[0] for r in tls_mariadb.processlist(APP_USER)}
    time.sleep(3.5)
    errors = [error_of(backend_thread, conn) for conn in conns]
    if kind == "direct":
        assert all(e is not None and e.args[0] in CLIENT_SIDE_LOSS for e in errors), errors
    else:
        assert errors == [None, None], errors
        assert [backend_thread(conn) for conn in conns] == before
        still = {r[0] for r in tls_mariadb.processlist(APP_USER)}
        assert pooled <= still, f"backend connections {sorted(pooled - still)} died"
        assert DROPPED not in proxy.log(), proxy.log()
    for conn in conns:
        conn.close()


# --- 7. big things over TLS on both links -----------------------------------------------------

@pytest.mark.parametrize("where", WHERE)
def test_a_row_of_more_than_16_mib_over_tls(tls_mariadb, pki, fresh_proxy, verified,
                                            tls_globals, where):
    """An 18 MiB value in and out (max_allowed_packet 64M, set before the proxy starts):
    packets of 0xFFFFFF split across many TLS records on both links."""
    tls_globals(max_allowed_packet=64 * MiB)
    kind, transport = where.split("-")
    base = (tls_mariadb.target(transport) if kind == "direct"
            else fresh_proxy().target(transport))
    conn = connect(base.with_tls(verified), max_allowed_packet=64 * MiB)
    big = os.urandom(9 * MiB).hex()
    try:
        assert pymysql_tls(conn)[0]
        with conn.cursor() as cur:
            assert ssl_cipher(cur)
            cur.execute("CREATE TEMPORARY TABLE big (v LONGTEXT)")
            cur.execute("INSERT INTO big VALUES (%s)", (big,))
            cur.execute("SELECT v, LENGTH(v) FROM big")
            value, length = cur.fetchone()
            assert length == len(big) and value == big
            cur.execute("SELECT 'after'")
            assert cur.fetchone() == ("after",)
    finally:
        conn.close()


@pytest.mark.parametrize("where", WHERE)
def test_load_data_local_infile_over_tls(place, verified, tmp_path, where):
    rows = 60000
    data = tmp_path / "rows.csv"
    data.write_text("".join(f"{i},row-{i:08d}\n" for i in range(rows)))   # ~1.1 MiB
    conn = connect(place(where, verified), local_infile=True)
    try:
        assert pymysql_tls(conn)[0]
        with conn.cursor() as cur:
            cur.execute("CREATE TEMPORARY TABLE li (a INT, b VARCHAR(20))")
            cur.execute(f"LOAD DATA LOCAL INFILE '{data}' INTO TABLE li "
                        "FIELDS TERMINATED BY ','")
            assert cur.rowcount == rows
            cur.execute("SELECT COUNT(*), SUM(a), MAX(b) FROM li")
            assert cur.fetchone() == (rows, sum(range(rows)), f"row-{rows - 1:08d}")
    finally:
        conn.close()


@pytest.mark.parametrize("where", WHERE)
def test_kill_query_over_tls(place, tls_mariadb, verified, where):
    """KILL QUERY <the victim's connection id> from a second TLS client interrupts the
    victim's SLEEP at once; both sessions go on."""
    target = place(where, verified)
    victim, killer = connect(target), connect(target)
    try:
        result = {}

        def sleep():
            try:
                result["rows"] = run_sql(victim, "SELECT SLEEP(20), 'tls-kill-marker'")
            except pymysql.err.MySQLError as e:
                result["error"] = e

        started = time.monotonic()
        thread = threading.Thread(target=sleep)
        thread.start()
        wait_until(lambda: tls_mariadb.query(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE "
            "'%tls-kill-marker%' AND ID <> CONNECTION_ID()"), 5, "the SLEEP to start")
        run_sql(killer, f"KILL QUERY {victim.thread_id()}")
        thread.join(15)
        assert not thread.is_alive() and time.monotonic() - started < 10
        assert result.get("rows") == ((1, "tls-kill-marker"),) or \
            result["error"].args[0] == 1317, result
        assert run_sql(victim, "SELECT 'victim alive'") == (("victim alive",),)
        assert run_sql(killer, "SELECT 'killer alive'") == (("killer alive",),)
    finally:
        victim.close()
        killer.close()


# --- 8. certificates reloaded, versions, bad files --------------------------------------------

def peer_certificate(target):
    """(serial, CN) of the certificate a new TLS connection to `target` sees."""
    conn = connect(target)
    try:
        cert = conn._sock.getpeercert()
        return int(cert["serialNumber"], 16), dict(i[0] for i in cert["subject"])["commonName"]
    finally:
        conn.close()


@pytest.mark.parametrize("where", WHERE)
def test_certificate_reload(tls_mariadb, pki, fresh_proxy, served_certificate, verified,
                            tmp_path, where):
    """New certificate files (another serial and CN, same CA), then SIGHUP to the proxy (FLUSH
    SSL to the server): new TLS connections get the new certificate, an open TLS connection
    keeps working on its session."""
    renewed = issue(pki, str(tmp_path), "renewed", common_name="localhost-renewed")
    kind, transport = where.split("-")
    if kind == "direct":
        target = tls_mariadb.target(transport).with_tls(verified)

        def reload():
            served_certificate(renewed.cert, renewed.key)
    else:
        cert, key = str(tmp_path / "proxy-cert.pem"), str(tmp_path / "proxy-key.pem")
        shutil.copyfile(pki.server_cert, cert)
        shutil.copyfile(pki.server_key, key)
        proxy = fresh_proxy(client_tls=client_tls(pki, cert, key))
        target = proxy.target(transport).with_tls(verified)

        def reload():
            for source, path in ((renewed.key, key), (renewed.cert, cert)):
                shutil.copyfile(source, path + ".new")
                os.replace(path + ".new", path)
            proxy.process.send_signal(signal.SIGHUP)

    assert peer_certificate(target) == (pki.server_serial, "localhost")
    old = connect(target)
    try:
        reload()
        wait_until(lambda: peer_certificate(target)[0] == renewed.serial, 5,
                   "a new connection to see the new certificate")
        assert peer_certificate(target) == (renewed.serial, "localhost-renewed")
        assert int(old._sock.getpeercert()["serialNumber"], 16) == pki.server_serial
        assert query_one(old, "SELECT v FROM t WHERE id = 1") == ("one",)
    finally:
        old.close()
    if kind == "proxy":
        assert proxy.alive()


@pytest.mark.parametrize("setting", [{"min_version": "TLSv1.3"}, {"max_version": "TLSv1.2"}])
def test_client_tls_versions_proxy(tls_mariadb, pki, fresh_proxy, setting):
    """[client_tls] min_version/max_version bound what clients negotiate: a client that stops
    at TLS 1.2 cannot connect to a proxy that wants 1.3 (handshake error), and a proxy that
    stops at 1.2 gets 1.2 from a client that would take 1.3. Proxy-only: the server's
    tls_version cannot change at run time."""
    proxy = fresh_proxy(backend=False, client_tls=client_tls(pki, **setting))
    if "min_version" in setting:
        old = ClientTls(ca=pki.ca, max_version=ssl.TLSVersion.TLSv1_2)
        outcome = probe_pymysql(proxy.tcp.with_tls(old))
        assert outcome[0] == "error" and outcome[1] in (CR_CONN_HOST_ERROR, 2013), outcome
        conn = connect(proxy.tcp.with_tls(ClientTls(ca=pki.ca)))
        assert pymysql_tls(conn)[1] == "TLSv1.3"
    else:
        conn = connect(proxy.unix.with_tls(ClientTls(ca=pki.ca)))
        assert pymysql_tls(conn)[1] == "TLSv1.2"
    conn.close()


BAD_FILES = {
    "missing key": lambda pki, d: ({"client_tls": client_tls(pki, key=f"{d}/no-such-key.pem")},
                                   f"{d}/no-such-key.pem"),
    "missing cert": lambda pki, d: ({"client_tls": client_tls(pki,
                                                              cert=f"{d}/no-such-cert.pem")},
                                    f"{d}/no-such-cert.pem"),
    "key of another certificate": lambda pki, d: (
        {"client_tls": client_tls(pki, key=pki.client_key)}, pki.client_key),
    "missing backend ca": lambda pki, d: ({"backend_tls": {"ca": f"{d}/no-such-ca.pem"}},
                                          f"{d}/no-such-ca.pem"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_tls_files_stop_the_start(longlink_bin, pki, tmp_path, case):
    """`longlink proxy --config FILE` with a TLS file it cannot use exits non-zero at once and
    names the file. Proxy-only (MariaDB starts anyway and only logs that TLS is off)."""
    sections, named = BAD_FILES[case](pki, str(tmp_path))
    fake = types.SimpleNamespace(
        sections={"proxy": {"workers": 1, "log_level": "info"},
                  "listen": {"tcp": [f"127.0.0.1:{free_port()}"]},
                  "backend": {"address": f"127.0.0.1:{free_port()}"}, **sections},
        users=[{"name": APP_USER, "password_hash": native_hash(APP_PASSWORD)}])
    config = tmp_path / "longlink.toml"
    config.write_text(ProxyProcess.config_text(fake))
    config.chmod(0o600)
    try:
        run = subprocess.run([longlink_bin, "proxy", "--config", str(config)],
                             capture_output=True, text=True, timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{case}: the proxy started (still running after 15 s)")
    assert run.returncode != 0, run.stderr
    assert named in run.stderr, run.stderr
