"""Protocol prepared statements in transaction pooling (issue 15): COM_STMT_PREPARE, EXECUTE,
SEND_LONG_DATA, RESET, FETCH and CLOSE no longer pin a session to one backend connection. The
proxy numbers each client's statements itself (from 1 in each session), remembers their text,
parameter types and prepare reply, and prepares them on whichever connection the client gets
next (a per-connection cache, shared by identical statements of different clients, bounded by
`pool.max_prepared_statements`; `proxy.max_client_prepared_statements` per client).

Every test runs its steps against the server itself and through the proxy and compares the
replies packet by packet (raw_client.py), normalised only where a pooler's ids legitimately
differ: the statement id in a PREPARE_OK, and the id a server error names ("Unknown prepared
statement handler (N)", "The statement (N) has no open cursor"), which must be the client's
own id (compared as the statement's place among the client's prepares); and one status bit,
SESSION_STATE_CHANGED in an EOF, set by the server for a client that tracks nothing (see
Client). Where a test is about where statements run, two clients holding connections in open
transactions decide it (Steer), and the process list proves it; where a connection must stay
held (long data, an open cursor), another client of a pool of one waits and gets ERR 1040: the
control that fails if the hold is dropped. The proxy's stop line (DescribePool) gives the
counters: "prepared statements: A asked, S sent to the server, H cache hits, E evictions".

LONGLINK_PS_TEST_POOL_MODE=session runs the same tests through session pooling (ids relayed,
nothing moves), which validates every comparison with the server on a proxy without the
feature; the assertions that only transaction pooling makes (where a statement ran, the
controls, the counters, the proxy's own limits) are then left out.
"""
import os
import random
import re
import subprocess
import threading
import uuid

import MySQLdb
import MySQLdb.cursors
import pytest

from mariadb_server import APP_PASSWORD, wait_until
from raw_client import (CURSOR_EXISTS, CURSOR_TYPE_READ_ONLY, DEFAULT_CAPS, DEPRECATE_EOF,
                        LAST_PREPARED, LAST_ROW_SENT, LONG_DATA, TYPE_SHORT, TYPE_TINY, Param,
                        RawClient, binary_rows, err, execute_payload, first_err, ok_status,
                        prepare_ok, result_columns, text_rows, without_statement_id)

POOL_MODE = os.environ.get("LONGLINK_PS_TEST_POOL_MODE", "transaction")
TXN = POOL_MODE == "transaction"
# Settings only transaction pooling has: left out when the tests run through session pooling.
TRANSACTION_ONLY = ("pool__max_prepared_statements", "proxy__max_client_prepared_statements")
SESSION_STATE_CHANGED = 0x4000
COUNTERS = re.compile(r"prepared statements: (\d+) asked, (\d+) sent to the server, "
                      r"(\d+) cache hits, (\d+) evictions")
# Restores that began with a reset: it closes the connection's statements (a client whose
# session began after the connection's last reset gets it reset, to see the globals of now).
RESETS = re.compile(r"\((\d+) with a reset\)")


def ps_proxy(proxy_factory, connections=2, clients=1, **settings):
    """A proxy for these tests: POOL_MODE, no idle connections kept, a pool of `connections`
    (through session pooling, at least one per client: each keeps its own)."""
    merged = {"pool__mode": POOL_MODE, "pool__min_idle": 0,
              "pool__max_connections": connections if TXN else max(connections, clients)}
    merged.update(settings)
    if not TXN:
        for key in TRANSACTION_ONLY:
            merged.pop(key, None)
    return proxy_factory(**merged)


def stop_counters(proxy):
    """Stops the proxy; (asked, sent, hits, evictions) from its transaction pool's stop line,
    and the line."""
    proxy.stop()
    lines = proxy.log_lines(r"pool 'app'/.*/transaction: ")
    assert len(lines) == 1, proxy.log()
    found = COUNTERS.search(lines[0])
    assert found, f"no prepared-statement counters in the stop line: {lines[0]}"
    return tuple(int(n) for n in found.groups()), lines[0]


def most_sent(line, distinct, connections):
    """The most prepares the proxy may send for `distinct` statements on `connections`: one
    per statement and connection, again after each reset (RESETS) of a connection."""
    return distinct * (connections + int(RESETS.search(line).group(1)))


def ok(reply):
    assert reply[0][:1] == b"\x00", err(reply[0]) or reply
    return reply


def thread_of(raw):
    """The server thread that runs `raw`'s next statement, from the process list (the query
    finds its own row by a marker; CONNECTION_ID() would pin the session)."""
    marker = f"ps-whoami-{uuid.uuid4().hex}"
    reply = raw.query("SELECT ID FROM information_schema.PROCESSLIST "
                      f"WHERE INFO LIKE CONCAT(CHAR(37), '{marker}', CHAR(37))")
    rows = text_rows(reply)
    assert len(rows) == 1, reply
    return int(rows[0][0])


class Client:
    """A RawClient whose replies are kept in `log` for comparison with another run of the same
    steps: prepare replies without their statement id, and in an ERR's text each statement id
    of this client replaced by its place among the client's prepares ("(#2)"). `ids`: the
    ids its successful prepares returned, in order.

    One more bit is left out of the comparison: SESSION_STATE_CHANGED in an EOF. The server
    sets it where an EXECUTE ran in the schema of the statement's PREPARE, not the session's
    (it switches and back), although the client asked for no session tracking; a transaction
    pool's connections track state for the proxy, so it takes the bit out of EOFs for such
    clients, and cannot tell that case apart. It means nothing to a client without
    CLIENT_SESSION_TRACK. OKs are compared whole (test_oks_without_session_tracking)."""

    def __init__(self, target, capabilities=DEFAULT_CAPS):
        self.raw = RawClient(target, capabilities=capabilities)
        self.deprecate_eof = self.raw.deprecate_eof
        self.ids = []
        self.log = []

    def normalised(self, reply):
        out = []
        for payload in reply:
            if payload[:1] == b"\xff":
                for place, statement in enumerate(self.ids, 1):
                    payload = payload.replace(f"({statement})".encode(), f"(#{place})".encode())
            elif payload[:1] == b"\xfe" and len(payload) == 5:
                payload = payload[:4] + bytes([payload[4] & ~(SESSION_STATE_CHANGED >> 8)])
            out.append(payload)
        return out

    def name(self, statement):
        if statement == LAST_PREPARED:
            return "last"
        return f"#{self.ids.index(statement) + 1}" if statement in self.ids else str(statement)

    def record(self, what, reply):
        self.log.append((what, self.normalised(reply)))
        return reply

    def prepared(self, sql, reply):
        """Records a prepare's reply; the statement id, or None for an ERR."""
        self.log.append((f"prepare {sql[:60]}", without_statement_id(reply)))
        if reply[0][:1] != b"\x00":
            return None
        self.ids.append(prepare_ok(reply[0])[0])
        return self.ids[-1]

    def prepare(self, sql):
        """A prepare that must succeed: its statement id."""
        statement = self.try_prepare(sql)
        assert statement is not None, (sql[:100], err(self.log[-1][1][0]))
        return statement

    def try_prepare(self, sql):
        """A prepare that may fail: its statement id or None."""
        return self.prepared(sql, self.raw.prepare_reply(sql))

    def execute(self, statement, **kw):
        return self.record(f"execute {self.name(statement)}", self.raw.execute(statement, **kw))

    def fetch(self, statement, count):
        return self.record(f"fetch {self.name(statement)} {count}",
                           self.raw.stmt_fetch(statement, count))

    def reset(self, statement):
        return self.record(f"reset {self.name(statement)}", self.raw.stmt_reset(statement))

    def close_statement(self, statement):
        self.raw.stmt_close(statement)
        self.sync()

    def send_long_data(self, statement, param, data):
        self.raw.send_long_data(statement, param, data)
        self.sync()

    def sync(self):
        """COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA have no reply: a COM_PING after them (not
        recorded) makes sure the proxy has taken them before the test goes on (another
        client's command could otherwise overtake them)."""
        self.raw.command(b"\x0e")
        assert self.raw.response()[0][:1] == b"\x00"

    def query(self, sql):
        return self.record(sql, self.raw.query(sql))

    def thread(self):
        return thread_of(self.raw)

    def close(self):
        self.raw.close()


