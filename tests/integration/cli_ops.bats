#!/usr/bin/env bats
# `wharf restart, rename, pause, unpause, top, stats, export, diff, container
# prune` against the docker CLI (28.x) on the SAME private wharf daemon:
# same output, messages and exit codes where docker's are deterministic.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
    command -v docker >/dev/null || skip "the docker CLI is not installed"
    export DD
    DD=$(mktemp -d /tmp/wharf-cliops.XXXXXX)
    make_rootfs "$DD/rootfs"
    podman_image_tar "$DD/rootfs" "$DD/bb.tar" localhost/wharf-bb:1 'CMD ["sh"]'
    rm -rf "$DD/rootfs"
    daemon_start
    wh load -i "$DD/bb.tar" >/dev/null
}

teardown_file() {
    daemon_teardown
}

# same_as_docker ARGS...: wharf and docker print the same for ARGS (retried:
# CPU times and percentages can move between the two calls).
same_as_docker() {
    local a b
    for _ in $(seq 5); do
        a=$(wh "$@") b=$(dk "$@")
        [ "$a" = "$b" ] && return 0
        sleep 0.2
    done
    echo "wharf:"; echo "$a"; echo "docker:"; echo "$b"
    return 1
}

# both ARGS...: runs wharf and docker with ARGS, comparing stdout, stderr and
# the exit status; sets status/output/stderr to docker's.
both() {
    run --separate-stderr wh "$@"
    local ws=$status wout=$output werr=$stderr
    run --separate-stderr dk "$@"
    echo "$*: wharf $ws '$wout' '$werr'; docker $status '$output' '$stderr'"
    [ "$ws" -eq "$status" ]
    [ "$wout" = "$output" ]
    [ "$werr" = "$stderr" ]
}

cname() {
    echo "co$$-${BATS_TEST_NUMBER}-$RANDOM"
}

run_sleeper() {
    wh run -d --name "$1" localhost/wharf-bb:1 sh -c 'while :; do sleep 0.2; done'
}

@test "restart prints the names and restarts, like docker restart" {
    a=$(cname) b=$(cname)
    run_sleeper "$a" >/dev/null
    wh create --name "$b" localhost/wharf-bb:1 sleep 30 >/dev/null
    pid1=$(wh inspect -f '{{.State.Pid}}' "$a")
    run wh restart -t 0 "$a" "$b"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf '%s\n%s' "$a" "$b")" ]
    [ "$(wh inspect -f '{{.State.Status}}' "$a")" = running ]
    [ "$(wh inspect -f '{{.State.Status}}' "$b")" = running ]
    [ "$(wh inspect -f '{{.State.Pid}}' "$a")" != "$pid1" ]
    both restart --time 0 "$a"
    both restart -t 0 "nosuch$$" "$a"
    [ "$status" -eq 1 ]
    wh rm -f "$a" "$b" >/dev/null
}

@test "rename: success prints nothing; refusals print what docker prints" {
    a=$(cname) b=$(cname) c=$(cname)
    run_sleeper "$a" >/dev/null
    wh create --name "$b" localhost/wharf-bb:1 true >/dev/null
    run wh rename "$a" "$c"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    [ "$(wh inspect -f '{{.Name}}' "$c")" = "/$c" ]
    both rename "$c" "$b"
    [ "$status" -eq 1 ]
    both rename "$c" 'no/slashes'
    both rename "$c" "$c"
    both rename "nosuch$$" x
    both rename "$c" '  '
    [ "$stderr" = "Error: Neither old nor new names may be empty" ]
    wh rm -f "$b" "$c" >/dev/null
}

@test "pause and unpause: output and errors equal docker's" {
    a=$(cname) b=$(cname)
    run_sleeper "$a" >/dev/null
    wh create --name "$b" localhost/wharf-bb:1 true >/dev/null
    run wh pause "$a"
    [ "$status" -eq 0 ]
    [ "$output" = "$a" ]
    [ "$(wh inspect -f '{{.State.Status}}' "$a")" = paused ]
    both pause "$a"
    [ "$status" -eq 1 ]
    both pause "$b"
    run wh unpause "$a"
    [ "$status" -eq 0 ]
    [ "$output" = "$a" ]
    [ "$(wh inspect -f '{{.State.Status}}' "$a")" = running ]
    both unpause "$a"
    both pause "nosuch$$"
    both container unpause "nosuch$$"
    # several at once: the good ones still happen
    run --separate-stderr wh pause "$a" "nosuch$$"
    [ "$status" -eq 1 ]
    [ "$output" = "$a" ]
    [ "$(wh inspect -f '{{.State.Status}}' "$a")" = paused ]
    wh rm -f "$a" "$b" >/dev/null
}

