#!/usr/bin/env python3
"""Alternating timing loop for bench/engine/run.sh.

    timerun.py ITER SPECS ERRDIR

SPECS has one engine a line: NAME, a tab, then the command's argv as a JSON
array. Each of ITER rounds runs every command once, in turn, and prints one
line per run: NAME WALL_US STATUS. The time is taken around spawn and wait
in this process (perf_counter), so no shell or time(1) sits in the measured
interval. The stderr of a run that failed is kept in ERRDIR/NAME.err.
"""
import json
import os
import subprocess
import sys
import time


def main():
    iters, specs, errdir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    engines = []
    with open(specs) as f:
        for line in f:
            name, argv = line.rstrip("\n").split("\t", 1)
            engines.append((name, json.loads(argv)))
    devnull = os.open(os.devnull, os.O_RDWR)
    for _ in range(iters):
        for name, argv in engines:
            err = open(os.path.join(errdir, name + ".err.tmp"), "wb")
            t0 = time.perf_counter()
            p = subprocess.Popen(argv, stdin=devnull, stdout=devnull, stderr=err)
            status = p.wait()
            wall_us = int((time.perf_counter() - t0) * 1e6)
            err.close()
            if status != 0:
                os.replace(err.name, os.path.join(errdir, name + ".err"))
            print(f"{name} {wall_us} {status}", flush=True)


if __name__ == "__main__":
    main()
