#!/usr/bin/env bats
# `wharf daemon` serves the Docker Engine API: the real docker CLI (28.x)
# talks to it on a private socket and data root. Images come from an archive
# podman makes from a busybox-static root filesystem (no network).

load helpers

setup_file() {
    command -v docker >/dev/null || skip "the docker CLI is not installed"
    export DD
    DD=$(mktemp -d /tmp/wharf-daemon.XXXXXX)
    make_rootfs "$DD/rootfs"
    tar -C "$DD/rootfs" -cf "$DD/rootfs.tar" .
    local pm="podman --root $DD/pm-storage --runroot $DD/pm-run --storage-driver overlay"
    $pm import --change 'CMD ["sh"]' "$DD/rootfs.tar" localhost/wharf-bb:1 >/dev/null
    $pm save -o "$DD/bb.tar" localhost/wharf-bb:1 2>/dev/null
    $pm rmi -af >/dev/null 2>&1 || true
    umount_under "$DD"
    rm -rf "$DD/pm-storage" "$DD/pm-run"
    "$BUILD/wharf" daemon --root "$DD/root" -H "unix://$DD/wharf.sock" 2>"$BATS_FILE_TMPDIR/daemon.log" &
    echo $! >"$DD/daemon.pid"
    for _ in $(seq 50); do [ -S "$DD/wharf.sock" ] && break; sleep 0.1; done
}

teardown_file() {
    daemon_teardown
}

@test "docker version negotiates the API with the wharf daemon" {
    run dk version --format '{{.Server.Platform.Name}} {{.Server.APIVersion}} {{.Server.Os}}'
    [ "$status" -eq 0 ]
    [ "$output" = "Wharf Engine 1.47 linux" ]
}

@test "docker info reports the daemon" {
    run dk info --format '{{.ServerVersion}} {{.OSType}} {{.Driver}} {{.Swarm.LocalNodeState}}'
    [ "$status" -eq 0 ]
    [ "$output" = "0.1.0 linux overlay2 inactive" ]
}

@test "docker load, images, tag, inspect, history and rmi" {
    run dk load -i "$DD/bb.tar"
    [ "$status" -eq 0 ]
    [ "$output" = "Loaded image: localhost/wharf-bb:1" ]
    run dk images --format '{{.Repository}}:{{.Tag}}'
    [[ "$output" == *localhost/wharf-bb:1* ]]
    dk tag localhost/wharf-bb:1 wbt-copy:2
    id1=$(dk image inspect --format '{{.Id}}' localhost/wharf-bb:1)
    id2=$(dk image inspect --format '{{.Id}}' wbt-copy:2)
    [ "$id1" = "$id2" ]
    [[ "$id1" == sha256:* ]]
    run dk history wbt-copy:2
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -ge 2 ]
    run dk rmi wbt-copy:2
    [ "$status" -eq 0 ]
    [ "$output" = "Untagged: wbt-copy:2" ]
    run dk image inspect wbt-copy:2
    [ "$status" -ne 0 ]
    [[ "$output" == *"No such image: wbt-copy:2"* ]]
}

@test "docker save writes an archive that loads back" {
    dk load -i "$DD/bb.tar" >/dev/null
    dk save -o "$DD/out.tar" localhost/wharf-bb:1
    tar -tf "$DD/out.tar" | grep -qx manifest.json
    dk rmi localhost/wharf-bb:1 >/dev/null
    run dk load -i "$DD/out.tar"
    [ "$status" -eq 0 ]
    [ "$output" = "Loaded image: localhost/wharf-bb:1" ]
}

@test "a broken archive is refused with a message and nothing is stored" {
    head -c 5000 "$DD/bb.tar" >"$DD/cut.tar"
    before=$(dk images -q | wc -l)
    run dk load -i "$DD/cut.tar"
    [ "$status" -ne 0 ]
    [[ "$output" == *"Error response from daemon"* ]]
    [ "$(dk images -q | wc -l)" = "$before" ]
}

