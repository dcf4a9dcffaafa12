"""The compressed protocol (CLIENT_COMPRESS, issue 13) through the proxy: toward clients
([proxy] compression, on by default) and toward the backend ([backend] compression, off by
default), independently, plain and inside TLS.

Each test runs its body against the server itself (`-k direct`, which validates it) and through
the proxy for client compression off/on ("c0"/"c1") x backend compression off/on ("b0"/"b1"),
and on TLS combinations against `tls_mariadb` (client TLS, [backend_tls], compression inside).
Clients: the mariadb CLI (`--compress`; `\\s` says "Protocol: Compressed"), mysqlclient
(`compress=True`; mysqlclient 1.4.6 turns compression on when `compress` is passed at all, so
"off" omits it), and tests/clients/libmariadb_client (`--compress 1`). PyMySQL 1.0 has no
compression: `compress=True` raises NotImplementedError (checked below), so it appears here only
as a plain client.

What the proxy shows, measured against MariaDB 10.11:
- `SHOW SESSION STATUS LIKE 'Compression'` is answered by the backend connection: ON iff
  [backend] compression, whatever the client's own link; direct it is the client's.
- A client that asks for compression gets it (`\\s` "Protocol: Compressed") iff [proxy]
  compression is on; without it the proxy does not offer CLIENT_COMPRESS and the client goes on
  uncompressed, as with a server that does not offer it.
- CountingRelay (a TCP relay that counts bytes) between the client and the proxy, or between
  the proxy and the server, shows that each hop is compressed exactly when it says so: a 4 MiB
  compressible result crosses a compressed hop in a few KiB and a plain one in 4 MiB.
- MariaDB 10.11 sends nothing to an idle connection it KILLs (it closes; no ERR 1927), so a
  relay sends the unsolicited ERR in the server's place to show the proxy reads it through the
  compression layer.

Where the proxy differs from the server (frames made by hand, RawCompressed), none of which a
real client shows: a command frame whose id is not 0 is answered (the server refuses it with ERR
1156: the proxy's layer follows the peer's frame ids, net/compression_layer.h); the packets of
the reply to a command that spanned two frames are numbered from 1 inside the frames (the
server: from the frame id after the command's); two commands in one frame are both answered
(the server answers the first and "Unknown command"; not tested). A compressed command over
max_allowed_packet gets ERR 1153 through the proxy where libmariadb often sees 2006 direct.
"""
import hashlib
import os
import re
import socket
import subprocess
import threading
import time
import zlib

import MySQLdb
import pymysql
import pytest
from MySQLdb.constants import CLIENT

from client_checks import backend_thread
from conftest import ROOT
from mariadb_server import (APP_PASSWORD, APP_USER, RO_PASSWORD, RO_USER, ClientTls,
                            wait_until)
from proxy_process import ProxyProcess, stop_all
from raw_client import DEFAULT_CAPS, RawClient, packet
import test_proxy_libmariadb as libmariadb_suite
from test_proxy_accounts import LOOKUP_PASSWORD, LOOKUP_USER, accounts, lookup_account  # noqa: F401

MiB = 1024 * 1024
CLIENT_COMPRESS = 0x20
LIBMARIADB_CLIENT = os.environ.get("LONGLINK_LIBMARIADB_CLIENT",
                                   os.path.join(ROOT, "build", "tests", "clients",
                                                "libmariadb_client"))
DROPPED = "dropped idle backend connection"
BIG = 17 * MiB + 5          # More than one 16 MiB packet: spans packets and frames.
BIG_PACKET_LIMIT = 64 * MiB

# Where a client connects: the server itself or a proxy, by name:
#   direct        the session's MariaDB
#   proxy-b0/b1   a proxy in front of it, [backend] compression off/on
#   nocomp        a proxy with [proxy] compression = false (backend compression on)
#   tls-direct    tls_mariadb, reached with TLS
#   tls-b0/tls-b1 a proxy in front of tls_mariadb: client TLS, [backend_tls], compression off/on
# and whether the client asks for compression: "-c0"/"-c1".
COMBOS = ["direct-c0", "direct-c1", "proxy-b0-c0", "proxy-b0-c1", "proxy-b1-c0", "proxy-b1-c1",
          "tls-direct-c1", "tls-b1-c1", "tls-b0-c1", "tls-b1-c0"]