class Steer:
    """Decides where a client's commands run on a pool of two: two holders each keep one of
    its connections in an open transaction; only(i) lets connection i go and keeps the other
    held, so that every command of a client that holds nothing between commands runs on
    connection i. `threads[i]`: its server thread. Directly and through session pooling the
    holders have connections of their own and steer nothing (`steers` is False)."""

    def __init__(self, target):
        self.steers = TXN and target.is_proxy
        self.holders = [RawClient(target) for _ in range(2)]
        self.threads = []
        for holder in self.holders:
            ok(holder.query("BEGIN"))
            self.threads.append(thread_of(holder))
        self.holding = [True, True]
        if self.steers:
            assert self.threads[0] != self.threads[1], self.threads

    def only(self, i):
        other = 1 - i
        if not self.holding[other]:
            ok(self.holders[other].query("BEGIN"))
            thread = thread_of(self.holders[other])
            if self.steers:
                assert thread == self.threads[other], (thread, self.threads)
            self.holding[other] = True
        if self.holding[i]:
            ok(self.holders[i].query("COMMIT"))
            self.holding[i] = False

    def close(self):
        for holder, holding in zip(self.holders, self.holding):
            if holding:
                ok(holder.query("COMMIT"))
            holder.close()


class Control:
    """Another client of the same pool of one: held() asserts it gets no connection (ERR 1040
    after the pool's queue_timeout), free() that it gets one at once. Does nothing directly
    and through session pooling (`None` target), where every client has its own."""

    def __init__(self, target):
        self.raw = RawClient(target) if target is not None and TXN and target.is_proxy else None

    def held(self):
        if self.raw:
            reply = self.raw.query("SELECT 'control'")
            assert first_err(reply) and first_err(reply)[0] == 1040, reply

    def free(self):
        if self.raw:
            reply = self.raw.query("SELECT 'control'")
            assert text_rows(reply) == [(b"control",)], first_err(reply) or reply

    def close(self):
        if self.raw:
            self.raw.close()


def end_status(payload, deprecate_eof):
    """The status flags of the EOF (or, with DEPRECATE_EOF, the OK) that ends rows."""
    return ok_status(payload) if deprecate_eof else int.from_bytes(payload[3:5], "little")


def wait_for_no_server_statements(mariadb):
    """Earlier tests' connections have ended and freed their statements."""
    wait_until(lambda: mariadb.status("Prepared_stmt_count") == 0, 5,
               "no prepared statements on the server")


def unknown_handler(statement, command="mysqld_stmt_execute"):
    return (1243, "HY000", f"Unknown prepared statement handler ({statement}) given to {command}")


def no_cursor(statement):
    return (1421, "HY000", f"The statement ({statement}) has no open cursor")


def test_oks_without_session_tracking(proxy_factory, mariadb):
    """What every comparison here rests on, though not about statements: a client that did not
    ask for CLIENT_SESSION_TRACK gets OKs without session-state information and without
    SESSION_STATE_CHANGED, as directly, although a transaction pool's connections track the
    transaction state and every variable for the proxy."""
    statements = ["BEGIN", "COMMIT", "SET SESSION sql_mode = 'ANSI'", "SET SESSION sql_mode = "
                  "DEFAULT", "USE other", "USE app", "SET SESSION time_zone = '+01:00'",
                  "SET autocommit = 0", "SET autocommit = 1", "START TRANSACTION READ ONLY",
                  "ROLLBACK"]

    def run(target):
        client = Client(target)
        for sql in statements:
            client.query(sql)
        client.close()
        return client.log

    direct = run(mariadb.target("tcp"))
    assert all(len(reply) == 1 and reply[0] == b"\x00\x00\x00" + reply[0][3:5] + b"\x00\x00"
               for _, reply in direct), direct
    assert run(ps_proxy(proxy_factory).tcp) == direct


# --- where a statement runs ----------------------------------------------------------------

def test_a_statement_follows_its_client_to_another_connection(proxy_factory, mariadb):
    """Prepared on one connection, executed after the client moved to the other (the process
    list shows both), closed, executed again: the server's ERR 1243 naming the client's id,
    on either connection."""
    def run(target):
        a = Client(target)
        steer = Steer(target)
        steer.only(0)
        s = a.prepare("SELECT id, v FROM t WHERE id = ?")
        a.execute(s, params=[2])
        where = [a.thread()]
        steer.only(1)
        where.append(a.thread())
        a.execute(s, params=[3])
        a.execute(s, params=[1], bound=False)
        a.close_statement(s)
        closed = a.execute(s, params=[2])
        steer.only(0)
        a.execute(s, params=[2])
        steer.close()
        a.close()
        return a, s, where, steer.threads, closed

    direct = run(mariadb.target("tcp"))
    proxy = ps_proxy(proxy_factory, connections=2, clients=3, pool__queue_timeout="1s")
    proxied = run(proxy.tcp)
    for a, s, _, _, closed in (direct, proxied):
        assert binary_rows(a.log[1][1]) == [(2, b"two")]
        assert err(closed[0]) == unknown_handler(s)
    assert proxied[0].log == direct[0].log
    if TXN:
        _, s, where, threads, _ = proxied
        assert s == 1  # The client's own ids, from 1.
        assert where == threads, (where, threads)