@test "a daemon.json with an unknown key is refused with one line naming it" {
    echo '{"data-root": "/tmp/x", "no-such-key": 1}' >"$DD/bad.json"
    run "$BUILD/wharf" daemon --config-file "$DD/bad.json" -H "unix://$DD/other.sock"
    [ "$status" -eq 1 ]
    [[ "$output" == *"unknown key 'no-such-key'"* ]]
    [ ! -e "$DD/other.sock" ]
}

@test "SIGTERM stops the daemon and removes its socket" {
    "$BUILD/wharf" daemon --root "$DD/root2" -H "unix://$DD/second.sock" 2>/dev/null &
    pid=$!
    for _ in $(seq 50); do [ -S "$DD/second.sock" ] && break; sleep 0.1; done
    [ -S "$DD/second.sock" ]
    kill -TERM "$pid"
    wait "$pid"
    [ ! -e "$DD/second.sock" ]
}

@test "docker run -d, ps, logs, inspect, stop and rm a container" {
    dk load -i "$DD/bb.tar" >/dev/null
    name="wt$$-$RANDOM"
    run dk run -d --name "$name" localhost/wharf-bb:1 sh -c \
        'for i in 1 2 3; do echo out $i; echo err $i >&2; done; trap "exit 0" TERM; while :; do sleep 0.1; done'
    [ "$status" -eq 0 ]
    id=$output
    [[ "$id" =~ ^[0-9a-f]{64}$ ]]
    run dk ps --format '{{.Names}} {{.Status}}'
    [[ "$output" == *"$name Up"* ]]
    for _ in $(seq 50); do [ "$(dk logs "$name" 2>/dev/null | wc -l)" -ge 3 ] && break; sleep 0.1; done
    run dk logs "$name"
    [ "$output" = "$(printf 'out 1\nout 2\nout 3\nerr 1\nerr 2\nerr 3')" ] ||
        [ "$(dk logs "$name" 2>/dev/null)" = "$(printf 'out 1\nout 2\nout 3')" ]
    [ "$(dk logs "$name" 2>&1 >/dev/null)" = "$(printf 'err 1\nerr 2\nerr 3')" ]
    [ "$(dk inspect --format '{{.State.Status}} {{.Name}}' "$name")" = "running /$name" ]
    pid=$(dk inspect --format '{{.State.Pid}}' "$name")
    kill -0 "$pid"
    run dk rm "$name"
    [ "$status" -ne 0 ]
    [[ "$output" == *"container is running"* ]]
    dk stop -t 5 "$name"
    [ "$(dk inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$name")" = "exited 0" ]
    dk rm "$name"
    run dk inspect "$name"
    [ "$status" -ne 0 ]
    [[ "$output" == *"No such"* ]]
}

@test "docker stop escalates to SIGKILL after the timeout" {
    dk load -i "$DD/bb.tar" >/dev/null
    name="wt$$-$RANDOM"
    dk run -d --name "$name" localhost/wharf-bb:1 sh -c 'trap "" TERM; while :; do sleep 0.1; done'
    start=$(date +%s%N)
    dk stop -t 1 "$name"
    elapsed=$((($(date +%s%N) - start) / 1000000))
    [ "$elapsed" -ge 900 ]
    [ "$(dk inspect --format '{{.State.ExitCode}}' "$name")" = 137 ]
    dk rm "$name"
}

@test "docker run of a missing image and a taken name are refused" {
    dk load -i "$DD/bb.tar" >/dev/null
    run dk run -d --name x localhost/no-such-image:1 true
    [ "$status" -ne 0 ]
    # The CLI then tries to pull it (no registry support yet, issue 4).
    [[ "$output" == *"Unable to find image 'localhost/no-such-image:1' locally"* ]]
    name="wt$$-$RANDOM"
    dk run -d --name "$name" localhost/wharf-bb:1 sleep 100
    run dk run -d --name "$name" localhost/wharf-bb:1 sleep 100
    [ "$status" -ne 0 ]
    [[ "$output" == *"is already in use"* ]]
    dk rm -f "$name"
}

