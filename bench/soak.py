#!/usr/bin/python3
"""Soak: many clients doing mixed work through `longlink proxy` for a long time, while the
server's side kills backend connections and the server restarts once. Not part of CI (heavy);
one command:

    sudo /usr/bin/python3 bench/soak.py [--clients 1000] [--minutes 10] [--longlink build/src/longlink]

Starts a throwaway MariaDB (tests/integration/mariadb_server.py) and a proxy in front of it
(users app and ro: two pools). Each client is a thread with PyMySQL over the proxy's Unix
socket, one session after another until the end: 40% short sessions (connect, 1-3 operations,
quit), 60% long ones (operations for 20-120 s); between operations it thinks 0.3-3 s. An
operation is one of: a point SELECT; a transaction (INSERT and UPDATE of the client's own row,
COMMIT or ROLLBACK, then the row checked); SET @v then SELECT @v (must match); USE other / USE
app then SELECT DATABASE() (must match); SET SESSION sql_mode then read back. User ro only reads.

Faults, from the server's side: every --kill-every seconds, KILL CONNECTION of --kills random
backend connections of the proxy's users (busy or idle); at half time, one server restart
(SIGTERM, start again on the same port).

Checks (the run fails, exit 1, on any):
  1. No unexpected client error. Expected are the errors a client connected to the server
     directly would also get from the same fault, within --fault-window seconds after a KILL or
     during the restart (from the stop until --fault-window after the server accepts again):
       1927 ER_CONNECTION_KILLED, 2013 CR_SERVER_LOST, 2006 CR_SERVER_GONE_ERROR,
       1053 ER_SERVER_SHUTDOWN, 4031 (client idle timeout), 2002/2003 can't connect, and
       1105 with "longlink:" (the proxy's: backend unreachable, in place of 2002/2003);
     after such an error the client reconnects. Anything else (a wrong value read back, a
     pool timeout, an error outside a window) is unexpected.
  2. The proxy's RSS and open descriptors stay flat: sampled every --sample-every seconds; the
     median of the last tenth of the run is within 10% + 4 MiB (RSS) and 10% + 32 (fds) of the
     median of the second tenth (after warm-up); and once the clients have gone, the fds are
     back within 8 of what they were before the load (plus the pools' min_idle).
  3. Afterwards, exactly pool.min_idle idle backend connections per pool: once the clients
     have gone and max_idle_time has passed, the server's process list is sampled for
     --settle seconds (keepalive_interval is short, so pings happen meanwhile); every sample
     must show exactly min_idle connections per user, and the server must see no new
     connection from the proxy in that window (an idle pool must not churn).

Prints the figures as a markdown table for docs/BENCHMARKS.md ("Soak").
"""
import argparse
import collections
import os
import random
import resource
import statistics
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import pymysql  # noqa: E402

from mariadb_server import APP_PASSWORD, APP_USER, RO_PASSWORD, RO_USER  # noqa: E402
from mariadb_server import MariaDBServer  # noqa: E402
from proxy_process import ProxyProcess  # noqa: E402

LOST = {1927, 2013, 2006, 1053, 4031, 2002, 2003}


class Faults:
    """When faults happened, to tell expected errors from the rest."""

    def __init__(self, window):
        self.window = window
        self.kills = []  # monotonic times
        self.restart = None  # [stopped_at, accepting_at or None]
        self.lock = threading.Lock()

    def kill(self):
        with self.lock:
            self.kills.append(time.monotonic())

    def explains(self, at):
        with self.lock:
            if any(k - 0.5 <= at <= k + self.window for k in self.kills):
                return True
            if self.restart:
                start, end = self.restart
                return start - 0.5 <= at and (end is None or at <= end + self.window)
        return False


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.expected = collections.Counter()
        self.unexpected = []

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    def error(self, code, text, expected):
        with self.lock:
            if expected:
                self.expected[code] += 1
            else:
                self.unexpected.append((time.strftime("%H:%M:%S"), code, text[:200]))


class Mismatch(Exception):
    pass


def error_code(e):
    if isinstance(e, pymysql.err.MySQLError) and e.args and isinstance(e.args[0], int):
        return e.args[0], str(e.args[1]) if len(e.args) > 1 else ""
    if isinstance(e, (OSError, EOFError)):
        return 2013, repr(e)
    return None, repr(e)


