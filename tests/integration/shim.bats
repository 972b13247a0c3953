#!/usr/bin/env bats
# wharf-shim end to end: logs, exit records, attach, control commands,
# surviving its parent, OOM, terminals and runtime errors. Runs against
# RUNTIME (wharf-runtime by default, or RUNTIME=/usr/sbin/runc).

load helpers

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    SHIM="$BUILD/wharf-shim"
    [ -x "$SHIM" ] || skip "$SHIM not built"
    ID=$(new_id)
    BUNDLE="$BATS_TEST_TMPDIR/bundle"
    STATE="$BATS_TEST_TMPDIR/shim"
}

teardown() {
    cleanup_containers
    # A shim whose container is gone exits by itself; give it a moment, and
    # only then end the one this test started.
    if [ -f "$STATE/shim.pid" ]; then
        local pid i
        pid=$(cat "$STATE/shim.pid")
        for i in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
}

# start_shim [ARGS...]: the starter with this test's id, bundle and state.
start_shim() {
    run "$SHIM" --id "$ID" --bundle "$BUNDLE" --state-dir "$STATE" \
        --runtime "$RUNTIME" --runtime-root "$(test_root)" "$@"
    echo "starter: status $status: $output" # shown when a test fails
}

# wait_for_file PATH [TENTHS]: until PATH exists (default 10 s).
wait_for_file() {
    local i
    for i in $(seq "${2:-100}"); do
        [ -e "$1" ] && return 0
        sleep 0.1
    done
    echo "timed out waiting for $1" >&2
    return 1
}

# wait_gone PID: until the process has exited (5 s).
wait_gone() {
    local i
    for i in $(seq 50); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

# refute CMD...: fails when CMD succeeds (a bare `! CMD` never fails a bats test).
refute() {
    if "$@"; then
        echo "unexpectedly succeeded: $*" >&2
        return 1
    fi
}

# Pids of processes started with this test's state dir, other than $1.
shims_of_state() {
    pgrep -f -- "--state-dir $STATE" | grep -vx "${1:-0}"
}

exit_field() {
    jq -r ".$1" "$STATE/exit.json"
}

@test "shim: stdout and stderr lines become CRI log records" {
    make_bundle "$BUNDLE" sh -c 'echo out-one; echo err-one >&2; echo out-two; printf no-newline'
    start_shim --start
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^[0-9]+$ ]]
    wait_for_file "$STATE/exit.json"
    run cat "$STATE/container.log"
    echo "$output"
    [ "${#lines[@]}" -eq 4 ]
    # <RFC3339Nano> <stream> <F|P> <content>
    local re='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z '
    for l in "${lines[@]}"; do [[ "$l" =~ $re ]]; done
    grep -q ' stdout F out-one$' "$STATE/container.log"
    grep -q ' stderr F err-one$' "$STATE/container.log"
    grep -q ' stdout F out-two$' "$STATE/container.log"
    grep -q ' stdout P no-newline$' "$STATE/container.log"
    [ "$(grep -c ' stderr ' "$STATE/container.log")" -eq 1 ]
    [ "$(exit_field exit_code)" -eq 0 ]
    [ "$(exit_field signal)" -eq 0 ]
    [ "$(exit_field oom_killed)" = false ]
    [ "$(exit_field id)" = "$ID" ]
    [[ "$(exit_field exited_at)" =~ ^[0-9-]+T[0-9:.]+Z$ ]]
    # The shim removed its sockets and exited.
    wait_gone "$(cat "$STATE/shim.pid")"
    [ ! -e "$STATE/attach" ]
    [ ! -e "$STATE/ctl" ]
}

@test "shim: exit code 3 is recorded" {
    make_bundle "$BUNDLE" sh -c 'exit 3'
    start_shim --start
    [ "$status" -eq 0 ]
    wait_for_file "$STATE/exit.json"
    [ "$(exit_field exit_code)" -eq 3 ]
    [ "$(exit_field signal)" -eq 0 ]
}

