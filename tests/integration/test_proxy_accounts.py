"""Accounts from the server (issue 12): a proxy with an [auth] lookup account and no [[users]]
lets in any account the server knows, as the server would, and refuses the same logins with the
same errors. Every outcome is compared with the server's own answer to the same login (the
server is the reference): the mariadb CLI, PyMySQL, mysqlclient and libmariadb, over TCP and
the Unix socket; mysql_native_password, ed25519 (MariaDB's auth_ed25519) and
caching_sha2_password on the client side; root with an empty password; ALTER USER, DROP USER,
ACCOUNT LOCK, PASSWORD EXPIRE and MAX_USER_CONNECTIONS; COM_CHANGE_USER; abuse."""
import os
import subprocess
import threading
import time
import uuid

import MySQLdb
import pymysql
import pytest

from mariadb_server import wait_until

LOOKUP_USER = "longlink_lookup"
LOOKUP_PASSWORD = "lookup-secret"
CACHE_TTL = 1.0  # Seconds: the default [auth] cache_ttl.
WHERE = ["direct-tcp", "direct-unix", "proxy-tcp", "proxy-unix"]
LIBMARIADB_CLIENT = os.environ.get("LONGLINK_LIBMARIADB_CLIENT")


@pytest.fixture(scope="module")
def lookup_account(mariadb):
    mariadb.execute(f"CREATE USER IF NOT EXISTS '{LOOKUP_USER}'@'%' IDENTIFIED BY "
                    f"'{LOOKUP_PASSWORD}'",
                    f"GRANT SELECT ON mysql.global_priv TO '{LOOKUP_USER}'@'%'")
    if not mariadb.query("SELECT 1 FROM information_schema.PLUGINS "
                         "WHERE PLUGIN_NAME = 'ed25519' AND PLUGIN_STATUS = 'ACTIVE'"):
        mariadb.execute("INSTALL SONAME 'auth_ed25519'")
    yield
    mariadb.execute(f"DROP USER IF EXISTS '{LOOKUP_USER}'@'%'")


@pytest.fixture
def accounts(mariadb, lookup_account):
    """accounts.create("IDENTIFIED BY 'pw'") -> a fresh user name (dropped after the test)."""
    made = []

    class Accounts:
        def create(self, how, host="%"):
            name = "u" + uuid.uuid4().hex[:10]
            mariadb.execute(f"CREATE USER '{name}'@'{host}' {how}",
                            f"GRANT SELECT ON *.* TO '{name}'@'{host}'")
            made.append((name, host))
            return name

        def execute(self, *statements):
            mariadb.execute(*statements)

    yield Accounts()
    for name, host in made:
        mariadb.execute(f"DROP USER IF EXISTS '{name}'@'{host}'")


def lookup_proxy(proxy_factory, **settings):
    """A proxy that lists no user: every account comes from the server."""
    auth = {"user": LOOKUP_USER, "password": LOOKUP_PASSWORD}
    auth.update(settings.pop("auth", {}))
    return proxy_factory(users=[], auth=auth, **settings)


@pytest.fixture
def where_target(make_target, proxy_factory, lookup_account, mariadb):
    """where_target(where) -> a Target: the server itself, or a lookup proxy in front of it."""
    proxies = {}

    def make(where):
        kind, transport = where.split("-")
        if kind == "direct":
            return mariadb.target(transport)
        if "proxy" not in proxies:
            proxies["proxy"] = lookup_proxy(proxy_factory)
        return proxies["proxy"].target(transport)
    return make


# --- the clients: each returns ("ok", CURRENT_USER()) or ("error", code, text) ---

def login_pymysql(target, user, password):
    try:
        conn = pymysql.connect(**target.pymysql_args(), user=user, password=password,
                               connect_timeout=10)
    except pymysql.err.MySQLError as e:
        return ("error", e.args[0], e.args[1])
    with conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        who = cur.fetchone()[0]
    conn.close()
    return ("ok", who)


