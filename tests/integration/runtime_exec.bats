#!/usr/bin/env bats
# exec into a running container (namespaces, cgroup, exit status, process
# file, detach, tty, env, cwd, user) and terminals through --console-socket
# with the recvtty tool.

load helpers

setup() {
    B="$BATS_TEST_TMPDIR/bundle"
    ID=$(new_id)
    RECVTTY_PID=""
}

teardown() {
    cleanup_containers
    if [ -n "$RECVTTY_PID" ]; then
        kill "$RECVTTY_PID" 2>/dev/null || true
    fi
}

# running_ct: a started `sleep 1000` container; sets PID.
running_ct() {
    make_bundle "$B"
    create_ct "$B" "$ID"
    rt start "$ID"
    PID=$(ct_pid "$ID")
}

# wait_recvtty: waits up to ~10 s for recvtty to finish (the pty closed).
wait_recvtty() {
    local i
    for i in $(seq 100); do
        kill -0 "$RECVTTY_PID" 2>/dev/null || return 0
        sleep 0.1
    done
    echo "recvtty still running" >&2
    return 1
}

@test "exec runs in all of the container's namespaces" {
    running_ct
    run rt exec "$ID" sh -c 'for n in ipc mnt net pid uts cgroup user; do echo "$n $(readlink /proc/self/ns/$n)"; done'
    [ "$status" -eq 0 ]
    for n in ipc mnt net pid uts cgroup user; do
        [ "$(echo "$output" | awk -v n="$n" '$1 == n { print $2 }')" = "$(readlink "/proc/$PID/ns/$n")" ]
    done
}

@test "exec runs in the container's cgroup and sees its pid 1" {
    running_ct
    run rt exec "$ID" sh -c 'cat /proc/self/cgroup; echo ---; cat /proc/1/cgroup; echo ---; tr "\0" " " </proc/1/cmdline'
    [ "$status" -eq 0 ]
    self=$(echo "$output" | awk '/^---$/ { n++; next } n == 0')
    init=$(echo "$output" | awk '/^---$/ { n++; next } n == 1')
    [ -n "$self" ]
    [ "$self" = "$init" ]
    [ "${lines[-1]}" = "sleep 1000 " ]
    # And on the host side the pids cgroup is the init's.
    [ "$(cgroup_dir "$PID" pids)" != "$(cgroup_dir $$ pids)" ]
}

@test "exec propagates the exit status" {
    running_ct
    run rt exec "$ID" sh -c 'exit 3'
    [ "$status" -eq 3 ]
    run rt exec "$ID" true
    [ "$status" -eq 0 ]
}

@test "exec of a missing binary fails" {
    running_ct
    run rt exec "$ID" /no/such/binary
    [ "$status" -ne 0 ]
    [ "$(ct_status "$ID")" = running ]
}

@test "exec --process takes the process from a JSON file" {
    running_ct
    cat >"$BATS_TEST_TMPDIR/process.json" <<'EOF'
{
  "terminal": false,
  "user": {"uid": 65534, "gid": 65534},
  "args": ["sh", "-c", "echo \"$GREETING\"; pwd; id -u"],
  "env": ["PATH=/bin", "GREETING=from-process-json"],
  "cwd": "/tmp"
}
EOF
    run rt exec --process "$BATS_TEST_TMPDIR/process.json" "$ID"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = from-process-json ]
    [ "${lines[1]}" = /tmp ]
    [ "${lines[2]}" = 65534 ]
}

@test "exec --detach writes the process's pid to --pid-file" {
    running_ct
    rt_capture exec --detach --pid-file "$BATS_TEST_TMPDIR/exec.pid" "$ID" sleep 500
    [ "$status" -eq 0 ]
    epid=$(cat "$BATS_TEST_TMPDIR/exec.pid")
    [ "$epid" -gt 0 ]
    [ "$(tr '\0' ' ' <"/proc/$epid/cmdline")" = "sleep 500 " ]
    [ "$(readlink "/proc/$epid/ns/pid")" = "$(readlink "/proc/$PID/ns/pid")" ]
    run rt ps --format json "$ID"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e --argjson p "$epid" 'index($p) != null'
    rt delete --force "$ID"
    wait_gone "$epid"
}

@test "exec --env and --cwd" {
    running_ct
    run rt exec --env FOO=bar --env BAZ=qux --cwd /tmp "$ID" sh -c 'echo "$FOO $BAZ"; pwd'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "bar qux" ]
    [ "${lines[1]}" = /tmp ]
}

@test "exec inherits the config's environment" {
    make_bundle "$B"
    edit_config "$B" '.process.env += ["FROM_CONFIG=yes"]'
    create_ct "$B" "$ID"
    rt start "$ID"
    run rt exec "$ID" sh -c 'echo "$FROM_CONFIG"'
    [ "$status" -eq 0 ]
    [ "$output" = yes ]
}