@test "top prints docker's table, with and without ps arguments" {
    a=$(cname)
    wh run -d --name "$a" localhost/wharf-bb:1 sleep 300 >/dev/null
    same_as_docker top "$a"
    same_as_docker top "$a" -o pid,ppid,args
    same_as_docker container top "$a" aux
    run wh top "$a"
    [[ "${lines[0]}" == "UID                 PID                 PPID"* ]]
    [[ "${lines[1]}" == *"sleep 300" ]]
    both top "nosuch$$"
    wh stop -t 0 "$a" >/dev/null
    both top "$a"
    [ "$status" -eq 1 ]
    wh rm -f "$a" >/dev/null
}

@test "stats --no-stream: the same table and --format fields as docker" {
    a=$(cname) b=$(cname)
    run_sleeper "$a" >/dev/null
    wh create --name "$b" localhost/wharf-bb:1 true >/dev/null
    run wh stats --no-stream "$a"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 2 ]
    d=$(dk stats --no-stream "$a")
    [ "${lines[0]}" = "$(sed -n 1p <<<"$d")" ]
    # the columns that do not move between two samples
    [ "$(awk '{print $1, $2, $7, $8, $9}' <<<"${lines[1]}")" = "$(sed -n 2p <<<"$d" | awk '{print $1, $2, $7, $8, $9}')" ]
    [[ "${lines[1]}" =~ \ [0-9]+\.[0-9]{2}%\ +[0-9.]+[KMG]?i?B\ /\ [0-9.]+GiB\ +[0-9]+\.[0-9]{2}%\  ]]
    same_as_docker stats --no-stream --format '{{.Container}} {{.Name}} {{.ID}} {{.NetIO}} {{.BlockIO}}' "$a" "$b"
    same_as_docker stats --no-stream --no-trunc --format 'table {{.ID}}\t{{.Name}}\t{{.PIDs}}' "$a"
    # a container that is not running: zeros, as docker shows them
    same_as_docker stats --no-stream "$b"
    run wh stats --no-stream --format '{{json .}}' "$b"
    echo "$output" | jq -e --arg n "$b" '.Name == $n and .CPUPerc == "0.00%" and .MemUsage == "0B / 0B" and .PIDs == "0"'
    # without names: the running containers
    run wh stats --no-stream --format '{{.Name}}'
    [[ "$output" == *"$a"* ]]
    [[ "$output" != *"$b"* ]]
    run wh stats -a --no-stream --format '{{.Name}}'
    [[ "$output" == *"$b"* ]]
    both stats --no-stream "nosuch$$"
    [ "$status" -eq 1 ]
    wh rm -f "$a" "$b" >/dev/null
}

@test "stats without --no-stream keeps redrawing the table" {
    a=$(cname)
    run_sleeper "$a" >/dev/null
    run timeout 3.5 "$BUILD/wharf" -H "unix://$DD/wharf.sock" stats --format '{{.Name}} {{.PIDs}}' "$a"
    [ "$status" -eq 124 ]
    [ "$(grep -o $'\033\[H' <<<"$output" | wc -l)" -ge 2 ]
    [[ "$output" == *"$a "[12]" "$'\033[K'* ]]
    wh rm -f "$a" >/dev/null
}

@test "export: the same archive entries as docker export, -o written whole" {
    a=$(cname)
    wh run -d --name "$a" localhost/wharf-bb:1 sh -c 'echo hi >/hello; rm /etc/group; sleep 30' >/dev/null
    for _ in $(seq 50); do wh diff "$a" | grep -q hello && break; sleep 0.1; done
    wh export -o "$DD/w.tar" "$a"
    dk export -o "$DD/d.tar" "$a"
    [ "$(tar -tvf "$DD/w.tar")" = "$(tar -tvf "$DD/d.tar")" ]
    [ "$(stat -c %a "$DD/w.tar")" = "$(stat -c %a "$DD/d.tar")" ]
    [ "$(wh export "$a" | tar -xO hello)" = hi ]
    both export "nosuch$$"
    both export -o "$DD/none.tar" "nosuch$$"
    [ ! -e "$DD/none.tar" ]
    both export -o "$DD/no/such/dir/x.tar" "$a"
    both export -o "$DD" "$a"
    [ -z "$(ls -a "$DD" | grep '^\.tmp-')" ]
    wh rm -f "$a" >/dev/null
}

