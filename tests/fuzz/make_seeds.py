#!/usr/bin/env python3
"""Writes the seed corpora for the fuzz targets (run from anywhere).

Files named regression_* in corpus/ are inputs that once broke an invariant; they are kept by
hand, not generated here.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

PROTOCOL_41 = 1 << 9
SECURE = 1 << 15
PLUGIN_AUTH = 1 << 19
CONNECT_ATTRS = 1 << 20
SESSION_TRACK = 1 << 23
DEPRECATE_EOF = 1 << 24
CACHE_METADATA = 1 << 36
CAPS = PROTOCOL_41 | SECURE | PLUGIN_AUTH | CONNECT_ATTRS | SESSION_TRACK


def h(text):
    return bytes.fromhex(text)


def caps(value):
    return struct.pack("<Q", value)


def frame(payload, seq):
    out = b""
    while True:
        chunk = payload[:0xFFFFFF]
        payload = payload[0xFFFFFF:]
        out += struct.pack("<I", len(chunk))[:3] + bytes([seq & 0xFF]) + chunk
        seq += 1
        if len(chunk) < 0xFFFFFF:
            return out


GREETING_57 = h(
    "0a352e372e31382d6c6f6700127a2900335838184"
    "45e164800ffff210200ffc1150000000000000000"
    "0000407911302a41615564776e0d006d7973716c5f"
    "6e61746976655f70617373776f726400")
RESPONSE_DOCS = h(
    "8da60f000000000108000000000000000000000000000000000000000000000070616d00"
    "14ab09eef6bcb1323e61143865c0991d957d75d447746573740"
    "06d7973716c5f6e61746976655f70617373776f726400")

SEEDS = {
    "server_packets": {
        "ok": caps(CAPS) + h("00000002000000"),
        "ok_session_state": caps(CAPS) + h("0000000240000000070105047465737"
                                           "4"),
        "ok_as_eof": caps(CAPS | DEPRECATE_EOF) + h("fe000022000000"),
        "err": caps(CAPS) + h("ff480423485930303030") + b"No tables used",
        "eof": caps(CAPS) + h("fe00000200"),
        "progress": caps(CAPS | (1 << 32)) + h("ffffff010102 50c300 04") + b"copy",
        "greeting_mysql57": caps(0) + GREETING_57,
        "prepare_ok": caps(CAPS) + h("000100000001000200000000"),
        "column_count_cached": caps(CAPS | CACHE_METADATA) + h("0200"),
        "auth_switch": caps(0) + h("fe") + b"mysql_native_password\0" + b"A" * 20 + b"\0",
        "session_state": caps(0) + h("000f0a") + b"autocommit" + h("03") + b"OFF"
                         + h("0105047465737402020131"),
    },
    "client_packets": {
        "response_docs": caps(CAPS) + RESPONSE_DOCS,
        "ssl_request": caps(0) + h("84aa0b00000000012d") + bytes(19) + h("01000000"),
        "change_user": caps(CAPS) + h("11") + b"app\0" + h("14") + b"0123456789abcdefghij"
                       + b"shop\0" + h("2d00") + b"mysql_native_password\0" + h("0a03")
                       + b"_os" + h("05") + b"Linux",
        "query": caps(0) + h("03") + b"select @@version_comment limit 1",
        "stmt_execute": caps(0) + h("17010000000001000000000" "10f0003666f6f"),
        "field_list": caps(0) + h("04") + b"orders\0",
        "set_option": caps(0) + h("1b0100"),
    },
    "framer": {
        "two_packets": bytes([3]) + h("000100") + frame(h("03") + b"select 1", 0)
                       + frame(h("0e"), 0),
        "empty_packet": bytes([0]) + h("000100") + frame(b"", 3),
        "too_large": bytes([7]) + h("100000") + h("20000000") + b"x" * 0x20,
    },
    "response": {
        # Shape 4 (query), caps, packets as int<1> length + bytes.
        "result_set": bytes([4]) + caps(CAPS) + b"".join(
            bytes([len(p)]) + p for p in [
                h("01"),
                h("03646566047368") + h("6f700174017401610161") + h("0c2d000b00000003000000"
                                                                  "0000"),
                h("fe00000200"), h("0131"), h("fb0131"), h("fe00002200")]),
        "local_infile": bytes([4]) + caps(CAPS | (1 << 7)) + bytes([3]) + h("fb") + b"/x"
                        + bytes([7]) + h("00010002000000"),
        "prepare": bytes([6]) + caps(CAPS | DEPRECATE_EOF) + bytes([12])
                   + h("000700000001000200000000") + bytes([3]) + h("036465") + bytes([3])
                   + h("036465") + bytes([3]) + h("036465"),
    },
}

for target, seeds in SEEDS.items():
    directory = os.path.join(HERE, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
print("wrote", sum(len(s) for s in SEEDS.values()), "seeds")
