#!/usr/bin/env bats
# What a container sees of the machine: its own pid 1, hostname, mount
# table, masked and read-only paths, mounts from the config, namespaces
# (new, joined by path, user with id maps, cgroup) and /dev.

load helpers

setup() {
    B="$BATS_TEST_TMPDIR/bundle"
    ID=$(new_id)
    NETNS=""
    USERNS_DIR=""
}

# userns_bundle: a bundle the mapped root (host uid 100000) can reach:
# bats' own temp directories are private to the host root.
userns_bundle() {
    USERNS_DIR=$(mktemp -d /tmp/wharf-userns.XXXXXX)
    chmod 755 "$USERNS_DIR"
    B="$USERNS_DIR/bundle"
    make_bundle "$B" "$@"
    chown -R 100000:100000 "$B/rootfs"
    edit_config "$B" '.linux.namespaces += [{type: "user"}]
        | .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
        | .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]'
}

teardown() {
    cleanup_containers
    if [ -n "$NETNS" ]; then
        ip netns delete "$NETNS" 2>/dev/null || true
    fi
    if [ -n "$USERNS_DIR" ]; then
        rm -rf "$USERNS_DIR"
    fi
}

@test "the container's process is pid 1" {
    make_bundle "$B" sh -c 'echo $$; tr "\0" " " </proc/1/cmdline; echo; ls /proc | grep -c "^[0-9]"'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 1 ]
    [[ "${lines[1]}" == "sh -c "* ]]
    # Only sh itself and the ls/grep pipeline are visible.
    [ "${lines[2]}" -le 3 ]
}

@test "hostname comes from the config" {
    make_bundle "$B" hostname
    edit_config "$B" '.hostname = "wharf-test-host"'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "$output" = wharf-test-host ]
    [ "$(hostname)" != wharf-test-host ]
}

@test "the mount table is the container's own" {
    make_bundle "$B" cat /proc/self/mountinfo
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    points=$(echo "$output" | awk '{ print $5 }')
    echo "$points" | grep -qx /
    echo "$points" | grep -qx /proc
    echo "$points" | grep -qx /dev
    # No host mount point leaks in: not /work, not the bats temp dir, not
    # the host's /run or /boot.
    ! echo "$points" | grep -E '^/work|bats-run|^/run|^/boot'
}

@test "masked paths are empty and unreadable" {
    make_bundle "$B" sh -c 'ls /sys/firmware | wc -l; wc -c </proc/keys; wc -c </proc/timer_list; if [ -e /proc/kcore ]; then wc -c </proc/kcore; else echo 0; fi'
    edit_config "$B" '.linux.maskedPaths |= ((. // []) + ["/proc/kcore", "/sys/firmware", "/proc/keys", "/proc/timer_list"] | unique)'
    # Something to hide: these are not empty on the host.
    [ "$(ls /sys/firmware | wc -l)" -gt 0 ]
    [ "$(wc -c </proc/timer_list)" -gt 0 ]
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 4 ]
    [ "${lines[0]}" -eq 0 ]
    [ "${lines[1]}" -eq 0 ]
    [ "${lines[2]}" -eq 0 ]
    [ "${lines[3]}" -eq 0 ]
}

@test "read-only paths refuse writes" {
    make_bundle "$B" sh -c 'if echo other >/proc/sys/kernel/hostname; then echo WROTE; else echo REFUSED; fi; hostname; grep " /proc/sys " /proc/self/mountinfo'
    edit_config "$B" '.hostname = "ro-test" | .linux.readonlyPaths |= ((. // []) + ["/proc/sys"] | unique)'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [[ "$output" == *REFUSED* ]]
    [[ "$output" != *WROTE* ]]
    [[ "$output" == *"Read-only file system"* ]]
    [[ "$output" == *ro-test* ]]
    echo "$output" | grep -E ' /proc/sys (ro|[^ ]*,ro)[, ]'
}

@test "a read-only root refuses writes, a writable one takes them" {
    make_bundle "$B" sh -c 'if touch /newfile; then echo WROTE; else echo REFUSED; fi'
    edit_config "$B" '.root.readonly = true'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [[ "$output" == *REFUSED* ]]
    [[ "$output" == *"Read-only file system"* ]]
    [ ! -e "$B/rootfs/newfile" ]

    edit_config "$B" '.root.readonly = false'
    run rt run --bundle "$B" "$(new_id)"
    [ "$status" -eq 0 ]
    [ "$output" = WROTE ]
    [ -e "$B/rootfs/newfile" ]
}

@test "a bind mount from the bundle and a tmpfs with options are visible" {
    make_bundle "$B" sh -c 'cat /mnt/data/hello; if touch /mnt/data/new; then echo RW; else echo RO; fi; stat -c %a /scratch; grep " /scratch " /proc/self/mountinfo; echo x >/scratch/f && cat /scratch/f'
    mkdir "$B/data"
    echo hello-from-bundle >"$B/data/hello"
    add_bind_mount "$B" "$B/data" /mnt/data '["rbind","ro"]'
    edit_config "$B" '.mounts += [{destination: "/scratch", type: "tmpfs", source: "tmpfs", options: ["nosuid","nodev","size=1m","mode=0700"]}]'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = hello-from-bundle ]
    [[ "$output" == *RO* ]]
    [ ! -e "$B/data/new" ]
    echo "$output" | grep -qx 700
    echo "$output" | grep ' /scratch ' | grep -q 'tmpfs'
    echo "$output" | grep ' /scratch ' | grep -q 'size=1024k'
    echo "$output" | grep ' /scratch ' | grep -qE 'nosuid.*nodev|nodev.*nosuid'
    [ "${lines[-1]}" = x ]
    # The mount point was created inside the rootfs, not on the host.
    [ -d "$B/rootfs/mnt/data" ]
}

