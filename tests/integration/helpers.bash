# Shared bats helpers: busybox-static bundles, a private runtime root, and
# cleanup of exactly what a test created.
#
#   RUNTIME   the runtime under test (default: build/wharf-runtime; the suites
#             are also meant to pass with RUNTIME=runc where runc has the feature)
#   BUILD     the build directory (default: <repo>/build)

REPO_DIR=$(cd "$(dirname "${BATS_TEST_FILENAME}")/../.." && pwd)
BUILD=${BUILD:-$REPO_DIR/build}
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
