"""Bad input gets a proper error and a clean close; the proxy stays up and other clients are
unaffected. Raw sockets speak the protocol by hand where a client library would not misbehave.

Every test also runs against the server itself: MariaDB's own answer is what the proxy should
give, and the test is validated by it. Where the proxy answers differently by design (PROXY.md:
ERR 1043 for any malformed login, where MariaDB checks the sequence id first and answers 1156)
the assertion is under `if target.is_proxy:`. After each case a fresh normal client must work."""
import random
import socket
import struct
import threading
import time

import pymysql
import pytest

from conftest import WHERE_ALL, WHERE_PROXY

MiB = 1024 * 1024
ER_ACCESS_DENIED = 1045
ER_HANDSHAKE = 1043
ER_OUT_OF_ORDER = 1156
ER_TOO_BIG = 1153


def packet(payload, sequence):
    return struct.pack("<I", len(payload))[:3] + bytes([sequence]) + payload


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def read_packet(sock):
    header = recv_exactly(sock, 4)
    length = int.from_bytes(header[:3], "little")
    return header[3], recv_exactly(sock, length)


def err_of(payload):
    """(code, message) of an ERR packet (with or without the '#SQLSTATE' marker)."""
    assert payload[:1] == b"\xff", f"expected an ERR packet, got {payload[:40]!r}"
    code = struct.unpack("<H", payload[1:3])[0]
    message = payload[3:]
    if message[:1] == b"#":
        message = message[6:]
    return code, message.decode(errors="replace")


def closed_within(sock, seconds):
    """True if the peer closes (FIN or RST) within `seconds`; data meanwhile is discarded."""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
        return True
    except socket.timeout:
        return False
    except ConnectionError:
        return True


def assert_healthy(target):
    conn = target.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT v FROM t WHERE id = 1")
        assert cur.fetchone() == ("one",)
    conn.close()
    assert target.alive()


def greeted(target):
    sock = target.raw_socket()
    sequence, greeting = read_packet(sock)
    assert sequence == 0 and greeting[0] == 10, greeting[:16]
    return sock


@pytest.mark.parametrize("where", WHERE_ALL)
def test_wrong_password_and_unknown_user(make_target, mariadb, where):
    target = make_target(where)
    same_transport_direct = mariadb.target(target.transport)
    cases = [("app", "wrong", "Access denied for user 'app'@'localhost' (using password: YES)"),
             ("nobody", "x", "Access denied for user 'nobody'@'localhost' (using password: YES)"),
             ("app", "", "Access denied for user 'app'@'localhost' (using password: NO)"),
             ("ro", "app-secret", "Access denied for user 'ro'@'localhost' (using password: YES)")]
    for user, password, expected in cases:
        # MariaDB names 127.0.0.1 'localhost' too (it resolves the client address).
        with pytest.raises(pymysql.err.OperationalError) as error:
            target.connect(user=user, password=password, database=None)
        assert error.value.args == (ER_ACCESS_DENIED, expected)
        if target.is_proxy:  # The same as the server says over the same transport.
            with pytest.raises(pymysql.err.OperationalError) as direct_error:
                same_transport_direct.connect(user=user, password=password, database=None)
            assert error.value.args == direct_error.value.args
    assert_healthy(target)


@pytest.mark.parametrize("where", WHERE_ALL)
def test_garbage_before_the_greeting_is_read(make_target, where):
    """100 random bytes sent right after connecting, before reading the greeting. (Seeded: the
    header announces 0x697fb9 bytes with sequence id 0xf7; MariaDB checks the sequence id
    first and answers 1156 at once, without waiting for the 6.9 MB.)"""
    target = make_target(where)
    garbage = random.Random(1234).randbytes(100)
    sock = target.raw_socket()
    sock.sendall(garbage)
    sequence, greeting = read_packet(sock)
    assert sequence == 0 and greeting[0] == 10
    _, reply = read_packet(sock)
    code, message = err_of(reply)
    assert code in (ER_HANDSHAKE, ER_OUT_OF_ORDER), message
    if target.is_proxy:  # Proxy-specific (PROXY.md): any malformed login is 1043.
        assert code == ER_HANDSHAKE and message == "Bad handshake"
    assert closed_within(sock, 3)
    sock.close()
    assert_healthy(target)


