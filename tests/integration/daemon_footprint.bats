#!/usr/bin/env bats
# The daemon's memory footprint: `wharf daemon` executes wharfd, which maps
# none of the client's libraries, and idles under 10 MiB of resident memory
# (bench/engine measures the same figure against dockerd and containerd).

load helpers

setup() {
    T="$BATS_TEST_TMPDIR"
    "$BUILD/wharf" daemon --root "$T/root" -H "unix://$T/w.sock" 2>"$T/daemon.log" &
    PID=$!
    for _ in $(seq 50); do [ -S "$T/w.sock" ] && break; sleep 0.1; done
    [ -S "$T/w.sock" ]
}

teardown() {
    kill "$PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
}

@test "wharf daemon runs wharfd, which maps no client library (libcurl, libssl, libcrypto)" {
    [ "$(tr '\0' ' ' <"/proc/$PID/cmdline")" = "wharfd --root $T/root -H unix://$T/w.sock " ]
    [ "$(curl -s --unix-socket "$T/w.sock" http://x/_ping)" = OK ]
    grep -q libmicrohttpd "/proc/$PID/maps"
    run grep -E 'libcurl|libssl|libcrypto' "/proc/$PID/maps"
    [ "$status" -ne 0 ]
}

@test "the idle daemon's VmRSS stays under 10 MiB after a few requests" {
    grep -q libasan "/proc/$PID/maps" && skip "a sanitizer build"
    curl -s --unix-socket "$T/w.sock" http://x/_ping >/dev/null
    for _ in 1 2 3; do
        curl -sf --unix-socket "$T/w.sock" http://x/v1.47/version >/dev/null
        curl -sf --unix-socket "$T/w.sock" http://x/v1.47/containers/json >/dev/null
        curl -sf --unix-socket "$T/w.sock" http://x/v1.47/images/json >/dev/null
    done
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status")
    echo "VmRSS ${rss} KiB"
    [ "$rss" -le 10240 ]
}

@test "after containers ran, the daemon's VmRSS falls back under 10 MiB once it is quiet" {
    grep -q libasan "/proc/$PID/maps" && skip "a sanitizer build"
    make_rootfs "$T/rootfs"
    tar -C "$T/rootfs" -cf "$T/rootfs.tar" .
    local wh=("$BUILD/wharf" -H "unix://$T/w.sock")
    "${wh[@]}" import -c 'CMD ["sh"]' "$T/rootfs.tar" localhost/fp:1 >/dev/null
    for i in $(seq 8); do
        "${wh[@]}" run --rm localhost/fp:1 true
        "${wh[@]}" run -d --name "fp$$-$i" localhost/fp:1 sleep 100 >/dev/null
    done
    "${wh[@]}" rm -f $("${wh[@]}" ps -aq) >/dev/null
    sleep 1 # the server trims its heap 200 ms after the last request
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status")
    echo "VmRSS ${rss} KiB"
    [ "$rss" -le 10240 ]
    umount_under "$T"
}