def login_mysqlclient(target, user, password):
    try:
        conn = MySQLdb.connect(**target.mysqldb_args(), user=user, password=password,
                               connect_timeout=10)
    except MySQLdb.MySQLError as e:
        return ("error", e.args[0], e.args[1])
    cur = conn.cursor()
    cur.execute("SELECT CURRENT_USER()")
    who = cur.fetchone()[0]
    conn.close()
    return ("ok", who)


def login_cli(target, user, password, default_auth=None):
    args = ["mariadb", *target.cli_args(), f"--user={user}", f"--password={password}",
            "--batch", "--skip-column-names", "-e", "SELECT CURRENT_USER()"]
    if default_auth:
        args.insert(1, f"--default-auth={default_auth}")
    run = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if run.returncode == 0:
        return ("ok", run.stdout.strip())
    # "ERROR 1045 (28000): Access denied ..."
    line = run.stderr.strip().splitlines()[-1]
    code = int(line.split()[1])
    return ("error", code, line.split(": ", 1)[1])


def login_libmariadb(target, user, password, default_auth=None, change_user=None):
    if not LIBMARIADB_CLIENT:
        pytest.skip("LONGLINK_LIBMARIADB_CLIENT is not set")
    args = [LIBMARIADB_CLIENT, *libmariadb_where(target), "--user", user, "--password", password,
            "--login-only", "1"]
    if default_auth:
        args += ["--default-auth", default_auth]
    if change_user:
        args += ["--change-user", change_user]
    run = subprocess.run(args, capture_output=True, text=True, timeout=30)
    return run.stdout


def libmariadb_where(target):
    if target.transport == "unix":
        return ["--socket", target.unix_socket]
    return ["--host", target.host, "--port", str(target.port)]


def libmariadb_outcome(output):
    """("ok", CURRENT_USER()) or ("error", code, text) from a --login-only run."""
    for line in output.splitlines():
        if line.startswith("ok login: "):
            return ("ok", line[len("ok login: "):])
        if line.startswith("FAIL login"):
            detail = line.split("(error ", 1)[1]
            code = int(detail.split()[0])
            return ("error", code, detail.split("]: ", 1)[1].rstrip(")"))
    raise AssertionError(f"no login outcome in: {output!r}")


CLIENTS = {
    "pymysql": login_pymysql,
    "mysqlclient": login_mysqlclient,
    "cli": login_cli,
    "libmariadb": lambda t, u, p: libmariadb_outcome(login_libmariadb(t, u, p)),
}


def outcomes(where_target, client, user, password):
    """The login's outcome for each place, as {where: outcome}."""
    return {where: CLIENTS[client](where_target(where), user, password) for where in WHERE}


def assert_same_everywhere(results, expected_kind):
    direct = results["direct-tcp"]
    assert direct[0] == expected_kind, results
    for where, outcome in results.items():
        assert outcome == direct, f"{where}: {outcome} but direct-tcp: {direct}"


# --- accounts created, changed and dropped at run time ---

@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_an_account_created_after_start_logs_in(where_target, accounts, client):
    """CREATE USER after the proxy started: the new account logs in at once through the proxy
    (TCP and Unix socket), as the same account the server picks direct; a wrong password gets
    the server's 1045."""
    for where in WHERE:
        where_target(where)  # The proxy starts before the account exists.
    user = accounts.create("IDENTIFIED BY 'Pw-1'")
    assert_same_everywhere(outcomes(where_target, client, user, "Pw-1"), "ok")
    assert_same_everywhere(outcomes(where_target, client, user, "wrong"), "error")


