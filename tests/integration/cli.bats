#!/usr/bin/env bats
# The docker-compatible `wharf` client commands, checked against the real
# docker CLI (28.x) talking to the SAME wharf daemon: same output, messages
# and exit codes. The daemon runs on a private socket and data root; the
# image comes from an archive podman makes from busybox-static (no network).

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
    command -v docker >/dev/null || skip "the docker CLI is not installed"
    export DD
    DD=$(mktemp -d /tmp/wharf-cli.XXXXXX)
    make_rootfs "$DD/rootfs"
    podman_image_tar "$DD/rootfs" "$DD/bb.tar" localhost/wharf-bb:1 'CMD ["sh"]'
    rm -rf "$DD/rootfs"
    daemon_start
    wh load -i "$DD/bb.tar" >/dev/null
}

teardown_file() {
    daemon_teardown
}

# same_as_docker ARGS...: wharf and docker print the same for ARGS. Times
# ("5 seconds ago", "Up 3 seconds") and so column widths move with the
# clock, so the pair is retried until both calls land in the same second.
same_as_docker() {
    local a b
    for _ in $(seq 5); do
        a=$(wh "$@") b=$(dk "$@")
        [ "$a" = "$b" ] && return 0
    done
    echo "wharf:"; echo "$a"; echo "docker:"; echo "$b"
    return 1
}

# A container name unique to this test.
cname() {
    echo "wc$$-${BATS_TEST_NUMBER}-$RANDOM"
}

# run -d a container that prints to both streams, then waits for TERM.
run_talker() {
    wh run -d --name "$1" localhost/wharf-bb:1 sh -c \
        'echo out 1; echo err 1 >&2; echo out 2; trap "exit 7" TERM; while :; do sleep 0.1; done'
}

@test "version prints the client and the server part" {
    run wh version
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "Client:" ]]
    [[ "$output" == *"Server: Wharf Engine"* ]]
    [[ "$output" == *"API version:      1.47 (minimum version 1.24)"* ]]
    a=$(wh version --format '{{.Server.Version}} {{.Server.Os}} {{.Server.Arch}}')
    b=$(dk version --format '{{.Server.Version}} {{.Server.Os}} {{.Server.Arch}}')
    [ "$a" = "$b" ]
}

