"""A client that speaks the protocol by hand, for what no Python library sends: server-side
prepared statements (COM_STMT_PREPARE / COM_STMT_EXECUTE) and their replies packet by packet,
so that a test can compare what the server and the proxy send, byte for byte.

RawClient(target, capabilities=..., deprecate_eof=False) logs in as app with
mysql_native_password. response() reads one whole reply the way a client library does
(results, MORE_RESULTS_EXIST, LOCAL INFILE) and returns its packets' payloads.

The statement commands: prepare_reply() (PREPARE_OK and its definitions, or the ERR),
execute() with parameters (Python ints, floats, str, bytes, None, or Param for a type of one's
own; LONG_DATA for one sent with send_long_data(); `bound=False` sends no types, the server
keeping the last ones), send_long_data(), stmt_reset(), stmt_fetch(), stmt_close(). err() reads
an ERR packet; binary_rows() and text_rows() decode a result's rows; without_statement_id()
zeroes the id of a PREPARE_OK (the one part of a reply a pooler may number its own way)."""
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
MORE_RESULTS_EXIST, CURSOR_EXISTS, LAST_ROW_SENT = 0x8, 0x40, 0x80
CURSOR_TYPE_READ_ONLY = 1
LAST_PREPARED = 0xFFFFFFFF  # MariaDB: "the statement this connection prepared last"

# Column and parameter types (enum_field_types) and how the binary protocol encodes each.
TYPE_DECIMAL, TYPE_TINY, TYPE_SHORT, TYPE_LONG, TYPE_FLOAT, TYPE_DOUBLE = 0, 1, 2, 3, 4, 5
TYPE_NULL, TYPE_TIMESTAMP, TYPE_LONGLONG, TYPE_INT24, TYPE_DATE, TYPE_TIME = 6, 7, 8, 9, 10, 11
TYPE_DATETIME, TYPE_YEAR, TYPE_VARCHAR, TYPE_NEWDECIMAL = 12, 13, 15, 246
TYPE_BLOB, TYPE_VAR_STRING, TYPE_STRING = 252, 253, 254
FIXED_WIDTH = {TYPE_TINY: ("<b", 1), TYPE_SHORT: ("<h", 2), TYPE_YEAR: ("<h", 2),
               TYPE_LONG: ("<i", 4), TYPE_INT24: ("<i", 4), TYPE_LONGLONG: ("<q", 8),
               TYPE_FLOAT: ("<f", 4), TYPE_DOUBLE: ("<d", 8)}
LENGTH_PREFIXED = (TYPE_DATE, TYPE_DATETIME, TYPE_TIMESTAMP, TYPE_TIME)  # 1-byte length
UNSIGNED = 0x80  # the second byte of a parameter's type


class Param:
    """A parameter value with the type to send it as: Param(5, TYPE_TINY), Param(7,
    TYPE_LONGLONG, unsigned=True), Param("x", TYPE_BLOB)."""

    def __init__(self, value, type_code, unsigned=False):
        self.value, self.type_code, self.unsigned = value, type_code, unsigned


LONG_DATA = object()  # execute(): this parameter's value went with send_long_data()


def param_type(value):
    """(type, flags) execute() sends for a plain Python value."""
    if isinstance(value, Param):
        return value.type_code, UNSIGNED if value.unsigned else 0
    if value is LONG_DATA or isinstance(value, bytes):
        return TYPE_BLOB, 0
    if value is None:
        return TYPE_NULL, 0
    if isinstance(value, bool) or isinstance(value, int):
        return TYPE_LONGLONG, 0
    if isinstance(value, float):
        return TYPE_DOUBLE, 0
    if isinstance(value, str):
        return TYPE_VAR_STRING, 0
    raise TypeError(f"no parameter type for {value!r}")


def put_lenenc(n):
    if n < 0xFB:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfc" + n.to_bytes(2, "little")
    if n < 1 << 24:
        return b"\xfd" + n.to_bytes(3, "little")
    return b"\xfe" + n.to_bytes(8, "little")


