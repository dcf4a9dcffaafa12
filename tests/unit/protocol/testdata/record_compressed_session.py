#!/usr/bin/env python3
"""Records one `mariadb --compress` session through a TCP relay, for compression_test.cc.

Usage: record_compressed_session.py SERVER_PORT OUT_PREFIX [mariadb args...]

Starts a relay on 127.0.0.1 that forwards one connection to the server on SERVER_PORT, runs
`mariadb --compress --skip-ssl -h127.0.0.1 -P<relay> [args...]` through it, and writes the bytes
each side sent to OUT_PREFIX.server_to_client.hex and OUT_PREFIX.client_to_server.hex.

File format (read by the test): lines starting with '#' are comments; a line "--compressed--"
separates the login (plain packets: greeting, handshake response, auth exchange, the final OK)
from the rest, which is the compressed protocol; other lines are hex bytes. The split is found
by walking the plain packets: the server's login ends with its first OK (0x00) or ERR (0xff)
after the greeting, and the client sent one plain packet fewer than the server.
"""
import socket
import subprocess
import sys
import threading


def relay(source, sink, record):
    while True:
        data = source.recv(65536)
        if not data:
            try:
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return
        record.extend(data)
        sink.sendall(data)


def plain_packets(stream):
    """Yields (offset_after, payload) for each plain packet at the start of `stream`."""
    offset = 0
    while offset + 4 <= len(stream):
        length = int.from_bytes(stream[offset:offset + 3], "little")
        payload = stream[offset + 4:offset + 4 + length]
        offset += 4 + length
        yield offset, payload


def login_ends(server_stream, client_stream):
    server_end = None
    count = 0
    for index, (end, payload) in enumerate(plain_packets(server_stream)):
        count += 1
        if index > 0 and payload[:1] in (b"\x00", b"\xff"):
            server_end = end
            break
    assert server_end is not None, "no login OK from the server"
    client_end = 0
    for index, (end, _) in enumerate(plain_packets(client_stream)):
        if index == count - 2:
            client_end = end
            break
    return server_end, client_end


def write_hex(path, stream, split, description):
    with open(path, "w") as out:
        for line in description:
            out.write(f"# {line}\n")
        for start, stop in ((0, split), (split, len(stream))):
            for offset in range(start, stop, 32):
                out.write(stream[offset:min(offset + 32, stop)].hex(" ") + "\n")
            if start == 0:
                out.write("--compressed--\n")


def main():
    server_port = int(sys.argv[1])
    prefix = sys.argv[2]
    args = sys.argv[3:]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    to_client, to_server = bytearray(), bytearray()

    def serve():
        client, _ = listener.accept()
        server = socket.create_connection(("127.0.0.1", server_port))
        threads = [threading.Thread(target=relay, args=(client, server, to_server)),
                   threading.Thread(target=relay, args=(server, client, to_client))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        client.close()
        server.close()

    thread = threading.Thread(target=serve)
    thread.start()
    command = ["mariadb", "--no-defaults", "--compress", "--skip-ssl", "-h127.0.0.1",
               f"-P{port}"] + args
    result = subprocess.run(command, capture_output=True)
    thread.join()
    sys.stderr.write(result.stderr.decode())
    assert result.returncode == 0, result.returncode
    server_split, client_split = login_ends(to_client, to_server)
    shown = " ".join(a for a in command if not a.startswith("-p"))
    description = [f"Recorded by record_compressed_session.py: {shown}",
                   f"through a TCP relay to {version(to_client)}.",
                   f"stdout of the client: {len(result.stdout)} bytes."]
    write_hex(prefix + ".server_to_client.hex", to_client, server_split,
              ["Server to client."] + description)
    write_hex(prefix + ".client_to_server.hex", to_server, client_split,
              ["Client to server."] + description)


def version(server_stream):
    payload = next(plain_packets(server_stream))[1]
    return payload[1:payload.index(b"\x00", 1)].decode()


if __name__ == "__main__":
    main()
