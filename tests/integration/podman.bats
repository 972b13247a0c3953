#!/usr/bin/env bats
# wharf-runtime as podman's OCI runtime (`podman --runtime`): podman drives
# it through conmon exactly as it drives runc. Everything lives in a private
# storage root and run root; podman on this host needs explicit ulimits.

load helpers

setup_file() {
    export PM_DIR
    PM_DIR=$(mktemp -d /tmp/wharf-podman.XXXXXX)
    local rootfs="$PM_DIR/rootfs"
    make_rootfs "$rootfs"
    tar -C "$rootfs" -cf "$PM_DIR/rootfs.tar" .
    pm import "$PM_DIR/rootfs.tar" localhost/wharf-bb:test >/dev/null
}

teardown_file() {
    pm rm -af >/dev/null 2>&1 || true
    pm rmi -af >/dev/null 2>&1 || true
    # Unmount only what podman mounted under our private directories.
    local m
    for m in $(awk -v d="$PM_DIR" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf "$PM_DIR"
}

pm() {
    podman --root "$PM_DIR/storage" --runroot "$PM_DIR/run" --runtime "$RUNTIME" \
        --cgroup-manager cgroupfs --events-backend file --storage-driver overlay "$@"
}

pm_run() {
    pm run --network none --ulimit nproc=1024:1024 --ulimit nofile=1024:1024 "$@"
}

@test "podman run with wharf-runtime prints the container's output" {
    run pm_run --rm localhost/wharf-bb:test sh -c 'echo hello from wharf; echo pid $$'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "hello from wharf" ]
    [ "${lines[1]}" = "pid 1" ]
}

@test "podman run returns the container's exit code" {
    run pm_run --rm localhost/wharf-bb:test sh -c 'exit 3'
    [ "$status" -eq 3 ]
}

@test "podman run -d, exec, pause, unpause, stop and rm" {
    name="wt$$-$RANDOM"
    pm_run -d --name "$name" --memory 64m localhost/wharf-bb:test sleep 1000
    run pm exec "$name" cat /sys/fs/cgroup/memory/memory.limit_in_bytes
    [ "$status" -eq 0 ]
    [ "$output" = 67108864 ]
    pm pause "$name"
    [ "$(pm inspect --format '{{.State.Status}}' "$name")" = paused ]
    pm unpause "$name"
    [ "$(pm inspect --format '{{.State.Status}}' "$name")" = running ]
    pm stop -t 1 "$name"
    [ "$(pm inspect --format '{{.State.Status}}' "$name")" = exited ]
    pm rm "$name"
}

@test "podman run -t and exec -t get a terminal through the console socket" {
    run pm_run --rm -t localhost/wharf-bb:test tty
    [ "$status" -eq 0 ]
    [[ "$output" == /dev/pts/0* ]]
    name="wt$$-$RANDOM"
    pm_run -d --name "$name" localhost/wharf-bb:test sleep 1000
    run pm exec -t "$name" tty
    [ "$status" -eq 0 ]
    [[ "$output" == /dev/pts/* ]]
    pm rm -f "$name"
}