def encode_value(value, type_code, unsigned):
    """The binary protocol's bytes of `value` sent as `type_code`."""
    if isinstance(value, Param):
        value = value.value
    if type_code in FIXED_WIDTH:
        fmt, _ = FIXED_WIDTH[type_code]
        if unsigned and fmt[1] in "bhiq":
            fmt = "<" + fmt[1].upper()
        return struct.pack(fmt, value)
    if isinstance(value, str):
        value = value.encode()
    if not isinstance(value, bytes):
        value = str(value).encode()
    return put_lenenc(len(value)) + value


def execute_payload(statement, params=(), types=None, flags=0, bound=True, iterations=1):
    """COM_STMT_EXECUTE of `statement` with `params` (see param_type). `types`: a (type, flags)
    per parameter to send instead of what the values suggest (and to encode them with; with
    `bound=False` only the latter: the server keeps the types of the last execute that sent
    some). None and LONG_DATA have no value bytes; None sets its null bit."""
    payload = b"\x17" + struct.pack("<IBI", statement, flags, iterations)
    if not params:
        return payload
    types = list(types) if types is not None else [param_type(v) for v in params]
    nulls = bytearray((len(params) + 7) // 8)
    values = []
    for i, (value, (type_code, type_flags)) in enumerate(zip(params, types)):
        if value is None:
            nulls[i // 8] |= 1 << (i % 8)
        elif value is not LONG_DATA:
            values.append(encode_value(value, type_code, type_flags & UNSIGNED))
    payload += bytes(nulls)
    if bound:
        payload += b"\x01" + b"".join(struct.pack("<BB", t, f) for t, f in types)
    else:
        payload += b"\x00"
    return payload + b"".join(values)


def err(payload):
    """(code, SQL state, message) of an ERR packet; None for anything else."""
    if payload[:1] != b"\xff":
        return None
    code = int.from_bytes(payload[1:3], "little")
    if payload[3:4] == b"#":
        return code, payload[4:9].decode(), payload[9:].decode(errors="replace")
    return code, "", payload[3:].decode(errors="replace")


def first_err(packets):
    """err() of the first packet of a reply (None if it is not an ERR)."""
    return err(packets[0]) if packets else None


def prepare_ok(payload):
    """(statement id, columns, params, warnings) of a PREPARE_OK."""
    assert payload[:1] == b"\x00", payload
    statement, columns, params = struct.unpack("<IHH", payload[1:9])
    warnings = struct.unpack("<H", payload[10:12])[0] if len(payload) >= 12 else 0
    return statement, columns, params, warnings


def without_statement_id(reply):
    """A prepare's reply with the statement id of its PREPARE_OK set to 0 (an ERR as it is):
    the only bytes of a prepared statement's replies a pooler may legitimately change (its
    clients' ids are its own)."""
    if reply[0][:1] != b"\x00":
        return reply
    return [reply[0][:1] + bytes(4) + reply[0][5:]] + list(reply[1:])


def lenenc_string(data, pos):
    """(bytes or None for NULL, next position) of the lenenc string at data[pos]."""
    if data[pos] == 0xFB:
        return None, pos + 1
    n, pos = lenenc(data, pos)
    return data[pos:pos + n], pos + n


def column_definition(payload):
    """(name, type, flags, decimals) of a column definition (protocol 4.1)."""
    pos = 0
    fields = []
    for _ in range(6):  # catalog, schema, table, org_table, name, org_name
        value, pos = lenenc_string(payload, pos)
        fields.append(value)
    _, pos = lenenc(payload, pos)  # the length of the fixed fields: 0x0c
    _, _, type_code, flags, decimals = struct.unpack("<HIBHB", payload[pos:pos + 10])
    return fields[4].decode(), type_code, flags, decimals


def result_columns(packets):
    """The column definitions of the first result set in a reply ([] for an OK or ERR)."""
    first = packets[0]
    if first[:1] in (b"\x00", b"\xff", b"\xfb"):
        return []
    count, _ = lenenc(first, 0)
    return [column_definition(p) for p in packets[1:1 + count]]


def decode_binary_row(payload, columns):
    """A binary-protocol row as a tuple: ints, floats, bytes (strings, decimals), raw bytes
    (dates and times)."""
    assert payload[:1] == b"\x00", payload
    bitmap = payload[1:1 + (len(columns) + 9) // 8]
    pos = 1 + len(bitmap)
    row = []
    for i, (_, type_code, flags, _) in enumerate(columns):
        if bitmap[(i + 2) // 8] & (1 << ((i + 2) % 8)):
            row.append(None)
        elif type_code in FIXED_WIDTH:
            fmt, width = FIXED_WIDTH[type_code]
            if flags & 0x20 and fmt[1] in "bhiq":  # UNSIGNED_FLAG
                fmt = "<" + fmt[1].upper()
            row.append(struct.unpack(fmt, payload[pos:pos + width])[0])
            pos += width
        elif type_code in LENGTH_PREFIXED:
            n = payload[pos]
            row.append(payload[pos + 1:pos + 1 + n])
            pos += 1 + n
        else:
            value, pos = lenenc_string(payload, pos)
            row.append(value)
    return tuple(row)


def rows_of(packets, deprecate_eof, decode):
    """The rows of the first result set of a reply, through decode(payload, columns)."""
    columns = result_columns(packets)
    if not columns:
        return []
    pos = 1 + len(columns) + (0 if deprecate_eof else 1)
    rows = []
    for payload in packets[pos:]:
        if is_eof(payload, deprecate_eof) or payload[:1] == b"\xff":
            break
        rows.append(decode(payload, columns))
    return rows


def binary_rows(packets, deprecate_eof=False, columns=None):
    """The rows of an EXECUTE's first result set, or, with `columns` (from result_columns of
    the EXECUTE), of a FETCH's reply."""
    if columns is not None:
        return [decode_binary_row(p, columns) for p in packets
                if not (is_eof(p, deprecate_eof) or p[:1] == b"\xff")]
    return rows_of(packets, deprecate_eof, decode_binary_row)


def text_rows(packets, deprecate_eof=False):
    """The rows of a COM_QUERY's first result set, each value bytes or None."""
    def decode(payload, columns):
        pos, row = 0, []
        for _ in columns:
            value, pos = lenenc_string(payload, pos)
            row.append(value)
        return tuple(row)
    return rows_of(packets, deprecate_eof, decode)


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
        """The statement id of a PREPARE that must succeed (its definitions are read)."""
        reply = self.prepare_reply(sql)
        assert reply[0][:1] == b"\x00", (sql[:200], err(reply[0]))
        return prepare_ok(reply[0])[0]

    def prepare_reply(self, sql):
        """COM_STMT_PREPARE; its reply: the ERR, or PREPARE_OK and its definitions."""
        self.command(b"\x16" + (sql.encode() if isinstance(sql, str) else sql))
        return self.read_prepare_reply()

    def read_prepare_reply(self):
        """The reply to a COM_STMT_PREPARE sent before (for pipelining)."""
        _, ok = self.read()
        if ok[:1] != b"\x00":
            return [ok]
        packets = [ok]
        _, columns, params, _ = prepare_ok(ok)
        for count in (params, columns):
            for _ in range(count):
                packets.append(self.read()[1])
            if count and not self.deprecate_eof:
                packets.append(self.read()[1])
        return packets

    def execute(self, statement, flags=0, local_file=b"", params=(), types=None, bound=True):
        """COM_STMT_EXECUTE (execute_payload) and its reply. With a cursor in `flags` the
        reply ends at the metadata if the server opened one."""
        self.command(execute_payload(statement, params, types, flags, bound))
        return self.response(local_file, cursor=bool(flags & 0x7))

    def send_long_data(self, statement, param, data):
        """COM_STMT_SEND_LONG_DATA (no reply)."""
        self.command(b"\x18" + struct.pack("<IH", statement, param) + data)

    def stmt_reset(self, statement):
        """COM_STMT_RESET; its reply (OK or ERR)."""
        self.command(b"\x1a" + struct.pack("<I", statement))
        return [self.read()[1]]

    def stmt_fetch(self, statement, count):
        """COM_STMT_FETCH of `count` rows; the rows and the EOF (or OK) that ends them, or
        the ERR."""
        self.command(b"\x1c" + struct.pack("<II", statement, count))
        return self.rows()

    def stmt_close(self, statement):
        """COM_STMT_CLOSE (no reply)."""
        self.command(b"\x19" + struct.pack("<I", statement))

    def query(self, sql):
        self.command(b"\x03" + sql.encode())
        return self.response()

    def close(self):
        self.command(b"\x01")
        self.sock.close()
