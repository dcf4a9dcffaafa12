"""`longlink diagnose` against real sockets with known numbers, in a private network namespace.

One scenario is generated once per module (TIME_WAIT lasts 60 s, so the module's tests run well
within that): client-closed TIME_WAIT to "mysql", server-closed TIME_WAIT on a listening port,
CLOSE_WAIT held by the generator with the matching FIN_WAIT2 orphans, and one destination with
its ephemeral ports nearly exhausted. The report must agree with the generator and with `ss`.
"""
import json
import os
import re
import subprocess
import time

import pytest

from conftest import LONGLINK, PORT_RANGE, PYTHON, SOCKGEN

RATE = 250  # connections/s of the last operation, whose churn estimate is checked
MYSQL_TW = 1000
SERVER_TW = 400
CLOSE_WAIT = 50
HOLD_EST = 300
MEMCACHED_TW = 1600  # + HOLD_EST from one source: 1900 of 2000 ports


@pytest.fixture(scope="module")
def scenario(module_netns):
    ns = module_netns
    proc, counts = ns.sockgen(
        "--close-wait", "6379", str(CLOSE_WAIT),
        "--server-close", "5432", str(SERVER_TW),
        "--sources", "127.0.4.1",
        "--established", "127.0.0.1:11211", str(HOLD_EST),
        "--client-close", "127.0.0.1:11211", str(MEMCACHED_TW),
        "--sources", "127.0.1.1", "--rate", str(RATE),
        "--client-close", "127.0.0.1:3306", str(MYSQL_TW))
    # Right after generation, so the recent window holds only the paced operation.
    report = ns.diagnose_json("--window", "3")
    ss = {state: ns.ss_count(state)
          for state in ("time-wait", "close-wait", "fin-wait-2", "established", "listening")}
    return {"ns": ns, "pid": proc.pid, "counts": counts, "report": report, "ss": ss}


def group(report, direction, port):
    found = [d for d in report["destinations"] if d["direction"] == direction and d["port"] == port]
    assert len(found) == 1, f"expected one {direction} group for port {port}: {report['destinations']}"
    return found[0]


def finding(report, code, subject_part):
    found = [f for f in report["findings"] if f["code"] == code and subject_part in f["subject"] + f["title"]]
    assert found, f"no {code} finding about {subject_part}: {[f['code'] + ' ' + f['title'] for f in report['findings']]}"
    return found[0]


def test_generator_made_what_was_asked(scenario):
    counts = dict(scenario["counts"])
    assert counts.pop("pid") == scenario["pid"]  # `ip netns exec` execs the generator
    assert counts == {"client_close": MYSQL_TW + MEMCACHED_TW, "server_close": SERVER_TW,
                      "close_wait": CLOSE_WAIT, "established": HOLD_EST}


def test_state_counts_equal_generator_and_ss(scenario):
    r, ss = scenario["report"], scenario["ss"]
    states = r["states"]
    assert states["TIME_WAIT"] == MYSQL_TW + MEMCACHED_TW + SERVER_TW == ss["time-wait"]
    assert states["CLOSE_WAIT"] == CLOSE_WAIT == ss["close-wait"]
    assert states["FIN_WAIT2"] == CLOSE_WAIT == ss["fin-wait-2"]
    assert r["fin_wait2_orphans"] == CLOSE_WAIT
    assert states["ESTABLISHED"] == 2 * HOLD_EST == ss["established"]
    assert states["LISTEN"] == 4 == ss["listening"]
    assert r["total"] == sum(states.values())
    assert r["source"] == "netlink" and r["partial"] is False


def test_directions_and_who_closed_first(scenario):
    r = scenario["report"]
    mysql = group(r, "outbound", 3306)
    assert mysql["service"] == "mysql" and mysql["address"] == "127.0.0.1"
    assert mysql["states"] == {"TIME_WAIT": MYSQL_TW}
    assert mysql["closed_first_by"] == "this host (client)"
    pg = group(r, "inbound", 5432)
    assert pg["states"] == {"TIME_WAIT": SERVER_TW}
    assert pg["closed_first_by"] == "this host (server)"
    redis_client = group(r, "outbound", 6379)
    assert redis_client["fin_wait2_orphans"] == CLOSE_WAIT
    assert redis_client["closed_first_by"] is None  # orphans are not TIME_WAIT
    assert sorted(r["listening_ports"]) == [3306, 5432, 6379, 11211]


