# Shared bats helpers: busybox-static bundles, a private runtime root, and
# cleanup of exactly what a test created.
#
#   RUNTIME   the runtime under test (default: build/wharf-runtime; the suites
#             are also meant to pass with RUNTIME=runc where runc has the feature)
#   BUILD     the build directory (default: <repo>/build)

REPO_DIR=$(cd "$(dirname "${BATS_TEST_FILENAME}")/../.." && pwd)
BUILD=${BUILD:-$REPO_DIR/build}
[[ "$BUILD" == /* ]] || BUILD="$PWD/$BUILD" # tests may cd elsewhere
RUNTIME=${RUNTIME:-$BUILD/wharf-runtime}

# A root directory for runtime state private to this test.
test_root() {
    echo "$BATS_TEST_TMPDIR/state"
}

# rt ARGS...: the runtime with the private root.
rt() {
    "$RUNTIME" --root "$(test_root)" "$@"
}

# A container id unique to this test run.
new_id() {
    echo "wt$$-${BATS_TEST_NUMBER}-$RANDOM"
}

# make_rootfs DIR: a minimal root filesystem from Debian's busybox-static.
make_rootfs() {
    local d=$1
    mkdir -p "$d"/{bin,proc,sys,dev,tmp,etc,root,var/run}
    cp /bin/busybox "$d/bin/busybox"
    local a
    for a in $(/bin/busybox --list); do
        [ "$a" = busybox ] || ln -sf busybox "$d/bin/$a"
    done
    mkdir -p "$d/usr" && ln -sfn ../bin "$d/usr/bin" && ln -sfn bin "$d/sbin"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$d/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$d/etc/group"
    chmod 1777 "$d/tmp"
}

# make_bundle DIR [ARGS...]: rootfs + a default config.json (from `$RUNTIME
# spec`) running ARGS (default: sh -c 'sleep 1000'), without a terminal.
make_bundle() {
    local d=$1
    shift
    mkdir -p "$d"
    make_rootfs "$d/rootfs"
    (cd "$d" && "$RUNTIME" spec) || return 1
    local args='["sleep","1000"]'
    if [ $# -gt 0 ]; then
        args=$(printf '%s\n' "$@" | jq -R . | jq -s -c .)
    fi
    jq --argjson a "$args" '.process.terminal = false | .process.args = $a' \
        "$d/config.json" >"$d/config.json.new" && mv "$d/config.json.new" "$d/config.json"
}

# edit_config DIR JQ-FILTER [jq args...]: rewrites DIR/config.json in place.
edit_config() {
    local d=$1 filter=$2
    shift 2
    jq "$@" "$filter" "$d/config.json" >"$d/config.json.new" && mv "$d/config.json.new" "$d/config.json"
}

# Remove every container this test left in its private root.
cleanup_containers() {
    local root
    root=$(test_root)
    [ -d "$root" ] || return 0
    local id
    for id in $(ls "$root" 2>/dev/null); do
        "$RUNTIME" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
    done
}

# ---- Additions for the runtime_*.bats suites ----

# is_runc: the runtime under test is runc (for the few checks runc does
# differently or lacks).
is_runc() {
    [ "$(basename "$RUNTIME")" = runc ]
}

# recvtty_bin: the console-socket receiver from tests/tools.
recvtty_bin() {
    echo "$BUILD/tests/tools/recvtty"
}

# ct_status ID / ct_pid ID: fields of `state ID`.
ct_status() {
    rt state "$1" | jq -r .status
}
ct_pid() {
    rt state "$1" | jq -r .pid
}

# wait_status ID STATUS: polls `state` for up to ~5 s.
wait_status() {
    local i
    for i in $(seq 50); do
        [ "$(ct_status "$1" 2>/dev/null)" = "$2" ] && return 0
        sleep 0.1
    done
    echo "container $1 never reached status $2 (now: $(ct_status "$1" 2>&1))" >&2
    return 1
}

# wait_gone PID: waits up to ~5 s for a process to disappear.
wait_gone() {
    local i
    for i in $(seq 50); do
        [ -e "/proc/$1" ] || return 0
        sleep 0.1
    done
    echo "process $1 still exists" >&2
    return 1
}

# cgroup_dir PID CONTROLLER: the host directory of PID's cgroup on a v1
# hierarchy (controllers co-mounted as "cpu,cpuacct" are found through the
# /sys/fs/cgroup/<controller> symlink); with no v1 line, the unified one.
cgroup_dir() {
    local pid=$1 ctrl=$2 rel
    rel=$(awk -F: -v c="$ctrl" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' \
        "/proc/$pid/cgroup")
    if [ -n "$rel" ]; then
        echo "/sys/fs/cgroup/$ctrl$rel"
        return 0
    fi
    rel=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
    if [ -d /sys/fs/cgroup/unified ]; then
        echo "/sys/fs/cgroup/unified$rel"
    else
        echo "/sys/fs/cgroup$rel"
    fi
}

# add_bind_mount BUNDLE SRC DEST [OPTIONS-JSON]: appends a bind mount.
add_bind_mount() {
    local opts=${4:-'["rbind","rw"]'}
    edit_config "$1" '.mounts += [{destination: $d, type: "bind", source: $s, options: $o}]' \
        --arg d "$3" --arg s "$2" --argjson o "$opts"
}

# start_recvtty SOCKET OUTFILE [recvtty options...]: starts recvtty in the
# background with its output in OUTFILE, waits until it listens, and prints
# its pid. Stop it with `kill PID` if the test does not let it finish.
start_recvtty() {
    local sock=$1 out=$2
    shift 2
    local pidf="$sock.pid"
    rm -f "$pidf"
    "$(recvtty_bin)" --pid-file "$pidf" "$@" "$sock" </dev/null >"$out" 2>&1 3>&- &
    local i
    for i in $(seq 50); do
        [ -s "$pidf" ] && { cat "$pidf"; return 0; }
        sleep 0.1
    done
    echo "recvtty did not start: $(cat "$out")" >&2
    return 1
}

# rt_capture ARGS...: like `run rt ARGS...` (sets $status, $output, $lines)
# but collects the output through files, because a created or detached
# container inherits the runtime's stdio and would keep bats' pipe open.
# Also sets $stderr and $stderr_lines to the runtime's stderr alone.
rt_capture() {
    local f
    f=$(mktemp "$BATS_TEST_TMPDIR/rt_capture.XXXXXX")
    status=0
    rt "$@" >"$f.out" 2>"$f.err" </dev/null 3>&- || status=$?
    output=$(cat "$f.out" "$f.err")
    stderr=$(cat "$f.err")
    mapfile -t lines <<<"$output"
    mapfile -t stderr_lines < <(grep -v '^$' "$f.err")
    rm -f "$f" "$f.out" "$f.err"
}

# create_ct BUNDLE ID [create options...]: `create` with the container's
# stdio going to $BATS_TEST_TMPDIR/ID.out; fails the test on error.
create_ct() {
    local b=$1 id=$2
    shift 2
    rt create --bundle "$b" "$@" "$id" >"$BATS_TEST_TMPDIR/$id.out" 2>&1 </dev/null 3>&- || {
        echo "create $id failed: $(cat "$BATS_TEST_TMPDIR/$id.out")" >&2
        return 1
    }
}

# cgroup_leftovers ID: prints any cgroup directory whose name contains ID on
# the memory, pids, cpu, freezer and unified hierarchies (empty = clean).
cgroup_leftovers() {
    local h
    for h in memory pids cpu freezer unified; do
        [ -d "/sys/fs/cgroup/$h" ] || continue
        find "/sys/fs/cgroup/$h" -maxdepth 5 -type d -name "*$1*" 2>/dev/null
    done
}

# set_args BUNDLE ARGS...: sets process.args; unlike make_bundle's ARGS an
# argument may span lines (handy for multi-line sh -c scripts).
set_args() {
    local d=$1
    shift
    local a args
    args=$(for a in "$@"; do printf '%s' "$a" | jq -Rs .; done | jq -sc .)
    edit_config "$d" '.process.args = $a' --argjson a "$args"
}

# ---- A private wharf daemon for the daemon_*/cli_* suites ----
# A suite keeps everything in its own directory $DD: the daemon's root
# $DD/root, socket $DD/wharf.sock, pid file $DD/daemon.pid, log
# $DD/daemon.log.

# umount_under DIR: lazily unmounts every mount at or below DIR, deepest first.
umount_under() {
    local m
    for m in $(awk -v d="$1" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
}

# podman_image_tar ROOTFS OUT NAME [CHANGE...]: a docker-archive OUT of the
# image NAME imported from the directory ROOTFS with podman (`--change` for
# each CHANGE), through a podman store private to $DD that is gone after.
podman_image_tar() {
    local rootfs=$1 out=$2 name=$3 c
    shift 3
    local args=()
    for c in "$@"; do args+=(--change "$c"); done
    local pm=(podman --root "$DD/pm-storage" --runroot "$DD/pm-run" --storage-driver overlay)
    tar -C "$rootfs" -cf "$DD/pm-rootfs.tar" . &&
        "${pm[@]}" import "${args[@]}" "$DD/pm-rootfs.tar" "$name" >/dev/null &&
        "${pm[@]}" save -o "$out" "$name" 2>/dev/null
    local rc=$?
    "${pm[@]}" rmi -af >/dev/null 2>&1 || true
    umount_under "$DD/pm-storage"
    umount_under "$DD/pm-run"
    rm -rf "$DD/pm-storage" "$DD/pm-run" "$DD/pm-rootfs.tar"
    return $rc
}

# daemon_start [ARGS...]: starts `wharf daemon` on $DD with ARGS besides its
# root and socket, and waits (up to 10 s) until it answers /_ping.
daemon_start() {
    rm -f "$DD/wharf.sock"
    "$BUILD/wharf" daemon --root "$DD/root" -H "unix://$DD/wharf.sock" "$@" 2>>"$DD/daemon.log" 3>&- &
    echo $! >"$DD/daemon.pid"
    local i
    for i in $(seq 100); do
        curl -sf --unix-socket "$DD/wharf.sock" http://x/_ping >/dev/null 2>&1 && return 0
        kill -0 "$(cat "$DD/daemon.pid")" 2>/dev/null || break
        sleep 0.1
    done
    echo "the daemon did not start: $(tail -5 "$DD/daemon.log")" >&2
    return 1
}

# daemon_stop [SIGNAL]: signals the daemon of $DD/daemon.pid (TERM) and waits
# up to 10 s for it to go (1 if it did not).
daemon_stop() {
    local pid i
    pid=$(cat "$DD/daemon.pid" 2>/dev/null) || return 0
    kill -"${1:-TERM}" "$pid" 2>/dev/null || return 0
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

# daemon_teardown: removes the containers of the daemon on $DD, stops it,
# unmounts what is below $DD and removes $DD. KEEP_LOG=FILE keeps a copy of
# the daemon's log (an ASan build's reports).
daemon_teardown() {
    [ -n "${DD:-}" ] && [ -d "$DD" ] || return 0
    if [ -S "$DD/wharf.sock" ]; then
        wh ps -aq 2>/dev/null | xargs -r "$BUILD/wharf" -H "unix://$DD/wharf.sock" rm -fv >/dev/null 2>&1
    fi
    daemon_stop
    [ -z "${KEEP_LOG:-}" ] || cp "$DD/daemon.log" "$KEEP_LOG"
    umount_under "$DD"
    rm -rf "$DD"
}

# dk / wh ARGS...: the docker CLI / the wharf CLI against the daemon on $DD.
dk() {
    docker -H "unix://$DD/wharf.sock" "$@"
}
wh() {
    "$BUILD/wharf" -H "unix://$DD/wharf.sock" "$@"
}