@pytest.mark.parametrize("client", ["pymysql", "cli"])
def test_a_changed_password_works_at_once_and_the_old_one_is_refused(where_target, accounts,
                                                                     client):
    user = accounts.create("IDENTIFIED BY 'old-pw'")
    assert_same_everywhere(outcomes(where_target, client, user, "old-pw"), "ok")
    accounts.execute(f"ALTER USER '{user}'@'%' IDENTIFIED BY 'new-pw'")
    # The new password at once (a failed check re-reads the account)...
    assert_same_everywhere(outcomes(where_target, client, user, "new-pw"), "ok")
    # ... and the old one is refused (the account was re-read by then).
    assert_same_everywhere(outcomes(where_target, client, user, "old-pw"), "error")


def test_an_old_password_is_refused_within_the_cache_ttl(where_target, accounts):
    """Without a login by the new password, the proxy learns of ALTER USER when its cached
    account expires ([auth] cache_ttl, 1 s by default): from then on the old one is refused."""
    user = accounts.create("IDENTIFIED BY 'old-pw'")
    assert login_pymysql(where_target("proxy-tcp"), user, "old-pw")[0] == "ok"
    accounts.execute(f"ALTER USER '{user}'@'%' IDENTIFIED BY 'new-pw'")
    time.sleep(CACHE_TTL + 0.2)
    assert_same_everywhere(outcomes(where_target, "pymysql", user, "old-pw"), "error")


def test_a_dropped_account_is_refused(where_target, accounts, mariadb):
    user = accounts.create("IDENTIFIED BY 'pw'")
    assert_same_everywhere(outcomes(where_target, "pymysql", user, "pw"), "ok")
    mariadb.execute(f"DROP USER '{user}'@'%'")
    time.sleep(CACHE_TTL + 0.2)
    assert_same_everywhere(outcomes(where_target, "pymysql", user, "pw"), "error")


@pytest.mark.parametrize("client", ["pymysql", "cli"])
def test_root_with_an_empty_password(where_target, mariadb, client):
    """The harness's root has no password (mysql.global_priv holds no plugin at all): it logs in
    through the proxy as through the socket, as root@localhost."""
    results = outcomes(where_target, client, "root", "")
    assert_same_everywhere(results, "ok")
    assert results["proxy-unix"] == ("ok", "root@localhost")


# --- plugins on the client side ---

@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_ed25519_accounts(where_target, accounts, client):
    """An ed25519 account: the first login through the proxy runs caching_sha2_password full
    authentication (the password in clear over the Unix socket, RSA over TCP), which lets the
    proxy check it against the stored public key and log in to the server with it; later
    logins use client_ed25519 itself. Each outcome as direct; a wrong password is refused."""
    user = accounts.create("IDENTIFIED VIA ed25519 USING PASSWORD('ed-pw')")
    assert_same_everywhere(outcomes(where_target, client, user, "ed-pw"), "ok")
    assert_same_everywhere(outcomes(where_target, client, user, "ed-pw"), "ok")  # Known now.
    assert_same_everywhere(outcomes(where_target, client, user, "bad-pw"), "error")


def test_an_ed25519_password_is_kept_in_memory_only_while_it_is_the_accounts(where_target,
                                                                             accounts):
    user = accounts.create("IDENTIFIED VIA ed25519 USING PASSWORD('one')")
    proxy = where_target("proxy-unix")
    assert login_pymysql(proxy, user, "one")[0] == "ok"
    accounts.execute(f"ALTER USER '{user}'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('two')")
    time.sleep(CACHE_TTL + 0.2)
    assert login_pymysql(proxy, user, "one")[0] == "error"
    assert login_pymysql(proxy, user, "two") == ("ok", f"{user}@%")


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_caching_sha2_clients(where_target, accounts, transport):
    """A client that starts with caching_sha2_password (libmariadb's plugin, as MySQL 8 clients
    do): the proxy serves the fast path for a password it knows and full authentication for
    one it does not; a wrong password is refused. The server (MariaDB has no server side of
    that plugin) switches such a client to the account's own plugin, so the outcome is the
    same."""
    user = accounts.create("IDENTIFIED BY 'sha-pw'")
    for password, kind in [("sha-pw", "ok"), ("sha-pw", "ok"), ("wrong", "error")]:
        results = {w: libmariadb_outcome(login_libmariadb(where_target(w), user, password,
                                                          "caching_sha2_password"))
                   for w in (f"direct-{transport}", f"proxy-{transport}")}
        assert results[f"proxy-{transport}"] == results[f"direct-{transport}"], results
        assert results[f"proxy-{transport}"][0] == kind