def test_close_wait_attributed_to_the_generator(scenario):
    r = scenario["report"]
    assert r["close_wait_unattributed"] == 0
    assert len(r["close_wait"]) == 1
    cw = r["close_wait"][0]
    assert cw["pid"] == scenario["pid"]
    assert cw["count"] == CLOSE_WAIT
    assert "sockgen" in cw["cmdline"]
    assert cw["peers"] == [{"direction": "inbound", "address": "127.0.0.1", "port": 6379,
                            "service": "redis", "count": CLOSE_WAIT}]
    f = finding(r, "close_wait_leak", f"pid {scenario['pid']}")
    assert f["severity"] == "warning"


def test_port_pressure(scenario):
    r = scenario["report"]
    assert r["port_range"] == {"low": PORT_RANGE[0], "high": PORT_RANGE[1], "reserved": 0, "usable": 2000}
    top = r["port_pressure"][0]
    assert (top["local_address"], top["remote_address"], top["remote_port"]) == ("127.0.4.1", "127.0.0.1", 11211)
    assert top["ports_held"] == HOLD_EST + MEMCACHED_TW
    assert top["usable_ports"] == 2000
    assert top["level"] == "critical"
    mysql = [p for p in r["port_pressure"] if p["remote_port"] == 3306][0]
    assert mysql["ports_held"] == MYSQL_TW and mysql["level"] == "warning"
    f = finding(r, "port_exhaustion", "11211")
    assert f["severity"] == "critical" and "127.0.4.1" in f["title"]


def test_churn_rate_estimate_within_20_percent(scenario):
    rate = group(scenario["report"], "outbound", 3306)["close_rate_recent"]
    assert RATE * 0.8 <= rate <= RATE * 1.2, f"estimated {rate}/s, generated {RATE}/s"


def test_findings_verdict_and_proxy_config(scenario):
    r = scenario["report"]
    f = finding(r, "short_lived_connections", "127.0.0.1:3306")
    assert f["subject"] == "127.0.0.1:3306"
    assert "1,000 TIME_WAIT to 127.0.0.1:3306 (mysql)" in f["title"]
    assert "pool the connections" in f["advice"]
    assert r["findings"][0]["severity"] == "critical"
    assert r["verdict"] and r["verdict"].startswith(r["findings"][0]["title"])
    assert r["proxy_config"] is not None
    assert 'address = "127.0.0.1:3306"' in r["proxy_config"]
    finding(r, "fin_wait2_orphans", "6379")


def test_netns_flag_from_outside_agrees(scenario):
    r = subprocess.run([LONGLINK, "diagnose", "--json", "--netns", scenario["ns"].name],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    outside = json.loads(r.stdout)
    assert outside["netns"] == scenario["ns"].name
    assert outside["states"] == scenario["report"]["states"]
    assert outside["close_wait"][0]["pid"] == scenario["pid"]


def test_proc_fallback_gives_the_same_counts(scenario):
    via_proc = scenario["ns"].diagnose_json("--source", "proc")
    assert via_proc["source"] == "proc"
    assert via_proc["states"] == scenario["report"]["states"]
    assert via_proc["fin_wait2_orphans"] == CLOSE_WAIT
    assert via_proc["close_wait"][0]["pid"] == scenario["pid"]


def test_human_report(scenario):
    env = dict(os.environ, NO_COLOR="1")
    r = scenario["ns"].longlink("diagnose", env=env)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "\x1b" not in out
    for part in ("TIME_WAIT", "127.0.0.1:3306 (mysql)", "this host (client)", "this host (server)",
                 "CLOSE_WAIT by process", str(scenario["pid"]), "Verdict: ", "[backend]"):
        assert part in out, part


def test_prometheus_exposition(scenario):
    r = scenario["ns"].longlink("diagnose", "--prometheus")
    assert r.returncode == 0, r.stderr
    sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.e+]+$')
    values = {}
    for line in r.stdout.splitlines():
        if line.startswith("# "):
            assert line.startswith("# HELP ") or line.startswith("# TYPE "), line
            continue
        assert sample.match(line), line
        name, value = line.rsplit(" ", 1)
        values[name] = float(value)
    tw = MYSQL_TW + MEMCACHED_TW + SERVER_TW
    assert values['longlink_tcp_sockets{state="TIME_WAIT"}'] == tw
    assert values["longlink_tcp_fin_wait2_orphans"] == CLOSE_WAIT
    assert values[f'longlink_tcp_close_wait_by_process{{pid="{scenario["pid"]}",command="python3"}}'] == CLOSE_WAIT