GARBAGE_LOGINS = {
    "two-bytes": packet(b"\x85\xa6", 1),
    "ff-x100": packet(b"\xff" * 100, 1),
    "http-framed": packet(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1),
    "http-raw": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("garbage", GARBAGE_LOGINS.values(), ids=GARBAGE_LOGINS.keys())
@pytest.mark.parametrize("where", WHERE_ALL)
def test_garbage_instead_of_a_login(make_target, where, garbage):
    target = make_target(where)
    sock = greeted(target)
    sock.sendall(garbage)
    _, reply = read_packet(sock)
    code, message = err_of(reply)
    if garbage[3] == 1:  # A well-framed packet: MariaDB says "Bad handshake" too.
        assert (code, message) == (ER_HANDSHAKE, "Bad handshake")
    else:                # 'GET ' is a header with sequence id 0x20: MariaDB says 1156.
        assert code in (ER_HANDSHAKE, ER_OUT_OF_ORDER), message
        if target.is_proxy:  # Proxy-specific (PROXY.md): any malformed login is 1043.
            assert code == ER_HANDSHAKE
    assert closed_within(sock, 3)
    sock.close()
    assert_healthy(target)


@pytest.mark.parametrize("where", WHERE_ALL)
def test_truncated_handshake_response_then_disconnect(make_target, where):
    target = make_target(where)
    sock = greeted(target)
    sock.sendall(struct.pack("<I", 200)[:3] + b"\x01" + b"\x85\xa6")  # 2 of 200 bytes.
    time.sleep(0.1)
    sock.close()
    assert_healthy(target)


@pytest.mark.parametrize("where", WHERE_ALL)
def test_command_with_a_wrong_sequence_id(make_target, where):
    target = make_target(where)
    conn = target.connect()
    sock = conn._sock
    sock.sendall(packet(b"\x03SELECT 1", 5))
    _, reply = read_packet(sock)
    assert err_of(reply) == (ER_OUT_OF_ORDER, "Got packets out of order")
    assert closed_within(sock, 3)
    assert_healthy(target)


@pytest.mark.parametrize("where", WHERE_ALL)
def test_half_a_command_then_disconnect(make_target, where):
    target = make_target(where)
    conn = target.connect()
    conn._sock.sendall(struct.pack("<I", 1000)[:3] + b"\x00" + b"\x03SELECT ")
    time.sleep(0.1)
    conn._sock.close()
    time.sleep(0.2)
    assert_healthy(target)


@pytest.mark.parametrize("where", WHERE_ALL)
def test_query_larger_than_max_allowed_packet(make_target, mariadb, where):
    """MariaDB answers a 17 MiB command (max_allowed_packet 16M) with ERR 1153 as soon as it has
    read the first 16 MiB chunk's header, and closes. PyMySQL reads it over TCP (1153), but over
    the Unix socket it is usually still writing and gets EPIPE (2006)."""
    assert mariadb.variable("max_allowed_packet") == 16 * MiB
    target = make_target(where)
    conn = target.connect(max_allowed_packet=64 * MiB)  # The client's own limit must not stop it.
    with pytest.raises(pymysql.err.OperationalError) as error:
        with conn.cursor() as cur:
            cur.execute("SELECT LENGTH(%s)", ("y" * (17 * MiB),))
    assert error.value.args[0] in (ER_TOO_BIG, 2006, 2013), error.value.args
    assert_healthy(target)

    # By hand, reading after writing what the peer would take: the ERR itself.
    conn = target.connect()
    sock = conn._sock
    payload = b"\x03SELECT '" + b"y" * (17 * MiB) + b"'"
    try:
        for sequence, offset in enumerate(range(0, len(payload) + 1, 0xFFFFFF)):
            sock.sendall(packet(payload[offset:offset + 0xFFFFFF], sequence))
    except OSError:
        pass  # The peer closed after answering.
    _, reply = read_packet(sock)
    code, message = err_of(reply)
    assert (code, message) == (ER_TOO_BIG, "Got a packet bigger than 'max_allowed_packet' bytes")
    assert closed_within(sock, 3)
    assert_healthy(target)


@pytest.mark.parametrize("where", WHERE_ALL)
def test_client_that_stops_reading_a_large_result(make_target, where):
    target = make_target(where, pool__max_connections=4)
    slow = target.connect(cursorclass=pymysql.cursors.SSCursor)
    cur = slow.cursor()
    cur.execute("SELECT REPEAT('z', 1000000) FROM seq_1_to_50")  # ~50 MB, streamed.
    assert len(cur.fetchone()[0]) == 1000000
    latencies, errors = [], []
    steady = target.connect()

    def others():
        try:
            deadline = time.monotonic() + 3  # While the slow client sleeps without reading.
            while time.monotonic() < deadline:
                started = time.monotonic()
                conn = target.connect()
                with conn.cursor() as c:
                    c.execute("SELECT COUNT(*) FROM t")
                    assert c.fetchone() == (3,)
                conn.close()
                with steady.cursor() as c:
                    c.execute("SELECT v FROM t WHERE id = 2")
                    assert c.fetchone() == ("two",)
                latencies.append(time.monotonic() - started)
                time.sleep(0.05)
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    thread = threading.Thread(target=others)
    thread.start()
    thread.join(timeout=30)
    assert not errors, errors
    assert len(latencies) >= 10 and max(latencies) < 1.0, latencies
    steady.close()
    slow._sock.close()  # Vanishes mid-result: its backend connection must not be reused.
    time.sleep(0.3)
    for _ in range(5):
        assert_healthy(target)


@pytest.mark.parametrize("where", WHERE_ALL)
def test_client_that_never_finishes_the_handshake(make_target, where, server_globals):
    # The server's equivalent of the proxy's handshake_timeout is connect_timeout.
    if where.startswith("direct"):
        server_globals(connect_timeout=2)
    target = make_target(where, proxy__handshake_timeout="2s")
    sock = greeted(target)
    started = time.monotonic()
    assert closed_within(sock, 4), "still open 4 s after the greeting"
    assert 1.5 <= time.monotonic() - started < 4
    sock.close()
    assert_healthy(target)


ER_UNKNOWN_COM = 1047


@pytest.mark.parametrize("where", WHERE_ALL)
def test_empty_command_packet(make_target, where):
    """MariaDB reads an empty command as COM_SLEEP: ERR 1047 "Unknown command", and the
    session goes on (issue 10: the proxy used to close it)."""
    target = make_target(where)
    conn = target.connect()
    conn._sock.sendall(packet(b"", 0))
    _, reply = read_packet(conn._sock)
    assert err_of(reply) == (ER_UNKNOWN_COM, "Unknown command")
    with conn.cursor() as cur:
        cur.execute("SELECT v FROM t WHERE id = 3")
        assert cur.fetchone() == ("three",)
    conn.close()


def register_slave_payload(server_id):
    def short(text):
        return bytes([len(text)]) + text
    return (b"\x15" + struct.pack("<I", server_id) + short(b"fake-replica") + short(b"app") +
            short(b"") + struct.pack("<HII", 3306, 0, 0))


@pytest.mark.parametrize("where", WHERE_ALL)
def test_register_slave_is_refused(make_target, mariadb, where):
    """COM_REGISTER_SLAVE through a pool would register the pooled connection as a replica
    (issue 10: it was relayed). The server registers one for a user with REPLICATION SLAVE;
    the proxy refuses every replication command with 1047 and the session goes on."""
    mariadb.execute("GRANT REPLICATION SLAVE ON *.* TO 'app'@'%', 'app'@'localhost'")
    try:
        target = make_target(where)
        conn = target.connect()
        conn._sock.sendall(packet(register_slave_payload(4242), 0))
        _, reply = read_packet(conn._sock)
        registered = [row for row in mariadb.query("SHOW SLAVE HOSTS") if row[0] == 4242]
        if target.is_proxy:
            assert err_of(reply)[0] == ER_UNKNOWN_COM, reply
            assert registered == []
        else:
            assert reply[:1] == b"\x00", reply  # OK: the server registered it.
            assert len(registered) == 1
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
        conn.close()
    finally:
        mariadb.execute("REVOKE REPLICATION SLAVE ON *.* FROM 'app'@'%', 'app'@'localhost'")


@pytest.mark.parametrize("where", WHERE_ALL)
def test_packet_of_exactly_16_mib(make_target, mariadb, where):
    """A command of exactly 16 MiB (one full chunk and one of 0 bytes... here of 1 byte) with
    max_allowed_packet=16M: the server answers 1153 and closes. The proxy relays the ERR and
    closes too (issue 10: it kept the client, whose next command then got 1927)."""
    assert mariadb.variable("max_allowed_packet") == 16 * MiB
    target = make_target(where)
    conn = target.connect()
    sock = conn._sock
    payload = b"\x03SELECT '" + b"y" * (16 * MiB - 10) + b"'"
    assert len(payload) == 16 * MiB
    try:
        sock.sendall(packet(payload[:0xFFFFFF], 0))
        sock.sendall(packet(payload[0xFFFFFF:], 1))
    except OSError:
        pass  # The peer closed after answering.
    _, reply = read_packet(sock)
    assert err_of(reply) == (ER_TOO_BIG, "Got a packet bigger than 'max_allowed_packet' bytes")
    assert closed_within(sock, 3)
    assert_healthy(target)


@pytest.mark.parametrize("where", WHERE_ALL)
def test_client_that_stops_in_the_middle_of_a_command(make_target, server_globals, where):
    """A client that stops in the middle of a command: the server closes it after wait_timeout
    (it reads a command's first packet with wait_timeout, later ones with net_read_timeout);
    the proxy closes it after proxy.net_read_timeout (30 s by default), and with it the backend
    connection that holds half the command (issue 10: the client held it forever), so one
    stalled client cannot keep a pooled connection for the server's 8 hours."""
    if where.startswith("direct"):
        server_globals(wait_timeout=1, net_read_timeout=1)
    target = make_target(where, proxy__net_read_timeout="1s", pool__max_connections=1)
    conn = target.connect()
    conn._sock.sendall(struct.pack("<I", 1000)[:3] + b"\x00" + b"\x03SELECT 'stalled")
    started = time.monotonic()
    assert closed_within(conn._sock, 5), "still open 5 s into a stalled packet"
    assert time.monotonic() - started >= 0.9
    assert_healthy(target)  # With max_connections=1: the stalled client's backend was freed.
    if target.is_proxy:
        assert target.proxy.log_lines("stopped in the middle of a packet")


def test_client_strings_are_escaped_and_capped_in_the_log(proxy_factory):
    """Proxy-only (issue 10, defect 2): a user name from an unauthenticated client reaches the
    log quoted, with control bytes escaped and its length capped: no forged line, no terminal
    escape, no 10 KB line."""
    proxy = proxy_factory()
    forged = "bob\n2026-01-01T00:00:00.000Z error  forged line \x1b[2J\xff"
    for user in (forged, "x" * 10000):
        with pytest.raises(pymysql.err.OperationalError) as error:
            pymysql.connect(unix_socket=proxy.unix_socket, user=user, password="nope")
        assert error.value.args[0] == ER_ACCESS_DENIED
    log = proxy.log()
    assert not any(line.startswith("2026-01-01") for line in log.splitlines()), log
    assert "\x1b" not in log
    denied = [line for line in log.splitlines() if "access denied" in line]
    assert len(denied) == 2, log
    assert "'bob\\n2026-01-01T00:00:00.000Z error  forged line \\x1b[2J\\xc3\\xbf'" in denied[0] \
        or "'bob\\n2026-01-01T00:00:00.000Z error  forged line \\x1b[2J\u00ff'" in denied[0], \
        denied[0]
    assert len(denied[1]) < 400 and "...(10000 bytes)" in denied[1], denied[1]


def test_failed_logins_are_logged_rate_limited(proxy_factory):
    """Proxy-only (issue 10, defect 6): a flood of failed logins writes at most 10 lines per
    10 s; the next line written says how many were left out."""
    proxy = proxy_factory()
    for _ in range(30):
        with pytest.raises(pymysql.err.OperationalError):
            pymysql.connect(unix_socket=proxy.unix_socket, user="app", password="wrong")
    denied = proxy.log_lines("access denied")
    assert len(denied) == 10, denied


@pytest.mark.parametrize("where", WHERE_PROXY)
def test_misnumbered_local_infile_packet(make_target, mariadb, server_globals, where):
    """Proxy-only: LOAD DATA LOCAL INFILE whose first file packet has a wrong sequence id. The
    proxy answers ERR 1156 and ends the session (MariaDB 10.11 answers nothing and waits for
    its net_read_timeout), and the backend connection, in the middle of the LOAD, is closed
    rather than reset and pooled (found by the session fuzzer: the pool's reset met the
    LOAD)."""
    from raw_client import DEFAULT_CAPS, LOCAL_FILES, RawClient
    server_globals(local_infile=1)
    mariadb.execute("CREATE TABLE IF NOT EXISTS app.li_bad (a INT)")
    target = make_target(where, pool__max_connections=1)
    client = RawClient(target, capabilities=DEFAULT_CAPS | LOCAL_FILES)
    client.command(b"\x03LOAD DATA LOCAL INFILE 'x.csv' INTO TABLE li_bad")
    sequence, request = client.read()
    assert request[:1] == b"\xfb", request
    client.sock.sendall(packet(b"1\n", sequence + 5))
    _, reply = client.read()
    assert err_of(reply)[0] == ER_OUT_OF_ORDER, reply
    assert closed_within(client.sock, 3)
    assert_healthy(target)
    if target.is_proxy:
        assert not target.proxy.log_lines("reset failed"), target.proxy.log()