@test "exec --user 65534:65534" {
    running_ct
    run rt exec --user 65534:65534 "$ID" sh -c 'id -u; id -g'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 65534 ]
    [ "${lines[1]}" = 65534 ]
}

@test "exec gets the container's capabilities and no_new_privs" {
    make_bundle "$B"
    edit_config "$B" '.process.noNewPrivileges = true'
    create_ct "$B" "$ID"
    rt start "$ID"
    run rt exec "$ID" grep -E '^(CapBnd|NoNewPrivs):' /proc/self/status
    [ "$status" -eq 0 ]
    echo "$output" | grep -qE '^CapBnd:\s+0000000020000420$'
    echo "$output" | grep -qE '^NoNewPrivs:\s+1$'
}

@test "exec into a stopped or unknown container fails" {
    make_bundle "$B" true
    create_ct "$B" "$ID"
    rt start "$ID"
    wait_status "$ID" stopped
    run rt exec "$ID" true
    [ "$status" -ne 0 ]
    run rt exec "nosuch-$ID" true
    [ "$status" -ne 0 ]
}

@test "exec --tty passes the pty through the console socket" {
    running_ct
    sock="$BATS_TEST_TMPDIR/exec.sock"
    RECVTTY_PID=$(start_recvtty "$sock" "$BATS_TEST_TMPDIR/tty.out" --no-stdin)
    rt_capture exec --detach --tty --console-socket "$sock" "$ID" sh -c 'tty; echo exec-hi; [ -t 0 ] && echo stdin-is-tty'
    [ "$status" -eq 0 ]
    wait_recvtty
    out=$(tr -d '\r' <"$BATS_TEST_TMPDIR/tty.out")
    echo "$out" | grep -qE '^/dev/pts/[0-9]+$'
    echo "$out" | grep -qx exec-hi
    echo "$out" | grep -qx stdin-is-tty
}

@test "create --console-socket gives the init a terminal" {
    make_bundle "$B" sh -c 'tty; echo hi; stty size'
    edit_config "$B" '.process.terminal = true | .process.consoleSize = {height: 30, width: 100}'
    sock="$BATS_TEST_TMPDIR/console.sock"
    RECVTTY_PID=$(start_recvtty "$sock" "$BATS_TEST_TMPDIR/tty.out" --no-stdin)
    create_ct "$B" "$ID" --console-socket "$sock"
    rt start "$ID"
    wait_recvtty
    out=$(tr -d '\r' <"$BATS_TEST_TMPDIR/tty.out")
    echo "$out" | grep -qE '^(/dev/pts/0|/dev/console)$'
    echo "$out" | grep -qx hi
    echo "$out" | grep -qx '30 100'
}

@test "input through recvtty reaches the container's terminal" {
    make_bundle "$B" sh -c 'read line; echo "got:$line"'
    edit_config "$B" '.process.terminal = true'
    sock="$BATS_TEST_TMPDIR/console.sock"
    mkfifo "$BATS_TEST_TMPDIR/in"
    "$(recvtty_bin)" --pid-file "$sock.pid" "$sock" <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/tty.out" 2>&1 3>&- &
    RECVTTY_PID=$!
    exec 5>"$BATS_TEST_TMPDIR/in"
    for i in $(seq 50); do [ -s "$sock.pid" ] && break; sleep 0.1; done
    create_ct "$B" "$ID" --console-socket "$sock"
    rt start "$ID"
    echo typed-text >&5
    exec 5>&-
    wait_recvtty
    tr -d '\r' <"$BATS_TEST_TMPDIR/tty.out" | grep -qx 'got:typed-text'
}

@test "terminal true without a console socket is refused by create" {
    make_bundle "$B"
    edit_config "$B" '.process.terminal = true'
    rt_capture create --bundle "$B" "$ID"
    [ "$status" -ne 0 ]
    echo "$output" | grep -qi 'console'
    [ -z "$(ls "$(test_root)")" ]
}

@test "run from a terminal without a console socket relays the terminal" {
    make_bundle "$B" sh
    edit_config "$B" '.process.terminal = true'
    # script(1) gives the runtime a real terminal on its stdin and stdout.
    run sh -c "(sleep 0.5; echo 'echo INSIDE \$(tty) \$\$'; sleep 0.3; echo 'exit 5') |
        script -qec '$RUNTIME --root $(test_root) run --bundle $B $ID' /dev/null"
    [ "$status" -eq 5 ]
    [[ "$output" == *"INSIDE /dev/pts/0 1"* ]]
}

@test "exec -t from a terminal without a console socket relays the terminal" {
    make_bundle "$B"
    create_ct "$B" "$ID"
    rt start "$ID"
    run sh -c "(sleep 0.5; echo 'echo EXEC \$(tty)'; sleep 0.3; echo 'exit 4') |
        script -qec '$RUNTIME --root $(test_root) exec -t $ID sh' /dev/null"
    [ "$status" -eq 4 ]
    [[ "$output" == *"EXEC /dev/pts/"* ]]
}