def test_types_stay_the_clients_own_on_a_shared_connection(proxy_factory, mariadb):
    """Two clients execute the same text with different parameter types on one connection
    (one server statement, shared); each re-executes without the new-params-bound flag and
    gets its own types' results. A client that never sent types gets the server's ERR 1210,
    although the shared statement has another client's."""
    text = "SELECT ? AS a, ? AS b"

    def run(target):
        a, b = Client(target), Client(target)
        sa = a.prepare(text)
        sb = b.prepare(text)
        a.execute(sa, params=[5, 6])
        b.execute(sb, params=["x", 1.5])
        a.execute(sa, params=[7, 8], bound=False)
        b.execute(sb, params=["y", 2.5], bound=False)
        a.execute(sa, params=[Param(1, TYPE_TINY), Param(2, TYPE_SHORT, unsigned=True)])
        b.execute(sb, params=[None, "z"])
        a.execute(sa, params=[Param(3, TYPE_TINY), Param(65535, TYPE_SHORT, unsigned=True)],
                  bound=False)
        b.execute(sb, params=[None, "w"], bound=False)
        c = Client(target)
        sc = c.prepare(text)
        c.execute(sc, params=[1, 2], bound=False)  # Never bound: ERR 1210.
        c.execute(sc, params=[1, 2])
        threads = {a.thread(), b.thread(), c.thread()}
        for client in (a, b, c):
            client.close()
        return a, b, c, threads

    direct = run(mariadb.target("tcp"))
    proxy = ps_proxy(proxy_factory, connections=1, clients=3)
    proxied = run(proxy.tcp)
    a, b, c, _ = direct
    assert [binary_rows(r) for _, r in a.log[1:]] == [[(5, 6)], [(7, 8)], [(1, 2)], [(3, 65535)]]
    assert [binary_rows(r) for _, r in b.log[1:]] == \
        [[(b"x", 1.5)], [(b"y", 2.5)], [(None, b"z")], [(None, b"w")]]
    assert err(c.log[1][1][0])[:2] == (1210, "HY000")
    for mine, theirs in zip(proxied[:3], direct[:3]):
        assert mine.log == theirs.log
    if TXN:
        assert len(proxied[3]) == 1, proxied[3]  # One connection served all three.


def test_a_statement_keeps_the_schema_and_sql_mode_of_its_prepare(proxy_factory, mariadb):
    """The server parses a statement once, with the schema and sql_mode of its PREPARE: `||`
    prepared under ANSI still concatenates after sql_mode changes, and an unqualified table
    is still the one of the schema it was prepared in after USE. On another connection the
    proxy must prepare it as it was, not as the session is now."""
    mariadb.execute("CREATE TABLE IF NOT EXISTS other.t (id INT PRIMARY KEY, v VARCHAR(20))",
                    "REPLACE INTO other.t VALUES (2, 'other two')")

    def run(target):
        a = Client(target)
        steer = Steer(target)
        steer.only(0)
        a.query("SET SESSION sql_mode = 'ANSI'")
        concat = a.prepare("SELECT ? || ?")
        table = a.prepare("SELECT v FROM t WHERE id = ?")
        a.execute(concat, params=["a", "b"])
        a.query("SET SESSION sql_mode = DEFAULT")
        a.query("USE other")
        steer.only(1)
        a.execute(concat, params=["a", "b"])
        a.execute(table, params=[2])
        fresh = a.prepare("SELECT ? || ?")
        a.execute(fresh, params=["a", "b"])
        a.execute(a.prepare("SELECT v FROM t WHERE id = ?"), params=[2])
        steer.close()
        a.close()
        return a

    direct = run(mariadb.target("tcp"))
    rows = [binary_rows(r) for what, r in direct.log if what.startswith("execute")]
    assert rows == [[(b"ab",)], [(b"ab",)], [(b"two",)], [(0,)], [(b"other two",)]], rows
    proxy = ps_proxy(proxy_factory, connections=2, clients=3, pool__queue_timeout="1s")
    assert run(proxy.tcp).log == direct.log


# --- what holds a connection -----------------------------------------------------------------

def test_long_data_holds_the_connection_until_execute_reset_or_close(proxy_factory, mariadb):
    """SEND_LONG_DATA in pieces, then EXECUTE; long data then RESET (discarded) then EXECUTE;
    long data then CLOSE; a 1 MiB value in 64 KiB pieces. While long data waits, another
    client of the pool of one waits (ERR 1040 after 1 s); after the EXECUTE, RESET or CLOSE
    it gets the connection."""
    def run(target):
        a = Client(target)
        control = Control(target)
        s = a.prepare("SELECT CONCAT(?, '|', ?), LENGTH(?)")
        a.send_long_data(s, 0, b"abc")
        control.held()
        a.send_long_data(s, 0, b"def")
        a.send_long_data(s, 2, b"12345")
        a.execute(s, params=[LONG_DATA, "x", LONG_DATA])
        control.free()
        a.send_long_data(s, 0, b"discarded")
        control.held()
        a.reset(s)
        control.free()
        a.execute(s, params=["p", "x", "q"])
        big = a.prepare("SELECT LENGTH(?), MD5(?)")
        for i in range(16):
            a.send_long_data(big, 0, bytes([65 + i]) * 65536)
            a.send_long_data(big, 1, bytes([97 + i]) * 65536)
        control.held()
        a.execute(big, params=[LONG_DATA, LONG_DATA])
        control.free()
        a.send_long_data(s, 1, b"gone")
        control.held()
        a.close_statement(s)
        control.free()
        closed = a.execute(s, params=["p", "x", "q"])
        control.close()
        a.close()
        return a, s, closed

    direct = run(mariadb.target("tcp"))
    proxy = ps_proxy(proxy_factory, connections=1, clients=2, pool__queue_timeout="1s")
    proxied = run(proxy.tcp)
    rows = [binary_rows(r) for what, r in direct[0].log if what.startswith("execute")]
    assert rows[:2] == [[(b"abcdef|x", 5)], [(b"p|x", 1)]], rows
    assert rows[2][0][0] == 1 << 20, rows[2]
    for _, s, closed in (direct, proxied):
        assert err(closed[0]) == unknown_handler(s)
    assert proxied[0].log == direct[0].log


