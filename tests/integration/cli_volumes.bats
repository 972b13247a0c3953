#!/usr/bin/env bats
# `wharf volume create/ls/inspect/rm/prune`, run's -v and --mount, rm -v,
# system df -v and system prune --volumes through build/wharf, checked
# against the docker CLI (28.x) on the SAME private wharf daemon where their
# output is deterministic.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
    command -v docker >/dev/null || skip "the docker CLI is not installed"
    export DD
    DD=$(mktemp -d /tmp/wharf-clivol.XXXXXX)
    make_rootfs "$DD/rootfs"
    mkdir -p "$DD/rootfs/data"
    echo hello >"$DD/rootfs/data/greeting"
    chown -R 1000:1000 "$DD/rootfs/data"
    podman_image_tar "$DD/rootfs" "$DD/img.tar" localhost/wharf-clivol:1 'CMD ["sh"]' 'VOLUME /data'
    rm -rf "$DD/rootfs"
    daemon_start
    wh load -i "$DD/img.tar" >/dev/null
}

teardown_file() {
    daemon_teardown
}

teardown() {
    dk ps -aq | xargs -r docker -H "unix://$DD/wharf.sock" rm -fv >/dev/null 2>&1 || true
    dk volume ls -q | xargs -r docker -H "unix://$DD/wharf.sock" volume rm -f >/dev/null 2>&1 || true
}

# same_as_docker ARGS...: wharf and docker print the same (both streams) and
# exit the same for ARGS.
same_as_docker() {
    local a b sa sb
    a=$(wh "$@" 2>&1) && sa=0 || sa=$?
    b=$(dk "$@" 2>&1) && sb=0 || sb=$?
    if [ "$a" = "$b" ] && [ "$sa" = "$sb" ]; then
        return 0
    fi
    echo "wharf ($sa):"; echo "$a"; echo "docker ($sb):"; echo "$b"
    return 1
}

IMG=localhost/wharf-clivol:1

@test "wharf volume create, ls and inspect print what docker prints" {
    run wh volume create --label team=db -l tier=2 --name vol10
    [ "$status" -eq 0 ]
    [ "$output" = vol10 ]
    run wh volume create vol9
    [ "$output" = vol9 ]
    wh volume create >/dev/null # anonymous
    dk volume create --label team=web vol-a >/dev/null
    [ "$(dk volume inspect -f '{{json .Labels}}' vol10)" = '{"team":"db","tier":"2"}' ]
    same_as_docker volume ls
    same_as_docker volume ls -q
    # natural order: vol9 before vol10, digits before other characters
    [ "$(wh volume ls -q | grep -v '^[0-9a-f]\{64\}$' | tr '\n' ' ')" = "vol9 vol10 vol-a " ]
    # (docker prints several labels in Go's random map order: wharf sorts them)
    same_as_docker volume ls --format '{{.Name}} {{.Driver}} {{.Scope}} {{.Links}} {{.Size}}'
    same_as_docker volume ls --format 'table {{.Name}}\t{{.Mountpoint}}' --filter label=team=web
    same_as_docker volume ls --format json --filter name=vol-a
    [ "$(wh volume ls --format '{{.Labels}}' --filter name=vol10)" = "team=db,tier=2" ]
    same_as_docker volume ls --filter label=team=db
    same_as_docker volume ls -f name=vol1 -q
    same_as_docker volume ls --filter dangling=true -q
    same_as_docker volume ls --filter dangling=maybe
    same_as_docker volume ls --filter nosuch=x
    same_as_docker volume inspect vol10 vol9
    same_as_docker volume inspect -f '{{.Name}} {{.Mountpoint}} {{.Labels.team}}' vol10
    same_as_docker volume inspect nosuch vol9
}