def test_filters(scenario):
    ns = scenario["ns"]
    by_port = ns.diagnose_json("--port", "3306")
    assert by_port["states"]["TIME_WAIT"] == MYSQL_TW
    assert {(d["direction"], d["port"]) for d in by_port["destinations"]} == {("outbound", 3306)}
    assert by_port["filter"] == "port 3306"
    by_state = ns.diagnose_json("--state", "time-wait")
    assert by_state["total"] == by_state["states"]["TIME_WAIT"] == MYSQL_TW + MEMCACHED_TW + SERVER_TW
    by_dst = ns.diagnose_json("--dst", "127.0.0.1:5432")
    assert [(d["direction"], d["port"]) for d in by_dst["destinations"]] == [("inbound", 5432)]
    assert by_dst["states"]["TIME_WAIT"] == SERVER_TW


def test_unprivileged_run_is_labelled_partial(scenario):
    r = scenario["ns"].run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           LONGLINK, "diagnose", "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["partial"] is True
    assert any("not readable without root" in reason for reason in j["partial_reasons"]), j["partial_reasons"]
    assert j["close_wait_unattributed"] == CLOSE_WAIT
    assert j["states"]["CLOSE_WAIT"] == CLOSE_WAIT  # counts are still complete
    assert any(f["code"] == "partial_data" for f in j["findings"])


def test_watch_reports_rates_between_samples(netns):
    rate = 200
    gen = subprocess.Popen(netns.cmd(PYTHON, SOCKGEN, "--rate", str(rate), "--client-close",
                                     "127.0.0.1:3306", str(rate * 6)),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    netns.children.append(gen)
    time.sleep(1.0)
    r = netns.longlink("diagnose", "--json", "--watch", "1", "--count", "3", "--window", "1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3
    samples = [json.loads(line) for line in lines]
    assert samples[0]["rates"] is None
    for s in samples[1:]:
        rates = s["rates"]
        assert 0.9 <= rates["interval_seconds"] <= 1.5
        assert rate * 0.75 <= rates["tw_entered"] <= rate * 1.25, rates
        assert rate * 0.75 <= rates["active_opens"] <= rate * 1.25, rates
        assert rates["tw_recycled"] == 0
    gen.wait(timeout=30)
    assert gen.returncode == 0, gen.stderr.read()


SCALE = 150_000  # above the default tcp_max_tw_buckets (131,072); bench/diagnose.sh runs 600k


def peak_rss_kib(ns, *args):
    """Runs longlink in the namespace under /usr/bin/time; returns (stdout, peak RSS in KiB)."""
    r = ns.run("/usr/bin/time", "-f", "%M", LONGLINK, *args)
    assert r.returncode == 0, r.stderr
    return r.stdout, int(r.stderr.strip().splitlines()[-1])


def test_at_scale_counts_agree_and_memory_does_not_grow(netns):
    netns.run("sysctl", "-qw", "net.ipv4.ip_local_port_range=32768 60999",
              f"net.ipv4.tcp_max_tw_buckets={2 * SCALE}", check=True)
    _, rss_empty = peak_rss_kib(netns, "diagnose", "--json")
    sources = ",".join(f"127.0.2.{i}" for i in range(1, 13))  # 12,500 each: under half the range
    gen = netns.run(PYTHON, SOCKGEN, "--sources", sources, "--client-close", "127.0.0.1:3306",
                    str(SCALE))
    assert gen.returncode == 0, gen.stderr
    assert f"client_close={SCALE}" in gen.stdout
    out, rss = peak_rss_kib(netns, "diagnose", "--json")
    report = json.loads(out)
    assert report["states"]["TIME_WAIT"] == SCALE == netns.ss_count("time-wait")
    assert report["total"] == SCALE
    mysql = group(report, "outbound", 3306)
    assert mysql["states"] == {"TIME_WAIT": SCALE} and mysql["peers"] == 12
    assert len(report["port_pressure"]) == 12
    assert sum(p["ports_held"] for p in report["port_pressure"]) == SCALE
    # A list of 150k sockets alone would take over 9 MiB; the census keeps per-destination state.
    assert rss - rss_empty < 4 * 1024, f"peak RSS {rss} KiB with {SCALE:,} sockets, {rss_empty} KiB without"


@pytest.mark.parametrize("args,status,message", [
    (["--bogus"], 2, "--bogus"),
    (["--dst", "nonsense.invalid"], 2, "nonsense.invalid"),
    (["--dst", "10.0.0.1:99999"], 2, "10.0.0.1:99999"),
    (["--window", "0"], 2, "--window"),
    (["--state", "bogus"], 2, "bogus"),
    (["--port", "0"], 2, "--port"),
    (["--count", "2"], 2, "--count needs --watch"),
    (["--json", "--prometheus"], 2, "--prometheus"),
    (["--netns", "longlink-does-not-exist"], 1, "longlink-does-not-exist"),
])
def test_bad_input_is_one_clear_line(args, status, message):
    r = subprocess.run([LONGLINK, "diagnose", *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == status, (r.returncode, r.stderr)
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert message in r.stderr
