"""The harness's sanitizer check (proxy_process.sanitizer_reports): it recognises the reports
ASan, LeakSanitizer and UBSan really write, a leak in this environment is really reported (
LeakSanitizer needs to stop the process's threads, which some containers forbid), and in the
sanitizer build (LONGLINK_SANITIZED=1, scripts/test.sh) LONGLINK_BIN is the instrumented binary.
"""
import os
import subprocess

import pytest

from conftest import LONGLINK
from proxy_process import sanitizer_reports

CLEAN_LOG = """\
2026-11-29T18:00:00.000Z info ready: listening on 127.0.0.1:6033; backend 127.0.0.1:3306
2026-11-29T18:00:01.000Z warning [s3] backend lost: Connection reset by peer (error: 1927)
2026-11-29T18:00:02.000Z info stopping on signal 15
"""

REPORTS = {
    "asan": "==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x6020 at pc 0x55\n"
            "SUMMARY: AddressSanitizer: heap-use-after-free src/proxy/client_session.cc:10\n",
    "lsan": "==4242==ERROR: LeakSanitizer: detected memory leaks\n\n"
            "SUMMARY: AddressSanitizer: 64 byte(s) leaked in 1 allocation(s).\n",
    "ubsan": "../src/protocol/wire.cc:42:17: runtime error: shift exponent 64 is too large\n",
}


def test_clean_log_has_no_report():
    assert sanitizer_reports(CLEAN_LOG) == []


@pytest.mark.parametrize("kind", sorted(REPORTS))
def test_reports_are_recognised(kind):
    assert sanitizer_reports(CLEAN_LOG + REPORTS[kind]), REPORTS[kind]


def test_a_real_leak_is_reported():
    """A process that leaks, under LeakSanitizer (GCC's libasan preloaded into python3)."""
    libasan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                             text=True).stdout.strip()
    if not os.path.isabs(libasan):
        pytest.skip("no libasan.so (gcc)")
    env = dict(os.environ, LD_PRELOAD=libasan, ASAN_OPTIONS="detect_leaks=1")
    leak = "import ctypes; ctypes.CDLL(None).malloc(4096)"
    r = subprocess.run(["/usr/bin/python3", "-c", leak], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode != 0 and "LeakSanitizer: detected memory leaks" in r.stderr, r.stderr
    assert sanitizer_reports(r.stderr), r.stderr


@pytest.mark.skipif(os.environ.get("LONGLINK_SANITIZED") != "1",
                    reason="not the sanitizer build (LONGLINK_SANITIZED=1)")
def test_the_binary_is_sanitized():
    libraries = subprocess.run(["ldd", LONGLINK], capture_output=True, text=True,
                               check=True).stdout
    assert "libasan" in libraries and "libubsan" in libraries, libraries
    assert "detect_leaks=1" in os.environ.get("ASAN_OPTIONS", ""), os.environ.get("ASAN_OPTIONS")
