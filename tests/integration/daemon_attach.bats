#!/usr/bin/env bats
# Interactive streams of the wharf daemon, driven by the real docker CLI
# (28.x) on a private socket and data root: attach with stdin, terminals
# (through ptyrun.py, a pseudo-terminal with a keyboard), resizes, exec -i/-it,
# detach keys, and the exit codes of commands that cannot run. hijack.py
# speaks the raw API where the CLI would hide the daemon's part.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
    command -v docker >/dev/null || skip "the docker CLI is not installed"
    export DD
    # Short: the shim's sockets live under the data root.
    DD=$(mktemp -d /tmp/wda.XXXXXX)
    make_rootfs "$DD/rootfs"
    podman_image_tar "$DD/rootfs" "$DD/bb.tar" localhost/wharf-bb:1 'CMD ["sh"]'
    rm -rf "$DD/rootfs"
    daemon_start
    dk load -i "$DD/bb.tar" >/dev/null
}

teardown_file() {
    daemon_teardown
}

# ptyrun STEP... -- CMD: CMD on a terminal (see ptyrun.py).
ptyrun() {
    python3 "$BATS_TEST_DIRNAME/ptyrun.py" "$@"
}

# api METHOD PATH: a plain request; prints the body (without its newline)
# and the status.
api() {
    curl -s -w ' %{http_code}' -X "$1" --unix-socket "$DD/wharf.sock" "http://localhost/v1.47$2" | tr -d '\n'
}

hijack() {
    python3 "$BATS_TEST_DIRNAME/hijack.py" "$DD/wharf.sock" "$@"
}

cname() {
    echo "wa$$-${BATS_TEST_NUMBER}-$RANDOM"
}

IMG=localhost/wharf-bb:1

@test "run -i: piped stdin reaches the container, EOF closes it, exit code returned" {
    run --separate-stderr dk run -i --rm $IMG cat
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    run bash -c "echo hi | docker -H unix://$DD/wharf.sock run -i --rm $IMG cat"
    [ "$status" -eq 0 ]
    [ "$output" = hi ]
    # More than a pipe buffer, through the daemon and the shim.
    run bash -c "seq 1 30000 | docker -H unix://$DD/wharf.sock run -i --rm $IMG sh -c 'wc -l; exit 4'"
    [ "$status" -eq 4 ]
    [ "$output" = 30000 ]
}

@test "run -it: a real terminal — prompt, echo, tty, initial size, resize, exit code" {
    name=$(cname)
    run ptyrun --size 40x100 'expect:/ # ' 'send:tty; stty size\r' 'expect:/dev/pts/0' \
        'expect:40 100' 'resize:30x90' 'sleep:0.5' 'send:stty size\r' 'expect:30 90' 'send:exit 3\r' \
        -- docker -H "unix://$DD/wharf.sock" run -it --name "$name" $IMG sh
    [ "$status" -eq 3 ]
    # The typed command came back from the container's terminal (raw local tty).
    [[ "$output" == *"tty; stty size"* ]]
    [ "$(dk inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.Config.Tty}}' "$name")" = "exited 3 true" ]
    dk rm "$name" >/dev/null
}

@test "run -t: output of a short-lived process on a terminal is not lost" {
    run dk run -t --rm $IMG sh -c 'echo first; tty; echo last'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = $'first\r' ]
    [ "${lines[1]}" = $'/dev/pts/0\r' ]
    [ "${lines[2]}" = $'last\r' ]
}

@test "run -it: the detach keys leave the container running" {
    name=$(cname)
    run ptyrun 'expect:/ # ' 'send:echo mark-$((6*7))\r' 'expect:mark-42' 'send:\x10' 'send:\x11' \
        -- docker -H "unix://$DD/wharf.sock" run -it --name "$name" $IMG sh
    [ "$status" -eq 0 ]
    [ "$(dk inspect -f '{{.State.Status}}' "$name")" = running ]
    dk rm -f "$name" >/dev/null
}