@test "version without a daemon prints the client part and fails with one line" {
    run --separate-stderr "$BUILD/wharf" -H "unix://$DD/nothing.sock" version
    [ "$status" -eq 1 ]
    [[ "${lines[0]}" == "Client:" ]]
    [[ "$output" != *Server* ]]
    [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
    [[ "$stderr" == *"$DD/nothing.sock"* ]]
}

@test "an unreachable daemon is one line and exit 1, like docker" {
    run --separate-stderr "$BUILD/wharf" -H "unix://$DD/nothing.sock" ps
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
    run docker -H "unix://$DD/nothing.sock" ps
    [ "$status" -eq 1 ]
}

@test "the host comes from WHARF_HOST, then DOCKER_HOST" {
    run env -u DOCKER_HOST WHARF_HOST="unix://$DD/wharf.sock" "$BUILD/wharf" images -q
    [ "$status" -eq 0 ]
    [ -n "$output" ]
    run env -u WHARF_HOST DOCKER_HOST="unix://$DD/wharf.sock" "$BUILD/wharf" images -q
    [ "$status" -eq 0 ]
    [ -n "$output" ]
    run env WHARF_HOST="unix://$DD/nothing.sock" DOCKER_HOST="unix://$DD/wharf.sock" "$BUILD/wharf" images -q
    [ "$status" -eq 1 ]
}

@test "info agrees with docker info" {
    run wh info
    [ "$status" -eq 0 ]
    [[ "$output" == *"Server Version: 0.1.0"* ]]
    [[ "$output" == *"Storage Driver: overlay2"* ]]
    a=$(wh info --format '{{.ServerVersion}} {{.OSType}} {{.Driver}} {{.Images}}')
    b=$(dk info --format '{{.ServerVersion}} {{.OSType}} {{.Driver}} {{.Images}}')
    [ "$a" = "$b" ]
}

@test "images: table, --format, -q and --no-trunc equal docker's" {
    same_as_docker images
    same_as_docker images -a
    [ "$(wh images --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}')" = \
      "$(dk images --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}')" ]
    [ "$(wh images -q)" = "$(dk images -q)" ]
    [ "$(wh images -q --no-trunc)" = "$(dk images -q --no-trunc)" ]
    [ "$(wh images --format 'table {{.Repository}}\t{{.Tag}}')" = \
      "$(dk images --format 'table {{.Repository}}\t{{.Tag}}')" ]
    [[ "$(wh images --format '{{.Repository}}:{{.Tag}}')" == *localhost/wharf-bb:1* ]]
}

@test "image inspect prints the same JSON as docker, and --format" {
    diff <(wh image inspect localhost/wharf-bb:1) <(dk image inspect localhost/wharf-bb:1)
    diff <(wh inspect localhost/wharf-bb:1) <(dk inspect localhost/wharf-bb:1)
    a=$(wh image inspect --format '{{.Id}} {{.Os}} {{json .Config.Cmd}}' localhost/wharf-bb:1)
    b=$(dk image inspect --format '{{.Id}} {{.Os}} {{json .Config.Cmd}}' localhost/wharf-bb:1)
    [ "$a" = "$b" ]
    [[ "$a" == 'sha256:'*' linux ["sh"]' ]]
}

@test "tag, history and rmi behave like docker" {
    wh tag localhost/wharf-bb:1 "wct$$:2"
    [ "$(wh image inspect -f '{{.Id}}' "wct$$:2")" = "$(dk image inspect -f '{{.Id}}' localhost/wharf-bb:1)" ]
    same_as_docker history "wct$$:2"
    [ "$(wh history --format '{{.ID}} {{.CreatedBy}} {{.Size}}' "wct$$:2")" = \
      "$(dk history --format '{{.ID}} {{.CreatedBy}} {{.Size}}' "wct$$:2")" ]
    run wh rmi "wct$$:2"
    [ "$status" -eq 0 ]
    [ "$output" = "Untagged: wct$$:2" ]
    run --separate-stderr wh image inspect "wct$$:2"
    [ "$status" -eq 1 ]
    [ "$output" = "[]" ]
    [ "$stderr" = "Error response from daemon: No such image: wct$$:2" ]
}

@test "missing images: the same messages and exit codes as docker" {
    for cmd in "rmi" "history" "image inspect" "tag"; do
        extra=()
        [ "$cmd" = tag ] && extra=(x:1)
        run --separate-stderr wh $cmd "nosuch$$:1" "${extra[@]}"
        ws=$status werr=$stderr
        run --separate-stderr dk $cmd "nosuch$$:1" "${extra[@]}"
        echo "$cmd: wharf $ws '$werr' docker $status '$stderr'"
        [ "$ws" -eq "$status" ]
        [ "$werr" = "$stderr" ]
    done
}

@test "save -o and save to a pipe write archives that load back" {
    wh save -o "$DD/out.tar" localhost/wharf-bb:1
    tar -tf "$DD/out.tar" | grep -qx manifest.json
    wh save localhost/wharf-bb:1 | cmp - "$DD/out.tar"
    wh tag localhost/wharf-bb:1 "wcs$$:1"
    wh rmi "wcs$$:1" >/dev/null
    run wh load -i "$DD/out.tar"
    [ "$status" -eq 0 ]
    [ "$output" = "Loaded image: localhost/wharf-bb:1" ]
    run wh load <"$DD/out.tar"
    [ "$status" -eq 0 ]
    [ "$output" = "Loaded image: localhost/wharf-bb:1" ]
    run wh save -o "$DD/none.tar" "nosuch$$:1"
    [ "$status" -eq 1 ]
    [ ! -e "$DD/none.tar" ]
}

@test "a broken archive is refused like docker refuses it" {
    head -c 5000 "$DD/bb.tar" >"$DD/cut.tar"
    run --separate-stderr wh load -i "$DD/cut.tar"
    ws=$status werr=$stderr
    run --separate-stderr dk load -i "$DD/cut.tar"
    [ "$ws" -eq 1 ]
    [ "$status" -eq 1 ]
    [[ "$werr" == "Error response from daemon: "* ]]
    [ "$werr" = "$stderr" ]
}

@test "run -d, ps and logs: stdout and stderr kept apart" {
    name=$(cname)
    run run_talker "$name"
    [ "$status" -eq 0 ]
    id=$output
    [[ "$id" =~ ^[0-9a-f]{64}$ ]]
    for _ in $(seq 50); do [ "$(wh logs "$name" 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.1; done
    [ "$(wh logs "$name" 2>/dev/null)" = "$(printf 'out 1\nout 2')" ]
    [ "$(wh logs "$name" 2>&1 >/dev/null)" = "err 1" ]
    for n in 1 2; do
        [ "$(wh logs --tail $n "$name" 2>/dev/null)" = "$(dk logs --tail $n "$name" 2>/dev/null)" ]
        [ "$(wh logs --tail $n "$name" 2>&1 >/dev/null)" = "$(dk logs --tail $n "$name" 2>&1 >/dev/null)" ]
    done
    [ "$(wh logs --tail 2 "$name" 2>&1 | wc -l)" -eq 2 ]
    wh logs -t "$name" 2>/dev/null | head -1 | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[^ ]+ out 1$'
    [ "$(wh ps | head -1 | tr -s ' ')" = "CONTAINER ID IMAGE COMMAND CREATED STATUS PORTS NAMES" ]
    f='{{.ID}}|{{.Image}}|{{.Command}}|{{.Names}}|{{.State}}|{{.Ports}}'
    [ "$(wh ps --format "$f")" = "$(dk ps --format "$f")" ]
    [ "$(wh ps -a --no-trunc --format "$f")" = "$(dk ps -a --no-trunc --format "$f")" ]
    [ "$(wh ps -q)" = "$(dk ps -q)" ]
    [ "$(wh ps -aq --no-trunc)" = "$(dk ps -aq --no-trunc)" ]
    # dockerd quotes an argument with spaces in Command
    [[ "$(wh ps --format '{{.Names}} {{.Command}}')" == *"$name \"sh -c 'echo out 1; …\""* ]]
    diff <(wh inspect "$name") <(dk inspect "$name")
    diff <(wh container inspect "$name") <(dk container inspect "$name")
    wh rm -f "$name"
}

@test "ps table rows match docker's when nothing changes between the calls" {
    name=$(cname)
    run_talker "$name" >/dev/null
    same_as_docker ps
    same_as_docker ps -a --no-trunc
    wh rm -f "$name"
}

@test "create passes docker's create flags into Config and HostConfig" {
    name=$(cname)
    run wh create --name "$name" -e A=1 -e B=two -w /tmp -u 65534 --entrypoint /bin/sh \
        -l team=x -l flag -m 64m --cpus 0.5 --pids-limit 40 --init --read-only \
        --cap-add NET_ADMIN --cap-drop CHOWN --stop-signal SIGUSR1 --stop-timeout 4 \
        localhost/wharf-bb:1 -c 'echo hi'
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^[0-9a-f]{64}$ ]]
    f='{{json .Config.Env}} {{.Config.WorkingDir}} {{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Config.Labels.team}}|{{index .Config.Labels "flag"}}| {{.Config.StopSignal}} {{.Config.StopTimeout}}'
    run dk inspect --format "$f" "$name"
    [[ "$output" == '["A=1","B=two"'*'] /tmp 65534 ["/bin/sh"] ["-c","echo hi"] x|| SIGUSR1 4' ]]
    run dk inspect --format '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.Init}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapAdd}} {{.HostConfig.CapDrop}}' "$name"
    [ "$output" = "67108864 500000000 40 true true [NET_ADMIN] [CHOWN]" ]
    [ "$(wh inspect -f '{{.State.Status}}' "$name")" = created ]
    run wh rm "$name"
    [ "$output" = "$name" ]
}