@test "shim: a container killed by a signal records 128+signal" {
    make_bundle "$BUNDLE" sleep 1000
    start_shim --start
    [ "$status" -eq 0 ]
    local cpid=$output
    kill -0 "$cpid"
    [ "$(cat "$STATE/pid")" -eq "$cpid" ]
    rt kill "$ID" KILL
    wait_for_file "$STATE/exit.json"
    [ "$(exit_field exit_code)" -eq 137 ]
    [ "$(exit_field signal)" -eq 9 ]
}

@test "shim: without --start the container waits in created state" {
    make_bundle "$BUNDLE" sh -c 'echo started'
    start_shim
    [ "$status" -eq 0 ]
    run rt state "$ID"
    [ "$status" -eq 0 ]
    [ "$(jq -r .status <<<"$output")" = created ]
    [ ! -e "$STATE/exit.json" ]
    rt start "$ID"
    wait_for_file "$STATE/exit.json"
    [ "$(exit_field exit_code)" -eq 0 ]
    grep -q ' stdout F started$' "$STATE/container.log"
}

@test "shim: --stdin and attach relay input and output to several clients" {
    make_bundle "$BUNDLE" sh -c 'read line; echo "got $line"; echo to-err >&2'
    start_shim --stdin --start
    [ "$status" -eq 0 ]
    # A passive client whose stdin never ends (a FIFO opened read-write).
    mkfifo "$BATS_TEST_TMPDIR/idle"
    "$SHIM" attach "$STATE" <>"$BATS_TEST_TMPDIR/idle" >"$BATS_TEST_TMPDIR/p.out" \
        2>"$BATS_TEST_TMPDIR/p.err" 3>&- &
    local passive=$!
    sleep 0.3
    echo hello | "$SHIM" attach "$STATE" >"$BATS_TEST_TMPDIR/a.out" 2>"$BATS_TEST_TMPDIR/a.err"
    [ "$(cat "$BATS_TEST_TMPDIR/a.out")" = "got hello" ]
    [ "$(cat "$BATS_TEST_TMPDIR/a.err")" = "to-err" ]
    # The shim closes every client once the container has exited.
    wait_gone "$passive"
    wait "$passive"
    [ "$(cat "$BATS_TEST_TMPDIR/p.out")" = "got hello" ]
    [ "$(cat "$BATS_TEST_TMPDIR/p.err")" = "to-err" ]
    wait_for_file "$STATE/exit.json"
    [ "$(exit_field exit_code)" -eq 0 ]
    grep -q ' stdout F got hello$' "$STATE/container.log"
    grep -q ' stderr F to-err$' "$STATE/container.log"
}

@test "shim: attach echoes through cat" {
    make_bundle "$BUNDLE" cat
    start_shim --stdin --start
    [ "$status" -eq 0 ]
    run bash -c "printf 'hello\nworld\n' | '$SHIM' attach '$STATE'"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = hello ]
    [ "${lines[1]}" = world ]
    wait_for_file "$STATE/exit.json"
    [ "$(exit_field exit_code)" -eq 0 ]
}

@test "shim: ctl close-stdin ends cat's input; bad commands are refused" {
    make_bundle "$BUNDLE" cat
    start_shim --stdin --start
    [ "$status" -eq 0 ]
    run "$SHIM" ctl "$STATE" "resize 10 20"
    [ "$status" -eq 1 ]
    [[ "$output" == "error: "*terminal* ]]
    run "$SHIM" ctl "$STATE" "frobnicate"
    [ "$status" -eq 1 ]
    [[ "$output" == "error: unknown command"* ]]
    kill -0 "$(cat "$STATE/pid")"
    run "$SHIM" ctl "$STATE" close-stdin
    [ "$status" -eq 0 ]
    [ "$output" = ok ]
    wait_for_file "$STATE/exit.json"
    [ "$(exit_field exit_code)" -eq 0 ]
}