@test "attach to a running container, detach with ctrl-p ctrl-q, attach again and exit" {
    name=$(cname)
    dk run -dit --name "$name" $IMG sh >/dev/null
    run ptyrun 'send:echo mark-$((6*7))\r' 'expect:mark-42' 'send:\x10\x11' \
        -- docker -H "unix://$DD/wharf.sock" attach "$name"
    # docker attach reports the detach as an error.
    [ "$status" -eq 1 ]
    [[ "$output" == *"read escape sequence"* ]]
    [ "$(dk inspect -f '{{.State.Status}}' "$name")" = running ]
    # Custom keys; earlier output is not replayed.
    run ptyrun 'send:echo again-$((1+1))\r' 'expect:again-2' 'send:\x18\x19' \
        -- docker -H "unix://$DD/wharf.sock" attach --detach-keys ctrl-x,ctrl-y "$name"
    [ "$status" -eq 1 ]
    [[ "$output" != *mark-42* ]]
    run ptyrun 'send:echo bye-$((2+2)); exit 5\r' 'expect:bye-4' \
        -- docker -H "unix://$DD/wharf.sock" attach "$name"
    [ "$status" -eq 5 ]
    [ "$(dk inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$name")" = "exited 5" ]
    run dk attach "$name"
    [ "$status" -eq 1 ]
    [[ "$output" == *"You cannot attach to a stopped container"* ]]
    dk rm "$name" >/dev/null
}

@test "the daemon watches for the detach keys on a terminal (query detachKeys, split writes)" {
    name=$(cname)
    dk run -dit --name "$name" $IMG sh >/dev/null
    # A key of the sequence followed by another key is typed input.
    run --separate-stderr hijack POST "/containers/$name/attach?stream=1&stdin=1&stdout=1&detachKeys=X,Y" \
        'send:echo XZ-$((1+1))\r' 'expect:XZ-2' 'send:X' 'sleep:0.2' 'send:Y'
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"101"* ]]
    [ "$(dk inspect -f '{{.State.Status}}' "$name")" = running ]
    # The default sequence, in one write.
    run hijack POST "/containers/$name/attach?stream=1&stdin=1&stdout=1" 'send:\x10\x11'
    [ "$status" -eq 0 ]
    [ "$(dk inspect -f '{{.State.Status}}' "$name")" = running ]
    run api POST "/containers/$name/attach?stream=1&detachKeys=ctrl-xx"
    [ "$output" = '{"message":"Invalid detach keys (ctrl-xx) provided"} 400' ]
    dk rm -f "$name" >/dev/null
}

@test "attach without StdinOnce: EOF ends the attach and leaves stdin open" {
    name=$(cname)
    dk run -d -i --name "$name" $IMG cat >/dev/null
    run hijack POST "/containers/$name/attach?stream=1&stdin=1&stdout=1" 'send:first\n' 'expect:first' 'shutwr'
    [ "$status" -eq 0 ]
    run hijack POST "/containers/$name/attach?stream=1&stdin=1&stdout=1" 'send:second\n' 'expect:second' 'shutwr'
    [ "$status" -eq 0 ]
    [ "$(dk inspect -f '{{.State.Status}}' "$name")" = running ]
    [ "$(dk logs "$name")" = "$(printf 'first\nsecond')" ]
    dk rm -f "$name" >/dev/null
}

@test "start -a and start -ai stream output, feed stdin and return the exit code" {
    name=$(cname)
    dk create -i --name "$name" $IMG sh -c 'read x; echo got-$x; echo err-$x >&2; exit 9' >/dev/null
    run --separate-stderr bash -c "echo yes | docker -H unix://$DD/wharf.sock start -ai $name"
    [ "$status" -eq 9 ]
    [ "$output" = got-yes ]
    [ "$stderr" = err-yes ]
    # A restart shows only its own output.
    run bash -c "echo two | docker -H unix://$DD/wharf.sock start -ai $name"
    [ "$status" -eq 9 ]
    [ "$output" = "$(printf 'got-two\nerr-two')" ]
    dk rm "$name" >/dev/null
}

@test "resize: the PTY takes the size; Docker's errors for bad input" {
    name=$(cname)
    dk run -dit --name "$name" $IMG sh >/dev/null
    run api POST "/containers/$name/resize?h=33&w=71"
    [ "$output" = " 200" ]
    [ "$(dk exec "$name" sh -c 'stty size </proc/1/fd/0')" = "33 71" ]
    run api POST "/containers/$name/resize?h=abc&w=10"
    [ "$output" = '{"message":"invalid resize height \"abc\": invalid syntax"} 400' ]
    run api POST "/containers/$name/resize?h=10"
    [ "$output" = '{"message":"invalid resize width \"\": invalid syntax"} 400' ]
    run api POST "/containers/$name/resize?h=10&w=99999999999"
    [ "$output" = '{"message":"invalid resize width \"99999999999\": value out of range"} 400' ]
    run api POST "/containers/nosuch-$$/resize?h=1&w=1"
    [ "$output" = "{\"message\":\"No such container: nosuch-$$\"} 404" ]
    run api POST "/exec/nosuch-$$/resize?h=1&w=1"
    [ "$output" = "{\"message\":\"No such exec instance: nosuch-$$\"} 404" ]
    dk rm -f "$name" >/dev/null
    dk create --name "$name" $IMG >/dev/null
    id=$(dk inspect -f '{{.Id}}' "$name")
    run api POST "/containers/$name/resize?h=1&w=1"
    [ "$output" = "{\"message\":\"Container $id is not running\"} 409" ]
    dk rm "$name" >/dev/null
}