@pytest.mark.parametrize("eof", ["eof", "deprecate-eof"])
def test_an_open_cursor_holds_the_connection_until_its_end(proxy_factory, mariadb, eof):
    """EXECUTE with CURSOR_TYPE_READ_ONLY, FETCH in pieces to the end: held while the cursor
    is open (a FETCH of exactly the rows left does not end it), free after the last row
    (LAST_ROW_SENT), after RESET, after CLOSE and after an EXECUTE without a cursor. FETCH
    without an open cursor, or of a closed statement, gets the server's error naming the
    client's id."""
    caps = DEFAULT_CAPS | (DEPRECATE_EOF if eof == "deprecate-eof" else 0)

    def run(target):
        a = Client(target, capabilities=caps)
        control = Control(target)
        s = a.prepare("SELECT id, v FROM t WHERE id <= 3 ORDER BY id")
        errors = [a.fetch(s, 1)]   # Never executed.
        a.execute(s)
        errors.append(a.fetch(s, 1))   # Executed without a cursor.
        a.execute(s, flags=CURSOR_TYPE_READ_ONLY)
        control.held()
        a.fetch(s, 2)
        control.held()
        a.fetch(s, 2)   # The last row, LAST_ROW_SENT.
        control.free()
        errors.append(a.fetch(s, 1))
        a.execute(s, flags=CURSOR_TYPE_READ_ONLY)
        a.fetch(s, 3)   # Every row, but the cursor stays open until a FETCH finds no more.
        control.held()
        a.fetch(s, 1)
        control.free()
        a.execute(s, flags=CURSOR_TYPE_READ_ONLY)
        a.fetch(s, 1)
        a.reset(s)
        control.free()
        a.execute(s, flags=CURSOR_TYPE_READ_ONLY)
        a.execute(s)   # Without a cursor: the open one ends.
        control.free()
        a.execute(s, flags=CURSOR_TYPE_READ_ONLY)
        control.held()
        a.close_statement(s)
        control.free()
        errors.append(a.fetch(s, 1))
        control.close()
        a.close()
        return a, s, errors

    direct = run(mariadb.target("tcp"))
    proxy = ps_proxy(proxy_factory, connections=1, clients=2, pool__queue_timeout="1s")
    proxied = run(proxy.tcp)
    for a, s, errors in (direct, proxied):
        assert [err(e[0]) for e in errors] == \
            [no_cursor(s), no_cursor(s), no_cursor(s), unknown_handler(s, "mysqld_stmt_fetch")]
    a = direct[0]
    columns = result_columns([r for what, r in a.log if what == "execute #1"][1])
    fetched = [r for what, r in a.log if what.startswith("fetch")]
    assert binary_rows(fetched[2], a.deprecate_eof, columns) == [(1, b"one"), (2, b"two")]
    assert binary_rows(fetched[3], a.deprecate_eof, columns) == [(3, b"three")]
    ends = [end_status(f[-1], a.deprecate_eof) & (CURSOR_EXISTS | LAST_ROW_SENT)
            for f in fetched[2:4] + fetched[5:7]]
    assert ends == [CURSOR_EXISTS, LAST_ROW_SENT, CURSOR_EXISTS, LAST_ROW_SENT], ends
    assert proxied[0].log == direct[0].log


# --- MariaDB's "last prepared" id --------------------------------------------------------------

def test_the_last_prepared_statement(proxy_factory, mariadb):
    """Statement id 0xFFFFFFFF: PREPARE and EXECUTE(-1) sent together before reading either;
    with parameters; SEND_LONG_DATA, RESET and FETCH by -1; after the client moved to another
    connection; after a failed PREPARE (the server's ERR 1243 naming 4294967295, as after a
    CLOSE of the last one), and before any PREPARE. Without the new-params-bound flag the
    server answers ERR 1835 "Malformed communication packet" by -1 (it does not by the id)."""
    def pipelined(a, sql, **kw):
        a.raw.sock.sendall(b"".join(
            len(p).to_bytes(3, "little") + b"\x00" + p
            for p in (b"\x16" + sql.encode(), execute_payload(LAST_PREPARED, **kw))))
        statement = a.prepared(sql, a.raw.read_prepare_reply())
        a.record("execute last", a.raw.response())
        return statement

    def run(target):
        a = Client(target)
        a.execute(LAST_PREPARED)
        steer = Steer(target)
        steer.only(0)
        pipelined(a, "SELECT 42")
        pipelined(a, "SELECT CONCAT('x', ?)", params=["y"])
        a.send_long_data(LAST_PREPARED, 0, b"long")
        a.execute(LAST_PREPARED, params=[LONG_DATA])
        steer.only(1)
        a.execute(LAST_PREPARED, params=["moved"])
        a.execute(LAST_PREPARED, params=["unbound"], bound=False)
        a.reset(LAST_PREPARED)
        a.execute(LAST_PREPARED, params=["cursor"], flags=CURSOR_TYPE_READ_ONLY)
        a.fetch(LAST_PREPARED, 5)
        a.fetch(LAST_PREPARED, 5)   # The cursor's end (LAST_ROW_SENT): the connection is free.
        pipelined(a, "SELEC 1")   # A failed prepare: -1 names nothing.
        a.fetch(LAST_PREPARED, 1)
        steer.only(0)
        a.execute(LAST_PREPARED)
        s = pipelined(a, "SELECT 'again'")
        a.close_statement(s)
        a.execute(LAST_PREPARED)
        steer.close()
        a.close()
        return a

    direct = run(mariadb.target("tcp"))
    executes = [r for what, r in direct.log if what == "execute last"]
    assert err(executes[0][0]) == unknown_handler(LAST_PREPARED)
    assert binary_rows(executes[1]) == [(42,)]
    assert binary_rows(executes[2]) == [(b"xy",)]
    assert [binary_rows(r) for r in executes[3:5]] == [[(b"xlong",)], [(b"xmoved",)]]
    # By -1 the server wants the types every time.
    assert err(executes[5][0]) == (1835, "HY000", "Malformed communication packet")
    assert [err(r[0]) for r in executes[7:9]] == [unknown_handler(LAST_PREPARED)] * 2
    assert binary_rows(executes[9]) == [(b"again",)]
    assert err(executes[10][0]) == unknown_handler(LAST_PREPARED)
    proxy = ps_proxy(proxy_factory, connections=2, clients=3, pool__queue_timeout="1s")
    assert run(proxy.tcp).log == direct.log


