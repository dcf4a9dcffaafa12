"""Server-side prepared statements whose replies are not the common case, compared packet by
packet with what the server sends directly (issue 11, point 4): a CALL whose procedure opens a
cursor of its own (its result carries CURSOR_EXISTS although the rows follow), a cursor asked
for on a SELECT, and a prepared LOAD DATA LOCAL INFILE. After each, the session still works."""
import pytest

from conftest import WHERE_ALL
from raw_client import (DEFAULT_CAPS, DEPRECATE_EOF, LOCAL_FILES, LONG_PASSWORD,
                        MARIADB_EXTENDED_METADATA, RawClient)

CURSOR_TYPE_READ_ONLY = 1
EOF_MODES = {"eof": DEFAULT_CAPS, "deprecate-eof": DEFAULT_CAPS | DEPRECATE_EOF}


@pytest.fixture(scope="module")
def cursor_procedure(mariadb):
    mariadb.execute("CREATE OR REPLACE PROCEDURE app.uses_cursor() BEGIN "
                    "DECLARE v INT; DECLARE c CURSOR FOR SELECT id FROM app.t ORDER BY id; "
                    "OPEN c; FETCH c INTO v; CLOSE c; SELECT v, 'after the cursor'; END")


def direct_and_proxy(make_target, where, caps, run):
    """run(RawClient) against the server itself and against `where`; both answers."""
    transport = where.split("-")[1]
    answers = []
    for place in (f"direct-{transport}", where):
        client = RawClient(make_target(place), capabilities=caps)
        answers.append(run(client))
        assert client.query("SELECT 'still works'")[-2] == b"\x0bstill works"
        client.close()
    return answers


@pytest.mark.parametrize("eof", EOF_MODES)
@pytest.mark.parametrize("where", [w for w in WHERE_ALL if w.startswith("proxy")])
def test_prepared_call_of_a_procedure_with_a_cursor(make_target, cursor_procedure, where, eof):
    def run(client):
        statement = client.prepare("CALL uses_cursor()")
        return [client.execute(statement), client.execute(statement)]

    direct, proxied = direct_and_proxy(make_target, where, EOF_MODES[eof], run)
    assert b"after the cursor" in b"".join(direct[0])
    assert proxied == direct


@pytest.mark.parametrize("eof", EOF_MODES)
@pytest.mark.parametrize("where", [w for w in WHERE_ALL if w.startswith("proxy")])
def test_prepared_select_with_a_cursor(make_target, where, eof):
    def run(client):
        statement = client.prepare("SELECT id, v FROM t ORDER BY id")
        opened = client.execute(statement, flags=CURSOR_TYPE_READ_ONLY)
        client.command(b"\x1c" + statement.to_bytes(4, "little") + (10).to_bytes(4, "little"))
        return [opened, client.rows()]

    direct, proxied = direct_and_proxy(make_target, where, EOF_MODES[eof], run)
    assert proxied == direct


@pytest.mark.parametrize("where", [w for w in WHERE_ALL if w.startswith("proxy")])
def test_prepared_load_data_local_infile(make_target, mariadb, server_globals, where):
    server_globals(local_infile=1)
    table = f"li_{where.replace('-', '_')}"
    mariadb.execute(f"CREATE OR REPLACE TABLE app.{table} (a INT, b VARCHAR(10))")

    def run(client):
        statement = client.prepare(f"LOAD DATA LOCAL INFILE 'rows.csv' INTO TABLE {table} "
                                   "FIELDS TERMINATED BY ','")
        return client.execute(statement, local_file=b"1,one\n2,two\n")

    direct, proxied = direct_and_proxy(make_target, where, DEFAULT_CAPS | LOCAL_FILES, run)
    assert direct[0][:1] == b"\xfb" and direct[-1][:1] == b"\x00", direct
    assert proxied == direct
    assert mariadb.query(f"SELECT COUNT(*) FROM app.{table}")[0][0] == 4


@pytest.mark.parametrize("where", [w for w in WHERE_ALL if w.startswith("proxy")])
def test_extended_metadata(make_target, mariadb, where):
    """MARIADB_CLIENT_EXTENDED_METADATA: column definitions name the format and the type
    (`format=json`, `type=point`) for clients that ask (issue 11, point 6: dropped). Compared
    with the server's own definitions, as text and as a prepared statement."""
    mariadb.execute("CREATE OR REPLACE TABLE app.meta (j JSON, p POINT)",
                    "INSERT INTO app.meta VALUES ('{\"a\": 1}', POINT(1, 2))")
    caps = (DEFAULT_CAPS & ~LONG_PASSWORD) | MARIADB_EXTENDED_METADATA

    def run(client):
        text = client.query("SELECT j, p FROM meta")
        statement = client.prepare("SELECT j, p FROM meta")
        return [text, client.execute(statement)]

    direct, proxied = direct_and_proxy(make_target, where, caps, run)
    definitions = b"".join(direct[0][1:3])
    assert b"json" in definitions and b"point" in definitions, direct[0][:3]
    assert proxied == direct
