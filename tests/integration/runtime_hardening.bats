#!/usr/bin/env bats
# What runc learned the hard way: the runtime binary cannot be reached from
# inside (CVE-2019-5736), no host file descriptor leaks in (CVE-2024-21626),
# symlinks in an image cannot point mounts at the host, and only the fds
# asked for with --preserve-fds pass through.

load helpers

setup() {
    ID=$(new_id)
    B="$BATS_TEST_TMPDIR/bundle"
}

teardown() {
    cleanup_containers
}

@test "the init runs from a sealed in-memory copy of the runtime, not the file on disk" {
    is_runc && skip "runc 1.1 clones itself differently"
    make_bundle "$B"
    create_ct "$B" "$ID"
    pid=$(ct_pid "$ID")
    [[ "$(readlink "/proc/$pid/exe")" == /memfd:wharf-runtime* ]]
    # Opening it for writing fails: the copy is sealed.
    run sh -c "echo x >>/proc/$pid/exe"
    [ "$status" -ne 0 ]
}

@test "the container sees only its stdio file descriptors" {
    make_bundle "$B" ls /proc/self/fd
    run rt run --bundle "$B" "$ID" 3<"$BATS_TEST_FILENAME" 4<"$BATS_TEST_FILENAME"
    [ "$status" -eq 0 ]
    # 0, 1, 2 and the directory ls itself has open.
    [ "$(echo "$output" | tr '\n' ' ')" = "0 1 2 3 " ]
}

@test "--preserve-fds passes exactly the fds asked for" {
    make_bundle "$B" sh -c 'cat <&3; { cat <&4; } 2>/dev/null && echo leaked || echo "no fd 4"'
    echo "through fd 3" >"$BATS_TEST_TMPDIR/f3"
    run rt run --preserve-fds 1 --bundle "$B" "$ID" 3<"$BATS_TEST_TMPDIR/f3" 4<"$BATS_TEST_TMPDIR/f3"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "through fd 3" ]
    [ "${lines[1]}" = "no fd 4" ]
}

@test "a symlink in the image cannot redirect a mount onto the host" {
    make_bundle "$B" sh -c 'ls /escape/'
    host_dir="$BATS_TEST_TMPDIR/host-dir"
    mkdir "$host_dir"
    ln -s "$host_dir" "$B/rootfs/escape"
    edit_config "$B" '.mounts += [{destination: "/escape/mnt", type: "tmpfs", source: "tmpfs", options: ["size=1m"]}]
        | .root.readonly = false'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "$output" = mnt ]
    # Created inside the rootfs (following the link within it), never on the host.
    [ ! -e "$host_dir/mnt" ]
    [ -d "$B/rootfs/$host_dir/mnt" ]
}

@test "a cwd reached through a symlink stays inside the root" {
    make_bundle "$B" pwd
    ln -s / "$B/rootfs/up"
    edit_config "$B" '.process.cwd = "/up/../../../../tmp"'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "$output" = /tmp ]
}