@test "docker run (attached) streams stdout and stderr and returns the exit code" {
    dk load -i "$DD/bb.tar" >/dev/null
    name="wt$$-$RANDOM"
    run dk run --name "$name" localhost/wharf-bb:1 sh -c 'echo to-out; echo to-err >&2; exit 3'
    [ "$status" -eq 3 ]
    [ "$(dk run --name "$name-2" localhost/wharf-bb:1 sh -c 'echo to-out; echo to-err >&2' 2>/dev/null)" = to-out ]
    [ "$(dk run --name "$name-3" localhost/wharf-bb:1 sh -c 'echo to-out; echo to-err >&2' 2>&1 >/dev/null)" = to-err ]
    dk rm "$name" "$name-2" "$name-3"
}

@test "docker run --rm removes the container after it exits" {
    dk load -i "$DD/bb.tar" >/dev/null
    name="wt$$-$RANDOM"
    run dk run --rm --name "$name" localhost/wharf-bb:1 echo gone-soon
    [ "$status" -eq 0 ]
    [ "$output" = gone-soon ]
    run dk inspect "$name"
    [ "$status" -ne 0 ]
}

@test "docker exec runs in the container with its exit code, and -t gets a terminal" {
    dk load -i "$DD/bb.tar" >/dev/null
    name="wt$$-$RANDOM"
    dk run -d --name "$name" --hostname inside localhost/wharf-bb:1 sleep 100 >/dev/null
    run dk exec "$name" sh -c 'echo "exec on $(hostname)"; exit 5'
    [ "$status" -eq 5 ]
    [ "$output" = "exec on inside" ]
    [ "$(dk exec "$name" cat /proc/1/cmdline | tr '\0' ' ')" = "sleep 100 " ]
    run dk exec -t "$name" tty
    [ "$status" -eq 0 ]
    [[ "$output" == /dev/pts/* ]]
    run dk exec "$name" /no/such/binary
    [ "$status" -ne 0 ]
    dk rm -f "$name"
}

@test "wait condition=removed waits for someone else to remove a container without AutoRemove" {
    dk load -i "$DD/bb.tar" >/dev/null
    name=wbt-waitrm-$$
    dk run -d --name "$name" localhost/wharf-bb:1 true >/dev/null
    curl -s --unix-socket "$DD/wharf.sock" -X POST \
        "http://d/containers/$name/wait?condition=removed" >"$DD/wait.out" &
    waiter=$!
    sleep 1
    # It exited, but nobody removed it: still listed, the wait still open.
    [ "$(dk inspect --format '{{.State.Status}}' "$name")" = exited ]
    kill -0 "$waiter"
    dk rm "$name" >/dev/null
    wait "$waiter"
    grep -q '"StatusCode":0' "$DD/wait.out"
}

@test "docker rmi refuses an image a container uses, as dockerd does" {
    dk load -i "$DD/bb.tar" >/dev/null
    dk tag localhost/wharf-bb:1 wbt-inuse:1
    name=wbt-inuse-$$
    cid=$(dk create --name "$name" wbt-inuse:1 true)
    iid=$(dk image inspect --format '{{.Id}}' wbt-inuse:1)
    run dk rmi wbt-inuse:1 # another tag remains: only untagged
    [ "$status" -eq 0 ]
    [ "$output" = "Untagged: wbt-inuse:1" ]
    run dk rmi "${iid#sha256:}"
    [ "$status" -ne 0 ]
    [[ "$output" == *"conflict: unable to delete ${iid:7:12} (must be forced) - image is being used by stopped container ${cid:0:12}"* ]]
    run dk rmi localhost/wharf-bb:1
    [ "$status" -ne 0 ]
    [[ "$output" == *"unable to remove repository reference \"localhost/wharf-bb:1\" (must force) - container ${cid:0:12} is using its referenced image ${iid:7:12}"* ]]
    dk rm "$name" >/dev/null
    dk image inspect localhost/wharf-bb:1 >/dev/null
}