@test "wharf volume rm and prune, with docker's messages" {
    wh volume create gone1 >/dev/null
    wh volume create gone2 >/dev/null
    run wh volume rm gone1 nosuch gone2
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = gone1 ]
    [ "${lines[1]}" = gone2 ]
    [ "${lines[2]}" = "Error response from daemon: get nosuch: no such volume" ]
    run wh volume rm -f nosuch
    [ "$status" -eq 0 ]
    [ "$output" = nosuch ]
    id=$(wh create -v inuse:/u "$IMG" true)
    run wh volume rm inuse
    [ "$status" -eq 1 ]
    [ "$output" = "Error response from daemon: remove inuse: volume is in use - [$id]" ]
    same_as_docker volume rm inuse
    wh rm "$id" >/dev/null
    anon=$(wh volume create)
    wh volume create named-idle >/dev/null
    # the prompt, answered no: nothing goes
    run wh volume prune <<<"n"
    [ "$status" -eq 0 ]
    [ "$output" = "WARNING! This will remove anonymous local volumes not used by at least one container.
Are you sure you want to continue? [y/N] " ]
    [ "$(wh volume ls -q | wc -l)" -eq 4 ] # anon, named-idle, inuse and the container's /data
    run wh volume prune <<<"y"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Deleted Volumes:"*"$anon"* ]]
    [[ "$output" == *"Total reclaimed space: 6B" ]] # the /data copy-up
    [ "$(wh volume ls -q | sort | tr '\n' ' ')" = "inuse named-idle " ]
    run wh volume prune -a -f --filter label=nosuch
    [ "$output" = "Total reclaimed space: 0B" ]
    run wh volume prune -a -f
    [ "$status" -eq 0 ]
    [ "$output" = "Deleted Volumes:
inuse
named-idle

Total reclaimed space: 0B" ]
    same_as_docker volume prune -a --filter all=1
    run wh volume prune -a -f
    [ "$output" = "Total reclaimed space: 0B" ]
}

@test "wharf run -v and --mount: named volumes persist, :ro refuses writes, copy-up" {
    run wh run -d -v shared:/data "$IMG" sh -c 'echo from-wharf > /data/w'
    [ "$status" -eq 0 ]
    id=$output
    wh wait "$id" >/dev/null
    [ "$(cat "$DD/root/volumes/shared/_data/greeting")" = hello ] # filled from the image
    [ "$(stat -c %u "$DD/root/volumes/shared/_data/greeting")" = 1000 ]
    [ "$(cat "$DD/root/volumes/shared/_data/w")" = from-wharf ]
    wh rm -v "$id" >/dev/null
    [ -d "$DD/root/volumes/shared" ] # named: survives rm -v
    id=$(wh run -d -v shared:/d:ro "$IMG" sh -c 'cat /d/w; echo x > /d/new')
    [ "$(wh wait "$id")" != 0 ]
    run wh logs "$id"
    [[ "$output" == *from-wharf*"Read-only file system"* ]]
    [ ! -e "$DD/root/volumes/shared/_data/new" ]
    id=$(wh run -d --mount type=volume,src=shared,dst=/m,readonly \
        --mount "type=bind,src=$DD,dst=/host" \
        --mount type=tmpfs,dst=/t,tmpfs-size=64k "$IMG" sh -c 'cat /m/w; ls -d /host/root; touch /m/z')
    [ "$(wh wait "$id")" != 0 ]
    run wh logs "$id"
    [ "${lines[0]}" = from-wharf ]
    [ "${lines[1]}" = /host/root ]
    same_as_docker inspect -f '{{json .Mounts}}' "$id"
    same_as_docker inspect -f '{{json .HostConfig.Mounts}}' "$id"
    same_as_docker ps -a --filter volume=shared --format '{{.ID}} {{.Mounts}} {{.LocalVolumes}}'
}

@test "wharf rm keeps anonymous volumes and rm -v removes them" {
    id=$(wh run -d -v /scratch "$IMG" sleep 100)
    [ "$(wh volume ls -q | wc -l)" -eq 2 ] # /scratch and the image's /data
    wh rm -f "$id" >/dev/null
    [ "$(wh volume ls -q | wc -l)" -eq 2 ]
    wh volume prune -f >/dev/null
    id=$(wh run -d -v /scratch "$IMG" sleep 100)
    run wh rm -fv "$id"
    [ "$status" -eq 0 ]
    [ -z "$(wh volume ls -q)" ]
    # --rm: the anonymous volumes go with the container
    run wh run --rm -v /scratch "$IMG" true
    [ "$status" -eq 0 ]
    [ -z "$(wh volume ls -q)" ]
}

@test "wharf system df -v and system prune --volumes" {
    wh volume create dfvol >/dev/null
    wh run --rm -v dfvol:/d "$IMG" sh -c 'head -c 2000 /dev/zero > /d/f'
    id=$(wh create -v dfvol:/d "$IMG" true)
    same_as_docker system df
    same_as_docker system df -v
    wh rm "$id" >/dev/null # its /data volume stays, unused
    run wh system prune -f --volumes
    [ "$status" -eq 0 ]
    [[ "$output" == *"Deleted Volumes:"* ]]
    [ "$(wh volume ls -q)" = dfvol ] # named: only pruned with volume prune -a
    run wh system prune --volumes --filter until=1h
    [ "$status" -eq 1 ]
    [ "$output" = 'ERROR: The "until" filter is not supported with "--volumes"' ]
}

@test "bad input: one-line errors, non-zero exits, nothing created" {
    run wh volume create 'bad name'
    [ "$status" -eq 1 ]
    [ "$output" = 'Error response from daemon: create bad name: "bad name" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path' ]
    same_as_docker volume create 'bad name'
    run wh volume create -o foo=bar vopt
    [ "$status" -eq 1 ]
    [ "$output" = 'Error response from daemon: create vopt: invalid option: "foo"' ]
    same_as_docker volume create -o foo=bar vopt
    same_as_docker volume create --name one two
    run wh run -d -v 'bad@name:/x' "$IMG" true
    [ "$status" -eq 125 ]
    [[ "$output" == *'create bad@name: "bad@name" includes invalid characters'* ]]
    run wh run -d --mount type=volume "$IMG" true
    [ "$status" -eq 125 ]
    [ "${lines[0]}" = 'wharf: invalid argument "type=volume" for "--mount" flag: target is required' ]
    run wh run -d --mount type=volume,target=/x,bogus=1 "$IMG" true
    [ "$status" -eq 125 ]
    [ "${lines[0]}" = "wharf: invalid argument \"type=volume,target=/x,bogus=1\" for \"--mount\" flag: unexpected key 'bogus' in 'bogus=1'" ]
    run wh run -d --mount type=bind,target=/x,volume-nocopy "$IMG" true
    [ "$status" -eq 125 ]
    [[ "${lines[0]}" == *"cannot mix 'volume-*' options with mount type 'bind'" ]]
    run wh run -d --mount 'type=bind,"src=/tmp,dst=/x' "$IMG" true
    [ "$status" -eq 125 ]
    [[ "${lines[0]}" == *'parse error on line 1, column'*'extraneous or missing " in quoted-field' ]]
    run wh run -d --mount type=bind,src=/nonexistent-wharf,dst=/x "$IMG" true
    [ "$status" -eq 125 ]
    [[ "$output" == *'invalid mount config for type "bind": bind source path does not exist: /nonexistent-wharf'* ]]
    run wh run -d --mount type=volume,src=x,dst=/x "$IMG" true
    [ "$status" -eq 125 ]
    [[ "$output" == *"create x: volume name is too short"* ]]
    run wh run -d -v good:/x -v /h:/x "$IMG" true
    [ "$status" -eq 125 ]
    [[ "$output" == *"Duplicate mount point: /x"* ]]
    [ -z "$(wh ps -aq)" ]
    [ -z "$(wh volume ls -q)" ]
    [ ! -e /h ]
}
