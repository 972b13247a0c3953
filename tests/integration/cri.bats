#!/usr/bin/env bats
# The cri container layer with real containers, driven through critool
# (tests/tools/critool.c, built as BUILD/src/cri/critool). Each critool call
# is a new process, as a restarted daemon would be.

load helpers

CRITOOL=${CRITOOL:-$BUILD/src/cri/critool}

setup() {
    DATA="$BATS_TEST_TMPDIR/data"
    ROOTFS="$BATS_TEST_TMPDIR/rootfs"
    make_rootfs "$ROOTFS"
    # unique per test so cgroups and runtime ids never collide between runs
    P="ct$$-${BATS_TEST_NUMBER}-$RANDOM"
}

teardown() {
    local sb
    if [ -d "$DATA/sandboxes" ]; then
        for sb in $(ls "$DATA/sandboxes"); do
            cri sandbox-rm "$sb" >/dev/null 2>&1 || true
        done
    fi
    local id
    if [ -d "$DATA/runtime" ]; then
        for id in $(ls "$DATA/runtime"); do
            "$RUNTIME" --root "$DATA/runtime" delete --force "$id" >/dev/null 2>&1 || true
        done
    fi
}

cri() {
    "$CRITOOL" --root "$DATA" --runtime "$BUILD/wharf-runtime" --shim "$BUILD/wharf-shim" "$@" \
        </dev/null 3>&-
}

# field ID KEY: one field of `status ID`
field() {
    cri status "$1" | jq -r ".$2"
}

# run_ct SANDBOX-CONFIG ID CONFIG: a sandbox of one (ID-sb) with container ID, started
run_ct() {
    cri sandbox-create "$2-sb" "$1"
    cri create "$2" "$2-sb" "$ROOTFS" "$3"
    cri start "$2"
}

wait_state() {
    local i
    for i in $(seq 100); do
        [ "$(field "$1" state)" = "$2" ] && return 0
        sleep 0.1
    done
    echo "container $1 never reached $2: $(cri status "$1")" >&2
    return 1
}

@test "cri: create and start a container, output lands in its CRI log" {
    run_ct '{"infra": false, "hostname": "solo"}' "$P" \
        '{"args": ["sh", "-c", "echo hello-out; echo hello-err >&2; sleep 0.3; hostname; sleep 100"], "labels": {"app": "t"}}'
    [ "$(field "$P" state)" = running ]
    pid=$(field "$P" pid)
    [ -d "/proc/$pid" ]
    [ "$(field "$P" supervised)" = true ]
    for i in $(seq 50); do
        cri logs "$P" 2>/dev/null | grep -q solo && break
        sleep 0.1
    done
    run cri logs "$P"
    [ "$status" -eq 0 ]
    [[ "$output" == *hello-out* ]]
    [[ "$output" == *hello-err* ]]
    [[ "$output" == *solo* ]]
    # raw file is CRI format
    grep -Eq '^[0-9T:.-]+Z stderr F hello-err$' "$DATA/containers/$P/shim/container.log"
    # tail and timestamps (stdout and stderr are separate pipes: "solo" comes last
    # only because it is written later)
    run cri logs --tail 1 -t "$P"
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" =~ ^20[0-9-]+T[0-9:.]+Z\ solo$ ]]
    # label filters
    [ "$(cri list app=t | jq -r .id)" = "$P" ]
    [ -z "$(cri list app=other)" ]
    # top lists the init
    cri top "$P" | grep -qx "$pid"
    cri stats "$P" | jq -e '.memory and .pids' >/dev/null
}

@test "cri: exec returns exit codes and output" {
    run_ct '{"infra": false}' "$P" '{"args": ["sleep", "100"], "env": ["FOO=bar"]}'
    run cri exec-sync "$P" 10 sh -c 'echo out-$FOO; echo err >&2; exit 3'
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -r .exit_code)" = 3 ]
    [ "$(echo "$output" | jq -r .stdout)" = "out-bar" ]
    [ "$(echo "$output" | jq -r .stderr)" = "err" ]
    # streaming exec passes stdio through and exits with the process's code
    run sh -c "echo piped | '$CRITOOL' --root '$DATA' --runtime '$BUILD/wharf-runtime' --shim '$BUILD/wharf-shim' exec '$P' sh -c 'cat; exit 5'"
    [ "$status" -eq 5 ]
    [ "$output" = piped ]
    # a command that does not exist is an error of the runtime, not an exit code
    run cri exec-sync "$P" 10 /no/such/binary
    [ "$status" -ne 0 ]
    # a sync exec past its timeout is killed
    start=$(date +%s%N)
    run cri exec-sync "$P" 1 sleep 30
    [ "$status" -ne 0 ]
    [[ "$output" == *"timed out"* ]]
    [ $(( ($(date +%s%N) - start) / 1000000 )) -lt 5000 ]
}

@test "cri: stop escalates from the stop signal to SIGKILL after the timeout" {
    run_ct '{"infra": false}' "$P" \
        '{"args": ["sh", "-c", "trap \"echo got-term\" TERM; while true; do sleep 0.1; done"]}'
    sleep 0.3
    start=$(date +%s%N)
    cri stop "$P" 2
    elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
    echo "elapsed ${elapsed} ms"
    [ "$elapsed" -ge 1900 ]
    [ "$elapsed" -lt 6000 ]
    [ "$(field "$P" state)" = exited ]
    [ "$(field "$P" exit_code)" = 137 ]
    [ "$(field "$P" signal)" = 9 ]
    cri logs "$P" | grep -q got-term

    # a container that honours its stop signal stops at once, with its own code
    Q="$P-q"
    run_ct '{"infra": false}' "$Q" \
        '{"args": ["sh", "-c", "trap \"exit 3\" USR1; while true; do sleep 0.1; done"], "stop_signal": "SIGUSR1"}'
    sleep 0.3
    start=$(date +%s%N)
    cri stop "$Q" 10
    [ $(( ($(date +%s%N) - start) / 1000000 )) -lt 3000 ]
    [ "$(field "$Q" exit_code)" = 3 ]
    [ "$(field "$Q" finished_at)" != null ]
}

