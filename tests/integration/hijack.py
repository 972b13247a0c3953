#!/usr/bin/env python3
"""Speak a hijacked Docker API connection (attach, exec start) by hand.

usage: hijack.py SOCKET METHOD PATH [--body JSON] [--timeout SECS] STEP...

Sends the request with "Connection: Upgrade" / "Upgrade: tcp", prints the
status line to stderr, then runs the steps in order:
  send:TEXT     write TEXT (backslash escapes decoded: \\r, \\x10, ...)
  expect:REGEX  wait until the raw stream so far matches (Python regex)
  shutwr        half-close: the daemon reads EOF
  sleep:SECS    pause, reading what arrives
Finally waits for the daemon to close the connection, prints the raw stream
to stdout and exits 0; 124 when a step or the close times out; 1 when the
status is not 101/200 (the body goes to stdout).
"""
import re
import socket
import sys
import time


def main():
    sock_path, method, path, *rest = sys.argv[1:]
    body = b""
    timeout = 15.0
    steps = []
    while rest:
        a = rest.pop(0)
        if a == "--body":
            body = rest.pop(0).encode()
        elif a == "--timeout":
            timeout = float(rest.pop(0))
        else:
            steps.append(a.partition(":")[::2])
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    req = (
        f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n"
        f"Upgrade: tcp\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    s.sendall(req)
    deadline = time.time() + timeout
    buf = b""
    while b"\r\n\r\n" not in buf:
        s.settimeout(max(0.1, deadline - time.time()))
        d = s.recv(4096)
        if not d:
            break
        buf += d
    head, _, data = buf.partition(b"\r\n\r\n")
    status = head.split(b"\r\n")[0].decode(errors="replace")
    sys.stderr.write(status + "\n")
    if " 101 " not in status + " " and " 200 " not in status + " ":
        s.settimeout(1)
        try:
            while True:
                d = s.recv(4096)
                if not d:
                    break
                data += d
        except OSError:
            pass
        sys.stdout.write(data.decode(errors="replace"))
        sys.exit(1)
    out = bytearray(data)
    closed = False

    def pump(wait):
        nonlocal closed
        if closed:
            time.sleep(wait)
            return
        s.settimeout(wait)
        try:
            d = s.recv(65536)
        except socket.timeout:
            return
        except OSError:
            closed = True
            return
        if not d:
            closed = True
        out.extend(d)

    def fail(what):
        sys.stderr.write(f"hijack: timed out at {what}\n")
        sys.stdout.write(out.decode(errors="replace"))
        sys.exit(124)

    seen = 0
    for kind, val in steps:
        if kind == "send":
            s.sendall(val.encode().decode("unicode_escape").encode("latin-1"))
        elif kind == "shutwr":
            s.shutdown(socket.SHUT_WR)
        elif kind == "sleep":
            end = time.time() + float(val)
            while time.time() < end:
                pump(0.05)
        elif kind == "expect":
            rx = re.compile(val.encode())
            while True:
                m = rx.search(bytes(out), seen)
                if m:
                    seen = m.end()
                    break
                if time.time() > deadline or closed:
                    fail(f"expect:{val}")
                pump(0.05)
        else:
            sys.exit(f"hijack: bad step {kind}")
    while not closed:
        if time.time() > deadline:
            fail("the close")
        pump(0.1)
    sys.stdout.write(out.decode(errors="replace"))


if __name__ == "__main__":
    main()
