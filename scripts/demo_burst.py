"""Opens N short MySQL sessions (connect, SELECT 1, quit), as a cron job or a PHP page does.

  demo_burst.py --tcp HOST:PORT | --socket PATH  N
Prints how long it took. Used by scripts/demo.sh.
"""
import sys
import time

import pymysql


def main():
    kind, where, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if kind == "--tcp":
        host, port = where.rsplit(":", 1)
        args = {"host": host, "port": int(port)}
    else:
        args = {"unix_socket": where}
    started = time.monotonic()
    for _ in range(count):
        conn = pymysql.connect(user="app", password="app-secret", database="app", **args)
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
        conn.close()
    elapsed = time.monotonic() - started
    print(f"{count} sessions in {elapsed:.2f} s ({count / elapsed:.0f}/s)")


if __name__ == "__main__":
    main()