def test_an_account_with_several_plugins(where_target, accounts):
    """IDENTIFIED VIA ed25519 ... OR mysql_native_password ...: either password logs in."""
    user = accounts.create("IDENTIFIED VIA ed25519 USING PASSWORD('ed') "
                           "OR mysql_native_password USING PASSWORD('native')")
    for password in ("ed", "native"):
        assert_same_everywhere(outcomes(where_target, "cli", user, password), "ok")
    assert_same_everywhere(outcomes(where_target, "cli", user, "neither"), "error")


def test_a_plugin_the_proxy_cannot_check_gets_a_clear_error(where_target, accounts):
    user = accounts.create("IDENTIFIED VIA unix_socket")
    outcome = login_pymysql(where_target("proxy-tcp"), user, "")
    assert outcome[0] == "error" and outcome[1] == 1251, outcome
    assert "unix_socket" in outcome[2] and "mysql_native_password" in outcome[2], outcome


# --- errors as the server gives them, byte for byte ---

def raw_login_error(target, user, password):
    """The ERR packet's payload a mysql_native_password login gets (b"" for an OK)."""
    import hashlib
    import struct
    from raw_client import DEFAULT_CAPS, packet
    sock = target.raw_socket(timeout=10)
    try:
        def read():
            header = b""
            while len(header) < 4:
                header += sock.recv(4 - len(header))
            size = int.from_bytes(header[:3], "little")
            body = b""
            while len(body) < size:
                body += sock.recv(size - len(body))
            return header[3], body
        _, greeting = read()
        end = greeting.index(b"\0", 1)
        rest = greeting[end + 1:]
        scramble = rest[4:12] + rest[31:43]
        token = b""
        if password:
            stage1 = hashlib.sha1(password.encode()).digest()
            stage2 = hashlib.sha1(stage1).digest()
            token = bytes(a ^ b for a, b in zip(stage1, hashlib.sha1(scramble + stage2).digest()))
        caps = DEFAULT_CAPS & ~0x8  # No CONNECT_WITH_DB.
        login = (struct.pack("<IIB23x", caps, 1 << 24, 45) + user.encode() + b"\0" +
                 bytes([len(token)]) + token + b"mysql_native_password\0")
        sock.sendall(packet(login, 1))
        _, reply = read()
        return b"" if reply[:1] == b"\x00" else reply
    finally:
        sock.close()


@pytest.mark.parametrize("case", ["unknown user", "wrong password", "locked", "locked, wrong",
                                  "no password given"])
def test_login_errors_are_the_servers_byte_for_byte(where_target, accounts, case):
    user = "nosuch" + uuid.uuid4().hex[:8]
    password = "x"
    if case == "wrong password":
        user, password = accounts.create("IDENTIFIED BY 'right'"), "wrong"
    elif case.startswith("locked"):
        user = accounts.create("IDENTIFIED BY 'right' ACCOUNT LOCK")
        password = "right" if case == "locked" else "wrong"
    elif case == "no password given":
        user, password = accounts.create("IDENTIFIED BY 'right'"), ""
    replies = {w: raw_login_error(where_target(w), user, password) for w in WHERE}
    assert replies["direct-tcp"][:1] == b"\xff", replies
    for where, reply in replies.items():
        assert reply == replies["direct-tcp"], f"{where}: {reply!r}"