def test_commands_the_proxy_cannot_forward_with_its_own_ids(proxy_factory, mariadb):
    """Commands whose statement id the proxy must not pass on as the client sent it get the
    server's own answers: an EXECUTE cut short after its id (1835), a BULK_EXECUTE (1295: no
    bulk operations were agreed), and a prepared KILL executed by the last-prepared id (the
    proxy resolves it as a KILL: 1094 for a thread no one has, never a server thread that
    happens to have the number)."""
    def run(target):
        a = Client(target)
        s = a.prepare("SELECT 1")
        a.record("short execute", a.raw.command(b"\x17" + s.to_bytes(4, "little") + b"\x00") or
                 a.raw.response())
        a.record("bulk", a.raw.command(b"\xfa" + s.to_bytes(4, "little") + b"\x00\x00") or
                 a.raw.response())
        a.prepare("KILL QUERY ?")
        a.execute(LAST_PREPARED, params=[99999999])
        a.execute(s)
        a.close()
        return a

    direct = run(mariadb.target("tcp"))
    replies = [r for _, r in direct.log]
    assert err(replies[1][0]) == (1835, "HY000", "Malformed communication packet")
    assert err(replies[2][0])[0] == 1295
    assert err(replies[4][0])[0] == 1094
    proxy = ps_proxy(proxy_factory, connections=1, clients=1)
    assert run(proxy.tcp).log == direct.log


# --- sizes, schema changes, errors -----------------------------------------------------------

def test_no_parameters_and_the_most_parameters(proxy_factory, mariadb):
    """0 parameters (with and without columns), 65,535 (the server's most: a SELECT ... IN
    of that many; the server refuses 65,536 with ERR 1390), executed with values, all NULL,
    and after the client moved to another connection without the new-params-bound flag."""
    most = "SELECT 1 FROM DUAL WHERE 1 IN (" + ",".join(["?"] * 65535) + ")"

    def run(target):
        a = Client(target)
        steer = Steer(target)
        steer.only(0)
        a.execute(a.prepare("DO 1"))
        none = a.prepare("SELECT id, v FROM t ORDER BY id")
        a.execute(none)
        s = a.prepare(most)
        a.execute(s, params=[None] * 65535)
        a.execute(s, params=list(range(2, 65536)) + [1])
        steer.only(1)
        a.execute(none)
        a.execute(s, params=list(range(1, 65536)), bound=False)
        a.try_prepare(most[:-1] + ",?)")
        steer.close()
        a.close()
        return a

    direct = run(mariadb.target("tcp"))
    executes = [binary_rows(r) for what, r in direct.log if what.startswith("execute")]
    assert executes == [[], [(1, b"one"), (2, b"two"), (3, b"three")], [], [(1,)],
                        [(1, b"one"), (2, b"two"), (3, b"three")], [(1,)]], executes
    assert err(direct.log[-1][1][0])[0] == 1390
    assert prepare_ok(direct.log[4][1][0])[2] == 65535
    proxy = ps_proxy(proxy_factory, connections=2, clients=3, pool__queue_timeout="5s")
    assert run(proxy.tcp).log == direct.log


def test_a_table_altered_or_dropped_under_its_statements(proxy_factory, mariadb):
    """A statement cached on both connections, then ALTER TABLE adds a column: executes on
    either connection return the new metadata, and a new PREPARE of the same text by another
    client describes the new columns, as the server does. After DROP TABLE: executes get ERR
    1146, and so does a new PREPARE of the text."""
    def run(target):
        mariadb.execute("CREATE OR REPLACE TABLE app.ps_ddl (id INT PRIMARY KEY, v VARCHAR(20))",
                        "INSERT INTO app.ps_ddl VALUES (1, 'one'), (2, 'two')")
        a = Client(target)
        steer = Steer(target)
        steer.only(0)
        text = "SELECT * FROM ps_ddl WHERE id = ?"
        s = a.prepare(text)
        a.execute(s, params=[1])
        steer.only(1)
        a.execute(s, params=[2])
        mariadb.execute("ALTER TABLE app.ps_ddl ADD COLUMN w INT DEFAULT 7")
        a.execute(s, params=[1])
        steer.only(0)
        a.execute(s, params=[2])
        c = Client(target)
        c.execute(c.prepare(text), params=[1])
        mariadb.execute("DROP TABLE app.ps_ddl")
        a.execute(s, params=[1])
        # An error is the next statement's to read: a client keeps its connection until then.
        a.query("DO 0")
        steer.only(1)
        a.execute(s, params=[1])
        a.query("DO 0")
        c.try_prepare(text)
        steer.close()
        a.close()
        c.close()
        return a, c

    direct = run(mariadb.target("tcp"))
    a, c = direct
    executes = [r for what, r in a.log if what.startswith("execute")]
    assert [name for name, *_ in result_columns(executes[0])] == ["id", "v"]
    assert [name for name, *_ in result_columns(executes[2])] == ["id", "v", "w"]
    assert binary_rows(executes[3]) == [(2, b"two", 7)]
    assert [err(r[0])[0] for r in executes[4:]] == [1146, 1146]
    assert prepare_ok(c.log[0][1][0])[1] == 3
    assert err(c.log[-1][1][0])[0] == 1146
    proxy = ps_proxy(proxy_factory, connections=2, clients=4, pool__queue_timeout="1s")
    proxied = run(proxy.tcp)
    assert proxied[0].log == a.log
    assert proxied[1].log == c.log


def test_errors_from_prepare_are_the_servers(proxy_factory, mariadb):
    """A syntax error (1064), an unknown table (1146) and column (1054), from two clients (a
    failure is not cached); after CREATE TABLE the same text prepares; after each failure
    the client's statements still work."""
    def run(target):
        mariadb.execute("DROP TABLE IF EXISTS app.ps_later")
        a, b = Client(target), Client(target)
        good = a.prepare("SELECT v FROM t WHERE id = ?")
        for client in (a, b):
            client.try_prepare("SELEC v FROM t")
            client.try_prepare("SELECT * FROM ps_later")
            client.try_prepare("SELECT no_such_column FROM t")
            # Its errors are the next statement's to read (SHOW WARNINGS): in transaction
            # pooling the client keeps its connection until it sends one.
            client.query("DO 0")
        a.execute(good, params=[3])
        mariadb.execute("CREATE TABLE app.ps_later (x INT)", "INSERT INTO app.ps_later VALUES (9)")
        for client in (b, a):
            client.execute(client.prepare("SELECT * FROM ps_later"))
        a.close()
        b.close()
        return a, b

    direct = run(mariadb.target("tcp"))
    codes = [err(r[0])[0] for _, r in direct[1].log if r[0][:1] == b"\xff"]
    assert codes == [1064, 1146, 1054], codes
    assert binary_rows(direct[0].log[-1][1]) == [(9,)]
    proxy = ps_proxy(proxy_factory, connections=1, clients=2)
    proxied = run(proxy.tcp)
    assert [c.log for c in proxied] == [c.log for c in direct]


# --- sharing, the cache's bound, the client's limit ----------------------------------------

