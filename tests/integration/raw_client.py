"""A client that speaks the protocol by hand, for what no Python library sends: server-side
prepared statements (COM_STMT_PREPARE / COM_STMT_EXECUTE) and their replies packet by packet,
so that a test can compare what the server and the proxy send, byte for byte.

RawClient(target, capabilities=..., deprecate_eof=False) logs in as app with
mysql_native_password. response() reads one whole reply the way a client library does
(results, MORE_RESULTS_EXIST, LOCAL INFILE) and returns its packets' payloads."""
import hashlib
import struct

from mariadb_server import APP_PASSWORD, APP_USER

LONG_PASSWORD, FOUND_ROWS, LONG_FLAG, CONNECT_WITH_DB = 0x1, 0x2, 0x4, 0x8
LOCAL_FILES, PROTOCOL_41, TRANSACTIONS, SECURE_CONNECTION = 0x80, 0x200, 0x2000, 0x8000
MULTI_RESULTS, PS_MULTI_RESULTS, PLUGIN_AUTH = 0x20000, 0x40000, 0x80000
DEPRECATE_EOF = 0x01000000
MARIADB_EXTENDED_METADATA = 1 << 35
DEFAULT_CAPS = (LONG_PASSWORD | LONG_FLAG | CONNECT_WITH_DB | PROTOCOL_41 | TRANSACTIONS |
                SECURE_CONNECTION | MULTI_RESULTS | PS_MULTI_RESULTS | PLUGIN_AUTH)
MORE_RESULTS_EXIST, CURSOR_EXISTS = 0x8, 0x40


def packet(payload, sequence):
    return struct.pack("<I", len(payload))[:3] + bytes([sequence & 0xFF]) + payload


def lenenc(data, pos):
    """(value, next position) of the lenenc integer at data[pos]."""
    first = data[pos]
    if first < 0xFB:
        return first, pos + 1
    width = {0xFC: 2, 0xFD: 3, 0xFE: 8}[first]
    return int.from_bytes(data[pos + 1:pos + 1 + width], "little"), pos + 1 + width


def ok_status(payload):
    _, pos = lenenc(payload, 1)
    _, pos = lenenc(payload, pos)
    return struct.unpack("<H", payload[pos:pos + 2])[0]


def is_eof(payload, deprecate_eof):
    return payload[:1] == b"\xfe" and len(payload) < (0xFFFFFF if deprecate_eof else 9)


class RawClient:
    def __init__(self, target, capabilities=DEFAULT_CAPS, database="app"):
        self.caps = capabilities
        self.deprecate_eof = bool(capabilities & DEPRECATE_EOF)
        self.sock = target.raw_socket(timeout=10)
        _, greeting = self.read()
        end = greeting.index(b"\0", 1)
        rest = greeting[end + 1:]
        scramble = rest[4:12] + rest[31:43]
        stage1 = hashlib.sha1(APP_PASSWORD.encode()).digest()
        stage2 = hashlib.sha1(stage1).digest()
        token = bytes(a ^ b for a, b in zip(stage1, hashlib.sha1(scramble + stage2).digest()))
        # Bits 32-63 are MariaDB's extended capabilities, in the filler's last 4 bytes (read
        # only without CLIENT_MYSQL, bit 0).
        login = (struct.pack("<IIB19xI", capabilities & 0xFFFFFFFF, 1 << 24, 45,
                             capabilities >> 32) + APP_USER.encode() + b"\0" +
                 bytes([len(token)]) + token + database.encode() + b"\0" +
                 b"mysql_native_password\0")
        self.sock.sendall(packet(login, 1))
        _, reply = self.read()
        assert reply[:1] == b"\x00", reply

    def read(self):
        header = self.recv(4)
        return header[3], self.recv(int.from_bytes(header[:3], "little"))

    def recv(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError(f"closed after {len(data)} of {n} bytes")
            data += chunk
        return data

    def command(self, payload):
        self.sock.sendall(packet(payload, 0))

    def response(self, local_file=b"", cursor=False):
        """Every packet of one reply, as a client library reads it. `cursor`: the command was
        an EXECUTE that asked for one; a result whose metadata EOF says CURSOR_EXISTS (and
        not MORE_RESULTS_EXIST) then ends there, its rows to be fetched."""
        packets = []
        while True:
            sequence, first = self.read()
            packets.append(first)
            if first[:1] == b"\xff":
                return packets
            if first[:1] == b"\x00":
                if ok_status(first) & MORE_RESULTS_EXIST:
                    continue
                return packets
            if first[:1] == b"\xfb":  # LOCAL INFILE: the file, then an empty packet.
                self.sock.sendall(packet(local_file, sequence + 1) + packet(b"", sequence + 2))
                continue
            columns, _ = lenenc(first, 0)
            for _ in range(columns):
                packets.append(self.read()[1])
            if not self.deprecate_eof:
                _, eof = self.read()
                packets.append(eof)
                status = struct.unpack("<H", eof[3:5])[0]
                if cursor and status & CURSOR_EXISTS and not status & MORE_RESULTS_EXIST:
                    return packets
            while True:
                _, row = self.read()
                packets.append(row)
                if is_eof(row, self.deprecate_eof):
                    break
            status = (ok_status(row) if self.deprecate_eof
                      else struct.unpack("<H", row[3:5])[0])
            if not status & MORE_RESULTS_EXIST:
                return packets

    def rows(self):
        """The rows of a FETCH, up to the EOF (or OK-as-EOF) that ends them."""
        packets = []
        while True:
            _, row = self.read()
            packets.append(row)
            if is_eof(row, self.deprecate_eof) or row[:1] == b"\xff":
                return packets

    def prepare(self, sql):
        """(statement id, PREPARE_OK and definitions)."""
        self.command(b"\x16" + sql.encode())
        _, ok = self.read()
        assert ok[:1] == b"\x00", ok
        statement, columns, params = struct.unpack("<IHH", ok[1:9])
        for count in (params, columns):
            for _ in range(count):
                self.read()
            if count and not self.deprecate_eof:
                self.read()
        return statement

    def execute(self, statement, flags=0, local_file=b""):
        self.command(b"\x17" + struct.pack("<IBI", statement, flags, 1))
        return self.response(local_file, cursor=bool(flags & 0x7))

    def query(self, sql):
        self.command(b"\x03" + sql.encode())
        return self.response()

    def close(self):
        self.command(b"\x01")
        self.sock.close()