@test "diff prints what docker diff prints" {
    a=$(cname)
    wh run -d --name "$a" localhost/wharf-bb:1 sh -c \
        'mkdir -p /srv/a; touch /srv/a/b; rm /etc/passwd; echo x >>/etc/group; touch /done; sleep 30' >/dev/null
    for _ in $(seq 50); do wh diff "$a" | grep -q done && break; sleep 0.1; done
    same_as_docker diff "$a"
    run wh diff "$a"
    [ "$output" = "A /done
C /etc
C /etc/group
D /etc/passwd
A /srv
A /srv/a
A /srv/a/b" ]
    both diff "nosuch$$"
    both container diff "nosuch$$"
    wh rm -f "$a" >/dev/null
}

@test "container prune: docker's report, prompt and filters" {
    keep=$(cname) x1=$(cname) x2=$(cname) y1=$(cname)
    run_sleeper "$keep" >/dev/null
    wh create --name "$x1" --label set=x localhost/wharf-bb:1 true >/dev/null
    wh run -d --name "$x2" --label set=x localhost/wharf-bb:1 sh -c 'echo 123456789 >/f' >/dev/null
    wh create --name "$y1" --label set=y localhost/wharf-bb:1 true >/dev/null
    wh wait "$x2" >/dev/null
    ids=$(wh inspect -f '{{.Id}}' "$x1" "$x2")
    # declining the prompt changes nothing and says nothing more, status 0
    run --separate-stderr wh container prune --filter label=set=x <<<"n"
    ws=$status wout=$output
    run --separate-stderr dk container prune --filter label=set=x <<<"n"
    [ "$ws" -eq 0 ] && [ "$status" -eq 0 ]
    [ "$wout" = "$output" ]
    [ "$wout" = "WARNING! This will remove all stopped containers.
Are you sure you want to continue? [y/N] " ]
    wh inspect "$x1" >/dev/null
    # the deletion order follows the daemon's listing: compare as sets
    run wh container prune --filter label=set=x <<<"y"
    [ "$status" -eq 0 ]
    [[ "$output" == "WARNING! This will remove all stopped containers.
Are you sure you want to continue? [y/N] Deleted Containers:
"* ]]
    [ "$(sed -n '3,4p' <<<"$output" | sort)" = "$(sort <<<"$ids")" ]
    [ "$(tail -n 2 <<<"$output")" = "
Total reclaimed space: 10B" ]
    run wh inspect "$y1"
    [ "$status" -eq 0 ]
    # with nothing to remove: the same one line as docker
    both container prune -f --filter label=set=x
    [ "$output" = "Total reclaimed space: 0B" ]
    both container prune -f --filter nope=1
    both container prune -f --filter until=someday
    # docker's report for the last one is what wharf printed above
    y_id=$(wh inspect -f '{{.Id}}' "$y1")
    run dk container prune -f --filter label=set=y
    [ "$output" = "Deleted Containers:
$y_id

Total reclaimed space: 0B" ]
    [ "$(wh inspect -f '{{.State.Status}}' "$keep")" = running ]
    wh rm -f "$keep" >/dev/null
}

@test "usage errors exit like docker's" {
    for args in "top" "rename x" "diff" "export" "restart" "pause" "unpause" \
        "container prune x" "stats --bogus" "restart -t x c" "top -x c" \
        "container prune --filter nofilter" "export -o"; do
        run wh $args
        ws=$status
        run dk $args
        echo "$args: wharf $ws docker $status"
        [ "$ws" -eq "$status" ]
    done
    both restart --time 1 -t 1 c
    [ "$status" -eq 1 ]
    [ "$stderr" = "conflicting options: cannot specify both --timeout and --time" ]
}
