#!/usr/bin/env bats
# The per-container operations of the wharf daemon, driven by the real docker
# CLI (28.x) on a private socket and data root: restart, rename, pause and
# unpause, top, stats, export, diff and container prune. The image is a
# busybox-static archive made with podman (no network).

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
    command -v docker >/dev/null || skip "the docker CLI is not installed"
    export DD
    DD=$(mktemp -d /tmp/wharf-ops.XXXXXX)
    make_rootfs "$DD/rootfs"
    tar -C "$DD/rootfs" -cf "$DD/rootfs.tar" .
    local pm="podman --root $DD/pm-storage --runroot $DD/pm-run --storage-driver overlay"
    $pm import --change 'CMD ["sh"]' "$DD/rootfs.tar" localhost/wharf-bb:1 >/dev/null
    $pm save -o "$DD/bb.tar" localhost/wharf-bb:1 2>/dev/null
    # an image without the directories the runtime mounts on
    rm -rf "$DD/rootfs/proc" "$DD/rootfs/sys" "$DD/rootfs/dev"
    tar -C "$DD/rootfs" -cf "$DD/min.tar" .
    $pm import --change 'CMD ["sh"]' "$DD/min.tar" localhost/wharf-min:1 >/dev/null
    $pm save -o "$DD/min-image.tar" localhost/wharf-min:1 2>/dev/null
    $pm rmi -af >/dev/null 2>&1 || true
    umount_under "$DD"
    rm -rf "$DD/pm-storage" "$DD/pm-run" "$DD/rootfs"
    daemon_start
    dk load -i "$DD/bb.tar" >/dev/null
    dk load -i "$DD/min-image.tar" >/dev/null
}

teardown_file() {
    daemon_teardown
}

# The raw API, for what the docker CLI does not show.
api() {
    curl -sS --unix-socket "$DD/wharf.sock" "$@"
}

cname() {
    echo "op$$-${BATS_TEST_NUMBER}-$RANDOM"
}

# A container that runs until killed (sh as pid 1 ignores SIGTERM).
run_sleeper() {
    dk run -d --name "$1" "${@:2}" localhost/wharf-bb:1 sh -c 'while :; do sleep 0.2; done'
}

@test "restart: a running, an exited and a created container all end up running" {
    a=$(cname) b=$(cname) c=$(cname)
    run_sleeper "$a" >/dev/null
    pid1=$(dk inspect -f '{{.State.Pid}}' "$a")
    start1=$(dk inspect -f '{{.State.StartedAt}}' "$a")
    run dk restart -t 1 "$a"
    [ "$status" -eq 0 ]
    [ "$output" = "$a" ]
    [ "$(dk inspect -f '{{.State.Status}}' "$a")" = running ]
    pid2=$(dk inspect -f '{{.State.Pid}}' "$a")
    [ "$pid1" != "$pid2" ]
    run ! kill -0 "$pid1" 2>/dev/null
    [ "$(dk inspect -f '{{.State.StartedAt}}' "$a")" != "$start1" ]

    dk run -d --name "$b" localhost/wharf-bb:1 sh -c 'echo ran; sleep 30' >/dev/null
    dk stop -t 0 "$b" >/dev/null
    [ "$(dk inspect -f '{{.State.Status}}' "$b")" = exited ]
    run dk restart "$b"
    [ "$status" -eq 0 ]
    [ "$(dk inspect -f '{{.State.Status}}' "$b")" = running ]
    for _ in $(seq 50); do [ "$(dk logs "$b" | grep -c ran)" -ge 2 ] && break; sleep 0.1; done
    [ "$(dk logs "$b" | grep -c ran)" -eq 2 ]

    dk create --name "$c" localhost/wharf-bb:1 sleep 30 >/dev/null
    run dk restart "$c"
    [ "$status" -eq 0 ]
    [ "$(dk inspect -f '{{.State.Status}}' "$c")" = running ]
    dk rm -f "$a" "$b" "$c" >/dev/null
}

@test "restart -s sends that signal instead of the stop signal" {
    a=$(cname)
    run_sleeper "$a" >/dev/null
    pid1=$(dk inspect -f '{{.State.Pid}}' "$a")
    # sh as pid 1 ignores SIGTERM: only the KILL makes this quick
    start=$(date +%s%N)
    run dk restart -s KILL -t 20 "$a"
    [ "$status" -eq 0 ]
    [ $(( ($(date +%s%N) - start) / 1000000 )) -lt 5000 ]
    [ "$(dk inspect -f '{{.State.Status}}' "$a")" = running ]
    [ "$(dk inspect -f '{{.State.Pid}}' "$a")" != "$pid1" ]
    run --separate-stderr dk restart -s NOSUCHSIG "$a"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"Invalid signal: NOSUCHSIG"* ]]
    dk rm -f "$a" >/dev/null
}