@test "shim: survives the death of its parent and ignores SIGTERM" {
    make_bundle "$BUNDLE" sh -c 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.1; done'
    local out="$BATS_TEST_TMPDIR/starter.out"
    bash -c "'$SHIM' --id '$ID' --bundle '$BUNDLE' --state-dir '$STATE' --runtime '$RUNTIME' \
        --runtime-root '$(test_root)' --start >'$out' 2>&1 3>&- &"
    local i
    for i in $(seq 100); do
        [ -s "$out" ] && break
        sleep 0.1
    done
    local cpid shim
    cpid=$(cat "$out")
    [[ "$cpid" =~ ^[0-9]+$ ]]
    shim=$(cat "$STATE/shim.pid")
    # The starter has gone; the shim and the container have not.
    sleep 0.3
    refute shims_of_state "$shim"
    kill -0 "$shim"
    kill -0 "$cpid"
    # The init of the container is the shim's child (it is a subreaper).
    [ "$(awk '{print $4}' "/proc/$cpid/stat")" -eq "$shim" ]
    kill -TERM "$shim"
    kill -INT "$shim"
    local before after
    before=$(grep -c ' stdout F tick ' "$STATE/container.log")
    sleep 1
    after=$(grep -c ' stdout F tick ' "$STATE/container.log")
    kill -0 "$shim"
    [ "$after" -gt "$before" ]
    rt kill "$ID" KILL
    wait_for_file "$STATE/exit.json"
    [ "$(exit_field exit_code)" -eq 137 ]
    wait_gone "$shim"
}

@test "shim: SIGKILL of the shim does not kill the container" {
    make_bundle "$BUNDLE" sleep 1000
    start_shim --start
    [ "$status" -eq 0 ]
    local cpid=$output shim
    shim=$(cat "$STATE/shim.pid")
    kill -9 "$shim"
    wait_gone "$shim"
    sleep 0.2
    kill -0 "$cpid"
    run rt state "$ID"
    [ "$(jq -r .status <<<"$output")" = running ]
}

@test "shim: an OOM kill is recorded" {
    make_bundle "$BUNDLE" sh -c 'x=$(head -c 64000000 /dev/zero | tr "\0" a); echo survived'
    edit_config "$BUNDLE" '.linux.resources.memory.limit = 8388608 | .linux.resources.memory.swap = 8388608'
    start_shim --start
    [ "$status" -eq 0 ]
    wait_for_file "$STATE/exit.json" 300
    cat "$STATE/exit.json"
    [ "$(exit_field oom_killed)" = true ]
    refute grep -q survived "$STATE/container.log"
}

@test "shim: a container without OOM records oom_killed false under a limit" {
    make_bundle "$BUNDLE" sh -c 'echo small'
    edit_config "$BUNDLE" '.linux.resources.memory.limit = 67108864'
    start_shim --start
    [ "$status" -eq 0 ]
    wait_for_file "$STATE/exit.json"
    [ "$(exit_field oom_killed)" = false ]
    [ "$(exit_field exit_code)" -eq 0 ]
}

@test "shim: --terminal logs through a PTY" {
    make_bundle "$BUNDLE" sh -c 'tty; echo done'
    edit_config "$BUNDLE" '.process.terminal = true'
    start_shim --terminal --start
    [ "$status" -eq 0 ]
    wait_for_file "$STATE/exit.json"
    cat "$STATE/container.log"
    grep -Eq ' stdout F /dev/pts/[0-9]+$' "$STATE/container.log"
    grep -q ' stdout F done$' "$STATE/container.log"
    refute grep -q ' stderr ' "$STATE/container.log"
    [ "$(exit_field exit_code)" -eq 0 ]
    [ ! -e "$STATE/console.sock" ]
}

@test "shim: ctl resize changes the PTY size" {
    make_bundle "$BUNDLE" sh -c 'i=0; while [ "$(stty size)" != "33 77" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; echo "size $(stty size)"'
    edit_config "$BUNDLE" '.process.terminal = true'
    start_shim --terminal --start
    [ "$status" -eq 0 ]
    run "$SHIM" ctl "$STATE" "resize 33 77"
    [ "$status" -eq 0 ]
    [ "$output" = ok ]
    wait_for_file "$STATE/exit.json"
    grep -q ' stdout F size 33 77$' "$STATE/container.log"
}