def test_identical_statements_of_three_clients_share_one_server_statement(proxy_factory,
                                                                          mariadb):
    """Three clients on a pool of one each prepare the same four statements and execute
    each twice: the results are the server's; 12 prepares asked, at most 4 sent to the
    server (4 distinct statements x 1 connection), and the server holds at most 4."""
    texts = ["SELECT v FROM t WHERE id = ?", "SELECT ? + 1", "SELECT CONCAT(?, 'x')",
             "SELECT COUNT(*) FROM t WHERE id > ?"]

    def run(target):
        clients = [Client(target) for _ in range(3)]
        statements = [[c.prepare(t) for t in texts] for c in clients]
        for round_ in range(2):
            for c, mine in zip(clients, statements):
                for s in mine:
                    c.execute(s, params=[round_ + 1], bound=round_ == 0)
        server_statements = mariadb.status("Prepared_stmt_count")
        for c in clients:
            c.close()
        return clients, server_statements

    direct, _ = run(mariadb.target("tcp"))
    wait_for_no_server_statements(mariadb)
    proxy = ps_proxy(proxy_factory, connections=1, clients=3)
    proxied, server_statements = run(proxy.tcp)
    assert [c.log for c in proxied] == [c.log for c in direct]
    if TXN:
        assert server_statements <= 4, server_statements
        (asked, sent, hits, _), line = stop_counters(proxy)
        assert asked == 12 and sent <= most_sent(line, 4, 1) and hits >= 8, line