class Place:
    """A combination: the Target, whether the client asks for compression, and what it should
    get on its own link (`client_compressed`) and what the server says of the session's link
    (`status`: 'ON'/'OFF' of SHOW SESSION STATUS LIKE 'Compression')."""

    def __init__(self, name, target, compress, proxy_offers=True, backend_compressed=False):
        self.name, self.target, self.compress = name, target, compress
        self.is_proxy = target.is_proxy
        self.client_compressed = compress and proxy_offers
        if self.is_proxy:
            self.status = "ON" if backend_compressed else "OFF"
        else:
            self.status = "ON" if compress else "OFF"

    @property
    def server(self):
        return self.target.server

    def mysqldb(self, **kw):
        """mysqlclient: `compress=True` only when asked (1.4.6 compresses when the key is
        there at all)."""
        if self.compress:
            kw["compress"] = True
        kw.setdefault("connect_timeout", 10)
        return self.target.mysqldb_connect(**kw)

    def cli(self, *args, user=APP_USER, password=APP_PASSWORD, timeout=60):
        return subprocess.run(["mariadb", *self.target.cli_args(), f"--user={user}",
                               f"--password={password}", *(["--compress"] if self.compress
                                                           else []), *args],
                              capture_output=True, text=True, timeout=timeout)

    def libmariadb(self, *args, user=APP_USER, password=APP_PASSWORD, timeout=120):
        return subprocess.run([LIBMARIADB_CLIENT, *self.target.libmariadb_args(), "--user",
                               user, "--password", password, "--database", "app",
                               *(["--compress", "1"] if self.compress else []), *args],
                              capture_output=True, text=True, timeout=timeout)

    def log(self):
        return f"\nproxy log:\n{self.target.proxy.log()}" if self.is_proxy else ""

    def __repr__(self):
        return self.name


def tls_settings(pki):
    return {"client_tls": {"cert": pki.server_cert, "key": pki.server_key},
            "backend_tls": {"enabled": True, "ca": pki.ca}}


def proxy_settings(name, pki=None):
    """The proxy configuration of a place name."""
    settings = {"pool__min_idle": 0}
    if name == "nocomp":
        settings.update(proxy__compression=False, backend__compression=True)
    else:
        settings["backend__compression"] = name.endswith("b1")
    if name.startswith("tls-"):
        settings.update(tls_settings(pki))
    return settings


@pytest.fixture(scope="module")
def shared_proxies(request, tmp_path_factory):
    """shared_proxies(name) -> a proxy of that configuration (proxy_settings), started at first
    use and kept for the module; each must stop cleanly at the end."""
    started = {}

    def get(name):
        if name not in started:
            tls = name.startswith("tls-")
            server = request.getfixturevalue("tls_mariadb" if tls else "mariadb")
            pki = request.getfixturevalue("pki") if tls else None
            started[name] = ProxyProcess(request.getfixturevalue("longlink_bin"), server,
                                         str(tmp_path_factory.mktemp(f"compression-{name}")),
                                         **proxy_settings(name, pki))
        return started[name]

    yield get
    stop_all(started.values())


@pytest.fixture
def place(request):
    """place("proxy-b1-c1", transport="tcp") -> a Place on a shared proxy (or the server)."""
    def make(combo, transport="tcp", proxy=None):
        where, compress = combo.rsplit("-", 1)
        compress = compress == "c1"
        tls = where.startswith("tls-")
        if where in ("direct", "tls-direct"):
            server = request.getfixturevalue("tls_mariadb" if tls else "mariadb")
            target = server.target(transport)
        else:
            name = where[len("proxy-"):] if where.startswith("proxy-") else where
            proxy = proxy or request.getfixturevalue("shared_proxies")(name)
            target = proxy.target(transport)
        if tls:
            target = target.with_tls(ClientTls(ca=request.getfixturevalue("pki").ca))
        backend_compressed = where.endswith("b1") or where == "nocomp"
        return Place(f"{combo}-{transport}", target, compress,
                     proxy_offers=where != "nocomp", backend_compressed=backend_compressed)
    return make


def query(conn, sql, args=None):
    cur = conn.cursor()
    cur.execute(sql, args)
    rows = cur.fetchall()
    cur.close()
    return rows


def status_compression(conn):
    return query(conn, "SHOW SESSION STATUS LIKE 'Compression'")[0][1]


# --- the mariadb CLI -------------------------------------------------------------------------

PROTOCOL_COMPRESSED = re.compile(r"^Protocol:\s+Compressed\s*$", re.M)


@pytest.mark.parametrize("combo,transport", [(c, "tcp") for c in COMBOS] +
                         [("direct-c1", "unix"), ("proxy-b1-c1", "unix"),
                          ("proxy-b0-c1", "unix"), ("nocomp-c1", "tcp")])
def test_mariadb_cli(place, combo, transport):
    """`mariadb --compress`: `\\s` says "Protocol: Compressed" iff the client's link is
    compressed, SHOW SESSION STATUS LIKE 'Compression' answers for the server's link, and a
    100,000-row result and CALL with two result sets come through whole."""
    p = place(combo, transport)
    run = p.cli("--batch", "--skip-column-names", "-e",
                "SHOW SESSION STATUS LIKE 'Compression'; "
                "SELECT COUNT(*), SUM(seq), SUM(CRC32(CONCAT('row-', seq))) FROM "
                "(SELECT seq FROM seq_1_to_100000) s; CALL two_results(); \\s", "app")
    assert run.returncode == 0, f"{run.stdout}{run.stderr}{p.log()}"
    lines = run.stdout.splitlines()
    assert lines[0] == f"Compression\t{p.status}", lines[:3]
    crc = sum(zlib.crc32(f"row-{i}".encode()) for i in range(1, 100001))
    assert lines[1] == f"100000\t{100000 * 100001 // 2}\t{crc}"
    assert lines[2:4] == ["first", "second\t2"]
    assert bool(PROTOCOL_COMPRESSED.search(run.stdout)) == p.client_compressed, run.stdout
    if p.target.wants_tls:
        assert re.search(r"^SSL:\s+Cipher in use is \S+", run.stdout, re.M), run.stdout


