#!/usr/bin/env bats
# The interactive `wharf` client commands — attached run, start -a/-i,
# attach, exec — against a private wharf daemon, compared with what the
# docker CLI (28.x) does on the same daemon: same output, messages and exit
# codes. Terminals come from ptyrun.py (a pseudo-terminal with a keyboard).

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
    export DD
    DD=$(mktemp -d /tmp/wca.XXXXXX)
    make_rootfs "$DD/rootfs"
    podman_image_tar "$DD/rootfs" "$DD/bb.tar" localhost/wharf-bb:1 'CMD ["sh"]'
    rm -rf "$DD/rootfs"
    daemon_start
    wh load -i "$DD/bb.tar" >/dev/null
}

teardown_file() {
    daemon_teardown
}

# The wharf binary as an absolute command line, for ptyrun and bash -c.
WH() {
    echo "$(cd "$(dirname "$BUILD/wharf")" && pwd)/wharf -H unix://$DD/wharf.sock"
}

ptyrun() {
    python3 "$BATS_TEST_DIRNAME/ptyrun.py" "$@"
}

cname() {
    echo "wc$$-${BATS_TEST_NUMBER}-$RANDOM"
}

IMG=localhost/wharf-bb:1

@test "run (attached): stdout and stderr apart, the exit code, --rm" {
    name=$(cname)
    run --separate-stderr wh run --name "$name" $IMG sh -c 'echo to-out; echo to-err >&2; exit 3'
    [ "$status" -eq 3 ]
    [ "$output" = to-out ]
    [ "$stderr" = to-err ]
    [ "$(wh inspect -f '{{.State.ExitCode}} {{.Config.AttachStdout}} {{.Config.OpenStdin}}' "$name")" = "3 true false" ]
    wh rm "$name" >/dev/null
    run wh run --rm --name "$name" $IMG echo gone-soon
    [ "$status" -eq 0 ]
    [ "$output" = gone-soon ]
    run wh inspect "$name"
    [ "$status" -ne 0 ]
}