@test "restart: a missing container is an error naming it, the others still restart" {
    a=$(cname)
    run_sleeper "$a" >/dev/null
    run --separate-stderr dk restart -t 0 "nosuch$$" "$a"
    [ "$status" -eq 1 ]
    [ "$output" = "$a" ]
    [ "$stderr" = "Error response from daemon: No such container: nosuch$$" ]
    dk rm -f "$a" >/dev/null
}

@test "rename: the new name resolves, the old one no longer does" {
    a=$(cname) b=$(cname)
    run_sleeper "$a" >/dev/null
    id=$(dk inspect -f '{{.Id}}' "$a")
    run dk rename "$a" "$b"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    [ "$(dk inspect -f '{{.Name}} {{.Id}}' "$b")" = "/$b $id" ]
    [[ "$(dk ps --format '{{.Names}}')" == *"$b"* ]]
    run dk inspect "$a"
    [ "$status" -ne 0 ]
    # the name is free again for a new container
    run_sleeper "$a" >/dev/null
    dk rm -f "$a" "$b" >/dev/null
}

@test "rename: taken, invalid and unchanged names are refused like dockerd refuses them" {
    a=$(cname) b=$(cname)
    run_sleeper "$a" >/dev/null
    dk create --name "$b" localhost/wharf-bb:1 true >/dev/null
    bid=$(dk inspect -f '{{.Id}}' "$b")
    run --separate-stderr dk rename "$a" "$b"
    [ "$status" -eq 1 ]
    [ "$stderr" = "Error response from daemon: Error when allocating new name: Conflict. The container name \"/$b\" is already in use by container \"$bid\". You have to remove (or rename) that container to be able to reuse that name.
Error: failed to rename container named $a" ]
    run --separate-stderr dk rename "$a" 'bad!name'
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"Invalid container name (/bad!name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"* ]]
    run --separate-stderr dk rename "$a" "$a"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"Renaming a container with the same name as its current name"* ]]
    # an id prefix is not a name: a name that happens to prefix an id is free
    prefix=$(dk inspect -f '{{.Id}}' "$a" | cut -c1-4)
    run dk rename "$b" "$prefix"
    [ "$status" -eq 0 ]
    # nothing changed for the refused renames
    [ "$(dk inspect -f '{{.Name}}' "$a")" = "/$a" ]
    [ "$(api -o /dev/null -w '%{http_code}' -X POST "http://d/containers/$a/rename?name=$prefix")" = 409 ]
    [ "$(api -o /dev/null -w '%{http_code}' -X POST "http://d/containers/$a/rename?name=-x")" = 400 ]
    dk rm -f "$a" "$prefix" >/dev/null
}

@test "pause freezes the processes and unpause thaws them; wrong states are 409" {
    a=$(cname)
    dk run -d --name "$a" localhost/wharf-bb:1 sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/n; sleep 0.05; done' >/dev/null
    pid=$(dk inspect -f '{{.State.Pid}}' "$a")
    run dk pause "$a"
    [ "$status" -eq 0 ]
    [ "$output" = "$a" ]
    [ "$(dk inspect -f '{{.State.Status}} {{.State.Paused}} {{.State.Running}}' "$a")" = "paused true true" ]
    [[ "$(dk ps --format '{{.Names}} {{.Status}}')" == *"$a Up "*" (Paused)"* ]]
    n1=$(cat "/proc/$pid/root/tmp/n")
    sleep 0.5
    [ "$(cat "/proc/$pid/root/tmp/n")" = "$n1" ]
    run --separate-stderr dk pause "$a"
    [ "$status" -eq 1 ]
    id=$(dk inspect -f '{{.Id}}' "$a")
    [ "$stderr" = "Error response from daemon: Container $id is already paused" ]
    [ "$(api -o /dev/null -w '%{http_code}' -X POST "http://d/containers/$a/pause")" = 409 ]
    run dk unpause "$a"
    [ "$status" -eq 0 ]
    [ "$output" = "$a" ]
    sleep 0.5
    [ "$(cat "/proc/$pid/root/tmp/n")" != "$n1" ]
    run --separate-stderr dk unpause "$a"
    [ "$status" -eq 1 ]
    [ "$stderr" = "Error response from daemon: Container $id is not paused" ]
    dk stop -t 0 "$a" >/dev/null
    run --separate-stderr dk pause "$a"
    [ "$status" -eq 1 ]
    [ "$stderr" = "Error response from daemon: container $id is not running" ]
    [ "$(api -o /dev/null -w '%{http_code}' -X POST "http://d/containers/$a/pause")" = 409 ]
    dk rm -f "$a" >/dev/null
}

@test "top: ps -ef columns from /proc of the container's processes" {
    a=$(cname)
    run_sleeper "$a" >/dev/null
    pid=$(dk inspect -f '{{.State.Pid}}' "$a")
    run dk top "$a"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" =~ ^UID\ +PID\ +PPID\ +C\ +STIME\ +TTY\ +TIME\ +CMD$ ]]
    # the init's row: what the host's ps says about the same pid
    row=$(printf '%s\n' "${lines[@]}" | awk -v p="$pid" '$2 == p')
    [ -n "$row" ]
    read -r uid rpid ppid c stime tty time cmd <<<"$row"
    [ "$uid" = root ] && [ "$rpid" = "$pid" ] && [ "$tty" = "?" ]
    [ "$ppid" = "$(ps -o ppid= -p "$pid" | tr -d ' ')" ]
    [ "$stime" = "$(ps -o stime= -p "$pid" | tr -d ' ')" ]
    [[ "$time" =~ ^[0-9]{2}:[0-9]{2}:[0-9]{2}$ ]]
    [ "$cmd" = "sh -c while :; do sleep 0.2; done" ]
    # only the container's processes: the init and perhaps a sleep
    [ "${#lines[@]}" -le 3 ]
    # every row as the host's procps prints it for the same pids
    pids=$(printf '%s\n' "${lines[@]:1}" | awk '{print $2}' | paste -sd,)
    for _ in $(seq 5); do
        want=$(ps -ef -q "$pids" | awk '{$1=$1};1')
        got=$(dk top "$a" | awk '{$1=$1};1')
        [ "$got" = "$want" ] && break
        pids=$(dk top "$a" | awk 'NR > 1 {print $2}' | paste -sd,)
    done
    echo "got: $got"; echo "want: $want"
    [ "$got" = "$want" ]
    # the whole API answer, shaped like docker's
    api "http://d/containers/$a/top" | jq -e '.Titles | length == 8'
    dk rm -f "$a" >/dev/null
}

@test "top: other ps arguments go to the host's ps, filtered to the container" {
    a=$(cname)
    run_sleeper "$a" >/dev/null
    pid=$(dk inspect -f '{{.State.Pid}}' "$a")
    run dk top "$a" -o pid,args
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" =~ ^PID\ +COMMAND$ ]]
    [[ "$output" == *"$pid"*"sh -c while :; do sleep 0.2; done"* ]]
    [[ "$output" != *"wharf daemon"* ]]
    run --separate-stderr dk top "$a" -o pid,x=PID
    [ "$status" -eq 1 ]
    [ "$stderr" = 'Error response from daemon: specifying "pid,x=PID" is not allowed' ]
    dk stop -t 0 "$a" >/dev/null
    run --separate-stderr dk top "$a"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"is not running"* ]]
    dk rm -f "$a" >/dev/null
}

@test "stats --no-stream prints a row with the container's usage" {
    a=$(cname)
    run_sleeper "$a" >/dev/null
    run dk stats --no-stream "$a"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" =~ ^CONTAINER\ ID\ +NAME\ +CPU\ %\ +MEM\ USAGE\ /\ LIMIT\ +MEM\ %\ +NET\ I/O\ +BLOCK\ I/O\ +PIDS$ ]]
    id=$(dk inspect -f '{{.Id}}' "$a")
    [[ "${lines[1]}" =~ ^${id:0:12}\ +$a\ +[0-9]+\.[0-9]{2}%\ +[0-9.]+[KMG]?i?B\ /\ [0-9.]+[KMG]iB\ +[0-9.]+%\ +0B\ /\ 0B\ +[0-9.]+[kMG]?B\ /\ [0-9.]+[kMG]?B\ +[12]$ ]]
    run dk stats --no-stream --format '{{.Name}} {{.PIDs}} {{.Container}}' "$a"
    [[ "$output" =~ ^$a\ [12]\ $a$ ]]
    # a memory limit shows as the limit
    b=$(cname)
    run_sleeper "$b" -m 64m >/dev/null
    run dk stats --no-stream --format '{{.MemUsage}}' "$b"
    [[ "$output" == *" / 64MiB" ]]
    dk rm -f "$a" "$b" >/dev/null
}

@test "stats: the API samples twice for precpu, streams once a second, empty when stopped" {
    a=$(cname)
    run_sleeper "$a" >/dev/null
    run api "http://d/containers/$a/stats?stream=false"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e --arg n "/$a" '.name == $n and .read != .preread
        and .preread != "0001-01-01T00:00:00Z"
        and .cpu_stats.cpu_usage.total_usage >= .precpu_stats.cpu_usage.total_usage
        and .cpu_stats.system_cpu_usage > .precpu_stats.system_cpu_usage
        and .cpu_stats.online_cpus >= 1 and .memory_stats.usage > 0
        and .memory_stats.limit > 0 and .pids_stats.current >= 1 and .num_procs == 0
        and (.blkio_stats | has("io_service_bytes_recursive"))'
    run api "http://d/containers/$a/stats?stream=false&one-shot=true"
    echo "$output" | jq -e '.preread == "0001-01-01T00:00:00Z" and .memory_stats.usage > 0'
    # streamed: one JSON document a second, each chained to the one before
    run timeout 3.5 curl -sN --unix-socket "$DD/wharf.sock" "http://d/containers/$a/stats"
    [ "$(echo "$output" | grep -c '"cpu_stats"')" -ge 3 ]
    r1=$(echo "$output" | sed -n 1p | jq -r .read)
    p2=$(echo "$output" | sed -n 2p | jq -r .preread)
    [ "$r1" = "$p2" ]
    [ "$(api -o /dev/null -w '%{http_code}' "http://d/containers/$a/stats?stream=1&one-shot=1")" = 400 ]
    dk stop -t 0 "$a" >/dev/null
    api "http://d/containers/$a/stats?stream=false" | jq -e '.read == "0001-01-01T00:00:00Z" and .memory_stats == {}'
    run dk stats --no-stream --format '{{.CPUPerc}} {{.MemUsage}} {{.PIDs}}' "$a"
    [ "$output" = "0.00% 0B / 0B 0" ]
    run --separate-stderr dk stats --no-stream "nosuch$$"
    [ "$status" -eq 1 ]
    [ "$stderr" = "Error response from daemon: No such container: nosuch$$" ]
    dk rm -f "$a" >/dev/null
}

@test "export writes the container's root filesystem as a tar" {
    a=$(cname)
    dk run -d --name "$a" localhost/wharf-bb:1 sh -c 'echo hello >/made; rm /etc/group; sleep 30' >/dev/null
    for _ in $(seq 50); do dk diff "$a" | grep -q '^A /made$' && break; sleep 0.1; done
    dk export -o "$DD/$a.tar" "$a"
    tar -tf "$DD/$a.tar" >"$DD/$a.list"
    grep -qx made "$DD/$a.list"
    grep -qx bin/busybox "$DD/$a.list"
    grep -qx etc/passwd "$DD/$a.list"
    run ! grep -qx etc/group "$DD/$a.list"
    [ "$(tar -xOf "$DD/$a.tar" made)" = hello ]
    # to stdout, the same entries
    [ "$(dk export "$a" | tar -t | sort)" = "$(sort "$DD/$a.list")" ]
    # a stopped container exports too
    dk stop -t 0 "$a" >/dev/null
    dk export "$a" | tar -t | grep -qx made
    run --separate-stderr dk export -o "$DD/none.tar" "nosuch$$"
    [ "$status" -eq 1 ]
    [ "$stderr" = "Error response from daemon: No such container: nosuch$$" ]
    [ ! -e "$DD/none.tar" ]
    dk rm -f "$a" >/dev/null
}

@test "diff lists added, changed and deleted paths with their parents" {
    a=$(cname)
    dk run -d --name "$a" localhost/wharf-bb:1 sh -c \
        'echo x >/tmp/new; mkdir -p /root/d/e; touch /root/d/e/f; rm /etc/group; echo y >>/etc/passwd; touch /ready; sleep 30' >/dev/null
    for _ in $(seq 50); do dk diff "$a" | grep -q ready && break; sleep 0.1; done
    run dk diff "$a"
    [ "$status" -eq 0 ]
    [ "$output" = "C /etc
D /etc/group
C /etc/passwd
A /ready
C /root
A /root/d
A /root/d/e
A /root/d/e/f
C /tmp
A /tmp/new" ]
    api "http://d/containers/$a/changes" | jq -e '.[0] == {"Path": "/etc", "Kind": 0} and .[1].Kind == 2 and .[3].Kind == 1'
    # a fresh container has no changes: null, as dockerd answers
    b=$(cname)
    dk create --name "$b" localhost/wharf-bb:1 true >/dev/null
    [ "$(api "http://d/containers/$b/changes")" = null ]
    run dk diff "$b"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    dk rm -f "$a" "$b" >/dev/null
}

@test "diff: a directory removed and made again hides what the image had in it" {
    a=$(cname)
    dk run -d --name "$a" localhost/wharf-bb:1 sh -c \
        'rm -rf /var; mkdir -p /var/fresh; touch /ready; sleep 30' >/dev/null
    for _ in $(seq 50); do dk diff "$a" | grep -q ready && break; sleep 0.1; done
    run dk diff "$a"
    [ "$status" -eq 0 ]
    # /var/run came from the image; /var is opaque in the upper directory now
    [[ "$output" == *"C /var"* ]]
    [[ "$output" == *"A /var/fresh"* ]]
    [[ "$output" == *"D /var/run"* ]]
    dk rm -f "$a" >/dev/null
}

@test "diff: mount points the runtime had to make are not changes, as with docker's init layer" {
    a=$(cname)
    dk run -d --name "$a" localhost/wharf-min:1 sh -c 'mkdir /made; sleep 30' >/dev/null
    for _ in $(seq 50); do dk diff "$a" | grep -q made && break; sleep 0.1; done
    run dk diff "$a"
    [ "$status" -eq 0 ]
    [ "$output" = "A /made" ]
    # the upper directory does hold them
    id=$(dk inspect -f '{{.Id}}' "$a")
    [ -d "$DD/root/rootfs/$id/upper/proc" ]
    dk rm -f "$a" >/dev/null
}

@test "container prune removes stopped containers, with label and until filters" {
    keep=$(cname) old=$(cname) lab=$(cname) new=$(cname)
    run_sleeper "$keep" >/dev/null
    dk create --name "$old" localhost/wharf-bb:1 true >/dev/null
    dk run -d --name "$lab" --label tier=x localhost/wharf-bb:1 sh -c 'echo data >/file' >/dev/null
    dk wait "$lab" >/dev/null
    lab_id=$(dk inspect -f '{{.Id}}' "$lab")
    # label: only the labelled one
    run dk container prune -f --filter label=tier=x
    [ "$status" -eq 0 ]
    [ "$output" = "Deleted Containers:
$lab_id

Total reclaimed space: 5B" ]
    run ! dk inspect "$lab" >/dev/null 2>&1
    # until: only what was created before the point in time
    sleep 1.1
    cut=$(date +%s)
    sleep 1.1
    dk create --name "$new" localhost/wharf-bb:1 true >/dev/null
    old_id=$(dk inspect -f '{{.Id}}' "$old")
    run dk container prune -f --filter "until=$cut"
    [ "$status" -eq 0 ]
    [[ "$output" == *"$old_id"* ]]
    dk inspect "$new" >/dev/null
    # label!: everything without the label; running ones always stay
    run dk container prune -f --filter 'label!=nope'
    [ "$status" -eq 0 ]
    run ! dk inspect "$new" >/dev/null 2>&1
    [ "$(dk inspect -f '{{.State.Status}}' "$keep")" = running ]
    run dk container prune -f
    [ "$output" = "Total reclaimed space: 0B" ]
    run --separate-stderr dk container prune -f --filter bogus=1
    [ "$status" -eq 1 ]
    [ "$stderr" = "Error response from daemon: invalid filter 'bogus'" ]
    run --separate-stderr dk container prune -f --filter until=soon
    [ "$status" -eq 1 ]
    [ "$stderr" = 'Error response from daemon: failed to parse value as time or duration: "soon"' ]
    api -X POST "http://d/containers/prune" | jq -e '. == {"ContainersDeleted": null, "SpaceReclaimed": 0}'
    dk rm -f "$keep" >/dev/null
}