def test_more_statements_than_the_cache_holds(proxy_factory, mariadb):
    """pool.max_prepared_statements = 4 and ten distinct statements executed round-robin
    (with and without the new-params-bound flag): every result is the server's, the stop line
    counts evictions, the server then holds no more than 4 per connection. A statement with an
    open cursor or pending long data is not evicted under it: six more statements prepared
    and executed meanwhile, the cursor's rows and the long data's execute are the server's."""
    def run(target):
        a = Client(target)
        statements = [a.prepare(f"SELECT ? + {k}") for k in range(10)]
        for round_ in range(3):
            for s in statements:
                a.execute(s, params=[round_ * 100], bound=round_ != 1)
        server_statements = mariadb.status("Prepared_stmt_count")
        cursor = a.prepare("SELECT id FROM t ORDER BY id")
        a.execute(cursor, flags=CURSOR_TYPE_READ_ONLY)
        a.fetch(cursor, 1)
        long_data = a.prepare("SELECT LENGTH(?)")
        a.send_long_data(long_data, 0, b"pending")
        for s in (a.prepare(f"SELECT ? * {k}") for k in range(6)):
            a.execute(s, params=[3])
        a.fetch(cursor, 5)
        a.execute(long_data, params=[LONG_DATA])
        connections = mariadb.query("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                                    "WHERE USER = 'app'")[0][0]
        a.close()
        return a, server_statements, connections

    direct, _, _ = run(mariadb.target("tcp"))
    executes = [binary_rows(r) for what, r in direct.log if what.startswith("execute")]
    assert executes[:10] == [[(k,)] for k in range(10)]
    assert executes[20:30] == [[(200 + k,)] for k in range(10)]
    assert executes[-1] == [(7,)]
    wait_for_no_server_statements(mariadb)
    proxy = ps_proxy(proxy_factory, connections=2, pool__max_prepared_statements=4)
    proxied, server_statements, connections = run(proxy.tcp)
    assert proxied.log == direct.log
    if TXN:
        assert server_statements <= 4 * connections, (server_statements, connections)
        (asked, sent, _, evictions), line = stop_counters(proxy)
        assert asked == 18 and evictions > 0 and sent > 4, line


def test_a_clients_statement_limit(proxy_factory, mariadb):
    """proxy.max_client_prepared_statements = 5: the sixth PREPARE of a client gets the
    server's own ERR 1461 (42000) for max_prepared_stmt_count = 5, byte for byte (measured
    directly with that global); EXECUTE(-1) still runs the fifth; after a CLOSE there is room
    for one more. Other clients are not affected."""
    def run(target):
        a = Client(target)
        statements = [a.prepare(f"SELECT {k}") for k in range(5)]
        refused = a.raw.prepare_reply("SELECT 5")
        a.prepared("SELECT 5", refused)
        a.execute(LAST_PREPARED)
        a.close_statement(statements[0])
        a.execute(a.prepare("SELECT 6"))
        a.try_prepare("SELECT 7")
        return a, refused

    wait_for_no_server_statements(mariadb)
    old = mariadb.set_global(max_prepared_stmt_count=5)
    try:
        direct, refused = run(mariadb.target("tcp"))
        direct.close()
    finally:
        mariadb.set_global(**old)
    assert err(refused[0]) == (1461, "42000", "Can't create more than max_prepared_stmt_count "
                                              "statements (current value: 5)")
    if not TXN:  # Session pooling relays the server's own limit (checked at 5 again).
        proxy = ps_proxy(proxy_factory)
        old = mariadb.set_global(max_prepared_stmt_count=5)
        try:
            proxied, _ = run(proxy.tcp)
        finally:
            mariadb.set_global(**old)
        assert proxied.log == direct.log
        return
    proxy = ps_proxy(proxy_factory, connections=2, proxy__max_client_prepared_statements=5)
    proxied, _ = run(proxy.tcp)
    assert proxied.log == direct.log
    b = Client(proxy.unix)
    for k in range(5):
        assert binary_rows(b.execute(b.prepare(f"SELECT 'b{k}'"))) == [(f"b{k}".encode(),)]
    assert binary_rows(proxied.execute(proxied.ids[-1])) == [(6,)]
    b.close()
    proxied.close()


# --- randomized --------------------------------------------------------------------------------

# (text, kinds of its parameters); {c}: the client's own table.
SHARED_TEXTS = [
    ("SELECT ? + 1", ["num"]),
    ("SELECT CONCAT(?, '-', ?)", ["str", "any"]),
    ("SELECT v FROM t WHERE id = ?", ["id"]),
    ("SELECT id, v FROM app.t WHERE id >= ? ORDER BY id", ["id"]),
    ("SELECT ? || ?", ["str", "str"]),
    ("SELECT COALESCE(?, 'null')", ["any"]),
]
OWN_TEXTS = [
    ("INSERT INTO app.psr_{c} (v, s) VALUES (?, ?)", ["int", "str"]),
    ("SELECT COUNT(*), SUM(v) FROM app.psr_{c} WHERE v >= ?", ["int"]),
    ("SELECT id, v, s FROM app.psr_{c} ORDER BY id", []),
    ("UPDATE app.psr_{c} SET v = v + ? WHERE id <= ?", ["int", "int"]),
]
CURSOR_TEXTS = {SHARED_TEXTS[3][0], OWN_TEXTS[2][0]}


def random_value(rng, kind):
    if kind == "num":
        return rng.choice([rng.randint(-5, 5), rng.randint(0, 9) + 0.25, str(rng.randint(0, 9)),
                           None])
    if kind == "str":
        return rng.choice(["a", "bc", "def", ""]) + str(rng.randint(0, 9))
    if kind == "any":
        return rng.choice([rng.randint(0, 99), "s" + str(rng.randint(0, 9)), None, 1.5])
    if kind == "id":
        return rng.randint(0, 4)
    return rng.randint(0, 100)


def same_kind(rng, value):
    """A new value of the Python type of `value` (for an execute that sends no types)."""
    if value is None:
        return None
    if isinstance(value, float):
        return rng.randint(0, 9) + 0.5
    if isinstance(value, int):
        return rng.randint(0, 50)
    return "u" + str(rng.randint(0, 9))


def random_client(target, c, seed, steps):
    """`steps` random steps of client `c`, decided by a generator of its own seeded with
    (seed, c) and by the replies so far (so two runs decide alike as long as they answer
    alike): prepare, execute (random values; without types if some were sent), close, reset,
    a cursor fetched in pieces, long data, EXECUTE(-1) pipelined, a transaction of executes,
    plain queries, sql_mode and schema changes. Returns the Client (its log)."""
    rng = random.Random(f"{seed}-{c}")
    a = Client(target)
    handles = []   # [statement id or None, text, kinds, last values sent with types or None]

    def values_for(handle, bound):
        if not bound:
            return [same_kind(rng, v) for v in handle[3]]
        return [random_value(rng, k) for k in handle[2]]

    def execute(handle, flags=0):
        bound = handle[3] is None or rng.random() < 0.6
        values = values_for(handle, bound)
        reply = a.execute(handle[0], params=values, bound=bound, flags=flags)
        if bound:  # The server keeps the types even if the execution fails.
            handle[3] = values
        return reply

    def prepare():
        text, kinds = rng.choice(SHARED_TEXTS + OWN_TEXTS)
        text = text.format(c=c)
        handles.append([a.try_prepare(text), text, kinds, None])

    def open_handles():
        return [h for h in handles if h[0] is not None]

    for _ in range(steps):
        step = rng.choices(["prepare", "execute", "close", "reset", "cursor", "long", "last",
                            "txn", "query", "set"],
                           weights=[4, 8, 1, 1, 2, 1, 1, 2, 2, 1])[0]
        live = open_handles()
        if step == "prepare" or (not live and step not in ("txn", "query", "set", "last")):
            prepare()
        elif step == "execute":
            execute(rng.choice(live))
        elif step == "close":
            handle = rng.choice(live)
            a.close_statement(handle[0])
            a.execute(handle[0], params=values_for(handle, True))  # Closed: ERR 1243.
            handle[0] = None
        elif step == "reset":
            a.reset(rng.choice(live)[0])
        elif step == "cursor":
            text, kinds = rng.choice([t for t in SHARED_TEXTS + OWN_TEXTS if t[0] in CURSOR_TEXTS])
            handle = [a.try_prepare(text.format(c=c)), text.format(c=c), kinds, None]
            handles.append(handle)
            if handle[0] is None:
                continue
            opened = execute(handle, flags=CURSOR_TYPE_READ_ONLY)
            status_packet = opened[-1]
            if opened[0][:1] == b"\xff" or not (
                    a.deprecate_eof or int.from_bytes(status_packet[3:5], "little")
                    & CURSOR_EXISTS):
                continue
            for _ in range(50):
                rows = a.fetch(handle[0], rng.randint(1, 3))
                end = rows[-1]
                if end[:1] == b"\xff" or int.from_bytes(end[3:5], "little") & LAST_ROW_SENT:
                    break
        elif step == "long":
            candidates = [h for h in live if "str" in h[2]]
            if not candidates:
                continue
            handle = rng.choice(candidates)
            place = handle[2].index("str")
            for _ in range(rng.randint(1, 2)):
                a.send_long_data(handle[0], place, f"long{rng.randint(0, 9)}".encode())
            values = [random_value(rng, k) for k in handle[2]]
            values[place] = LONG_DATA
            a.execute(handle[0], params=values)
            handle[3] = values[:place] + ["sent as BLOB"] + values[place + 1:]
        elif step == "last":
            text, kinds = rng.choice(SHARED_TEXTS)
            values = [random_value(rng, k) for k in kinds]
            a.raw.sock.sendall(b"".join(
                len(p).to_bytes(3, "little") + b"\x00" + p
                for p in (b"\x16" + text.encode(), execute_payload(LAST_PREPARED, values))))
            handles.append([a.prepared(text, a.raw.read_prepare_reply()), text, kinds, values])
            a.record("execute last", a.raw.response())
        elif step == "txn":
            a.query("BEGIN")
            for _ in range(rng.randint(1, 3)):
                text, kinds = rng.choice([OWN_TEXTS[0], OWN_TEXTS[3], OWN_TEXTS[1]])
                handle = [a.try_prepare(text.format(c=c)), text.format(c=c), kinds, None]
                handles.append(handle)
                if handle[0] is not None:
                    execute(handle)
            a.query(rng.choice(["COMMIT", "ROLLBACK"]))
        elif step == "query":
            a.query(rng.choice([f"SELECT COUNT(*), SUM(v) FROM app.psr_{c}",
                                "SELECT v FROM app.t WHERE id = 2",
                                "SELECT @@sql_mode = @@global.sql_mode, DATABASE()"]))
        elif step == "set":
            a.query(rng.choice(["SET SESSION sql_mode = 'ANSI'", "SET SESSION sql_mode = DEFAULT",
                                "USE other", "USE app"]))
    a.query(f"SELECT id, v, s FROM app.psr_{c} ORDER BY id")
    return a


@pytest.mark.parametrize("seed", [1, 2])
def test_random_statement_workloads_give_direct_results(proxy_factory, mariadb, seed):
    """6 clients x 30 random steps (random_client) through a pool of two, all at once, and
    the same steps directly, one client after another: every reply equal."""
    clients, steps = 6, 30

    def reset_tables():
        for c in range(clients):
            mariadb.execute(f"CREATE OR REPLACE TABLE app.psr_{c} "
                            "(id INT AUTO_INCREMENT PRIMARY KEY, v INT, s VARCHAR(50))")

    reset_tables()
    direct = []
    for c in range(clients):
        client = random_client(mariadb.target("tcp"), c, seed, steps)
        client.close()
        direct.append(client.log)
    reset_tables()
    proxy = ps_proxy(proxy_factory, connections=2, clients=clients, pool__queue_timeout="20s",
                     proxy__log_level="debug")
    results, failures = [None] * clients, []

    def run(c):
        try:
            client = random_client(proxy.target("tcp" if c % 2 else "unix"), c, seed, steps)
            client.close()
            results[c] = client.log
        except Exception as e:  # Reported below, with the others' results.
            failures.append((c, repr(e)))

    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures
    for c in range(clients):
        for i, (mine, theirs) in enumerate(zip(results[c], direct[c])):
            assert mine == theirs, f"client {c}, step {i}"
        assert len(results[c]) == len(direct[c]), f"client {c}"
    if TXN:  # Cursors and long data hold a connection for a while; statements never pin.
        assert not proxy.log_lines(r"pinned to backend connection \d+: prepared statement")


# --- client libraries (text protocol): nothing regressed -------------------------------------

def library_workload(target, tag):
    """PyMySQL (autocommit off, its default; and on), then two mysqlclient connections
    streaming with SSCursor, read in turns; every result, in order."""
    out = []
    conn = target.connect()
    with conn.cursor() as cur:
        cur.execute(f"CREATE OR REPLACE TABLE app.pslib_{tag} (id INT PRIMARY KEY, v VARCHAR(20))")
        cur.executemany(f"INSERT INTO app.pslib_{tag} VALUES (%s, %s)",
                        [(i, f"v{i}") for i in range(200)])
        conn.commit()
        cur.execute(f"SELECT COUNT(*), MAX(v) FROM app.pslib_{tag} WHERE id >= %s", (50,))
        out.append(cur.fetchall())
        cur.execute("SELECT v FROM t WHERE id IN (%s, %s) ORDER BY id", (1, 3))
        out.append(cur.fetchall())
        conn.rollback()
    conn.close()
    conn = target.connect(autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"UPDATE app.pslib_{tag} SET v = CONCAT(v, %s) WHERE id < %s", ("!", 10))
        out.append(cur.rowcount)
        cur.execute(f"SELECT v FROM app.pslib_{tag} WHERE id = 5")
        out.append(cur.fetchall())
    conn.close()
    streams = [target.mysqldb_connect(cursorclass=MySQLdb.cursors.SSCursor) for _ in range(2)]
    cursors = [s.cursor() for s in streams]
    for k, cur in enumerate(cursors):
        cur.execute(f"SELECT seq, CONCAT('row-', seq) FROM seq_1_to_{5000 + k}")
    while True:
        chunk = [cur.fetchmany(700) for cur in cursors]
        out.append(chunk)
        if not any(chunk):
            break
    for s in streams:
        s.commit()
        s.close()
    return out


def test_pymysql_and_mysqlclient_streaming(proxy_factory, mariadb):
    direct = library_workload(mariadb.target("tcp"), "direct")
    assert direct[2] == 10 and direct[3] == (("v5!",),)
    assert [sum(len(chunk[k]) for chunk in direct[4:]) for k in (0, 1)] == [5000, 5001]
    proxy = ps_proxy(proxy_factory, connections=2, clients=3)
    assert library_workload(proxy.unix, "proxy") == direct


# --- sysbench ------------------------------------------------------------------------------

# Statements each sysbench thread prepares (oltp_common.lua, --tables=1): point select; read
# write adds BEGIN, COMMIT, four range selects, two updates, a delete and an insert.
SYSBENCH = {"oltp_point_select": 1, "oltp_read_write": 11}
SYSBENCH_THREADS = 16


@pytest.fixture(scope="module")
def sysbench_tables(mariadb):
    common = ["sysbench", "oltp_read_write", "--db-driver=mysql",
              *mariadb.target("tcp").sysbench_args(),
              "--mysql-user=app", f"--mysql-password={APP_PASSWORD}", "--mysql-db=sbtest",
              "--tables=1", "--table-size=10000"]
    subprocess.run(common + ["cleanup"], capture_output=True, timeout=120)
    r = subprocess.run(common + ["prepare"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    yield
    subprocess.run(common + ["cleanup"], capture_output=True, timeout=120)


@pytest.mark.parametrize("test", SYSBENCH)
@pytest.mark.parametrize("where", ["direct-tcp", "proxy-unix"])
def test_sysbench_with_server_side_prepares(proxy_factory, mariadb, sysbench_tables, test,
                                            where):
    """sysbench with --db-ps-mode=auto (COM_STMT_PREPARE/EXECUTE), 16 threads, 5 s, through a
    transaction pool of 4: exit 0, no reconnects, no error but deadlocks between its own
    threads (read-write; the direct run has them too); no client pinned; each thread's
    prepares asked, at most each distinct statement once per connection sent to the server,
    which counts no more (Com_stmt_prepare)."""
    if where.startswith("direct"):
        target, proxy = mariadb.target("tcp"), None
    else:
        proxy = ps_proxy(proxy_factory, connections=4, clients=SYSBENCH_THREADS,
                         pool__queue_timeout="10s", proxy__log_level="debug")
        target = proxy.unix
    before = mariadb.status("Com_stmt_prepare")
    r = subprocess.run(["sysbench", test, "--db-driver=mysql", *target.sysbench_args(),
                        "--mysql-user=app", f"--mysql-password={APP_PASSWORD}",
                        "--mysql-db=sbtest", "--tables=1", "--table-size=10000",
                        f"--threads={SYSBENCH_THREADS}", "--time=5", "--db-ps-mode=auto",
                        "--verbosity=5", "run"], capture_output=True, text=True, timeout=120)
    prepares = mariadb.status("Com_stmt_prepare") - before
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "FATAL" not in out, out[-3000:]
    queries = re.search(r"queries:\s+(\d+)", r.stdout)
    assert queries and int(queries.group(1)) > 0, r.stdout
    assert re.search(r"reconnects:\s+0 ", r.stdout), r.stdout
    ignored = int(re.search(r"ignored errors:\s+(\d+)", r.stdout).group(1))
    codes = set(re.findall(r"Ignoring error (\d+)", out))
    assert codes <= {"1213"}, codes   # Deadlocks between sysbench's own threads only.
    if test == "oltp_point_select":
        assert ignored == 0, r.stdout
    asked = SYSBENCH_THREADS * SYSBENCH[test]
    if proxy is None or not TXN:
        assert prepares == asked, (prepares, asked)
        return
    assert not proxy.log_lines("pinned to backend connection"), proxy.log_lines("pinned")
    (counted, sent, _, _), line = stop_counters(proxy)
    assert counted == asked, line
    assert sent <= most_sent(line, SYSBENCH[test], 4), line
    assert prepares == sent, (prepares, line)
