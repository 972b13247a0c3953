#!/usr/bin/env bats
# The daemon under systemd: `wharf daemon -H fd://` serves on listening
# sockets passed by socket activation (LISTEN_FDS/LISTEN_PID, from fd 3),
# reports READY=1/STOPPING=1 to $NOTIFY_SOCKET, and `make install` installs
# contrib/'s wharf.service and wharf.socket. The sockets are passed by
# systemd-socket-activate (Debian's systemd package) as systemd would, and
# by a small python3 helper for the cases it cannot produce.

load helpers

setup_file() {
    command -v docker >/dev/null || skip "the docker CLI is not installed"
    export DD
    DD=$(mktemp -d /tmp/wharf-sock.XXXXXX)
    make_rootfs "$DD/rootfs"
    podman_image_tar "$DD/rootfs" "$DD/bb.tar" localhost/wharf-bb:1 'CMD ["sh"]'
    rm -rf "$DD/rootfs"
    # activate.py SOCKET... -- COMMAND...: binds and listens on each unix
    # SOCKET, puts them at fds 3, 4, ... and executes COMMAND with
    # LISTEN_FDS and LISTEN_PID (ACTIVATE_PID, when set, instead of its own).
    cat >"$DD/activate.py" <<'EOF'
import os, socket, sys
args = sys.argv[1:]
cut = args.index("--")
fds = []
for path in args[:cut]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(16)
    fds.append(s.detach())
high = [os.dup2(fd, 200 + i) for i, fd in enumerate(fds)]
for fd in fds:
    os.close(fd)
for i, fd in enumerate(high):
    os.dup2(fd, 3 + i, inheritable=True)
    os.close(fd)
os.environ["LISTEN_FDS"] = str(len(fds))
os.environ["LISTEN_PID"] = os.environ.get("ACTIVATE_PID", str(os.getpid()))
os.execvp(args[cut + 1], args[cut + 1:])
EOF
    # notify.py PATH: prints each datagram received on PATH until STOPPING=1
    # (or 60 s).
    cat >"$DD/notify.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
while True:
    msg = s.recv(4096).decode()
    print(msg, flush=True)
    if "STOPPING=1" in msg:
        break
EOF
}

teardown_file() {
    [ -n "${DD:-}" ] || return 0
    rm -rf "$DD"
}

setup() {
    T="$BATS_TEST_TMPDIR"
    PIDS=()
}