@test "create then start, wait and logs" {
    # Without --init: a sanitizer build's wharf-init is dynamically linked
    # and cannot run inside the busybox root filesystem.
    name=$(cname)
    run wh create --name "$name" -e GREETING=hi localhost/wharf-bb:1 sh -c 'echo $GREETING; exit 3'
    [ "$status" -eq 0 ]
    [ "$(wh inspect -f '{{.State.Status}}' "$name")" = created ]
    run wh start "$name"
    [ "$status" -eq 0 ]
    [ "$output" = "$name" ]
    run wh wait "$name"
    [ "$status" -eq 0 ]
    [ "$output" = 3 ]
    [ "$(wh logs "$name")" = hi ]
    run wh rm "$name"
    [ "$output" = "$name" ]
}

@test "logs -f follows until the container exits" {
    name=$(cname)
    wh run -d --name "$name" localhost/wharf-bb:1 sh -c \
        'echo first; sleep 1; echo second >&2; sleep 1; echo third' >/dev/null
    run --separate-stderr timeout 20 "$BUILD/wharf" -H "unix://$DD/wharf.sock" logs -f "$name"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'first\nthird')" ]
    [ "$stderr" = second ]
    wh rm "$name" >/dev/null
}

@test "stop, kill, wait and rm print what docker prints" {
    a=$(cname) b=$(cname)
    run_talker "$a" >/dev/null
    run_talker "$b" >/dev/null
    for _ in $(seq 50); do [ "$(wh logs "$a" 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.1; done
    run wh stop -t 5 "$a"
    [ "$status" -eq 0 ]
    [ "$output" = "$a" ]
    run wh wait "$a"
    [ "$output" = 7 ]
    [ "$(dk wait "$a")" = 7 ]
    [ "$(wh inspect -f '{{.State.ExitCode}} {{.State.Status}}' "$a")" = "7 exited" ]
    [[ "$(wh ps -a --format '{{.Names}} {{.Status}}')" == *"$a Exited (7)"* ]]
    run wh kill -s KILL "$b"
    [ "$status" -eq 0 ]
    [ "$output" = "$b" ]
    run wh wait "$b"
    [ "$output" = 137 ]
    run wh rm "$a" "$b"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf '%s\n%s' "$a" "$b")" ]
    run wh inspect "$a"
    [ "$status" -eq 1 ]
}