@pytest.mark.parametrize("where", WHERE)
def test_an_expired_password_gets_the_sandbox(where_target, accounts, where):
    """PASSWORD EXPIRE: the login succeeds in sandbox mode (disconnect_on_expired_password is
    off): statements get 1820 until SET PASSWORD, which works; then the new password logs in
    as usual."""
    user = accounts.create("IDENTIFIED BY 'old' PASSWORD EXPIRE")
    target = where_target(where)
    conn = MySQLdb.connect(**target.mysqldb_args(), user=user, password="old")
    cur = conn.cursor()
    with pytest.raises(MySQLdb.OperationalError) as refused:
        cur.execute("SELECT 1")
    assert refused.value.args == (1820, "You must SET PASSWORD before executing this statement")
    cur.execute("SET PASSWORD = PASSWORD('renewed')")
    cur.execute("SELECT 1")
    conn.close()
    assert login_mysqlclient(target, user, "renewed") == ("ok", f"{user}@%")


def test_max_user_connections(where_target, accounts):
    """WITH MAX_USER_CONNECTIONS 1: a second concurrent session gets the server's 1226; once
    the first leaves, a new one gets in. (The server, and the proxy, count a session out a
    moment after its client closed: each place waits until its first session gets in.)"""
    user = accounts.create("IDENTIFIED BY 'pw' WITH MAX_USER_CONNECTIONS 1")
    for where in WHERE:
        target = where_target(where)
        held = []

        def first_gets_in():
            try:
                held.append(pymysql.connect(**target.pymysql_args(), user=user, password="pw"))
                return True
            except pymysql.err.OperationalError as e:
                if e.args[0] != 1226:
                    raise
                return False

        wait_until(first_gets_in, 5, f"{where}: the first session")
        second = login_pymysql(target, user, "pw")
        assert second == ("error", 1226, f"User '{user}' has exceeded the "
                          "'max_user_connections' resource (current value: 1)"), where
        held[0].close()
        wait_until(lambda: login_pymysql(target, user, "pw")[0] == "ok", 5,
                   f"{where}: a session after the first left")


# --- COM_CHANGE_USER ---

@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_change_user_to_an_unlisted_account(where_target, accounts, transport):
    """mysql_change_user to an account the config does not list (native, then ed25519): as
    direct; a failed one answers the server's error and leaves the client as before."""
    first = accounts.create("IDENTIFIED BY 'one'")
    second = accounts.create("IDENTIFIED BY 'two'")
    third = accounts.create("IDENTIFIED VIA ed25519 USING PASSWORD('three')")
    for change, expect_ok in [(f"{second}:two", True), (f"{third}:three", True),
                              (f"{second}:wrong", False)]:
        outputs = {w: login_libmariadb(where_target(w), first, "one", change_user=change)
                   for w in (f"direct-{transport}", f"proxy-{transport}")}
        direct, proxied = outputs[f"direct-{transport}"], outputs[f"proxy-{transport}"]
        assert proxied == direct, outputs
        assert ("ok change_user" in direct) == expect_ok, direct


# --- abuse ---

def test_an_unknown_user_and_a_wrong_password_look_the_same(where_target, accounts, mariadb):
    known = accounts.create("IDENTIFIED BY 'right'")
    proxy = where_target("proxy-tcp")
    unknown_reply = raw_login_error(proxy, "ghost" + uuid.uuid4().hex[:8], "x")
    wrong_reply = raw_login_error(proxy, known, "x")
    assert unknown_reply.replace(b"ghost", b"") != b""
    # Same code, SQLSTATE and text but for the name.
    assert unknown_reply[:9] == wrong_reply[:9]
    assert unknown_reply[9:].split(b"'")[2:] == wrong_reply[9:].split(b"'")[2:]


def test_failures_are_counted_per_user_and_source(where_target, accounts):
    user = accounts.create("IDENTIFIED BY 'right'")
    proxy = where_target("proxy-tcp")
    for _ in range(3):
        assert login_pymysql(proxy, user, "wrong")[0] == "error"
    proxy.proxy.wait_for_log(f"access denied for user '{user}' from localhost "
                             r"\(failure 3 of it from there\)")


