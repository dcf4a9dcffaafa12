"""What the proxy tests check on the client side with PyMySQL: one query, the error a call
raised, a connection that must be closed."""
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