def client_loop(n, args, target, stats, faults, stop_at):
    rng = random.Random(n)
    reader = n % 5 == 4  # One client in five logs in as ro.
    user, password = (RO_USER, RO_PASSWORD) if reader else (APP_USER, APP_PASSWORD)
    row = 100000 + n
    while time.monotonic() < stop_at:
        long_session = rng.random() < 0.6
        session_end = time.monotonic() + (rng.uniform(20, 120) if long_session else 0)
        ops_left = None if long_session else rng.randint(1, 3)
        conn = None
        try:
            conn = pymysql.connect(unix_socket=target, user=user, password=password,
                                   database="app", autocommit=True, connect_timeout=30,
                                   read_timeout=120, write_timeout=120)
            stats.add("sessions")
            while time.monotonic() < stop_at:
                if ops_left is not None:
                    if ops_left == 0:
                        break
                    ops_left -= 1
                elif time.monotonic() > session_end:
                    break
                operation(conn, rng, reader, row)
                stats.add("operations")
                time.sleep(rng.uniform(0.3, 3.0))
        except Mismatch as e:
            stats.error("mismatch", str(e), expected=False)
        except Exception as e:  # noqa: BLE001 - every error is classified
            code, text = error_code(e)
            lost = code in LOST or (code == 1105 and "longlink:" in text)
            stats.error(code, text, expected=lost and faults.explains(time.monotonic()))
            time.sleep(rng.uniform(0.1, 1.0))
        finally:
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001 - the connection may be gone already
                    pass


def operation(conn, rng, reader, row):
    # ro may read app only: no transactions (they write) and no USE other.
    kind = rng.choice(["select", "select", "set", "sql_mode"] +
                      ([] if reader else ["use", "transaction", "transaction"]))
    with conn.cursor() as cur:
        if kind == "select":
            cur.execute("SELECT v FROM t WHERE id = %s", (rng.randint(1, 3),))
            if cur.fetchone() is None:
                raise Mismatch("point select: no row")
        elif kind == "transaction":
            value = rng.randint(1, 10 ** 9)
            cur.execute("BEGIN")
            cur.execute("INSERT INTO soak (id, v) VALUES (%s, 0) ON DUPLICATE KEY UPDATE v = v",
                        (row,))
            cur.execute("UPDATE soak SET v = %s WHERE id = %s", (value, row))
            commit = rng.random() < 0.7
            cur.execute("SELECT v FROM soak WHERE id = %s", (row,))
            seen = cur.fetchone()[0]
            cur.execute("COMMIT" if commit else "ROLLBACK")
            if seen != value:
                raise Mismatch(f"transaction: read {seen}, wrote {value}")
        elif kind == "set":
            value = rng.randint(1, 10 ** 9)
            cur.execute("SET @v = %s", (value,))
            cur.execute("SELECT @v")
            seen = cur.fetchone()[0]
            if seen != value:
                raise Mismatch(f"user variable: read {seen}, set {value}")
        elif kind == "use":
            schema = rng.choice(["app", "other"])
            cur.execute(f"USE {schema}")
            cur.execute("SELECT DATABASE()")
            seen = cur.fetchone()[0]
            cur.execute("USE app")
            if seen != schema:
                raise Mismatch(f"USE: in {seen}, wanted {schema}")
        elif kind == "sql_mode":
            mode = rng.choice(["ANSI_QUOTES", "NO_ZERO_DATE", "STRICT_TRANS_TABLES"])
            cur.execute("SET SESSION sql_mode = %s", (mode,))
            cur.execute("SELECT @@SESSION.sql_mode")
            seen = cur.fetchone()[0]
            if seen != mode:
                raise Mismatch(f"sql_mode: read {seen}, set {mode}")


def proxy_backends(admin, users):
    with admin.cursor() as cur:
        cur.execute("SELECT ID, USER, COMMAND FROM information_schema.PROCESSLIST "
                    "WHERE USER IN %s", (tuple(users),))
        return cur.fetchall()