@test "uts, ipc, net, pid and mount namespaces differ from the host's" {
    make_bundle "$B" sh -c 'for n in uts ipc net pid mnt; do echo "$n $(readlink /proc/self/ns/$n)"; done'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    for n in uts ipc net pid mnt; do
        inside=$(echo "$output" | awk -v n="$n" '$1 == n { print $2 }')
        [ -n "$inside" ]
        [ "$inside" != "$(readlink /proc/self/ns/$n)" ]
    done
}

@test "a new network namespace has only lo" {
    make_bundle "$B" sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "$output" = lo ]
}

@test "a namespace given by path is joined" {
    NETNS="wt$$-$RANDOM"
    ip netns add "$NETNS"
    # A mark to recognise the namespace by from inside.
    ip netns exec "$NETNS" ip addr add 127.0.0.42/8 dev lo
    make_bundle "$B" sh -c 'readlink /proc/self/ns/net; ip -o addr show dev lo'
    edit_config "$B" '.linux.namespaces = [.linux.namespaces[] | if .type == "network" then {type: "network", path: $p} else . end]' \
        --arg p "/var/run/netns/$NETNS"
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "net:[$(stat -L -c %i "/var/run/netns/$NETNS")]" ]
    [[ "$output" == *127.0.0.42/8* ]]
    [ "$(readlink /proc/self/ns/net)" != "${lines[0]}" ]
}

@test "a user namespace maps container root to host uid 100000" {
    userns_bundle sh -c 'cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; stat -c %u /bin/busybox'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    read -r c h s <<<"${lines[0]}"
    [ "$c $h $s" = "0 100000 65536" ]
    read -r c h s <<<"${lines[1]}"
    [ "$c $h $s" = "0 100000 65536" ]
    [ "${lines[2]}" = 0 ]
    [ "${lines[3]}" = 0 ]
    # Files owned by host uid 100000 are root's inside.
    [ "${lines[4]}" = 0 ]
}

@test "a user namespace process is the mapped uid on the host" {
    userns_bundle
    create_ct "$B" "$ID"
    rt start "$ID"
    pid=$(ct_pid "$ID")
    [ "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" = 100000 ]
    [ "$(awk '/^Gid:/ { print $2 }' "/proc/$pid/status")" = 100000 ]
    [ "$(readlink "/proc/$pid/ns/user")" != "$(readlink /proc/self/ns/user)" ]
}

@test "/dev has the standard devices and links" {
    make_bundle "$B"
    set_args "$B" sh -c '
        for d in null zero full random urandom tty; do [ -c /dev/$d ] && echo "chr $d"; done
        for d in pts shm mqueue; do [ -d /dev/$d ] && echo "dir $d"; done
        echo "fd $(readlink /dev/fd)"; echo "stdin $(readlink /dev/stdin)"; echo "ptmx $(readlink /dev/ptmx)"
        echo hi >/dev/null && echo "null ok"; head -c 4 /dev/zero | wc -c; ls /dev/sda 2>/dev/null || echo "no sda"'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    for d in null zero full random urandom tty; do
        echo "$output" | grep -qx "chr $d"
    done
    for d in pts shm; do
        echo "$output" | grep -qx "dir $d"
    done
    echo "$output" | grep -qx "fd /proc/self/fd"
    echo "$output" | grep -qx "stdin /proc/self/fd/0"
    echo "$output" | grep -qx "ptmx pts/ptmx"
    echo "$output" | grep -qx "null ok"
    echo "$output" | grep -qx 4
    echo "$output" | grep -qx "no sda"
}

@test "a cgroup namespace shows the container's cgroup as /" {
    make_bundle "$B" cat /proc/self/cgroup
    edit_config "$B" '.linux.namespaces |= (map(select(.type != "cgroup")) + [{type: "cgroup"}])'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -gt 0 ]
    # Every hierarchy's path is the namespace root.
    [ -z "$(echo "$output" | awk -F: '$3 != "/"')" ]
}

@test "without a cgroup namespace the host path of the cgroup is visible" {
    make_bundle "$B" cat /proc/self/cgroup
    edit_config "$B" '.linux.namespaces |= map(select(.type != "cgroup"))'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    echo "$output" | grep -E '^[0-9]+:pids:/.+'
}

@test "a time namespace applies linux.timeOffsets" {
    is_runc && skip "runc 1.1 has no time namespace support"
    make_bundle "$B" cat /proc/uptime
    edit_config "$B" '.linux.namespaces += [{type: "time"}]
        | .linux.timeOffsets = {boottime: {secs: 86400, nanosecs: 0}}'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    host=$(cut -d. -f1 /proc/uptime)
    inside=$(echo "$output" | cut -d. -f1)
    [ $((inside - host)) -ge 86399 ]
    [ $((inside - host)) -le 86460 ]
}
