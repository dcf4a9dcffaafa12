#!/usr/bin/env python3
"""longlink-sockgen: generates known TCP socket states on loopback, in whatever network
namespace it runs in, for longlink's integration tests, demo and benchmarks.

Operations run in the order given; each prints nothing until all are done, then one line
  ready pid=PID client_close=N server_close=N close_wait=N established=N
is printed and flushed. With --hold the process then keeps its sockets (CLOSE_WAIT and
established ones) until SIGTERM or until its standard input closes.

  --client-close HOST:PORT COUNT   the client closes first: COUNT TIME_WAIT on the client side
  --server-close PORT COUNT        this host's server on 127.0.0.1:PORT closes first: COUNT
                                   TIME_WAIT whose local port is the listening port
  --close-wait PORT COUNT          the server on 127.0.0.1:PORT accepts and never closes while the
                                   client closes: COUNT CLOSE_WAIT held by this process and COUNT
                                   FIN_WAIT2 orphans on the client side
  --established HOST:PORT COUNT    COUNT connections kept open
  --rate R                         pace the next operation at R connections/s (0: as fast as
                                   possible, the default)
  --sources IP[,IP...]             source addresses for the next operations (default 127.0.0.1);
                                   IP_BIND_ADDRESS_NO_PORT spreads ports per destination

Set net.ipv4.tcp_tw_reuse=0 in the namespace first: the default 2 reuses loopback TIME_WAIT
sockets and makes the counts unpredictable. Errors (EADDRNOTAVAIL when ports run out, ...) are
printed with how many connections succeeded, and the exit status is 1.
"""
import os
import signal
import socket
import sys
import time

IP_BIND_ADDRESS_NO_PORT = 24


class Generator:
    def __init__(self):
        self.listeners = {}
        self.held = []
        self.sources = ["127.0.0.1"]
        self.rate = 0.0
        self.next_fixed_port = 61000  # above the default ephemeral range
        self.counts = {"client_close": 0, "server_close": 0, "close_wait": 0, "established": 0}

    def listener(self, host, port):
        key = (host, port)
        if key not in self.listeners:
            ls = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind((host, port))
            ls.listen(4096)
            self.listeners[key] = ls
        return self.listeners[key]

    def connect(self, i, host, port):
        c = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        c.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        c.bind((self.sources[i % len(self.sources)], 0))
        c.connect((host, port))
        return c

    def paced(self, count, one):
        start = time.monotonic()
        for i in range(count):
            if self.rate > 0:
                delay = start + i / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            one(i)

    def client_close(self, host, port, count):
        ls = self.listener(host, port)

        def one(i):
            c = self.connect(i, host, port)
            s, _ = ls.accept()
            c.close()  # client FIN first
            s.recv(1)  # server sees EOF and closes: the client side enters TIME_WAIT
            s.close()
            self.counts["client_close"] += 1

        self.paced(count, one)

    def server_close(self, port, count):
        ls = self.listener("127.0.0.1", port)

        def one(i):
            # Fixed client ports outside the ephemeral range: a client port picked at random
            # could match a server-side TIME_WAIT's 4-tuple, whose SYN would take it over.
            c = socket.socket()
            c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            c.bind((self.sources[i % len(self.sources)], self.next_fixed_port))
            self.next_fixed_port += 1
            c.connect(("127.0.0.1", port))
            s, _ = ls.accept()
            s.close()  # server FIN first: TIME_WAIT stays on the server side
            c.recv(1)
            c.close()
            self.counts["server_close"] += 1

        self.paced(count, one)

    def close_wait(self, port, count):
        ls = self.listener("127.0.0.1", port)

        def one(i):
            c = self.connect(i, "127.0.0.1", port)
            s, _ = ls.accept()
            c.close()  # the client closes; the server never does
            self.held.append(s)
            self.counts["close_wait"] += 1

        self.paced(count, one)

    def established(self, host, port, count):
        ls = self.listener(host, port)

        def one(i):
            c = self.connect(i, host, port)
            s, _ = ls.accept()
            self.held.extend([c, s])
            self.counts["established"] += 1

        self.paced(count, one)


def host_port(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def main(argv):
    gen = Generator()
    hold = False
    args = list(argv)
    try:
        while args:
            op = args.pop(0)
            if op == "--hold":
                hold = True
            elif op == "--rate":
                gen.rate = float(args.pop(0))
            elif op == "--sources":
                gen.sources = args.pop(0).split(",")
            elif op == "--client-close":
                host, port = host_port(args.pop(0))
                gen.client_close(host, port, int(args.pop(0)))
            elif op == "--server-close":
                gen.server_close(int(args.pop(0)), int(args.pop(0)))
            elif op == "--close-wait":
                gen.close_wait(int(args.pop(0)), int(args.pop(0)))
            elif op == "--established":
                host, port = host_port(args.pop(0))
                gen.established(host, port, int(args.pop(0)))
            elif op in ("-h", "--help"):
                print(__doc__)
                return 0
            else:
                print(f"longlink-sockgen: unknown argument {op!r} (see --help)", file=sys.stderr)
                return 2
    except (IndexError, ValueError):
        print("longlink-sockgen: missing or bad operand (see --help)", file=sys.stderr)
        return 2
    except OSError as e:
        done = " ".join(f"{k}={v}" for k, v in gen.counts.items())
        print(f"longlink-sockgen: {e.strerror} after {done}", file=sys.stderr)
        return 1
    counts = " ".join(f"{k}={v}" for k, v in gen.counts.items())
    print(f"ready pid={os.getpid()} {counts}", flush=True)
    if hold:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            sys.stdin.read()  # until EOF
            while True:  # stdin was /dev/null: wait for SIGTERM
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