def status(admin, name):
    with admin.cursor() as cur:
        cur.execute("SHOW GLOBAL STATUS LIKE %s", (name,))
        return int(cur.fetchone()[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--longlink", default=os.path.join(ROOT, "build", "src", "longlink"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--min-idle", type=int, default=2)
    parser.add_argument("--kill-every", type=float, default=15)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--fault-window", type=float, default=10)
    parser.add_argument("--sample-every", type=float, default=5)
    parser.add_argument("--settle", type=float, default=20)
    parser.add_argument("--samples", help="write the RSS/fd samples here (CSV: seconds,rss_kib,fds)")
    args = parser.parse_args()
    duration = args.minutes * 60
    users = [APP_USER, RO_USER]

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(4 * args.clients + 1000, soft)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard > 0 else want, hard))
    threading.stack_size(512 * 1024)

    print(f"soak: {args.clients} clients x {args.minutes:g} min; starting MariaDB", flush=True)
    server = MariaDBServer(max_connections=args.clients + 200,
                           extra_args=("--max-user-connections=0", "--thread-cache-size=200"))
    proxy = None
    failures = []
    try:
        server.execute("CREATE TABLE app.soak (id INT PRIMARY KEY, v BIGINT)")
        workdir = os.path.join(server.dir, "proxy")
        os.mkdir(workdir)
        proxy = ProxyProcess(args.longlink, server, workdir,
                             proxy={"workers": args.workers, "log_level": "warning",
                                    "max_client_connections": args.clients + 100},
                             pool={"max_connections": args.clients + 50,
                                   "min_idle": args.min_idle, "queue_timeout": "30s",
                                   "keepalive_interval": "2s", "max_idle_time": "5s"},
                             # Session pooling: every client may hold a backend connection.
                             backend={"retry_timeout": "30s",
                                      "max_connections": args.clients + 100})
        fds_before = proxy.fd_count()
        faults = Faults(args.fault_window)
        stats = Stats()
        start = time.monotonic()
        stop_at = start + duration
        threads = [threading.Thread(target=client_loop, daemon=True,
                                    args=(n, args, proxy.unix_socket, stats, faults, stop_at))
                   for n in range(args.clients)]
        for t in threads:
            t.start()
            time.sleep(min(0.01, 10 / args.clients))  # Ramp up over at most 10 s.

        samples = []  # (seconds since start, rss KiB, fds)
        admin = server.admin()
        next_kill = start + args.kill_every
        restart_at = start + duration / 2
        restarted = False
        kills = 0
        rng = random.Random(0)
        while time.monotonic() < stop_at:
            now = time.monotonic()
            samples.append((now - start, proxy.rss_kib(), proxy.fd_count()))
            if not restarted and now >= restart_at:
                print(f"soak: {now - start:.0f}s restarting the server", flush=True)
                admin.close()
                with faults.lock:
                    faults.restart = [time.monotonic(), None]
                server.restart()
                with faults.lock:
                    faults.restart[1] = server.accepting_since
                admin = server.admin()
                restarted = True
                next_kill = time.monotonic() + args.kill_every
            elif now >= next_kill:
                victims = [r[0] for r in proxy_backends(admin, users)]
                rng.shuffle(victims)
                faults.kill()
                for thread_id in victims[:args.kills]:
                    try:
                        with admin.cursor() as cur:
                            cur.execute(f"KILL CONNECTION {int(thread_id)}")
                        kills += 1
                    except pymysql.err.MySQLError:
                        pass  # Gone meanwhile.
                next_kill = now + args.kill_every
                done = stats.counts["operations"]
                print(f"soak: {now - start:.0f}s {done} operations, "
                      f"{len(stats.unexpected)} unexpected errors, rss "
                      f"{samples[-1][1]} KiB, {samples[-1][2]} fds", flush=True)
            time.sleep(args.sample_every if now + args.sample_every < next_kill
                       else max(0.1, next_kill - now))
        print("soak: load over; waiting for the clients to leave", flush=True)
        for t in threads:
            t.join(timeout=180)
        stuck = sum(t.is_alive() for t in threads)
        if stuck:
            failures.append(f"{stuck} clients still running 180 s after the end (hung)")
        load_seconds = time.monotonic() - start

        # Settle: beyond min_idle, idle connections leave after max_idle_time (5 s).
        time.sleep(8)
        connections_before = status(admin, "Connections")
        idle_samples = []
        ids_seen = collections.defaultdict(set)
        settle_end = time.monotonic() + args.settle
        while time.monotonic() < settle_end:
            rows = proxy_backends(admin, users)
            per_user = collections.Counter(r[1] for r in rows)
            idle_samples.append({u: per_user.get(u, 0) for u in users})
            for r in rows:
                ids_seen[r[1]].add(r[0])
            time.sleep(0.5)
        # The admin connection's own queries open no connection; anything new is the proxy's.
        new_connections = status(admin, "Connections") - connections_before
        fds_after = proxy.fd_count()
        rss_after = proxy.rss_kib()
        admin.close()

        if args.samples:
            with open(args.samples, "w") as f:
                f.write("seconds,rss_kib,fds\n")
                f.writelines(f"{t:.1f},{r},{d}\n" for t, r, d in samples)
        # Where RSS rose by more than 1 MiB from one sample to the next (steps, not a slope).
        steps = [f"{samples[i][0]:.0f}s: {samples[i - 1][1]} -> {samples[i][1]}"
                 for i in range(1, len(samples)) if samples[i][1] - samples[i - 1][1] > 1024]

        # --- Checks ---
        print("\n## Soak figures\n")
        n = len(samples)
        warm = [s for s in samples[n // 10: 2 * n // 10]] or samples
        last = samples[-max(1, n // 10):]
        rss_warm, rss_last = (statistics.median(s[1] for s in w) for w in (warm, last))
        fds_warm, fds_last = (statistics.median(s[2] for s in w) for w in (warm, last))
        rows = [
            ("clients x duration", f"{args.clients} x {load_seconds / 60:.1f} min"),
            ("sessions / operations", f"{stats.counts['sessions']} / "
                                      f"{stats.counts['operations']}"),
            ("backend KILLs / server restarts", f"{kills} / {1 if restarted else 0}"),
            ("expected errors (by code)", dict(sorted(stats.expected.items(), key=str)) or 0),
            ("unexpected errors", len(stats.unexpected)),
            ("proxy RSS KiB: 2nd tenth / last tenth / after",
             f"{rss_warm:.0f} / {rss_last:.0f} / {rss_after}"),
            ("proxy RSS steps > 1 MiB between samples", steps or "none"),
            ("proxy fds: before / 2nd tenth / last tenth / after",
             f"{fds_before} / {fds_warm:.0f} / {fds_last:.0f} / {fds_after}"),
            ("idle backends per user after (samples)",
             sorted({tuple(sorted(s.items())) for s in idle_samples})),
            ("distinct backend thread ids while settled",
             {u: len(v) for u, v in ids_seen.items()}),
            ("new server connections while settled", new_connections),
        ]
        print("| figure | value |\n|---|---|")
        for name, value in rows:
            print(f"| {name} | {value} |")
        print()

        if stats.unexpected:
            failures.append(f"{len(stats.unexpected)} unexpected errors; the first 20: "
                            f"{stats.unexpected[:20]}")
        if rss_last > rss_warm * 1.10 + 4096:
            failures.append(f"RSS grew: {rss_warm:.0f} -> {rss_last:.0f} KiB")
        if fds_last > fds_warm * 1.10 + 32:
            failures.append(f"descriptors grew: {fds_warm:.0f} -> {fds_last:.0f}")
        if fds_after > fds_before + len(users) * args.min_idle + 8:
            failures.append(f"descriptors after the clients left: {fds_after} (before the "
                            f"load: {fds_before}; pools hold {len(users) * args.min_idle})")
        wrong = [s for s in idle_samples if any(v != args.min_idle for v in s.values())]
        if wrong:
            failures.append(f"idle backends per user not exactly min_idle={args.min_idle} in "
                            f"{len(wrong)} of {len(idle_samples)} samples, e.g. {wrong[:3]}")
        if new_connections:
            failures.append(f"the idle pools opened {new_connections} new backend connections "
                            f"in {args.settle:g} s while no client was connected (churn: "
                            f"thread ids seen {dict((u, sorted(v)) for u, v in ids_seen.items())})")
        if proxy.log_lines("runtime error|Sanitizer|internal error"):
            failures.append("the proxy logged: " + "; ".join(
                proxy.log_lines("runtime error|Sanitizer|internal error")[:5]))
    finally:
        if proxy:
            try:
                proxy.stop()
            except AssertionError as e:
                failures.append(str(e)[:2000])
        server.close()

    if failures:
        print("soak: FAILED")
        for f in failures:
            print(f"  - {f}")
        sys.exit(1)
    print("soak: ok")


if __name__ == "__main__":
    main()