@test "rm of a running container needs -f, flags may follow the names" {
    name=$(cname)
    run_talker "$name" >/dev/null
    run --separate-stderr wh rm "$name"
    ws=$status werr=$stderr
    run --separate-stderr dk rm "$name"
    [ "$ws" -eq 1 ] && [ "$status" -eq 1 ]
    [ "$werr" = "$stderr" ]
    run wh rm "$name" -f
    [ "$status" -eq 0 ]
    [ "$output" = "$name" ]
}

@test "missing containers: the same messages and exit codes as docker" {
    for cmd in rm stop kill start wait logs "container inspect"; do
        run --separate-stderr wh $cmd "nosuch$$"
        ws=$status werr=$stderr wout=$output
        run --separate-stderr dk $cmd "nosuch$$"
        echo "$cmd: wharf $ws '$werr' docker $status '$stderr'"
        [ "$ws" -eq "$status" ]
        [ "$werr" = "$stderr" ]
        [ "$wout" = "$output" ]
    done
    run --separate-stderr wh inspect "nosuch$$"
    ws=$status werr=$stderr wout=$output
    run --separate-stderr dk inspect "nosuch$$"
    [ "$ws" -eq "$status" ] && [ "$werr" = "$stderr" ] && [ "$wout" = "$output" ]
}

@test "usage errors: exit codes like docker's" {
    run wh ps --bogus
    [ "$status" -eq 125 ]
    run dk ps --bogus
    [ "$status" -eq 125 ]
    run wh run -d --bogus localhost/wharf-bb:1
    [ "$status" -eq 125 ]
    run wh rm
    [ "$status" -eq 1 ]
    run dk rm
    [ "$status" -eq 1 ]
    run wh run -d -m lots localhost/wharf-bb:1
    [ "$status" -eq 125 ]
    run wh run -d "nosuch$$:1"
    [ "$status" -eq 125 ]
    [[ "$output" == *"Error response from daemon: "*"nosuch$$"* ]]
}

@test "run without -d runs attached and exits with the container's code (cli_attach.bats has the rest)" {
    run --separate-stderr wh run --rm localhost/wharf-bb:1 sh -c 'echo out; echo err >&2; exit 4'
    [ "$status" -eq 4 ]
    [ "$output" = out ]
    [ "$stderr" = err ]
}
