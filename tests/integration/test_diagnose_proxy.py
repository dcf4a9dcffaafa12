"""`longlink diagnose` joined with a running `longlink proxy`: the admin-console client against
a real MariaDB, finding the proxy in /proc, and the figures and advice of the joined report.

The proxy and MariaDB run in this network namespace (the harness's), so other sockets of the
host may show in the reports: the assertions look only at this proxy (by pid) and its ports.
Until the proxy has its admin console (docs/ADMIN.md), the tests that need its figures skip.
"""
import json
import os
import subprocess

import pymysql
import pytest

from conftest import LONGLINK
from mariadb_server import APP_PASSWORD, APP_USER

# Short client sessions through the proxy over TCP: TIME_WAIT toward it. After COM_QUIT the
# proxy closes its end at once (no reset to wait for), racing the client's own close, so each
# session's TIME_WAIT lands on either end; 150 puts at least 75 on one of them, above the
# 50 that make diagnose report churn (short_lived_connections or server_closes_first).
SESSIONS = 150


def diag_test_binary():
    """The unit-test binary holding AdminClientMariadbTest (built beside longlink)."""
    default = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(LONGLINK))), "tests",
                           "unit", "diag", "diag_test")
    return os.environ.get("LONGLINK_DIAG_TEST", default)


def diagnose(*args, expect_json=True):
    r = subprocess.run([LONGLINK, "diagnose", "--no-color", *args], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, f"diagnose failed ({r.returncode}): {r.stderr}"
    return json.loads(r.stdout) if expect_json else r.stdout


def our_proxy(report, pid):
    found = [p for p in report["proxies"] if p["pid"] == pid]
    assert len(found) == 1, f"proxy pid {pid} not in {report['proxies']}"
    return found[0]


def console_answers(path):
    """True when `path` is an admin console that answers SHOW TOTALS to root."""
    if not os.path.exists(path):
        return False
    try:
        with pymysql.connect(unix_socket=path, user="root", connect_timeout=2) as conn, \
                conn.cursor() as cur:
            cur.execute("SHOW TOTALS")
            return any(row[0] == "logins_total" for row in cur.fetchall())
    except pymysql.MySQLError:
        return False


def test_admin_client_logs_in_to_mariadb(mariadb):
    """The client speaks the real protocol: root logs in over MariaDB's socket without a
    password and reads SHOW VARIABLES (AdminClientMariadbTest)."""
    binary = diag_test_binary()
    if not os.access(binary, os.X_OK):
        pytest.fail(f"{binary} not found; build diag_test or set LONGLINK_DIAG_TEST")
    r = subprocess.run([binary, "--gtest_filter=AdminClientMariadbTest.*"], capture_output=True,
                       text=True, timeout=60,
                       env={**os.environ, "LONGLINK_TEST_MARIADB_SOCKET": mariadb.socket})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[  PASSED  ] 1 test" in r.stdout and "SKIPPED" not in r.stdout, r.stdout


def test_proxy_admin_names_a_console_that_is_not_a_proxy(mariadb):
    """--proxy-admin at MariaDB's socket: the login succeeds (root, no password), and
    SHOW TOTALS fails with the server's error, reported as such."""
    report = diagnose("--json", "--proxy-admin", mariadb.socket)
    assert len(report["proxies"]) == 1
    p = report["proxies"][0]
    assert p["reach"] == "failed", p
    assert "SHOW TOTALS" in p["error"] and "1064" in p["error"], p
    assert any(f["code"] == "proxy_admin_failed" for f in report["findings"])


def test_missing_console_is_unreachable(tmp_path):
    path = str(tmp_path / "nothing.sock")
    report = diagnose("--json", "--proxy-admin", path)
    p = report["proxies"][0]
    assert p["reach"] == "unreachable" and "No such file or directory" in p["error"], p


def test_finds_a_proxy_without_an_admin_console(proxy_factory):
    proxy = proxy_factory()
    p = our_proxy(diagnose("--json"), proxy.pid)
    assert p["reach"] == "no_admin_socket", p
    assert p["config_file"] == proxy.config_path
    text = diagnose(expect_json=False)
    assert f"longlink proxy pid {proxy.pid} runs without an admin console" in text
    assert "[admin] unix_socket" in text


def test_joined_report(proxy_factory, tmp_path):
    admin = str(tmp_path / "admin.sock")
    proxy = proxy_factory(admin={"unix_socket": admin})
    p = our_proxy(diagnose("--json"), proxy.pid)
    assert p["admin_socket"] == admin
    if not console_answers(admin):
        assert p["reach"] in ("unreachable", "refused", "failed"), p
        pytest.skip(f"this proxy has no admin console yet ({p['reach']}: {p['error']})")

    for _ in range(SESSIONS):
        conn = pymysql.connect(host="127.0.0.1", port=proxy.tcp_port, user=APP_USER,
                               password=APP_PASSWORD, database="app")
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        conn.close()

    report = diagnose("--json")
    p = our_proxy(report, proxy.pid)
    assert p["reach"] == "read", p
    figures = p["figures"]
    assert figures["logins_total"] >= SESSIONS
    assert figures["logins_last_minute"] >= SESSIONS
    assert figures["server_connects_total"] <= 4, figures  # pool.max_connections
    assert figures["server_connects_saved_total"] > 0
    assert figures["time_wait_avoided"] >= SESSIONS - 4
    assert f"127.0.0.1:{proxy.tcp_port}" in p["listen"]["tcp"]
    assert p["listen"]["unix_socket"] == proxy.unix_socket

    subject = f"127.0.0.1:{proxy.tcp_port}"
    churn = [f for f in report["findings"]
             if f["code"] in ("short_lived_connections", "server_closes_first")
             and f["subject"] == subject]
    assert churn, [f["code"] + " " + f["subject"] for f in report["findings"]]
    assert f"Clients reach longlink proxy pid {proxy.pid} over TCP" in churn[0]["advice"]
    assert f"over its Unix socket ({proxy.unix_socket})" in churn[0]["advice"]
    assert any(f["code"] == "proxy_pooling" and f["subject"] == f"longlink proxy pid {proxy.pid}"
               for f in report["findings"])

    text = diagnose(expect_json=False)
    assert f"longlink proxy pid {proxy.pid} (" in text
    assert "server logins saved" in text and "TIME_WAIT socket" in text
    assert "connect them over its Unix socket" in text

    prom = diagnose("--prometheus", expect_json=False)
    line = [l for l in prom.splitlines()
            if l.startswith("longlink_diag_proxy_logins_total{") and f'pid="{proxy.pid}"' in l]
    assert line and float(line[0].split()[-1]) >= SESSIONS, line
