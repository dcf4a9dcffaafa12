"""Bad input gets a proper error and a clean close; the proxy stays up and other clients are
unaffected."""
import socket
import struct
import threading
import time

import pymysql
import pytest

from servers import APP_PASSWORD, Target


def packet(payload, sequence):
    return struct.pack("<I", len(payload))[:3] + bytes([sequence]) + payload


def read_packet(sock):
    header = recv_exactly(sock, 4)
    length = int.from_bytes(header[:3], "little")
    return header[3], recv_exactly(sock, length)


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def err_code(payload):
    assert payload[0] == 0xFF, f"expected an ERR packet, got {payload[:16]!r}"
    return struct.unpack("<H", payload[1:3])[0]


def closed_within(sock, seconds):
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
        return True
    except socket.timeout:
        return False
    except ConnectionError:
        return True


def assert_healthy(proxy):
    conn = proxy.unix.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    conn.close()
    assert proxy.alive()


def raw_client(proxy):
    return socket.create_connection(("127.0.0.1", proxy.tcp_port), timeout=5)


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_wrong_password_and_unknown_user_match_mariadb(proxy, mariadb, transport):
    target = proxy.tcp if transport == "tcp" else proxy.unix
    direct = (Target("direct", host="127.0.0.1", port=mariadb.port) if transport == "tcp"
              else Target("direct", unix_socket=mariadb.socket))
    for user, password in (("app", "wrong"), ("nobody", "x"), ("app", "")):
        errors = []
        for where in (direct, target):
            with pytest.raises(pymysql.err.OperationalError) as error:
                where.connect(user=user, password=password, database=None)
            errors.append(error.value.args)
        assert errors[1] == errors[0]
        assert errors[1][0] == 1045
    assert_healthy(proxy)


@pytest.mark.parametrize("garbage", [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\xff" * 100,
                                     packet(b"\x03SELECT 1", 1)])
def test_garbage_instead_of_a_login(proxy, garbage):
    sock = raw_client(proxy)
    sequence, greeting = read_packet(sock)
    assert sequence == 0 and greeting[0] == 10
    sock.sendall(garbage)
    _, reply = read_packet(sock)
    assert err_code(reply) == 1043
    assert closed_within(sock, 3)
    sock.close()
    assert_healthy(proxy)


def test_garbage_before_the_greeting_is_read(proxy):
    sock = raw_client(proxy)
    sock.sendall(b"\x00" * 3 + b"\x01" + b"\x00")  # An empty-ish, meaningless handshake.
    sequence, greeting = read_packet(sock)
    assert greeting[0] == 10
    _, reply = read_packet(sock)
    assert err_code(reply) == 1043
    sock.close()
    assert_healthy(proxy)


def test_truncated_handshake_response_and_disconnect(proxy):
    sock = raw_client(proxy)
    read_packet(sock)
    sock.sendall(struct.pack("<I", 200)[:3] + b"\x01" + b"\x85\xa6")  # 2 of 200 bytes.
    sock.close()
    assert_healthy(proxy)


def logged_in_raw_client(proxy):
    """A raw socket that has logged in (via PyMySQL's handshake) and can then misbehave."""
    conn = proxy.tcp.connect()
    return conn, conn._sock


def test_command_with_a_wrong_sequence_id(proxy):
    conn, sock = logged_in_raw_client(proxy)
    sock.sendall(packet(b"\x03SELECT 1", 5))
    _, reply = read_packet(sock)
    assert err_code(reply) == 1156
    assert closed_within(sock, 3)
    assert_healthy(proxy)


def test_half_a_command_then_disconnect(proxy):
    conn, sock = logged_in_raw_client(proxy)
    sock.sendall(struct.pack("<I", 1000)[:3] + b"\x00" + b"\x03SELECT ")
    sock.close()
    time.sleep(0.2)
    assert_healthy(proxy)


def test_query_larger_than_max_allowed_packet(proxy, mariadb):
    assert mariadb.query("SELECT @@global.max_allowed_packet")[0][0] == 16 * 1024 * 1024
    conn = proxy.unix.connect()
    with pytest.raises(pymysql.err.OperationalError) as error:
        with conn.cursor() as cur:
            cur.execute("SELECT LENGTH(%s)", ("y" * (17 * 1024 * 1024),))
    # 1153 when the client reads the proxy's ERR; 2006/2013 if it was still writing.
    assert error.value.args[0] in (1153, 2006, 2013), error.value.args
    assert_healthy(proxy)


def test_client_that_stops_reading_a_large_result(proxy_factory):
    proxy = proxy_factory(pool__max_connections=4)
    slow = proxy.unix.connect(cursorclass=pymysql.cursors.SSCursor)
    cur = slow.cursor()
    cur.execute("SELECT REPEAT('z', 1000000) FROM seq_1_to_100")  # ~100 MB, streamed.
    assert len(cur.fetchone()[0]) == 1000000
    latencies = []

    def others():
        for _ in range(20):
            started = time.monotonic()
            conn = proxy.unix.connect()
            with conn.cursor() as c:
                c.execute("SELECT COUNT(*) FROM t")
                assert c.fetchone() == (3,)
            conn.close()
            latencies.append(time.monotonic() - started)

    thread = threading.Thread(target=others)
    thread.start()
    thread.join(timeout=30)
    assert len(latencies) == 20 and max(latencies) < 1.0
    slow._sock.close()  # Vanishes mid-result: its backend connection must not be reused.
    time.sleep(0.3)
    for _ in range(5):
        assert_healthy(proxy)


def test_client_that_never_finishes_the_handshake(proxy_factory):
    proxy = proxy_factory(proxy__handshake_timeout="1s")
    sock = raw_client(proxy)
    read_packet(sock)
    started = time.monotonic()
    assert closed_within(sock, 4)
    assert time.monotonic() - started < 3
    assert_healthy(proxy)
