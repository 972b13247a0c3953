#!/usr/bin/env bats
# Image store interop with podman: podman's docker-archive and oci-archive
# load into our store, and what we save loads into podman. podman runs with
# a private --root/--runroot under the test's temp dir, removed afterwards.

load helpers

IMAGETOOL=${IMAGETOOL:-$BUILD/src/image/imagetool}

setup() {
    [ -x "$IMAGETOOL" ] || skip "imagetool not built ($IMAGETOOL)"
    command -v podman >/dev/null || skip "podman not installed"
    T=$BATS_TEST_TMPDIR
    STORE=$T/store
    PODMAN=(podman --root "$T/proot" --runroot "$T/prun" --storage-driver overlay
            --cgroup-manager cgroupfs --events-backend none)
    make_rootfs "$T/rootfs"
    tar -C "$T/rootfs" -cf "$T/rootfs.tar" .
}

teardown() {
    [ -n "${T:-}" ] || return 0
    "${PODMAN[@]}" rmi -a -f >/dev/null 2>&1 || true
    # overlay mounts podman or the tests left under our temp dir
    grep -o " $T/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" || true; done
    rm -rf "$T/proot" "$T/prun" "$STORE"
}

@test "image: podman docker-archive and oci-archive load into our store" {
    tag=localhost/wharf-interop-$$:v1
    "${PODMAN[@]}" import "$T/rootfs.tar" "$tag"
    "${PODMAN[@]}" save --format docker-archive -o "$T/d.tar" "$tag"
    "${PODMAN[@]}" save --format oci-archive -o "$T/o.tar" "$tag"

    run "$IMAGETOOL" "$STORE" load <"$T/d.tar"
    [ "$status" -eq 0 ]
    run "$IMAGETOOL" "$STORE" inspect "$tag"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -r '.RepoTags[0]')" = "$tag" ]
    id=$(echo "$output" | jq -r .Id)

    rm -rf "$STORE"
    run "$IMAGETOOL" "$STORE" load <"$T/o.tar"
    [ "$status" -eq 0 ]
    run "$IMAGETOOL" "$STORE" inspect "$tag"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -r '.RepoTags[0]')" = "$tag" ]
    [ "$(echo "$output" | jq -r .Id)" = "$id" ]
    [ "$(echo "$output" | jq -r '.RootFS.Layers | length')" = 1 ]
}

@test "image: our docker-archive and OCI saves load into podman" {
    "$IMAGETOOL" "$STORE" import "wharf-save-$$:1" 'CMD ["/bin/sh"]' 'ENV FOO=bar' <"$T/rootfs.tar"
    "$IMAGETOOL" "$STORE" save docker "wharf-save-$$:1" >"$T/ours-d.tar"
    "$IMAGETOOL" "$STORE" save oci "wharf-save-$$:1" >"$T/ours-o.tar"

    "${PODMAN[@]}" load -i "$T/ours-d.tar"
    run "${PODMAN[@]}" images --format '{{.Repository}}:{{.Tag}}'
    [ "$status" -eq 0 ]
    [[ "$output" == *"wharf-save-$$:1"* ]]
    "${PODMAN[@]}" rmi -a -f >/dev/null

    "${PODMAN[@]}" load -i "$T/ours-o.tar"
    run "${PODMAN[@]}" images --format '{{.Repository}}:{{.Tag}}'
    [ "$status" -eq 0 ]
    [[ "$output" == *"docker.io/library/wharf-save-$$:1"* ]]
    run "${PODMAN[@]}" image inspect "docker.io/library/wharf-save-$$:1" --format '{{.Config.Cmd}} {{.Config.Env}}'
    [ "$status" -eq 0 ]
    [[ "$output" == *"/bin/sh"*"FOO=bar"* ]]
}

@test "image: rootfs mount from a loaded image, export round trip" {
    "$IMAGETOOL" "$STORE" import "wharf-mnt-$$:1" <"$T/rootfs.tar"
    mkdir -p "$T/upper" "$T/work" "$T/merged"
    "$IMAGETOOL" "$STORE" mount "wharf-mnt-$$:1" "$T/upper" "$T/work" "$T/merged"
    [ -x "$T/merged/bin/busybox" ]
    "$IMAGETOOL" - export "$T/merged" >"$T/exported.tar"
    "$IMAGETOOL" - umount "$T/merged"
    tar -tf "$T/exported.tar" | grep -qx 'bin/busybox'
    run "$IMAGETOOL" "$STORE" import "wharf-mnt-$$:2" <"$T/exported.tar"
    [ "$status" -eq 0 ]
    run "$IMAGETOOL" "$STORE" rmi "wharf-mnt-$$:1"
    [ "$status" -eq 0 ]
    [[ "$output" == *Deleted* ]]
}
