"""What the proxy tests check on the client side with PyMySQL: one query, the error a call
raised, a connection that must be closed."""
import uuid

import pymysql

CLIENT_SIDE_LOSS = (2006, 2013)   # CR_SERVER_GONE_ERROR, CR_SERVER_LOST: raised by the client


def query_one(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()


def error_of(fn, *args):
    """fn(*args); returns the pymysql error it raised, or None."""
    try:
        fn(*args)
    except pymysql.err.MySQLError as e:
        return e
    return None


def assert_closed(conn):
    """The connection is closed: a further query fails in the client (PyMySQL raises 2006 or
    2013 on a socket the other side closed, InterfaceError on one it closed itself)."""
    e = error_of(query_one, conn, "SELECT 'still open?'")
    assert e is not None, "the connection still answers queries; it should have been closed"
    assert isinstance(e, pymysql.err.InterfaceError) or e.args[0] in CLIENT_SIDE_LOSS, e.args


def backend_thread(conn):
    """The server thread id under `conn`, read from the process list (the query finds its own
    row by a marker in its text) rather than with CONNECTION_ID(): through the proxy a session
    that asks CONNECTION_ID() keeps its backend connection from later clients (so that a KILL
    of that id never reaches another client), which a test of connection reuse must not cause."""
    marker = f"longlink-whoami-{uuid.uuid4().hex}"
    return query_one(conn, "SELECT ID FROM information_schema.PROCESSLIST "
                           f"WHERE INFO LIKE CONCAT(CHAR(37), '{marker}', CHAR(37))")[0]
