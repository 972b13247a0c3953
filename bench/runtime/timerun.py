#!/usr/bin/env python3
"""Alternating timing loop for bench/runtime/run.sh.

Runs `BIN --root ROOT run --bundle BUNDLE ID` for each runtime in turn, ITER
rounds, and prints one line per run: NAME WALL_US MAXRSS_KIB STATUS. Timing
and peak RSS come from the process itself (perf_counter around spawn and
wait4's rusage), so no shell, date or time(1) process sits in the measured
interval.
"""
import os
import subprocess
import sys
import time


def main():
    iters, work, bundle = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    runtimes = [a.split("=", 1) for a in sys.argv[4:]]
    devnull = os.open(os.devnull, os.O_RDWR)
    for i in range(1, iters + 1):
        for name, binary in runtimes:
            root = f"{work}/root-{name}-{i}"
            cid = f"bench-{os.getppid()}-{name}-{i}"
            argv = [binary, "--root", root, "run", "--bundle", bundle, cid]
            t0 = time.perf_counter()
            p = subprocess.Popen(argv, stdin=devnull, stdout=devnull, stderr=devnull)
            _, status = os.waitpid(p.pid, 0)
            wall_us = int((time.perf_counter() - t0) * 1e6)
            p.returncode = os.waitstatus_to_exitcode(status)
            print(f"{name} {wall_us} {p.returncode} {root} {cid}", flush=True)


if __name__ == "__main__":
    main()
