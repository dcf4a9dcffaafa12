#!/usr/bin/env python3
"""Times commands in alternation: bench/interleaved.py RUNS OUT.json NAME=CMD [NAME=CMD...]

Each round runs every command once, in the order given, with standard output to /dev/null;
for each run it records the wall time and the CPU time the kernel charged to the child
(user + system, from wait4). Alternation keeps a load that drifts during the benchmark from
favouring one command, and CPU time is what a command costs whatever else the machine runs.
Writes {"results": [{"command", "wall_median", "cpu_median", "wall", "cpu"}]} to OUT.json.
Commands are split on spaces (no shell). Exits 1 if a command fails.
"""
import json
import os
import statistics
import sys
import time


def run_once(argv):
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        start = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1)])
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
    finally:
        os.close(devnull)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"interleaved: {' '.join(argv)} failed ({status})")
    return wall, usage.ru_utime + usage.ru_stime


def main(args):
    runs, out, specs = int(args[0]), args[1], args[2:]
    commands = [(name, cmd.split()) for name, _, cmd in (s.partition("=") for s in specs)]
    walls = {name: [] for name, _ in commands}
    cpus = {name: [] for name, _ in commands}
    for _, argv in commands:  # one warm-up round
        run_once(argv)
    for _ in range(runs):
        for name, argv in commands:
            wall, cpu = run_once(argv)
            walls[name].append(wall)
            cpus[name].append(cpu)
    results = [{"command": name, "wall_median": statistics.median(walls[name]),
                "cpu_median": statistics.median(cpus[name]), "wall": walls[name], "cpu": cpus[name]}
               for name, _ in commands]
    with open(out, "w") as f:
        json.dump({"results": results}, f)


if __name__ == "__main__":
    main(sys.argv[1:])
