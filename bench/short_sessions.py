"""Short sessions per second: W processes each open sessions (connect, SELECT 1, quit) for
SECONDS; prints the total rate. Usage: short_sessions.py (--tcp HOST:PORT | --socket PATH)
WORKERS SECONDS"""
import multiprocessing
import sys
import time

import pymysql


def worker(args, seconds, out):
    count = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        conn = pymysql.connect(user="app", password="app-secret", database="app", **args)
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
        conn.close()
        count += 1
    out.put(count)


def main():
    kind, where, workers, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    if kind == "--tcp":
        host, port = where.rsplit(":", 1)
        args = {"host": host, "port": int(port)}
    else:
        args = {"unix_socket": where}
    out = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=worker, args=(args, seconds, out))
             for _ in range(workers)]
    for p in procs:
        p.start()
    total = sum(out.get() for _ in procs)
    for p in procs:
        p.join()
    print(f"{total / seconds:.0f}")


if __name__ == "__main__":
    main()