def test_a_login_storm_does_not_starve_the_lookup_account(where_target, accounts, mariadb):
    """200 logins of unknown users at once: the proxy reads accounts over one connection of the
    lookup account (never more), and a real account still logs in meanwhile."""
    user = accounts.create("IDENTIFIED BY 'pw'")
    proxy = where_target("proxy-tcp")
    errors = []

    def storm(i):
        errors.append(login_pymysql(proxy, f"storm{i}", "x"))

    threads = [threading.Thread(target=storm, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    assert login_pymysql(proxy, user, "pw") == ("ok", f"{user}@%")
    peak = max(int(mariadb.query("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                                 f"WHERE USER = '{LOOKUP_USER}'")[0][0]) for _ in range(20))
    for t in threads:
        t.join()
    assert peak <= 1
    assert all(e[0] == "error" and e[1] in (1045, 1040) for e in errors), errors[:5]


def test_a_lookup_account_without_the_grant_is_named(proxy_factory, mariadb, accounts):
    mariadb.execute("CREATE USER IF NOT EXISTS 'lookup_nogrant'@'%' IDENTIFIED BY 'pw'")
    try:
        user = accounts.create("IDENTIFIED BY 'pw'")
        proxy = proxy_factory(users=[], auth={"user": "lookup_nogrant", "password": "pw"})
        outcome = login_pymysql(proxy.tcp, user, "pw")
        assert outcome[0] == "error" and "cannot read the account" in outcome[2], outcome
        proxy.wait_for_log("GRANT")
    finally:
        mariadb.execute("DROP USER IF EXISTS 'lookup_nogrant'@'%'")


def test_a_lost_lookup_connection_is_replaced(where_target, accounts, mariadb):
    user = accounts.create("IDENTIFIED BY 'pw'")
    proxy = where_target("proxy-tcp")
    assert login_pymysql(proxy, user, "pw")[0] == "ok"
    for (thread,) in mariadb.query("SELECT ID FROM information_schema.PROCESSLIST "
                                   f"WHERE USER = '{LOOKUP_USER}'"):
        mariadb.execute(f"KILL {thread}")
    time.sleep(CACHE_TTL + 0.2)
    assert login_pymysql(proxy, user, "pw")[0] == "ok"


def test_listed_users_win(proxy_factory, accounts, mariadb):
    """A user both listed and on the server: the config's password decides at the proxy."""
    user = accounts.create("IDENTIFIED BY 'server-pw'")
    proxy = lookup_proxy(proxy_factory)
    proxy2 = proxy_factory(users=[{"name": user, "password": "server-pw"}],
                           auth={"user": LOOKUP_USER, "password": LOOKUP_PASSWORD})
    assert login_pymysql(proxy.tcp, user, "server-pw")[0] == "ok"
    assert login_pymysql(proxy2.tcp, user, "server-pw")[0] == "ok"
    mariadb.execute(f"ALTER USER '{user}'@'%' IDENTIFIED BY 'changed'")
    # The listed password is what the proxy checks (and what it logs in to the server with).
    outcome = login_pymysql(proxy2.tcp, user, "changed")
    assert outcome[0] == "error" and outcome[1] == 1045, outcome


def test_sighup_rereads_every_account(proxy_factory, accounts, mariadb):
    """With a long cache_ttl, ALTER USER reaches the proxy at the next SIGHUP: the old password
    is refused at once (and the new one works, as always)."""
    import signal
    user = accounts.create("IDENTIFIED BY 'old-pw'")
    proxy = lookup_proxy(proxy_factory, auth={"cache_ttl": "1h"})
    assert login_pymysql(proxy.tcp, user, "old-pw")[0] == "ok"
    mariadb.execute(f"ALTER USER '{user}'@'%' IDENTIFIED BY 'new-pw'")
    assert login_pymysql(proxy.tcp, user, "old-pw")[0] == "ok"  # Cached: the window cache_ttl is.
    proxy.process.send_signal(signal.SIGHUP)
    proxy.wait_for_log("SIGHUP: accounts are read again")
    assert login_pymysql(proxy.tcp, user, "old-pw")[0] == "error"
    assert login_pymysql(proxy.tcp, user, "new-pw") == ("ok", f"{user}@%")
    assert proxy.alive()


@pytest.mark.parametrize("transport", ["tcp", "unix"])
@pytest.mark.parametrize("account", ["native", "ed25519", "listed"])
def test_clients_that_start_with_caching_sha2(proxy_factory, mariadb, accounts, transport,
                                              account):
    """A client whose first packet is for caching_sha2_password (libmariadb with
    --default-auth, as MySQL 8 clients start) sends an empty token there and waits for a
    switch: the proxy switches it (for a listed user with a known password, to
    caching_sha2_password's own fast path), and the login ends as direct, twice in a row."""
    how = {"native": "IDENTIFIED BY 'sha-pw'", "listed": "IDENTIFIED BY 'sha-pw'",
           "ed25519": "IDENTIFIED VIA ed25519 USING PASSWORD('sha-pw')"}[account]
    user = accounts.create(how)
    listed = [{"name": user, "password": "sha-pw"}] if account == "listed" else []
    proxy = proxy_factory(users=listed, auth={"user": LOOKUP_USER, "password": LOOKUP_PASSWORD})
    direct, proxied = mariadb.target(transport), proxy.target(transport)
    for password in ("sha-pw", "sha-pw", "wrong"):
        want = libmariadb_outcome(login_libmariadb(direct, user, password,
                                                   "caching_sha2_password"))
        got = libmariadb_outcome(login_libmariadb(proxied, user, password,
                                                  "caching_sha2_password"))
        assert got == want, (password, got, want)
        assert got[0] == ("error" if password == "wrong" else "ok")


def test_a_lookup_the_server_does_not_answer_fails_in_time(proxy_factory, accounts, mariadb):
    """The accounts table locked (the lookup query waits on it): a login that needs a lookup
    gets ERR 1105 after backend.connect_timeout instead of hanging, says nothing of the
    lookup account to the client, and once the lock is gone logins work again."""
    user = accounts.create("IDENTIFIED BY 'pw'")
    proxy = lookup_proxy(proxy_factory, backend__connect_timeout="1s")
    locker = mariadb.admin()
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLES mysql.global_priv WRITE")
        started = time.monotonic()
        outcome = login_pymysql(proxy.tcp, user, "pw")
        assert outcome[0] == "error" and outcome[1] == 1105, outcome
        assert LOOKUP_USER not in outcome[2] and "log" in outcome[2], outcome
        assert time.monotonic() - started < 5
        proxy.wait_for_log("no answer within 1000 ms")
    finally:
        locker.close()  # Releases the lock.
    wait_until(lambda: login_pymysql(proxy.tcp, user, "pw") == ("ok", f"{user}@%"), 10,
               "a login after the lock was released")


def test_disconnect_on_expired_password(where_target, accounts, server_globals):
    """With disconnect_on_expired_password, a client that cannot handle the sandbox (PyMySQL
    does not say it can) gets the server's 1862 at login, through the proxy too."""
    server_globals(disconnect_on_expired_password=1)
    user = accounts.create("IDENTIFIED BY 'old' PASSWORD EXPIRE")
    results = outcomes(where_target, "pymysql", user, "old")
    assert_same_everywhere(results, "error")
    assert results["direct-tcp"][1] == 1862


def test_a_user_name_longer_than_any_account(where_target, lookup_account):
    """A 600-byte user name: refused as the server refuses it, without a lookup."""
    results = outcomes(where_target, "pymysql", "x" * 600, "pw")
    assert all(r[0] == "error" for r in results.values()), results
    assert results["proxy-tcp"][1] == results["direct-tcp"][1], results
