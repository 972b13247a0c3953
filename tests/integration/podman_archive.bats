#!/usr/bin/env bats
# Image archives between podman and the wharf daemon, both ways: what
# `podman save` writes (docker-archive, multi-image docker-archive,
# oci-archive, an oci-dir tarred up) loads with `docker load` into wharf and
# runs there; what `docker save` gets from wharf loads with `podman load` and
# runs under podman. The image has two layers (a busybox-static import, then
# a commit that adds, removes and creates files) so layer order and
# whiteouts travel too, and its id must survive every trip.
#
# Podman uses private --root/--runroot/--tmpdir under one temp dir (its
# mounts there are undone at the end) and, on this host, explicit ulimits.

load helpers

setup_file() {
    command -v docker >/dev/null || skip "the docker CLI is not installed"
    command -v podman >/dev/null || skip "podman is not installed"
    export DD
    DD=$(mktemp -d /tmp/wharf-pmarch.XXXXXX)
    make_rootfs "$DD/rootfs"
    tar -C "$DD/rootfs" -cf "$DD/rootfs.tar" .
    rm -rf "$DD/rootfs"

    # The images, made by podman in a store used only for this.
    export PM_STORE="$DD/pm-make"
    pm import --change 'CMD ["sh"]' "$DD/rootfs.tar" localhost/wharf-pa-base:1 >/dev/null
    pm_run --name pa-make localhost/wharf-pa-base:1 \
        sh -c 'echo layered >/etc/added; rm /etc/group; mkdir -p /opt/d; echo deep >/opt/d/f' >/dev/null
    pm commit -q --change 'CMD ["cat", "/etc/added"]' --change 'ENV FROM_PODMAN=yes' \
        pa-make localhost/wharf-pa:1 >/dev/null
    pm rm pa-make >/dev/null
    pm image inspect --format '{{.Id}}' localhost/wharf-pa:1 >"$DD/id"
    pm image inspect --format '{{.Id}}' localhost/wharf-pa-base:1 >"$DD/base-id"
    pm save -o "$DD/docker.tar" localhost/wharf-pa:1 2>/dev/null
    pm save -m -o "$DD/multi.tar" localhost/wharf-pa-base:1 localhost/wharf-pa:1 2>/dev/null
    pm save --format oci-archive -o "$DD/oci.tar" localhost/wharf-pa:1 2>/dev/null
    pm save --format oci-dir -o "$DD/oci-dir" localhost/wharf-pa:1 2>/dev/null
    tar -C "$DD/oci-dir" -cf "$DD/oci-dir.tar" .
    pm_clean

    daemon_start
    [ -S "$DD/wharf.sock" ] || { echo "the daemon did not start: $(cat "$DD/daemon.log")" >&2; return 1; }
}

teardown_file() {
    [ -n "${DD:-}" ] || return 0
    dk ps -aq 2>/dev/null | xargs -r docker -H "unix://$DD/wharf.sock" rm -f >/dev/null 2>&1
    kill "$(cat "$DD/daemon.pid" 2>/dev/null)" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$(cat "$DD/daemon.pid" 2>/dev/null)" 2>/dev/null || break; sleep 0.1; done
    for PM_STORE in "$DD/pm-make" "$DD/pm-use"; do
        [ -d "$PM_STORE" ] && pm_clean
    done
    umount_under "$DD"
    rm -rf "$DD"
}

# pm ARGS...: podman on the store $PM_STORE.
pm() {
    podman --root "$PM_STORE/storage" --runroot "$PM_STORE/run" --tmpdir "$PM_STORE/tmp" \
        --storage-driver overlay --cgroup-manager cgroupfs --events-backend file "$@"
}

pm_run() {
    pm run --network none --ulimit nproc=1024:1024 --ulimit nofile=1024:1024 "$@"
}