@test "cri: exit code and OOM kill are recorded; a container restarts" {
    run_ct '{"infra": false}' "$P" '{"args": ["sh", "-c", "echo run; exit 7"]}'
    wait_state "$P" exited
    [ "$(field "$P" exit_code)" = 7 ]
    [ "$(field "$P" oom_killed)" = false ]
    cri start "$P"
    wait_state "$P" exited
    [ "$(field "$P" start_count)" = 2 ]
    [ "$(cri logs "$P" | grep -c run)" -eq 2 ]

    Q="$P-oom"
    run_ct '{"infra": false}' "$Q" \
        '{"args": ["dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"], "resources": {"memory": 33554432, "memory_swap": 33554432}}'
    wait_state "$Q" exited
    [ "$(field "$Q" oom_killed)" = true ]
    [ "$(field "$Q" exit_code)" = 137 ]
}

@test "cri: containers in one sandbox share its network namespace and hostname" {
    cri sandbox-create "$P" '{"hostname": "podname"}'
    run cri sandbox-status "$P"
    [ "$(echo "$output" | jq -r .ready)" = true ]
    infra=$(echo "$output" | jq -r .pid)
    [ -d "/proc/$infra" ]
    cri create "$P-a" "$P" "$ROOTFS" '{"args": ["sleep", "100"]}'
    cri create "$P-b" "$P" "$ROOTFS" '{"args": ["sleep", "100"]}'
    cri start "$P-a"
    cri start "$P-b"
    na=$(cri exec-sync "$P-a" 10 readlink /proc/self/ns/net | jq -r .stdout)
    nb=$(cri exec-sync "$P-b" 10 readlink /proc/self/ns/net | jq -r .stdout)
    [ -n "$na" ]
    [ "$na" = "$nb" ]
    [ "$na" = "$(readlink "/proc/$infra/ns/net")" ]
    [ "$na" != "$(readlink /proc/self/ns/net)" ]
    [ "$(cri exec-sync "$P-a" 10 hostname | jq -r .stdout)" = podname ]
    [ "$(cri exec-sync "$P-b" 10 hostname | jq -r .stdout)" = podname ]
    # separate pid namespaces by default
    [ "$(cri exec-sync "$P-a" 10 sh -c 'echo $$' | jq -r .stdout)" != "$(field "$P-a" pid)" ]

    cri sandbox-stop "$P" 1
    [ "$(cri sandbox-status "$P" | jq -r .ready)" = false ]
    [ "$(field "$P-a" state)" = exited ]
    [ ! -d "/proc/$infra" ] || [ "$(awk '{print $3}' "/proc/$infra/stat")" = Z ]
    cri sandbox-rm "$P"
    [ ! -e "$DATA/sandboxes/$P" ]
    [ ! -e "$DATA/containers/$P-a" ]
    [ -z "$(ls "$DATA/runtime")" ]
    [ -z "$(cgroup_leftovers "$P")" ]
}

@test "cri: a new driver process re-adopts a running container (live restore)" {
    run_ct '{"infra": false}' "$P" '{"args": ["sh", "-c", "while true; do echo tick; sleep 0.2; done"]}'
    pid=$(field "$P" pid)
    # the critool that started it has exited; a fresh one reconciles
    run cri reconcile
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -r .running)" = 1 ]
    [ "$(field "$P" state)" = running ]
    [ "$(field "$P" pid)" = "$pid" ]
    cri pause "$P"
    [ "$(field "$P" state)" = paused ]
    cri unpause "$P"
    [ "$(field "$P" state)" = running ]
    cri stop "$P" 5
    [ "$(field "$P" state)" = exited ]
    [ ! -d "/proc/$pid" ]
    cri logs "$P" | grep -q tick
}

@test "cri: a container whose shim died is killed and recorded on reconcile" {
    run_ct '{"infra": false}' "$P" '{"args": ["sleep", "100"]}'
    pid=$(field "$P" pid)
    kill -9 "$(cat "$DATA/containers/$P/shim/shim.pid")"
    sleep 0.2
    run cri reconcile
    [ "$(echo "$output" | jq -r .orphaned)" = 1 ]
    [ "$(field "$P" state)" = exited ]
    [ "$(field "$P" exit_code)" = 137 ]
    wait_gone "$pid"
}

@test "cri: remove cleans the container's state, runtime entry and cgroup" {
    run_ct '{"infra": false}' "$P" '{"args": ["sleep", "100"]}'
    run cri rm "$P"
    [ "$status" -ne 0 ]
    [[ "$output" == *running* ]]
    cri rm -f "$P"
    [ ! -e "$DATA/containers/$P" ]
    [ ! -e "$DATA/runtime/$P" ]
    [ -z "$(cgroup_leftovers "$P")" ]
    run cri status "$P"
    [ "$status" -ne 0 ]
    [[ "$output" == *"no such container"* ]]
    cri sandbox-rm "$P-sb"
    [ -z "$(ls "$DATA/sandboxes")" ]
}