# --- mysqlclient -----------------------------------------------------------------------------

@pytest.mark.parametrize("combo", COMBOS)
def test_mysqlclient_results_equal_direct(place, combo, tmp_path):
    """mysqlclient with compress=True (or without): a 100,000-row result, multi-statements, CALL
    with two result sets, LOAD DATA LOCAL INFILE of 3 MiB, COM_CHANGE_USER and back, each as
    the server itself gives them."""
    p = place(combo)
    conn = p.mysqldb(client_flag=CLIENT.MULTI_STATEMENTS, local_infile=1, autocommit=True)
    try:
        assert status_compression(conn) == p.status

        rows = query(conn, "SELECT seq, CONCAT('row-', seq) FROM seq_1_to_100000")
        assert rows == tuple((i, f"row-{i}") for i in range(1, 100001))

        cur = conn.cursor()
        cur.execute("SELECT 1; SELECT 'a', 'b' UNION ALL SELECT 'c', 'd'; DO 1; CALL "
                    "two_results()")
        sets = [cur.fetchall()]
        while cur.nextset():
            sets.append(cur.fetchall() if cur.description else None)
        assert sets == [((1,),), (("a", "b"), ("c", "d")), None, (("first",),),
                        (("second", 2),), None], sets
        cur.close()

        path = tmp_path / "load.tsv"
        with open(path, "w") as f:
            for i in range(1, 100001):
                f.write(f"{i}\tline {i} of a file that compresses well\n")
        query(conn, "CREATE TEMPORARY TABLE loaded (id INT PRIMARY KEY, v VARCHAR(100))")
        cur = conn.cursor()
        cur.execute(f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE loaded")
        assert cur.rowcount == 100000
        cur.close()
        crc = sum(zlib.crc32(f"line {i} of a file that compresses well".encode())
                  for i in range(1, 100001))
        assert query(conn, "SELECT COUNT(*), SUM(id), SUM(CRC32(v)) FROM loaded") == \
            ((100000, 100000 * 100001 // 2, crc),)
        query(conn, "DROP TEMPORARY TABLE loaded")

        who = "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1), DATABASE()"
        conn.change_user(RO_USER, RO_PASSWORD, "app")
        assert query(conn, who) == ((RO_USER, "app"),)
        assert query(conn, "SELECT v FROM t WHERE id = 2") == (("two",),)
        assert status_compression(conn) == p.status
        conn.change_user(APP_USER, APP_PASSWORD, "other")
        assert query(conn, who) == ((APP_USER, "other"),)
    finally:
        conn.close()
    if p.is_proxy:
        assert p.target.alive()


# --- packets of more than 16 MiB -------------------------------------------------------------

@pytest.fixture
def big_packets(request, server_globals, tmp_path):
    """big_packets(combo) -> a Place whose server takes packets of 64 MiB, and a proxy started
    after the change (it reads the backend's max_allowed_packet)."""
    restore = []

    def make(combo):
        tls = combo.startswith("tls-")
        if tls:
            server = request.getfixturevalue("tls_mariadb")
            old = server.set_global(max_allowed_packet=BIG_PACKET_LIMIT)
            restore.append((server, old))
        else:
            server_globals(max_allowed_packet=BIG_PACKET_LIMIT)
            server = request.getfixturevalue("mariadb")
        proxy = None
        where = combo.rsplit("-", 1)[0]
        if where not in ("direct", "tls-direct"):
            name = where[len("proxy-"):] if where.startswith("proxy-") else where
            pki = request.getfixturevalue("pki") if tls else None
            proxy = request.getfixturevalue("proxy_factory")(server=server,
                                                             **proxy_settings(name, pki))
        return request.getfixturevalue("place")(combo, proxy=proxy)

    yield make
    for server, old in restore:
        server.set_global(**old)


@pytest.mark.parametrize("combo", ["direct-c1", "proxy-b0-c1", "proxy-b1-c0", "proxy-b1-c1",
                                   "tls-b1-c1"])
def test_packets_of_more_than_16_mib(big_packets, combo):
    """A 17 MiB row down and a 17 MiB statement up (each more than one 16 MiB packet, so more
    than one frame), compressible and not, as the server takes and gives them."""
    p = big_packets(combo)
    conn = p.mysqldb(autocommit=True, binary_prefix=True)
    try:
        assert status_compression(conn) == p.status
        # Compressible, down and up.
        rows = query(conn, f"SELECT REPEAT('x', {BIG}), 'after'")
        assert rows[0][0] == "x" * BIG and rows[0][1] == "after"
        assert query(conn, "SELECT LENGTH(%s), 'after'", ("yz" * (BIG // 2),)) == \
            ((BIG // 2 * 2, "after"),)
        # Noise (stored frames), up and down.
        noise = os.urandom(BIG)
        query(conn, "SET @noise = %s", (noise,))
        rows = query(conn, "SELECT @noise, MD5(@noise), LENGTH(@noise)")
        assert rows == ((noise, hashlib.md5(noise).hexdigest(), BIG),)
        assert query(conn, "SELECT 'still in sync'") == (("still in sync",),)
    finally:
        conn.close()


# --- KILL QUERY ------------------------------------------------------------------------------

@pytest.mark.parametrize("combo", ["direct-c1", "proxy-b0-c1", "proxy-b1-c1", "proxy-b1-c0"])
def test_kill_query_of_a_compressed_session(place, combo):
    """KILL QUERY <connection id> from another client interrupts a compressed session's
    SELECT SLEEP(30) at once, and the session goes on."""
    p = place(combo)
    victim = p.mysqldb(autocommit=True)
    killer = place(combo.rsplit("-", 1)[0] + "-c0").mysqldb(autocommit=True)
    outcome = {}
    marker = f"compressed-kill-{combo}"

    def run():
        started = time.monotonic()
        try:
            outcome["rows"] = query(victim, f"SELECT SLEEP(30), '{marker}'")
        except MySQLdb.MySQLError as e:
            outcome["error"] = e.args[0]
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run)
    thread.start()
    try:
        wait_until(lambda: p.server.query(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE %s AND "
            "ID <> CONNECTION_ID()", (f"%{marker}%",)), 5, "the SLEEP to run")
        query(killer, f"KILL QUERY {victim.thread_id()}")
        thread.join(15)
        assert not thread.is_alive()
        assert outcome["seconds"] < 10, outcome
        # MariaDB answers a killed SLEEP() with 1 (or ERR 1317, depending on timing).
        assert outcome.get("rows") == ((1, marker),) or outcome.get("error") == 1317, outcome
        assert query(victim, "SELECT 'alive'") == (("alive",),)
        assert status_compression(victim) == p.status
    finally:
        thread.join(30)
        victim.close()
        killer.close()


# --- libmariadb: the full check suite --------------------------------------------------------

@pytest.fixture(scope="session")
def libmariadb_bin():
    if not os.access(LIBMARIADB_CLIENT, os.X_OK):
        pytest.fail(f"libmariadb_client not found at {LIBMARIADB_CLIENT}; build first or set "
                    "LONGLINK_LIBMARIADB_CLIENT")
    return LIBMARIADB_CLIENT


@pytest.mark.parametrize("combo", COMBOS)
def test_libmariadb_suite(place, combo, libmariadb_bin):
    """tests/clients/libmariadb_client's checks (text and prepared statements, long data,
    multi-results, CALL, change_user, reset_connection, session tracking, errors, prepared
    KILL) with --compress 1 (or without), with the same lines as test_proxy_libmariadb.py."""
    p = place(combo)
    expected = libmariadb_suite.expected_lines(p.is_proxy)
    # Through the proxy twice: the second run gets a pooled backend connection the first left
    # with another character set, time zone, schema and session (reset before reuse).
    for run_number in (1, 2) if p.is_proxy else (1,):
        run = p.libmariadb()
        assert run.returncode == 0, \
            f"run {run_number}: exit {run.returncode}\n{run.stdout}{run.stderr}{p.log()}"
        assert run.stdout.splitlines() == expected, f"run {run_number}"


@pytest.mark.parametrize("combo", ["direct-c1", "proxy-b0-c1", "proxy-b1-c1", "proxy-b1-c0",
                                   "tls-b1-c1"])
def test_libmariadb_change_user(place, combo, libmariadb_bin):
    """libmariadb's COM_CHANGE_USER under compression (--login-only 1 --change-user), and what
    it reports: its own setting and the server's Compression status."""
    p = place(combo)
    run = p.libmariadb("--login-only", "1", "--change-user", f"{RO_USER}:{RO_PASSWORD}")
    assert run.returncode == 0, f"{run.stdout}{run.stderr}{p.log()}"
    lines = run.stdout.splitlines()
    assert re.fullmatch(rf"ok login: {APP_USER}@(%|localhost)", lines[0]), lines
    compression = [line for line in lines if line.startswith("ok compression:")]
    if p.compress or p.target.wants_tls:
        assert compression == [f"ok compression: client {'ON' if p.compress else 'OFF'}, "
                               f"server {p.status}"], lines
    assert re.fullmatch(rf"ok change_user: {RO_USER}@(%|localhost)", lines[-1]), lines


COMPRESSION_LINE = re.compile(r"^(ok compression: client \S+, server )\S+$", re.M)


@pytest.mark.parametrize("backend_compression", [False, True], ids=["b0", "b1"])
def test_change_user_with_an_auth_switch(proxy_factory, mariadb, accounts, backend_compression,
                                         libmariadb_bin):
    """COM_CHANGE_USER of a compressed client (libmariadb --compress 1) through a proxy that
    takes accounts from the server ([auth] lookup): to a mysql_native_password account, to an
    ed25519 one (an auth switch, in frames whose ids go on across the exchange) and with a
    wrong password; each run prints what it does direct (but the server's Compression status,
    which through the proxy is the backend link's)."""
    native = accounts.create("IDENTIFIED BY 'one'")
    other = accounts.create("IDENTIFIED BY 'two'")
    ed = accounts.create("IDENTIFIED VIA ed25519 USING PASSWORD('three')")
    proxy = proxy_factory(users=[], auth={"user": LOOKUP_USER, "password": LOOKUP_PASSWORD},
                          backend__compression=backend_compression)
    for change, expect_ok in [(f"{other}:two", True), (f"{ed}:three", True),
                              (f"{ed}:wrong", False)]:
        outputs = {}
        for name, target in (("direct", mariadb.target("tcp")), ("proxy", proxy.tcp)):
            run = subprocess.run([libmariadb_bin, *target.libmariadb_args(), "--user", native,
                                  "--password", "one", "--database", "app", "--login-only",
                                  "1", "--compress", "1", "--change-user", change],
                                 capture_output=True, text=True, timeout=30)
            outputs[name] = run.stdout
        status = "ON" if backend_compression else "OFF"
        assert f"ok compression: client ON, server {status}" in outputs["proxy"], outputs
        assert "ok compression: client ON, server ON" in outputs["direct"], outputs
        same = {k: COMPRESSION_LINE.sub(r"\1X", v) for k, v in outputs.items()}
        assert same["proxy"] == same["direct"], (change, outputs, proxy.log())
        assert ("ok change_user" in outputs["direct"]) == expect_ok, outputs


@pytest.mark.parametrize("combo", ["direct-c0", "proxy-b1-c0", "tls-b1-c0"])
def test_pymysql_plain_client(place, combo, tmp_path):
    """PyMySQL 1.0 has no compression: compress=True raises NotImplementedError before it
    connects. Without it, it is a plain client that checks every packet id, here of a proxy
    that offers compression over a compressed backend (whose reply ids the proxy renumbers):
    a 100,000-row result, multi-statements with CALL, LOAD DATA LOCAL INFILE."""
    p = place(combo)
    with pytest.raises(NotImplementedError, match="compress"):
        pymysql.connect(user=APP_USER, password=APP_PASSWORD, compress=True,
                        **p.target.pymysql_args())
    path = tmp_path / "load.tsv"
    path.write_text("".join(f"{i}\tpymysql line {i}\n" for i in range(1, 50001)))
    conn = p.target.connect(client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS,
                            local_infile=True, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW SESSION STATUS LIKE 'Compression'")
            assert cur.fetchone()[1] == p.status
            cur.execute("SELECT seq, CONCAT('row-', seq) FROM seq_1_to_100000")
            assert cur.fetchall() == tuple((i, f"row-{i}") for i in range(1, 100001))
            cur.execute("SELECT 1; CALL two_results(); SELECT 2")
            sets = [cur.fetchall()]
            while cur.nextset():
                sets.append(cur.fetchall())
            assert sets == [((1,),), (("first",),), (("second", 2),), (), ((2,),)], sets
            cur.execute("CREATE TEMPORARY TABLE loaded (id INT PRIMARY KEY, v VARCHAR(50))")
            cur.execute(f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE loaded")
            cur.execute("SELECT COUNT(*), SUM(id) FROM loaded")
            assert cur.fetchone() == (50000, 50000 * 50001 // 2)
    finally:
        conn.close()


@pytest.mark.parametrize("combo", ["direct-c1", "proxy-b0-c1", "proxy-b1-c1"])
def test_errors_of_the_proxy_reach_a_compressed_client(place, combo):
    """The proxy's own ERR packets go to a compressed client in frames: a command larger than
    max_allowed_packet (16 MiB here; compressed, its 17 MiB take a few KiB on the wire) is
    answered ERR 1153 and the connection closed, as the server does (direct libmariadb often
    reports 2006 instead: the server closes before the client reads its ERR); a KILL inside a
    multi-statement is refused with ERR 1095 (the proxy's rule) and the session goes on."""
    p = place(combo)
    assert p.server.variable("max_allowed_packet") == 16 * MiB
    conn = p.mysqldb(client_flag=CLIENT.MULTI_STATEMENTS, autocommit=True)
    try:
        if p.is_proxy:
            with pytest.raises(MySQLdb.OperationalError) as refused:
                query(conn, "SET @before = 1; KILL 1")
            assert refused.value.args[0] == 1095, refused.value.args
            assert query(conn, "SELECT @before") == ((None,),)
        with pytest.raises(MySQLdb.OperationalError) as error:
            query(conn, "SELECT LENGTH(%s)", ("y" * (17 * MiB),))
        expected = (1153,) if p.is_proxy else (1153, 2006, 2013)
        assert error.value.args[0] in expected, error.value.args
        if error.value.args[0] == 1153:
            assert error.value.args[1] == "Got a packet bigger than 'max_allowed_packet' bytes"
    finally:
        conn.close()
    if p.is_proxy:
        assert p.target.proxy.log_lines("closing: packet larger than max_allowed_packet")
    conn = p.mysqldb()
    assert query(conn, "SELECT 'next session'") == (("next session",),)
    conn.close()


# --- frames by hand ---------------------------------------------------------------------------

class RawCompressed(RawClient):
    """raw_client.RawClient that asks for CLIENT_COMPRESS: after the (plain) login it sends
    frames built by hand and reads the frames of the reply, keeping their headers."""

    def __init__(self, target):
        self.framed = False  # The login is plain.
        self.pending = b""
        self.frames = []     # (frame id, uncompressed bytes, compressed?) of each frame read
        super().__init__(target, capabilities=DEFAULT_CAPS | CLIENT_COMPRESS)
        self.framed = True

    def send_frame(self, data, frame_id, compress=False):
        self.sock.sendall(frame(data, compress, frame_id))

    def read_frame(self):
        header = self.recv(7)
        payload = self.recv(int.from_bytes(header[:3], "little"))
        size = int.from_bytes(header[4:7], "little")
        data = zlib.decompress(payload) if size else payload
        self.frames.append((header[3], len(data), size != 0))
        return data

    def read(self):
        """(packet id, payload) of the next packet, from the frames."""
        if not self.framed:
            return super().read()
        while len(self.pending) < 4 or \
                len(self.pending) < 4 + int.from_bytes(self.pending[:3], "little"):
            self.pending += self.read_frame()
        size = int.from_bytes(self.pending[:3], "little")
        sequence, payload = self.pending[3], self.pending[4:4 + size]
        self.pending = self.pending[4 + size:]
        return sequence, payload

    def reply(self):
        """[(packet id, payload)] of one reply: an OK or ERR, or a text result set."""
        packets = [self.read()]
        first = packets[0][1]
        if first[:1] in (b"\x00", b"\xff"):
            return packets
        for _ in range(first[0] + 2):     # the definitions, their EOF, a row or the EOF
            packets.append(self.read())
        while not (packets[-1][1][:1] == b"\xfe" and len(packets[-1][1]) < 9):
            packets.append(self.read())
        return packets


def query_packet(sql, packet_id=0):
    return packet(b"\x03" + sql.encode(), packet_id)


def raw_exchange(target, case):
    """Runs `case` on a fresh RawCompressed: (replies, frame ids of the replies)."""
    client = RawCompressed(target)
    try:
        replies = case(client)
        return replies, [f[0] for f in client.frames]
    finally:
        client.sock.close()


def in_two_frames(client):
    command = query_packet("SELECT 6, '" + "a" * 300 + "'")
    client.send_frame(command[:100], 0)
    client.send_frame(command[100:], 1, compress=True)
    return [client.reply()]


def one_after_another(client):
    replies = []
    for sql in ("SELECT 7", "SELECT seq, 'compressible row' FROM seq_1_to_3000", "SELECT 9"):
        client.send_frame(query_packet(sql), 0, compress=len(sql) > 20)
        replies.append(client.reply())
    return replies


RAW_CASES = {
    # name: (what the client does, whether the reply's packet ids are the server's too)
    "one frame": (lambda c: (c.send_frame(query_packet("SELECT 1, 'x'"), 0), [c.reply()])[1],
                  True),
    # The server reads a compressed client's packet ids without checking them.
    "command packet id 5": (lambda c: (c.send_frame(query_packet("SELECT 2", 5), 0),
                                       [c.reply()])[1], True),
    "empty command": (lambda c: (c.send_frame(packet(b"", 0), 0), [c.reply()])[1], True),
    "commands one after another": (one_after_another, True),
    # A command in two frames (ids 0 and 1): the reply starts at frame id 2 both ways; the
    # server numbers the packets inside from 2 too, the proxy from 1 (neither side checks them
    # under compression).
    "command in two frames": (in_two_frames, False),
}


@pytest.mark.parametrize("case", RAW_CASES)
@pytest.mark.parametrize("where", ["proxy-b0", "proxy-b1"])
def test_frames_by_hand(place, mariadb, where, case):
    """A client that builds its frames by hand gets the replies the server gives, in frames
    numbered as the server numbers them."""
    run, same_packet_ids = RAW_CASES[case]
    direct, direct_frames = raw_exchange(mariadb.target("tcp"), run)
    proxied, proxied_frames = raw_exchange(place(f"{where}-c1").target, run)
    if not same_packet_ids:
        direct = [[payload for _, payload in reply] for reply in direct]
        proxied = [[payload for _, payload in reply] for reply in proxied]
    assert proxied == direct
    assert sum(len(reply) for reply in direct) >= (3010 if "after" in case else 1)
    # Frame sizes differ (each side fills its frames its own way); the first reply frame of a
    # command has the id after the command's last frame.
    assert proxied_frames[0] == direct_frames[0], (proxied_frames, direct_frames)


@pytest.mark.parametrize("where", ["direct", "proxy-b0"])
def test_a_misnumbered_frame(place, where):
    """A command whose frame id is not 0: the server refuses it (ERR 1156 "Got packets out of
    order", and closes); the proxy's layer follows the client's frame ids as libmariadb
    follows the server's (net/compression_layer.h) and answers it."""
    p = place(f"{where}-c1")
    replies, frame_ids = raw_exchange(p.target, lambda c: (
        c.send_frame(query_packet("SELECT 3"), 5), [c.reply()])[1])
    payloads = [payload for _, payload in replies[0]]
    if p.is_proxy:
        assert payloads[-2] == b"\x013" and frame_ids[0] == 6, (replies, frame_ids)
    else:
        assert payloads[0][:3] == b"\xff\x84\x04" and \
            payloads[0].endswith(b"Got packets out of order"), replies


# --- bytes on the wire -----------------------------------------------------------------------

class CountingRelay:
    """Listens on a free loopback port and relays each connection to 127.0.0.1:upstream_port,
    counting the bytes each way: `down` (from upstream) and `up`. inject_and_close() speaks in
    the upstream's place."""

    def __init__(self, upstream_port):
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.down = self.up = 0
        self.sockets = []
        self.pairs = []       # (client, upstream) sockets of each connection
        self.ended = set()    # the pairs one of whose pumps has ended
        threading.Thread(target=self._accept, daemon=True).start()

    def counts(self):
        with self.lock:
            return self.down, self.up

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                return
            with self.lock:
                self.sockets += [client, server]
                self.pairs.append((client, server))
            threading.Thread(target=self._pump, args=(server, client, "down", (client, server)),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(client, server, "up", (client, server)),
                             daemon=True).start()

    def _pump(self, source, sink, direction, pair):
        while True:
            try:
                data = source.recv(256 * 1024)
            except OSError:
                data = b""
            if not data:
                break
            with self.lock:
                setattr(self, direction, getattr(self, direction) + len(data))
            try:
                sink.sendall(data)
            except OSError:
                break
        with self.lock:
            self.ended.add(pair)
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def inject_and_close(self, data):
        """Sends `data` to the relay's client as if the upstream had, on the one connection still
        open, and closes that connection both ways."""
        with self.lock:
            pairs = [pair for pair in self.pairs if pair not in self.ended]
            assert len(pairs) == 1, f"{len(pairs)} connections open through the relay"
            client, server = pairs[0]
            client.sendall(data)
            for s in (client, server):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:  # The proxy, quick to drop it, closed first: the pump shut both.
                    pass

    def close(self):
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                s.close()


FOUR_MIB_SQL = "SELECT REPEAT('longlink compresses ', 209716)"   # 4,194,320 bytes, one row


def crossed_for_four_mib(p, relay):
    """Bytes that came down through `relay` while `p`'s client (mysqlclient) read a 4 MiB
    compressible row."""
    conn = p.mysqldb()
    try:
        query(conn, "SELECT 1")
        before, _ = relay.counts()
        rows = query(conn, FOUR_MIB_SQL)
        assert len(rows[0][0]) == 4194320
        query(conn, "SELECT 1")   # The reply to the 4 MiB has surely crossed by now.
        after, _ = relay.counts()
        status = status_compression(conn)
    finally:
        conn.close()
    return after - before, status


def relayed(target, port):
    """`target` (TCP) reached through a relay listening on `port`."""
    from mariadb_server import Target
    return Target(target.kind, "tcp", host="127.0.0.1", port=port, proxy=target.proxy,
                  server=target.server, tls=target.tls)


@pytest.mark.parametrize("combo", ["direct-c0", "direct-c1", "proxy-b0-c0", "proxy-b0-c1",
                                   "nocomp-c1", "tls-b0-c1", "tls-direct-c1"])
def test_client_hop_bytes(place, combo):
    """A counting relay between the client and the proxy's TCP listener (or the server's): a
    4 MiB compressible row crosses a compressed client link in well under 1 MiB, a plain one in
    about 4 MiB. The backend is plain (b0) or the proxy does not offer compression (nocomp)."""
    p = place(combo)
    relay = CountingRelay(p.target.port)
    try:
        p.target = relayed(p.target, relay.port)
        crossed, status = crossed_for_four_mib(p, relay)
    finally:
        relay.close()
    print(f"client hop, {combo}: {crossed} bytes for a 4 MiB row")
    assert status == p.status
    if p.client_compressed:
        assert crossed < MiB // 4, crossed
    else:
        assert 4 * MiB <= crossed < 4 * MiB + 64 * 1024, crossed


@pytest.mark.parametrize("backend", ["b0", "b1", "tls-b1", "tls-b0"])
def test_backend_hop_bytes(request, proxy_factory, place, backend):
    """A counting relay between the proxy and the server ([backend] address pointing at it):
    the same 4 MiB row crosses a compressed backend link in well under 1 MiB and a plain one in
    about 4 MiB; the client is plain (its link says nothing of the backend's)."""
    tls = backend.startswith("tls-")
    server = request.getfixturevalue("tls_mariadb" if tls else "mariadb")
    relay = CountingRelay(server.port)
    try:
        settings = proxy_settings(backend, request.getfixturevalue("pki") if tls else None)
        settings["backend__address"] = f"127.0.0.1:{relay.port}"
        proxy = proxy_factory(server=server, **settings)
        p = place(f"{backend}-c0" if tls else f"proxy-{backend}-c0", proxy=proxy)
        crossed, status = crossed_for_four_mib(p, relay)
    finally:
        relay.close()
    print(f"backend hop, {backend}: {crossed} bytes for a 4 MiB row")
    compressed = backend.endswith("b1")
    assert status == ("ON" if compressed else "OFF")
    if compressed:
        assert crossed < MiB // 4, crossed
    else:
        assert 4 * MiB <= crossed < 4 * MiB + 64 * 1024, crossed


# --- idle pooled backends --------------------------------------------------------------------

def pooled_idle_backend(proxy, server):
    """Opens a session on `proxy`, reads its backend thread id and ends it: the id of the
    backend connection, once it is idle in the pool."""
    conn = proxy.tcp.connect()
    thread_id = backend_thread(conn)
    conn.close()

    def idle():
        rows = server.query("SELECT COMMAND FROM information_schema.PROCESSLIST WHERE ID = %s",
                            (thread_id,))
        return rows and rows[0][0] == "Sleep"

    wait_until(idle, 5, "the backend connection to be idle in the pool")
    time.sleep(0.3)
    return thread_id


def assert_new_session_works(proxy, not_on):
    conn = proxy.unix.connect()
    try:
        assert backend_thread(conn) != not_on
        with conn.cursor() as cur:
            cur.execute("SELECT v FROM t WHERE id = 3")
            assert cur.fetchone() == ("three",)
    finally:
        conn.close()


@pytest.mark.parametrize("backend_compression", [False, True], ids=["b0", "b1"])
def test_kill_of_an_idle_pooled_backend(proxy_factory, mariadb, backend_compression):
    """An admin KILLs an idle pooled backend connection: the proxy notices at once, on a
    compressed backend as on a plain one, and says the same: MariaDB 10.11 sends nothing to an
    idle connection it kills (no ERR 1927; it only closes), so "closed by the server". The next
    session works on another connection."""
    proxy = proxy_factory(backend__compression=backend_compression, pool__max_connections=2,
                          pool__min_idle=1, pool__check_delay="1h")
    thread_id = pooled_idle_backend(proxy, mariadb)
    mariadb.kill(thread_id)
    lines = proxy.wait_for_log(rf"{DROPPED} {thread_id}\b", timeout=3)
    assert len(lines) == 1, proxy.log()
    assert lines[0].endswith(f"{DROPPED} {thread_id}: closed by the server"), lines[0]
    assert_new_session_works(proxy, thread_id)


def err_packet(code, sqlstate, message):
    payload = b"\xff" + code.to_bytes(2, "little") + b"#" + sqlstate.encode() + message.encode()
    return len(payload).to_bytes(3, "little") + b"\x00" + payload


def frame(data, compress, sequence_id=0):
    """A compressed-protocol frame holding `data`: zlib (compress=True) or stored."""
    payload = zlib.compress(data) if compress else data
    return (len(payload).to_bytes(3, "little") + bytes([sequence_id]) +
            (len(data) if compress else 0).to_bytes(3, "little") + payload)


@pytest.mark.parametrize("backend", ["b0", "b1-stored", "b1-zlib"])
def test_unsolicited_err_on_an_idle_pooled_backend(proxy_factory, mariadb, backend):
    """What a server says to an idle connection before it closes it (an ERR, as MySQL 8 sends
    for wait_timeout; MariaDB 10.11 closes without one, see above) reaches the proxy's log
    through the compression layer on a compressed backend, as on a plain one: a relay between
    the proxy and the server sends it in the server's place, as a plain packet, a stored frame or
    a zlib frame, and closes."""
    compressed = backend != "b0"
    relay = CountingRelay(mariadb.port)
    try:
        proxy = proxy_factory(backend__compression=compressed, pool__max_connections=1,
                              pool__min_idle=1, pool__check_delay="1h",
                              backend__address=f"127.0.0.1:{relay.port}")
        thread_id = pooled_idle_backend(proxy, mariadb)
        message = "Connection was killed by the relay, in the server's place: " + "x" * 60
        packet = err_packet(1927, "70100", message)
        relay.inject_and_close(frame(packet, backend == "b1-zlib", 3) if compressed else packet)
        lines = proxy.wait_for_log(rf"{DROPPED} {thread_id}\b", timeout=3)
        assert len(lines) == 1, proxy.log()
        assert lines[0].endswith(f"{DROPPED} {thread_id}: server error 1927: {message}"), \
            lines[0]
        assert_new_session_works(proxy, thread_id)
    finally:
        relay.close()
