"""`longlink proxy` started from flags, a file, or both (issue 10): flags supply what a file
lacks, a file without [listen] plus --unix-socket listens on that socket only, passwords need
not appear in /proc/PID/cmdline, and a world-readable file holding passwords is warned about.
Proxy-only: the server has no command line of ours to compare with."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pymysql
import pytest

from mariadb_server import APP_PASSWORD, APP_USER, free_port


def check_config(binary, *args):
    return subprocess.run([binary, "proxy", *args], capture_output=True, text=True, timeout=30)


def write(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return str(path)


def test_flags_supply_what_the_file_lacks(longlink_bin, tmp_path):
    config = write(tmp_path / "a.toml", f'[[users]]\nname = "app"\npassword = "x"\n')
    r = check_config(longlink_bin, "--check-config", config, "--backend", "127.0.0.1:3306")
    assert r.returncode == 0, r.stderr
    assert "backend 127.0.0.1:3306" in r.stdout
    r = check_config(longlink_bin, "--check-config", config)
    assert r.returncode == 1 and "backend.address: missing" in r.stderr, r.stderr


def test_a_file_without_listen_and_a_unix_socket_flag_listens_on_the_socket_only(longlink_bin,
                                                                                   tmp_path):
    config = write(tmp_path / "b.toml",
                   '[backend]\naddress = "127.0.0.1:3306"\n[[users]]\nname = "app"\n'
                   'password = "x"\n')
    sock = str(tmp_path / "p.sock")
    r = check_config(longlink_bin, "--check-config", config, "--unix-socket", sock)
    assert r.returncode == 0, r.stderr
    assert f"listening on {sock};" in r.stdout, r.stdout
    assert "6033" not in r.stdout
    r = check_config(longlink_bin, "--check-config", config)
    assert "listening on 127.0.0.1:6033;" in r.stdout, r.stdout


class Proxy:
    """A proxy started from flags, stopped with SIGTERM."""

    def __init__(self, binary, server, tmp_path, *args, env=None, config=None, workers=1):
        self.socket = str(tmp_path / "flags.sock")
        self.stderr_path = tmp_path / "flags.stderr"
        command = [binary, "proxy", "--backend", f"127.0.0.1:{server.port}", "--unix-socket",
                   self.socket, "--workers", str(workers), *args]
        if config:
            command += ["--config", config]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL,
                                        stderr=open(self.stderr_path, "w"),
                                        env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 10
        while not os.path.exists(self.socket):
            assert self.process.poll() is None, self.log()
            assert time.monotonic() < deadline, self.log()
            time.sleep(0.05)

    def log(self):
        return self.stderr_path.read_text(errors="replace")

    def cmdline(self):
        with open(f"/proc/{self.process.pid}/cmdline", "rb") as f:
            return f.read()

    def login(self, password=APP_PASSWORD):
        conn = pymysql.connect(unix_socket=self.socket, user=APP_USER, password=password,
                               database="app")
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
        conn.close()

    def stop(self):
        self.process.terminate()
        assert self.process.wait(timeout=10) == 0, self.log()


def test_user_flag_password_is_scrubbed_from_cmdline(longlink_bin, mariadb, tmp_path):
    proxy = Proxy(longlink_bin, mariadb, tmp_path, f"--user={APP_USER}:{APP_PASSWORD}",
                  "--user-hash", "ro:*0123456789ABCDEF0123456789ABCDEF01234567")
    try:
        cmdline = proxy.cmdline()
        assert APP_PASSWORD.encode() not in cmdline, cmdline
        assert b"0123456789ABCDEF" not in cmdline, cmdline
        assert f"--user={APP_USER}:".encode() in cmdline
        proxy.login()
    finally:
        proxy.stop()


@pytest.mark.parametrize("source", ["env", "file"])
def test_password_from_environment_or_file(longlink_bin, mariadb, tmp_path, source):
    if source == "env":
        proxy = Proxy(longlink_bin, mariadb, tmp_path, "--user-password-env",
                      f"{APP_USER}:LL_TEST_PASSWORD", env={"LL_TEST_PASSWORD": APP_PASSWORD})
    else:
        secret = write(tmp_path / "secret", APP_PASSWORD + "\n")
        proxy = Proxy(longlink_bin, mariadb, tmp_path, "--user-password-file",
                      f"{APP_USER}:{secret}")
    try:
        assert APP_PASSWORD.encode() not in proxy.cmdline()
        proxy.login()
        with pytest.raises(pymysql.err.OperationalError):
            proxy.login(password="wrong")
    finally:
        proxy.stop()


def test_missing_password_source_is_an_error(longlink_bin, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LL_UNSET_VARIABLE"}
    r = subprocess.run([longlink_bin, "proxy", "--backend", "127.0.0.1:3306",
                        "--user-password-env", "app:LL_UNSET_VARIABLE"],
                       capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 1
    assert "LL_UNSET_VARIABLE is not set" in r.stderr, r.stderr


@pytest.mark.parametrize("mode,warned", [(0o644, True), (0o640, False)])
def test_world_readable_config_with_passwords_is_warned_about(longlink_bin, mariadb, tmp_path,
                                                              mode, warned):
    config = write(tmp_path / "c.toml",
                   f'[[users]]\nname = "{APP_USER}"\npassword = "{APP_PASSWORD}"\n', mode)
    proxy = Proxy(longlink_bin, mariadb, tmp_path, config=config)
    try:
        proxy.login()
    finally:
        proxy.stop()
    assert ("readable by every local user" in proxy.log()) == warned, proxy.log()


def test_one_value_per_user_flag(longlink_bin):
    """`--user a:1 b:2` would leave b's password outside the scrubbed argument: refused."""
    r = subprocess.run([longlink_bin, "proxy", "--backend", "127.0.0.1:3306", "--user", "a:1",
                        "b:2"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, (r.returncode, r.stderr)


@pytest.mark.parametrize("holder_reuses_port", [False, True])
def test_each_worker_has_a_tcp_socket_of_its_own(longlink_bin, mariadb, tmp_path,
                                                 holder_reuses_port):
    """Each worker listens on a socket of its own (SO_REUSEPORT), but never shares a port with
    another process: one that holds it, with SO_REUSEPORT or without, makes the start fail.
    Then the proxy's own workers all answer on the port."""
    import socket
    port = free_port()
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if holder_reuses_port:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind(("127.0.0.1", port))
    holder.listen(8)
    r = subprocess.run([longlink_bin, "proxy", "--backend", f"127.0.0.1:{mariadb.port}",
                        "--listen", f"127.0.0.1:{port}", "--workers", "2",
                        f"--user={APP_USER}:{APP_PASSWORD}"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r.stderr
    assert f"listen 127.0.0.1:{port}: Address already in use" in r.stderr, r.stderr
    holder.close()

    proxy = Proxy(longlink_bin, mariadb, tmp_path, f"--user={APP_USER}:{APP_PASSWORD}",
                  "--listen", f"127.0.0.1:{port}", workers=2)
    try:
        # One listening socket per worker: the kernel spreads connections, and each wakes one
        # worker only (not a herd on a shared socket).
        listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True,
                                   text=True, check=True).stdout.splitlines()
        assert len(listening) == 2, listening
        for _ in range(20):
            conn = pymysql.connect(host="127.0.0.1", port=port, user=APP_USER,
                                   password=APP_PASSWORD, database="app")
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                assert cur.fetchone() == (1,)
            conn.close()
    finally:
        proxy.stop()


def worker_wakeups(pid):
    """Voluntary context switches (each a wake-up after a wait) of the proxy's worker threads,
    by thread name (worker-0, worker-1, ...; a thread a worker starts has its name too)."""
    counts = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            name = f.read().strip()
        if not name.startswith("worker-"):
            continue
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    counts[name] = counts.get(name, 0) + int(line.split()[1])
    return counts


def test_the_unix_socket_gives_each_client_to_the_least_busy_worker(longlink_bin, mariadb,
                                                                    tmp_path):
    """One acceptor (worker 0) serves the Unix socket for all workers, and gives each client to
    the worker with the fewest sessions, itself on a tie: one client's sessions, one after
    another, never wake worker 1 (round robin woke it for every other session); clients held at
    once are spread over both."""
    proxy = Proxy(longlink_bin, mariadb, tmp_path, f"--user={APP_USER}:{APP_PASSWORD}",
                  workers=2)
    try:
        proxy.login()
        before = worker_wakeups(proxy.process.pid)
        assert sorted(before) == ["worker-0", "worker-1"], before
        for _ in range(60):
            proxy.login()
        after = worker_wakeups(proxy.process.pid)
        served = {name: after[name] - before[name] for name in before}
        # Each session wakes its worker at least 3 times (accept, login, query); worker 1 has
        # only its once-a-second sweep.
        assert served["worker-0"] >= 180 and served["worker-1"] <= 20, served

        held = [pymysql.connect(unix_socket=proxy.socket, user=APP_USER, password=APP_PASSWORD,
                                database="app") for _ in range(8)]
        before = worker_wakeups(proxy.process.pid)
        for _ in range(20):
            for conn in held:
                with conn.cursor() as cur:
                    cur.execute("SELECT 1")
        after = worker_wakeups(proxy.process.pid)
        served = {name: after[name] - before[name] for name in before}
        # 4 clients each: 80 queries, each a wake-up at least.
        assert min(served.values()) >= 80, served
        for conn in held:
            conn.close()
    finally:
        proxy.stop()


def backend_socket_fds(pid, server_port):
    """The proxy's descriptors that are TCP connections to the server (its pooled ones)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for row in list(f)[1:]:
                fields = row.split()
                if int(fields[2].rsplit(":", 1)[1], 16) == server_port:
                    inodes.add(fields[9])
    fds = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            fds.add(int(fd))
    return fds


def traced_calls(pid, calls, action):
    """The system calls `calls` (strace's trace= list) that the proxy's threads make while
    `action()` runs, one line each. Skips if ptrace is not allowed here."""
    assert shutil.which("strace"), "strace is installed by scripts/install-deps.sh"
    with tempfile.NamedTemporaryFile(suffix=".strace") as out:
        strace = subprocess.Popen(["strace", "-f", "-e", f"trace={calls}", "-o", out.name, "-p",
                                   str(pid)], stderr=subprocess.PIPE, text=True)
        first = strace.stderr.readline()
        if "Operation not permitted" in first:
            strace.wait()
            pytest.skip(f"ptrace is not allowed here: {first.strip()}")
        assert "attached" in first, first
        try:
            action()
        finally:
            strace.send_signal(signal.SIGINT)
            strace.wait(timeout=10)
        return open(out.name).read().splitlines()


def calls_on(lines, fds):
    """Of strace lines, those whose call names one of `fds`: epoll_ctl(EPFD, OP, FD, ...),
    ioctl(FD, ...), poll([{fd=FD, ...}], ...)."""
    pattern = re.compile(r"epoll_ctl\(\d+, \w+, (\d+),|ioctl\((\d+),|poll\(\[\{fd=(\d+),")
    found = []
    for line in lines:
        m = pattern.search(line)
        if m and int(next(g for g in m.groups() if g)) in fds:
            found.append(line)
    return found


def test_a_pooled_connection_goes_back_to_its_worker_without_a_system_call(longlink_bin, mariadb,
                                                                          tmp_path):
    """A pooled connection stays registered with the event loop of the worker that last used
    it: the next client on that worker takes it with no epoll_ctl and no ioctl (before, each
    session added it to the loop, made it non-blocking again and removed it: 2 epoll_ctl and 1
    ioctl)."""
    proxy = Proxy(longlink_bin, mariadb, tmp_path, f"--user={APP_USER}:{APP_PASSWORD}",
                  workers=2)
    try:
        for _ in range(3):
            proxy.login()
        time.sleep(1)  # min_idle is opened in the background
        sessions = 40

        def run():
            for _ in range(sessions):
                proxy.login()

        calls = traced_calls(proxy.process.pid, "epoll_ctl,ioctl", run)
        backends = backend_socket_fds(proxy.process.pid, mariadb.port)
        assert backends, "the pool keeps connections to the server"
        client_adds = [line for line in calls if "EPOLL_CTL_ADD" in line]
        assert len(client_adds) >= sessions, "the clients' sockets are traced"
        on_backends = calls_on(calls, backends)
        # A connection the janitor opens meanwhile (min_idle) is registered once.
        assert len(on_backends) <= 4, "\n".join(on_backends[:20])
    finally:
        proxy.stop()


def test_a_connection_that_just_answered_is_handed_out_without_a_poll(longlink_bin, mariadb,
                                                                     tmp_path):
    """Transaction pooling hands a connection from client to client within a millisecond: one
    whose server answered less than 1 ms ago is not polled for a close at checkout (the check a
    command makes on a held connection has the same terms). Before, every transaction polled
    its connection once."""
    proxy = Proxy(longlink_bin, mariadb, tmp_path, f"--user={APP_USER}:{APP_PASSWORD}",
                  "--pool-mode", "transaction", "--pool-size", "1", workers=1)
    conn = pymysql.connect(unix_socket=proxy.socket, user=APP_USER, password=APP_PASSWORD,
                           database="app", autocommit=True)
    try:
        statements = 200

        def run():
            with conn.cursor() as cur:
                for i in range(statements):
                    cur.execute("SELECT %s", (i,))
                    assert cur.fetchone() == (i,)

        calls = traced_calls(proxy.process.pid, "poll", run)
        backends = backend_socket_fds(proxy.process.pid, mariadb.port)
        assert len(backends) == 1, backends
        polls = calls_on(calls, backends)
        # Each statement is a transaction that checks the connection out and back. Under
        # strace a reply can take over 1 ms: some polls are allowed, not one per statement.
        assert len(polls) <= statements // 2, f"{len(polls)} polls for {statements} statements"
    finally:
        conn.close()
        proxy.stop()