# Every daemon a test started: its containers removed, then the process.
teardown() {
    local p s
    for s in "$T"/*.sock; do
        [ -S "$s" ] || continue
        docker -H "unix://$s" ps -aq 2>/dev/null | xargs -r docker -H "unix://$s" rm -f >/dev/null 2>&1
    done
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    done
}

# socket_inode PID FD: the inode of the socket at /proc/PID/fd/FD.
socket_inode() {
    readlink "/proc/$1/fd/$2" | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p'
}

@test "systemd-socket-activate hands a listening socket to wharf daemon -H fd://" {
    command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate (package systemd) is not installed"
    systemd-socket-activate -l "$T/act.sock" "$BUILD/wharf" daemon --root "$T/root" -H fd:// \
        2>"$T/daemon.log" &
    PIDS+=($!)
    pid=$!
    for _ in $(seq 50); do [ -S "$T/act.sock" ] && break; sleep 0.1; done
    # The first connection starts the daemon; it is answered, not refused.
    run docker -H "unix://$T/act.sock" version --format '{{.Server.Platform.Name}}'
    [ "$status" -eq 0 ]
    [ "$output" = "Wharf Engine" ]
    # The activator became wharfd (the same process: LISTEN_PID held).
    [ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" = "wharfd --root $T/root -H fd:// " ]
    [ -n "$(socket_inode "$pid" 3)" ]
    # Close-on-exec now, so no child inherits it (see the next test).
    flags=$(awk '/^flags:/ { print $2 }' "/proc/$pid/fdinfo/3")
    [ $((8#$flags & 8#2000000)) -ne 0 ]
    # The socket file belongs to whoever bound it: left in place at stop.
    kill -TERM "$pid"
    wait "$pid"
    [ -S "$T/act.sock" ]
    grep -q "serving the Docker Engine API on fd://" "$T/daemon.log"
}

@test "containers of a socket-activated daemon hold neither its socket nor LISTEN_ variables" {
    command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate (package systemd) is not installed"
    systemd-socket-activate -l "$T/act.sock" "$BUILD/wharf" daemon --root "$T/root" -H fd:// \
        2>"$T/daemon.log" &
    PIDS+=($!)
    pid=$!
    for _ in $(seq 50); do [ -S "$T/act.sock" ] && break; sleep 0.1; done
    docker -H "unix://$T/act.sock" load -i "$DD/bb.tar" >/dev/null
    id=$(docker -H "unix://$T/act.sock" run -d localhost/wharf-bb:1 sleep 100)
    cpid=$(docker -H "unix://$T/act.sock" inspect --format '{{.State.Pid}}' "$id")
    shim=$(awk '/^PPid:/ { print $2 }' "/proc/$cpid/status")
    [ "$shim" -gt 1 ]
    [ "$shim" != "$pid" ]
    listener=$(socket_inode "$pid" 3)
    [ -n "$listener" ]
    for p in "$shim" "$cpid"; do
        run bash -c "ls -l /proc/$p/fd | grep -F 'socket:[$listener]'"
        [ "$status" -ne 0 ]
        run grep -z '^LISTEN_' "/proc/$p/environ"
        [ "$status" -ne 0 ]
    done
    docker -H "unix://$T/act.sock" rm -f "$id" >/dev/null
}

@test "fd:// serves every passed socket, fd://N only that one" {
    python3 "$DD/activate.py" "$T/a.sock" "$T/b.sock" -- \
        "$BUILD/wharf" daemon --root "$T/root" -H fd:// 2>"$T/daemon.log" &
    PIDS+=($!)
    for _ in $(seq 50); do grep -q serving "$T/daemon.log" 2>/dev/null && break; sleep 0.1; done
    [ "$(curl -s --unix-socket "$T/a.sock" http://x/_ping)" = OK ]
    [ "$(curl -s --unix-socket "$T/b.sock" http://x/_ping)" = OK ]
    kill "${PIDS[0]}"
    wait "${PIDS[0]}" || true
    rm -f "$T/a.sock" "$T/b.sock"

    python3 "$DD/activate.py" "$T/a.sock" "$T/b.sock" -- \
        "$BUILD/wharf" daemon --root "$T/root" -H fd://4 -H "unix://$T/own.sock" \
        2>"$T/daemon2.log" &
    PIDS+=($!)
    pid=$!
    for _ in $(seq 50); do grep -q serving "$T/daemon2.log" 2>/dev/null && break; sleep 0.1; done
    [ "$(curl -s --unix-socket "$T/b.sock" http://x/_ping)" = OK ]
    [ "$(curl -s --unix-socket "$T/own.sock" http://x/_ping)" = OK ]
    # fd 3 was not asked for: nobody accepts on it.
    run curl -s -m 1 --unix-socket "$T/a.sock" http://x/_ping
    [ "$status" -ne 0 ]
    # The socket it bound itself it removes at stop; the passed one it keeps.
    kill -TERM "$pid"
    wait "$pid"
    [ ! -e "$T/own.sock" ]
    [ -S "$T/b.sock" ]
}

@test "fd:// without passed sockets, or not for this process, or out of range: one line, exit 1" {
    run env -u LISTEN_FDS -u LISTEN_PID "$BUILD/wharf" daemon --root "$T/root" -H fd://
    [ "$status" -eq 1 ]
    [ "$output" = "wharf daemon: -H fd://: no sockets found via socket activation: make sure the service was started by systemd" ]

    # Sockets passed to another process (LISTEN_PID is not ours) are not taken.
    run env ACTIVATE_PID=1 python3 "$DD/activate.py" "$T/a.sock" -- \
        "$BUILD/wharf" daemon --root "$T/root" -H fd://
    [ "$status" -eq 1 ]
    [[ "$output" == *"no sockets found via socket activation"* ]]

    run python3 "$DD/activate.py" "$T/c.sock" -- "$BUILD/wharf" daemon --root "$T/root" -H fd://5
    [ "$status" -eq 1 ]
    [ "$output" = "wharf daemon: -H fd://5: too few socket activated files passed in by systemd (1, from fd 3)" ]

    run python3 "$DD/activate.py" "$T/d.sock" -- "$BUILD/wharf" daemon --root "$T/root" -H fd://x
    [ "$status" -eq 1 ]
    [[ "$output" == *"-H fd://x: failed to parse systemd fd address: should be a number"* ]]

    run python3 "$DD/activate.py" "$T/e.sock" -- "$BUILD/wharf" daemon --root "$T/root" \
        -H fd:// -H fd://3
    [ "$status" -eq 1 ]
    [[ "$output" == *"-H fd://3: fd 3 is already served by another -H"* ]]
    # Nothing was served and no data root was made for a refused start.
    [ ! -e "$T/root" ]
}

@test "READY=1 and STOPPING=1 go to NOTIFY_SOCKET, which children do not inherit" {
    python3 "$DD/notify.py" "$T/notify" >"$T/notify.out" &
    PIDS+=($!)
    npid=$!
    for _ in $(seq 50); do [ -S "$T/notify" ] && break; sleep 0.1; done
    NOTIFY_SOCKET="$T/notify" "$BUILD/wharf" daemon --root "$T/root" -H "unix://$T/w.sock" \
        2>/dev/null &
    PIDS+=($!)
    pid=$!
    for _ in $(seq 100); do grep -q READY=1 "$T/notify.out" && break; sleep 0.1; done
    [ "$(cat "$T/notify.out")" = "READY=1" ]
    # Ready means serving.
    [ "$(curl -s --unix-socket "$T/w.sock" http://x/_ping)" = OK ]
    # A container's shim is not one to notify systemd.
    docker -H "unix://$T/w.sock" load -i "$DD/bb.tar" >/dev/null
    id=$(docker -H "unix://$T/w.sock" run -d localhost/wharf-bb:1 sleep 100)
    cpid=$(docker -H "unix://$T/w.sock" inspect --format '{{.State.Pid}}' "$id")
    shim=$(awk '/^PPid:/ { print $2 }' "/proc/$cpid/status")
    [ "$shim" -gt 1 ]
    grep -qz '^PATH=' "/proc/$shim/environ"
    run grep -z '^NOTIFY_SOCKET' "/proc/$shim/environ"
    [ "$status" -ne 0 ]
    docker -H "unix://$T/w.sock" rm -f "$id" >/dev/null
    kill -TERM "$pid"
    wait "$pid"
    wait "$npid"
    [ "$(cat "$T/notify.out")" = "$(printf 'READY=1\nSTOPPING=1')" ]
}

@test "make install puts wharf.service and wharf.socket in PREFIX/lib/systemd/system; systemd accepts them" {
    b=$(cd "$BUILD" && pwd)
    DESTDIR="$T/dest" make -s -C "$REPO_DIR" BUILD="$b" install >/dev/null
    unit=$(find "$T/dest" -path '*/lib/systemd/system/wharf.service')
    [ -n "$unit" ]
    [ -f "$(dirname "$unit")/wharf.socket" ]
    # ExecStart names the installed wharfd.
    exe=$(sed -n 's/^ExecStart=\([^ ]*\) -H fd:\/\/$/\1/p' "$unit")
    [ -x "$T/dest$exe" ]
    [ "$(dirname "$unit")" = "$T/dest$(dirname "$(dirname "$exe")")/lib/systemd/system" ]
    grep -qx 'ListenStream=/run/wharf/wharf.sock' "$(dirname "$unit")/wharf.socket"
    command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
    # Checked as installed, but with ExecStart at this build's wharfd.
    mkdir "$T/units"
    cp "$(dirname "$unit")/wharf.socket" "$T/units/"
    sed "s|^ExecStart=$exe|ExecStart=$b/wharfd|" "$unit" >"$T/units/wharf.service"
    run systemd-analyze verify --man=no "$T/units/wharf.socket" "$T/units/wharf.service"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}