@test "run -a: only the chosen streams, the Attach* settings, and docker's errors" {
    local a spec cli out rc
    for spec in "-a stdout" "-a STDERR" "-a stdout -a stderr" "-i -a stdout"; do
        for cli in wh dk; do
            # shellcheck disable=SC2086
            rc=0
            out=$(echo in | $cli run --rm $spec $IMG sh -c 'cat; echo out; echo err >&2; exit 3' \
                2>"$DD/$cli.err") || rc=$?
            echo "$rc $out $(cat "$DD/$cli.err")" >"$DD/$cli.res"
        done
        diff "$DD/wh.res" "$DD/dk.res"
    done
    [ "$(cat "$DD/wh.res")" = "3 in
out " ]
    for spec in "-a stdin" "-i -a stdout" "-a stderr"; do
        a=$(cname)
        # shellcheck disable=SC2086
        wh create $spec --name "$a" $IMG >/dev/null
        dk create $spec --name "$a-d" $IMG >/dev/null
        f='{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}} {{.Config.StdinOnce}}'
        [ "$(dk inspect -f "$f" "$a")" = "$(dk inspect -f "$f" "$a-d")" ]
        wh rm "$a" "$a-d" >/dev/null
    done
    run wh run -d -a stdout $IMG true
    [ "$status" -eq 1 ]
    [ "$output" = "conflicting options: cannot specify both --attach and --detach" ]
    run wh run -a foo $IMG true
    [ "$status" -eq 125 ]
    [[ "${lines[0]}" == *'invalid argument "foo" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR' ]]
}

@test "run -i: piped stdin, EOF, and the same bytes as docker run -i" {
    run bash -c "echo hi | $(WH) run -i --rm $IMG cat"
    [ "$status" -eq 0 ]
    [ "$output" = hi ]
    # (stdout and stderr apart: their order across the two is not kept)
    a=$(seq 1 30000 | wh run -i --rm $IMG sh -c 'cat; echo end >&2; exit 2' 2>"$DD/a.err"; echo "rc=$?")
    b=$(seq 1 30000 | dk run -i --rm $IMG sh -c 'cat; echo end >&2; exit 2' 2>"$DD/b.err"; echo "rc=$?")
    [ "$a" = "$b" ]
    [ "$(echo "$a" | tail -1)" = rc=2 ]
    [ "$(echo "$a" | wc -l)" -eq 30001 ]
    [ "$(cat "$DD/a.err")" = end ]
    [ "$(cat "$DD/b.err")" = end ]
    # Without -i nothing of ours reaches the container.
    run bash -c "echo hi | $(WH) run --rm $IMG cat"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

@test "run -it: raw terminal, echo from the container, size, SIGWINCH, exit code; terminal restored" {
    name=$(cname)
    # After wharf exits, the shell's stty shows the local terminal is cooked again.
    run ptyrun --size 40x100 'expect:/ # ' 'send:tty; stty size\r' 'expect:/dev/pts/0' \
        'expect:40 100' 'resize:30x90' 'sleep:0.5' 'send:stty size\r' 'expect:30 90' \
        'send:exit 3\r' -- bash -c "$(WH) run -it --name $name $IMG sh; rc=\$?; stty -a | grep -o ' icanon'; exit \$rc"
    [ "$status" -eq 3 ]
    [[ "$output" == *"tty; stty size"* ]]
    [[ "$output" == *" icanon"* ]]
    [ "$(wh inspect -f '{{.State.ExitCode}} {{.Config.Tty}} {{.Config.StdinOnce}}' "$name")" = "3 true true" ]
    wh rm "$name" >/dev/null
}

@test "run -it: ctrl-p ctrl-q detaches (exit 0, the container runs on), --detach-keys too" {
    name=$(cname)
    run ptyrun 'expect:/ # ' 'send:echo mark-$((6*7))\r' 'expect:mark-42' 'send:\x10' 'send:\x11' \
        -- $(WH) run -it --name "$name" $IMG sh
    [ "$status" -eq 0 ]
    [ "$(wh inspect -f '{{.State.Status}}' "$name")" = running ]
    run ptyrun 'expect:/ # ' 'send:\x18\x19' -- $(WH) run -it --detach-keys ctrl-x,ctrl-y --name "$name-2" $IMG sh
    [ "$status" -eq 0 ]
    [ "$(wh inspect -f '{{.State.Status}}' "$name-2")" = running ]
    wh rm -f "$name" "$name-2" >/dev/null
}

@test "run -t without a terminal, -it without one: like docker" {
    run wh run -t --rm $IMG sh -c 'echo first; tty'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = $'first\r' ]
    [ "${lines[1]}" = $'/dev/pts/0\r' ]
    run bash -c "echo | $(WH) run -it --rm $IMG true"
    [ "$status" -eq 1 ]
    [ "$output" = "the input device is not a TTY" ]
    [ "$output" = "$(echo | dk run -it --rm $IMG true 2>&1)" ]
}

@test "run of a command that cannot run: 127 and 126 like docker, nothing left with --rm" {
    for cmd in /no/such nosuchcmd /etc; do
        wh run --rm $IMG "$cmd" 2>"$DD/err" && false || a=$?
        dk run --rm $IMG "$cmd" 2>/dev/null && false || b=$?
        [ "$a" -eq "$b" ]
    done
    [ "$a" -eq 126 ]
    run -127 wh run --rm $IMG /no/such
    [[ "$output" == *'Error response from daemon: '*'stat /no/such: no such file or directory'* ]]
    name=$(cname)
    run -127 wh run --rm --name "$name" $IMG nosuchcmd
    run wh inspect "$name"
    [ "$status" -ne 0 ]
    # -d: the same codes.
    run -127 wh run -d --rm $IMG /no/such
}

@test "start -a and start -ai: output, stdin, exit code; errors like docker" {
    name=$(cname)
    wh create -i --name "$name" $IMG sh -c 'read x; echo got-$x; echo err-$x >&2; exit 9' >/dev/null
    [ "$(wh inspect -f '{{.Config.AttachStdin}} {{.Config.StdinOnce}} {{.Config.OpenStdin}}' "$name")" = "true true true" ]
    run --separate-stderr bash -c "echo yes | $(WH) start -ai $name"
    [ "$status" -eq 9 ]
    [ "$output" = got-yes ]
    [ "$stderr" = err-yes ]
    run --separate-stderr bash -c "echo two | $(WH) start -ai $name"
    [ "$status" -eq 9 ]
    [ "$output" = got-two ]
    name2=$(cname)
    wh create --name "$name2" $IMG sh -c 'echo only-out; exit 4' >/dev/null
    run wh start -a "$name2"
    [ "$status" -eq 4 ]
    [ "$output" = only-out ]
    run wh start -a "$name" "$name2"
    [ "$status" -eq 1 ]
    [ "$output" = "$(dk start -a "$name" "$name2" 2>&1)" ]
    run wh start -a "nosuch$$"
    [ "$status" -eq 1 ]
    [ "$output" = "Error response from daemon: No such container: nosuch$$" ]
    wh rm "$name" "$name2" >/dev/null
}

@test "attach: output of a running container, detach keys, exit code, errors like docker" {
    name=$(cname)
    wh run -dit --name "$name" $IMG sh >/dev/null
    run ptyrun 'send:echo mark-$((6*7))\r' 'expect:mark-42' 'send:\x10\x11' -- $(WH) attach "$name"
    [ "$status" -eq 1 ]
    [[ "$output" == *"read escape sequence"* ]]
    [ "$(wh inspect -f '{{.State.Status}}' "$name")" = running ]
    run ptyrun 'send:echo again-$((1+1))\r' 'expect:again-2' 'send:\x18' 'send:\x19' \
        -- $(WH) attach --detach-keys ctrl-x,ctrl-y "$name"
    [ "$status" -eq 1 ]
    [[ "$output" != *mark-42* ]]
    run ptyrun 'send:echo bye-$((2+2)); exit 5\r' 'expect:bye-4' -- $(WH) attach "$name"
    [ "$status" -eq 5 ]
    run wh attach "$name"
    [ "$status" -eq 1 ]
    [ "$output" = "You cannot attach to a stopped container, start it first" ]
    [ "$output" = "$(dk attach "$name" 2>&1)" ]
    run wh attach "nosuch$$"
    [ "$status" -eq 1 ]
    [ "$output" = "$(dk attach "nosuch$$" 2>&1)" ]
    wh rm "$name" >/dev/null
}

@test "attach without a terminal: piped input, output, the container's exit code" {
    name=$(cname)
    wh run -d -i --name "$name" $IMG sh -c 'read x; echo got-$x; exit 6' >/dev/null
    # stdin stays open: the attach delivers the line and ends with the container.
    run bash -c "(echo line; sleep 2) | $(WH) attach $name"
    [ "$status" -eq 6 ]
    [ "$output" = got-line ]
    wh rm "$name" >/dev/null
}

@test "exec -i and exec: stdin, streams, exit codes, -e -u -w, -d" {
    name=$(cname)
    wh run -d --name "$name" $IMG sleep 1000 >/dev/null
    run bash -c "echo hi | $(WH) exec -i $name cat"
    [ "$status" -eq 0 ]
    [ "$output" = hi ]
    run --separate-stderr wh exec -e FOO=bar -w /tmp -u 65534 "$name" sh -c 'echo $FOO $(pwd) $(id -u); echo e >&2; exit 6'
    [ "$status" -eq 6 ]
    [ "$output" = "bar /tmp 65534" ]
    [ "$stderr" = e ]
    run wh exec -d "$name" sh -c 'echo detached > /tmp/d'
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    for _ in $(seq 50); do [ "$(wh exec "$name" cat /tmp/d 2>/dev/null)" = detached ] && break; sleep 0.1; done
    [ "$(wh exec "$name" cat /tmp/d)" = detached ]
    # A command that cannot run: 126 and the reason on stdout, as docker.
    run --separate-stderr wh exec "$name" /no/such
    [ "$status" -eq 126 ]
    [[ "$output" == *'stat /no/such: no such file or directory'* ]]
    dk exec "$name" /no/such >/dev/null 2>&1 && false || [ $? -eq 126 ]
    run wh exec "nosuch$$" true
    [ "$status" -eq 1 ]
    [ "$output" = "Error response from daemon: No such container: nosuch$$" ]
    run bash -c "echo | $(WH) exec -it $name true"
    [ "$status" -eq 1 ]
    [ "$output" = "the input device is not a TTY" ]
    wh rm -f "$name" >/dev/null
    wh create --name "$name" $IMG >/dev/null
    id=$(wh inspect -f '{{.Id}}' "$name")
    run wh exec "$name" true
    [ "$status" -eq 1 ]
    [ "$output" = "Error response from daemon: Container $id is not running" ]
    wh rm "$name" >/dev/null
}

@test "exec -it: terminal of the caller's size, SIGWINCH, exit code, detach" {
    name=$(cname)
    wh run -d --name "$name" $IMG sleep 1000 >/dev/null
    run ptyrun --size 33x77 'expect:# ' 'send:tty; stty size\r' 'expect:/dev/pts/' 'expect:33 77' \
        'resize:20x60' 'sleep:0.5' 'send:stty size\r' 'expect:20 60' 'send:exit 4\r' \
        -- $(WH) exec -it "$name" sh
    [ "$status" -eq 4 ]
    run ptyrun 'expect:# ' 'send:\x10\x11' -- $(WH) exec -it "$name" sh
    [ "$status" -eq 1 ]
    [[ "$output" == *"read escape sequence"* ]]
    run wh exec -t "$name" tty
    [ "$status" -eq 0 ]
    [[ "$output" == /dev/pts/* ]]
    wh rm -f "$name" >/dev/null
}

@test "signals reach a container without a terminal (sig-proxy)" {
    name=$(cname)
    $(WH) run --name "$name" $IMG sh -c 'trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.1; done' >"$DD/sig.out" &
    pid=$!
    for _ in $(seq 50); do grep -q ready "$DD/sig.out" && break; sleep 0.1; done
    kill -TERM "$pid"
    wait "$pid" && false || rc=$?
    [ "$rc" -eq 7 ]
    grep -q got-term "$DD/sig.out"
    wh rm "$name" >/dev/null
}
