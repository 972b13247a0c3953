#!/usr/bin/env python3
"""Drive a command on a pseudo-terminal, like a person at a keyboard.

usage: ptyrun.py [--size ROWSxCOLS] [--timeout SECS] STEP... -- COMMAND [ARGS...]

Steps run in order:
  expect:REGEX    wait until the output so far (after the previous match)
                  matches REGEX (Python syntax, searched in the text with
                  '\\r' removed)
  send:TEXT       type TEXT; backslash escapes are decoded (\\r, \\x10, ...)
  resize:RxC      resize the terminal (the command gets SIGWINCH)
  sleep:SECS      pause
After the steps, waits for the command to exit. Prints everything the
command wrote (raw) to stdout and exits with its exit code; a step that
times out prints the transcript to stderr and exits 124.
"""
import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
import time


def main():
    args = sys.argv[1:]
    size = (24, 80)
    timeout = 20.0
    steps = []
    while args and args[0] != "--":
        a = args.pop(0)
        if a == "--size":
            r, c = args.pop(0).split("x")
            size = (int(r), int(c))
        elif a == "--timeout":
            timeout = float(args.pop(0))
        else:
            kind, _, val = a.partition(":")
            if kind not in ("expect", "send", "resize", "sleep"):
                sys.exit(f"ptyrun: bad step {a!r}")
            steps.append((kind, val))
    if not args or len(args) < 2:
        sys.exit(__doc__)
    cmd = args[1:]

    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)

    def set_size(rows, cols):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    set_size(*size)
    out = bytearray()
    seen = 0  # where the next expect starts looking
    deadline = time.time() + timeout

    def pump(wait):
        r, _, _ = select.select([fd], [], [], wait)
        if not r:
            return True
        try:
            data = os.read(fd, 65536)
        except OSError:
            return False
        if not data:
            return False
        out.extend(data)
        return True

    def fail(what):
        sys.stderr.write(f"ptyrun: timed out at {what}\n--- transcript ---\n")
        sys.stderr.write(out.decode(errors="replace"))
        sys.stderr.write("\n--- end ---\n")
        try:
            os.kill(pid, 9)
        except OSError:
            pass
        sys.exit(124)

    def text():
        return out.decode(errors="replace").replace("\r", "")

    for kind, val in steps:
        if kind == "expect":
            rx = re.compile(val)
            while True:
                m = rx.search(text(), seen)
                if m:
                    seen = m.end()
                    break
                if time.time() > deadline:
                    fail(f"expect:{val}")
                if not pump(0.05) and not rx.search(text(), seen):
                    fail(f"expect:{val} (the command ended)")
        elif kind == "send":
            os.write(fd, val.encode().decode("unicode_escape").encode("latin-1"))
        elif kind == "resize":
            r, c = val.split("x")
            set_size(int(r), int(c))
        elif kind == "sleep":
            end = time.time() + float(val)
            while time.time() < end:
                pump(0.05)

    status = None
    while status is None:
        if time.time() > deadline:
            fail("the exit")
        alive = pump(0.1)
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
        elif not alive:
            time.sleep(0.05)
    while pump(0.05):
        pass
    sys.stdout.write(out.decode(errors="replace"))
    sys.stdout.flush()
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
