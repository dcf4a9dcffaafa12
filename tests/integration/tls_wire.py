"""A TCP relay that watches the TLS handshakes of the MySQL connections it carries, for tests
of TLS session resumption: MariaDB 10.11's own counters do not show it (its session tickets
are stateless, so Ssl_session_cache_hits stays 0, and Ssl_sessions_reused reads 0 even for a
connection the client saw resumed).

WireRelay(upstream_port) listens on a free loopback port and relays every connection to
127.0.0.1:upstream_port byte for byte. Of each it reads the cleartext start: the server's
greeting and the client's SSLRequest (MySQL packets), then the ClientHello and ServerHello
(TLS records), and files a `Handshake`:

- `offered`: the ClientHello offered a session to resume (TLS 1.3 pre_shared_key; TLS 1.2 a
  non-empty SessionTicket);
- `resumed`: the server took it (TLS 1.3: the ServerHello carries pre_shared_key; TLS 1.2: it
  echoes the client's non-empty session id);
- `version`: "TLSv1.3" or "TLSv1.2" as the ServerHello chose; None for a connection without
  TLS (or one that ended before its ServerHello).
"""
import socket
import struct
import threading
from dataclasses import dataclass, field

EXT_SESSION_TICKET, EXT_PRE_SHARED_KEY, EXT_SUPPORTED_VERSIONS = 35, 41, 43
HANDSHAKE_RECORD, CLIENT_HELLO, SERVER_HELLO = 0x16, 1, 2
PEEK_LIMIT = 64 * 1024


@dataclass
class Handshake:
    offered: bool = False
    resumed: bool = False
    version: str = None
    client_session_id: bytes = b""
    done: threading.Event = field(default_factory=threading.Event)


def _skip_mysql_packet(data, pos):
    """Position after the MySQL packet at data[pos], or None while incomplete."""
    if len(data) < pos + 4:
        return None
    size = int.from_bytes(data[pos:pos + 3], "little")
    end = pos + 4 + size
    return end if len(data) >= end else None


def _handshake_message(data, pos):
    """The first handshake message in the TLS records from data[pos] (records joined), or None
    while incomplete; b"" when data[pos] does not start a handshake record."""
    if len(data) <= pos:
        return None
    if data[pos] != HANDSHAKE_RECORD:
        return b""
    body = b""
    while True:
        if len(data) < pos + 5:
            return None
        length = struct.unpack(">H", data[pos + 3:pos + 5])[0]
        if len(data) < pos + 5 + length:
            return None
        body += data[pos + 5:pos + 5 + length]
        pos += 5 + length
        if len(body) >= 4 and len(body) >= 4 + int.from_bytes(body[1:4], "big"):
            return body[:4 + int.from_bytes(body[1:4], "big")]
        if pos >= len(data) or data[pos] != HANDSHAKE_RECORD:
            return None


def _extensions(message, pos):
    """{type: data} of the extensions block at message[pos]."""
    found = {}
    if len(message) < pos + 2:
        return found
    end = pos + 2 + struct.unpack(">H", message[pos:pos + 2])[0]
    pos += 2
    while pos + 4 <= end:
        kind, length = struct.unpack(">HH", message[pos:pos + 4])
        found[kind] = message[pos + 4:pos + 4 + length]
        pos += 4 + length
    return found


def parse_client_hello(message):
    """(session id, offered) of a ClientHello handshake message."""
    pos = 4 + 2 + 32
    session_id = message[pos + 1:pos + 1 + message[pos]]
    pos += 1 + message[pos]
    pos += 2 + struct.unpack(">H", message[pos:pos + 2])[0]   # cipher suites
    pos += 1 + message[pos]                                     # compression methods
    ext = _extensions(message, pos)
    offered = EXT_PRE_SHARED_KEY in ext or bool(ext.get(EXT_SESSION_TICKET))
    return session_id, offered


def parse_server_hello(message, client_session_id):
    """(version, resumed) of a ServerHello handshake message."""
    pos = 4 + 2 + 32
    session_id = message[pos + 1:pos + 1 + message[pos]]
    pos += 1 + message[pos] + 2 + 1                             # cipher suite, compression
    ext = _extensions(message, pos)
    if ext.get(EXT_SUPPORTED_VERSIONS) == b"\x03\x04":
        return "TLSv1.3", EXT_PRE_SHARED_KEY in ext
    return "TLSv1.2", bool(client_session_id) and session_id == client_session_id


class WireRelay:
    def __init__(self, upstream_port, upstream_host="127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.handshakes = []
        self.lock = threading.Lock()
        self.sockets = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def tls_handshakes(self):
        """The connections that got as far as a ServerHello, in the order they were accepted."""
        with self.lock:
            return [h for h in self.handshakes if h.version]

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            handshake = Handshake()
            with self.lock:
                self.handshakes.append(handshake)
                self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, handshake, "client"),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, handshake, "server"),
                             daemon=True).start()

    def _pump(self, source, sink, handshake, side):
        seen = b""
        watching = True
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            if watching:
                seen += data
                watching = self._watch(seen, handshake, side) and len(seen) < PEEK_LIMIT
            try:
                sink.sendall(data)
            except OSError:
                break
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        handshake.done.set()

    def _watch(self, seen, handshake, side):
        """Reads what it can of the handshake; False once there is nothing more to learn."""
        # The server: greeting, then ServerHello. The client: SSLRequest, then ClientHello.
        pos = _skip_mysql_packet(seen, 0)
        if pos is None:
            return True
        message = _handshake_message(seen, pos)
        if message is None:
            return True
        if not message:
            return False                    # No TLS on this connection.
        if side == "client" and message[0] == CLIENT_HELLO:
            handshake.client_session_id, handshake.offered = parse_client_hello(message)
        elif side == "server" and message[0] == SERVER_HELLO:
            handshake.version, handshake.resumed = parse_server_hello(
                message, handshake.client_session_id)
        return False

    def close(self):
        self.closed = True
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                try:
                    s.close()
                except OSError:
                    pass