@test "exec -i: piped stdin, exit codes, env, user and workdir" {
    name=$(cname)
    dk run -d --name "$name" $IMG sleep 1000 >/dev/null
    run bash -c "echo hi | docker -H unix://$DD/wharf.sock exec -i $name cat"
    [ "$status" -eq 0 ]
    [ "$output" = hi ]
    run --separate-stderr dk exec -e FOO=bar -w /tmp -u 65534 "$name" sh -c 'echo $FOO $(pwd) $(id -u); echo e >&2; exit 6'
    [ "$status" -eq 6 ]
    [ "$output" = "bar /tmp 65534" ]
    [ "$stderr" = e ]
    dk rm -f "$name" >/dev/null
}

@test "exec -it: a terminal of the caller's size, resized, with its exit code; detach" {
    name=$(cname)
    dk run -d --name "$name" $IMG sleep 1000 >/dev/null
    run ptyrun --size 33x77 'expect:# ' 'send:tty; stty size\r' 'expect:/dev/pts/' 'expect:33 77' \
        'resize:20x60' 'sleep:0.5' 'send:stty size\r' 'expect:20 60' 'send:exit 4\r' \
        -- docker -H "unix://$DD/wharf.sock" exec -it "$name" sh
    [ "$status" -eq 4 ]
    run ptyrun 'expect:# ' 'send:\x10\x11' -- docker -H "unix://$DD/wharf.sock" exec -it "$name" sh
    [ "$status" -eq 1 ]
    [[ "$output" == *"read escape sequence"* ]]
    run dk exec -t "$name" tty
    [ "$status" -eq 0 ]
    [[ "$output" == /dev/pts/* ]]
    dk rm -f "$name" >/dev/null
}

@test "a command that cannot run: run exits 127/126 like docker, exec 126 with the reason on stdout" {
    name=$(cname)
    run -127 --separate-stderr dk run --rm --name "$name" $IMG /no/such
    [ "$status" -eq 127 ]
    [[ "$stderr" == *'stat /no/such: no such file or directory'* ]]
    # --rm: the daemon removed what it could not start.
    run dk inspect "$name"
    [ "$status" -ne 0 ]
    run -127 --separate-stderr dk run --rm $IMG nosuchcmd
    [ "$status" -eq 127 ]
    [[ "$stderr" == *'executable file not found in $PATH'* ]]
    run --separate-stderr dk run --rm $IMG /etc
    [ "$status" -eq 126 ]
    [[ "$stderr" == *'exec: "/etc": permission denied'* ]]
    name=$(cname)
    dk run -d --name "$name" $IMG sleep 1000 >/dev/null
    run --separate-stderr dk exec "$name" /no/such
    [ "$status" -eq 126 ]
    [[ "$output" == *'stat /no/such: no such file or directory'* ]]
    dk rm -f "$name" >/dev/null
    # without --rm the container stays, created, its State telling why (as
    # dockerd's), kept across a daemon restart and cleared by a good start
    run -127 dk run --name "$name" -v "$name:/v" $IMG /v/go
    [ "$(dk inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$name")" = "created 127" ]
    [[ "$(dk inspect -f '{{.State.Error}}' "$name")" == *'/v/go: no such file or directory'* ]]
    dk create --name "$name-x" $IMG /etc >/dev/null
    run dk start "$name-x"
    [ "$status" -ne 0 ]
    [ "$(dk inspect -f '{{.State.ExitCode}}' "$name-x")" = 126 ]
    daemon_stop
    daemon_start
    [ "$(dk inspect -f '{{.State.ExitCode}}' "$name")" = 127 ]
    [ "$(dk ps -a --filter "name=$name-x" --format '{{.Status}}')" = Created ]
    dk run --rm -v "$name:/v" $IMG sh -c 'printf "#!/bin/sh\nexit 5\n" >/v/go; chmod +x /v/go'
    dk start "$name" >/dev/null
    [ "$(dk wait "$name")" = 5 ]
    [ "$(dk inspect -f '{{.State.ExitCode}}|{{.State.Error}}' "$name")" = "5|" ]
    dk rm "$name" "$name-x" >/dev/null
    dk volume rm "$name" >/dev/null
}