umount_under() {
    local m
    for m in $(awk -v d="$1" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
}

# Removes $PM_STORE's containers, images, mounts and files.
pm_clean() {
    pm rm -af >/dev/null 2>&1 || true
    pm rmi -af >/dev/null 2>&1 || true
    umount_under "$PM_STORE"
    rm -rf "$PM_STORE"
}

# fresh: the wharf daemon without the two images.
fresh() {
    dk ps -aq | xargs -r docker -H "unix://$DD/wharf.sock" rm -f >/dev/null
    dk rmi -f localhost/wharf-pa:1 localhost/wharf-pa-base:1 >/dev/null 2>&1 || true
}

# check_in_wharf: the loaded image runs in wharf with both layers applied.
check_in_wharf() {
    [ "$(dk image inspect --format '{{.Id}}' localhost/wharf-pa:1)" = "sha256:$(cat "$DD/id")" ]
    run dk run --rm localhost/wharf-pa:1
    [ "$status" -eq 0 ]
    [ "$output" = layered ]
    run dk run --rm localhost/wharf-pa:1 sh -c \
        'echo "$FROM_PODMAN $(cat /opt/d/f)"; [ -e /etc/group ] && echo whiteout-lost; [ -x /bin/busybox ] && echo base'
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'yes deep\nbase')" ]
    [ "$(dk history -q localhost/wharf-pa:1 | wc -l)" -ge 2 ]
}

@test "docker load of podman's docker-archive, and a container from it" {
    fresh
    run dk load -i "$DD/docker.tar"
    [ "$status" -eq 0 ]
    [ "$output" = "Loaded image: localhost/wharf-pa:1" ]
    check_in_wharf
}

@test "docker load of podman's multi-image docker-archive loads both" {
    fresh
    run dk load -i "$DD/multi.tar"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Loaded image: localhost/wharf-pa-base:1"* ]]
    [[ "$output" == *"Loaded image: localhost/wharf-pa:1"* ]]
    [ "$(dk image inspect --format '{{.Id}}' localhost/wharf-pa-base:1)" = "sha256:$(cat "$DD/base-id")" ]
    check_in_wharf
}

@test "docker load of podman's oci-archive" {
    fresh
    run dk load -i "$DD/oci.tar"
    [ "$status" -eq 0 ]
    [ "$output" = "Loaded image: localhost/wharf-pa:1" ]
    check_in_wharf
}

@test "docker load of podman's oci-dir, tarred" {
    fresh
    run dk load -i "$DD/oci-dir.tar"
    [ "$status" -eq 0 ]
    [ "$output" = "Loaded image: localhost/wharf-pa:1" ]
    check_in_wharf
}

@test "docker save from wharf loads into podman and runs there, and comes back" {
    fresh
    dk load -i "$DD/multi.tar" >/dev/null
    dk save -o "$DD/from-wharf.tar" localhost/wharf-pa:1 localhost/wharf-pa-base:1
    export PM_STORE="$DD/pm-use"
    run pm load -q -i "$DD/from-wharf.tar"
    [ "$status" -eq 0 ]
    [[ "$output" == *localhost/wharf-pa:1* ]]
    [[ "$output" == *localhost/wharf-pa-base:1* ]]
    [ "$(pm image inspect --format '{{.Id}}' localhost/wharf-pa:1)" = "$(cat "$DD/id")" ]
    [ "$(pm image inspect --format '{{.Id}}' localhost/wharf-pa-base:1)" = "$(cat "$DD/base-id")" ]
    run pm_run --rm localhost/wharf-pa:1
    [ "$status" -eq 0 ]
    [ "$output" = layered ]
    run pm_run --rm localhost/wharf-pa:1 sh -c \
        'echo "$FROM_PODMAN $(cat /opt/d/f)"; [ -e /etc/group ] && echo whiteout-lost; [ -x /bin/busybox ] && echo base'
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'yes deep\nbase')" ]
    # And back: podman's save of what it loaded from wharf loads into wharf.
    pm save -o "$DD/again.tar" localhost/wharf-pa:1 2>/dev/null
    pm_clean
    fresh
    run dk load -i "$DD/again.tar"
    [ "$status" -eq 0 ]
    [ "$output" = "Loaded image: localhost/wharf-pa:1" ]
    check_in_wharf
}

@test "podman's docker-dir layout, which docker load does not read either, is refused with one line" {
    export PM_STORE="$DD/pm-use"
    dk load -i "$DD/docker.tar" >/dev/null
    pm load -q -i "$DD/docker.tar" >/dev/null
    pm save --format docker-dir -o "$DD/docker-dir" localhost/wharf-pa:1 >/dev/null 2>&1
    pm_clean
    tar -C "$DD/docker-dir" -cf "$DD/docker-dir.tar" .
    before=$(dk images -q | sort)
    run dk load -i "$DD/docker-dir.tar"
    [ "$status" -ne 0 ]
    [[ "$output" == "Error response from daemon: "*manifest.json* ]]
    [ "${#lines[@]}" -eq 1 ]
    [ "$(dk images -q | sort)" = "$before" ]
}