@test "shim: --terminal input through attach" {
    make_bundle "$BUNDLE" sh -c 'read line; echo "got:$line"'
    edit_config "$BUNDLE" '.process.terminal = true'
    start_shim --terminal --start
    [ "$status" -eq 0 ]
    mkfifo "$BATS_TEST_TMPDIR/in"
    "$SHIM" attach "$STATE" <>"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/a.out" 3>&- &
    local client=$!
    sleep 0.2
    echo typed >"$BATS_TEST_TMPDIR/in"
    wait_for_file "$STATE/exit.json"
    wait_gone "$client"
    grep -q ' stdout F got:typed$' "$STATE/container.log"
    grep -q 'got:typed' "$BATS_TEST_TMPDIR/a.out"
}

@test "shim: log rotation keeps max-files files under max-size" {
    make_bundle "$BUNDLE" sh -c 'i=0; while [ $i -lt 300 ]; do echo "line $i"; i=$((i+1)); done'
    start_shim --start --log-max-size 2000 --log-max-files 3
    [ "$status" -eq 0 ]
    wait_for_file "$STATE/exit.json"
    local log="$STATE/container.log"
    [ -s "$log" ] && [ -s "$log.1" ] && [ -s "$log.2" ]
    [ ! -e "$log.3" ]
    for f in "$log" "$log.1" "$log.2"; do
        [ "$(stat -c %s "$f")" -le 2000 ]
    done
    # The newest line is in the live file, and the files join up in order.
    tail -n1 "$log" | grep -q ' stdout F line 299$'
    local joined
    joined=$(cat "$log.2" "$log.1" "$log" | sed 's/.* F line //')
    local first
    first=$(head -n1 <<<"$joined")
    [ "$joined" = "$(seq "$first" 299)" ]
}

@test "shim: a runtime error is printed and nothing is left running" {
    make_bundle "$BUNDLE" sh -c 'echo never'
    edit_config "$BUNDLE" '.root.path = "no-such-rootfs"'
    start_shim --start
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *no-such-rootfs* ]]
    [ "${#lines[@]}" -eq 1 ]
    refute shims_of_state
    [ ! -e "$STATE/shim.pid" ]
    [ ! -e "$STATE/exit.json" ]
    run rt state "$ID"
    [ "$status" -ne 0 ]
}

@test "shim: usage errors exit 2 with one line" {
    run "$SHIM" --bundle /tmp --state-dir "$STATE"
    [ "$status" -eq 2 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *--id* ]]
    run "$SHIM" --id "$ID" --bundle "$BATS_TEST_TMPDIR/nope" --state-dir "$STATE" --runtime "$RUNTIME"
    [ "$status" -eq 2 ]
    [[ "$output" == *nope* ]]
    run "$SHIM" --id "$ID" --bundle /tmp --state-dir "$STATE" --log-max-files 0
    [ "$status" -eq 2 ]
    run "$SHIM" --id "$ID" --bundle /tmp --state-dir "$STATE" --bogus
    [ "$status" -eq 2 ]
    [[ "$output" == *--bogus* ]]
    run "$SHIM" --help
    [ "$status" -eq 0 ]
    [[ "$output" == *--log-max-size* ]]
    [ ! -e "$STATE" ]
}

@test "shim: idle resident memory stays under 1 MiB" {
    # Only the real, statically linked binary has the budget (a sanitizer
    # build is dynamic and several MiB).
    if readelf -l "$SHIM" | grep -q INTERP; then
        skip "$SHIM is dynamically linked"
    fi
    make_bundle "$BUNDLE" sleep 1000
    start_shim --start --stdin
    [ "$status" -eq 0 ]
    local shim rss
    shim=$(cat "$STATE/shim.pid")
    sleep 0.3
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$shim/status")
    echo "# idle wharf-shim VmRSS: ${rss} kB" >&3
    [ "$rss" -le 1024 ]
}
