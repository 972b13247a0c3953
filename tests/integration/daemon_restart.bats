#!/usr/bin/env bats
# The daemon's container monitor and event stream, and live restore, with the
# real docker CLI (28.x) against a private `wharf daemon`: containers keep
# running (and logging) while the daemon is down, exits are reported once,
# restart policies behave like dockerd's, `docker events` streams and
# replays, and --init reaps and forwards signals.

load helpers

setup_file() {
    command -v docker >/dev/null || skip "the docker CLI is not installed"
    export DD
    DD=$(mktemp -d /tmp/wharf-restart.XXXXXX)
    make_rootfs "$DD/rootfs"
    tar -C "$DD/rootfs" -cf "$DD/rootfs.tar" .
    local pm="podman --root $DD/pm-storage --runroot $DD/pm-run --storage-driver overlay"
    $pm import --change 'CMD ["sh"]' "$DD/rootfs.tar" localhost/wharf-bb:1 >/dev/null
    $pm save -o "$DD/bb.tar" localhost/wharf-bb:1 2>/dev/null
    $pm rmi -af >/dev/null 2>&1 || true
    umount_under "$DD"
    rm -rf "$DD/pm-storage" "$DD/pm-run"
    daemon_start
    dk load -i "$DD/bb.tar" >/dev/null
}

teardown_file() {
    [ -n "${DD:-}" ] || return 0
    [ -S "$DD/wharf.sock" ] || daemon_start
    dk ps -aq 2>/dev/null | xargs -r docker -H "unix://$DD/wharf.sock" rm -f >/dev/null 2>&1
    daemon_stop
    umount_under "$DD"
    rm -rf "$DD"
}

# wait_for SECONDS COMMAND...: polls every 0.1 s until COMMAND succeeds.
wait_for() {
    local n=$(($1 * 10))
    shift
    for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
    "$@"
}

state_is() {
    [ "$(dk inspect --format '{{.State.Status}}' "$1")" = "$2" ]
}

# inspect_is NAME FORMAT WANT
inspect_is() {
    [ "$(dk inspect --format "$2" "$1")" = "$3" ]
}

restarts_at_least() {
    [ "$(dk inspect --format '{{.RestartCount}}' "$1")" -ge "$2" ]
}

log_lines_at_least() {
    [ "$(dk logs "$1" | wc -l)" -ge "$2" ]
}

# ps_shows REGEX: a line of `docker ps` as NAME|STATUS matches
ps_shows() {
    dk ps --format '{{.Names}}|{{.Status}}' | grep -q "$1"
}

now() {
    date +%s.%N
}

@test "live restore: a container keeps running and logging while the daemon is down" {
    name="lr$$-$RANDOM"
    dk run -d --name "$name" localhost/wharf-bb:1 sh -c \
        'trap "exit 0" TERM; i=0; while :; do i=$((i+1)); echo line $i; sleep 0.2; done' >/dev/null
    # one that will exit while the daemon is down
    dk run -d --name "$name-x" localhost/wharf-bb:1 sh -c 'sleep 1.5; exit 7' >/dev/null
    wait_for 5 log_lines_at_least "$name" 3
    pid=$(dk inspect --format '{{.State.Pid}}' "$name")
    since=$(now)
    daemon_stop
    kill -0 "$pid"
    sleep 2.5
    kill -0 "$pid"
    daemon_start
    [ "$(dk inspect --format '{{.State.Status}} {{.State.Pid}}' "$name")" = "running $pid" ]
    # the lines written while the daemon was down are in the log, and it grows
    logs=$(dk logs "$name")
    n1=$(echo "$logs" | wc -l)
    [ "$n1" -ge 15 ]
    # every line, none lost while nobody was reading
    [ "$logs" = "$(seq 1 "$n1" | sed 's/^/line /')" ]
    sleep 1
    n2=$(dk logs "$name" | wc -l)
    [ "$n2" -gt "$n1" ]
    # the one that exited meanwhile shows its code, and its die was reported
    [ "$(dk inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$name-x")" = "exited 7" ]
    dk ps -a --format '{{.Names}}|{{.Status}}' | grep -q "^$name-x|Exited (7) "
    run dk events --since "$since" --until "$(now)" --filter "container=$name-x" \
        --format '{{.Action}} {{index .Actor.Attributes "exitCode"}}'
    [ "$status" -eq 0 ]
    [ "$output" = "die 7" ]
    # and docker stop works on the re-adopted container
    dk stop -t 5 "$name" >/dev/null
    [ "$(dk inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$name")" = "exited 0" ]
    ! kill -0 "$pid" 2>/dev/null
    dk rm "$name" "$name-x" >/dev/null
}

@test "restart policy on-failure:2 restarts twice, then the container stays exited" {
    name="of$$-$RANDOM"
    since=$(now)
    dk run -d --name "$name" --restart on-failure:2 localhost/wharf-bb:1 sh -c 'exit 3' >/dev/null
    wait_for 10 inspect_is "$name" '{{.RestartCount}} {{.State.Status}}' "2 exited"
    sleep 1
    [ "$(dk inspect --format '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}} {{.State.Restarting}}' "$name")" = "2 exited 3 false" ]
    [ "$(dk inspect --format '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}' "$name")" = on-failure:2 ]
    # three runs, three dies
    [ "$(grep -c "$name" <(dk events --since "$since" --until "$(now)" --filter event=die --filter "container=$name" --format '{{.Actor.Attributes.name}}'))" -eq 3 ]
    # a success is not a failure
    dk run -d --name "$name-ok" --restart on-failure localhost/wharf-bb:1 true >/dev/null
    wait_for 5 state_is "$name-ok" exited
    sleep 0.5
    [ "$(dk inspect --format '{{.RestartCount}} {{.State.Status}}' "$name-ok")" = "0 exited" ]
    dk rm "$name" "$name-ok" >/dev/null
}

@test "restart policy always restarts after exit 0 with a growing back-off; stop ends it; rm -f removes it while restarting" {
    name="al$$-$RANDOM"
    start=$(date +%s%N)
    id=$(dk run -d --name "$name" --restart always localhost/wharf-bb:1 sh -c 'echo run; exit 0')
    # the first run and three restarts, after 100 + 200 + 400 ms of back-off
    wait_for 10 log_lines_at_least "$name" 4
    elapsed=$((($(date +%s%N) - start) / 1000000))
    [ "$elapsed" -ge 700 ]
    [ "$elapsed" -lt 10000 ]
    # while it waits it shows as restarting, in ps (without -a) too
    wait_for 10 inspect_is "$name" '{{.State.Restarting}} {{.State.Status}} {{.State.Running}}' "true restarting true"
    wait_for 5 ps_shows "^$name|Restarting (0) .* ago$"
    [ "$(dk logs "$name" | head -3)" = "$(printf 'run\nrun\nrun')" ]
    dk stop "$name" >/dev/null
    count=$(dk inspect --format '{{.RestartCount}}' "$name")
    sleep 1.5
    [ "$(dk inspect --format '{{.State.Status}} {{.RestartCount}}' "$name")" = "exited $count" ]
    # a start lifts the stop and the count starts over
    dk start "$name" >/dev/null
    # by the fourth restart it waits 800 ms: long enough to catch it waiting
    wait_for 10 restarts_at_least "$name" 4
    wait_for 10 state_is "$name" restarting
    run dk rm "$name"
    [ "$status" -ne 0 ]
    [[ "$output" == *"container is restarting"* ]]
    dk rm -f "$name" >/dev/null
    run dk inspect "$name"
    [ "$status" -ne 0 ]
    # what the monitor kept about it went too
    [ ! -e "$DD/root/monitor/$id.json" ]
}

@test "docker kill stops a restart policy until the next start" {
    name="kl$$-$RANDOM"
    dk run -d --name "$name" --restart unless-stopped localhost/wharf-bb:1 sleep 100 >/dev/null
    dk kill "$name" >/dev/null
    wait_for 5 state_is "$name" exited
    sleep 1
    [ "$(dk inspect --format '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}' "$name")" = "exited 137 0" ]
    dk rm "$name" >/dev/null
}

@test "invalid restart policies are refused at create like dockerd" {
    run dk run -d --restart sometimes localhost/wharf-bb:1 true
    [ "$status" -ne 0 ]
    [[ "$output" == *"invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"* ]]
    run curl -s -w '\n%{http_code}' --unix-socket "$DD/wharf.sock" -H 'Content-Type: application/json' \
        -d '{"Image":"localhost/wharf-bb:1","Cmd":["true"],"HostConfig":{"RestartPolicy":{"Name":"always","MaximumRetryCount":3}}}' \
        http://d/v1.47/containers/create
    [ "${lines[1]}" = 400 ]
    [[ "${lines[0]}" == *"maximum retry count can only be used with 'on-failure'"* ]]
    run curl -s -w '\n%{http_code}' --unix-socket "$DD/wharf.sock" -H 'Content-Type: application/json' \
        -d '{"Image":"localhost/wharf-bb:1","Cmd":["true"],"HostConfig":{"AutoRemove":true,"RestartPolicy":{"Name":"always"}}}' \
        http://d/v1.47/containers/create
    [ "${lines[1]}" = 400 ]
    [[ "${lines[0]}" == *"can't create 'AutoRemove' container with restart policy"* ]]
}

@test "always and unless-stopped containers come back after a daemon restart; one the user stopped does not" {
    name="bt$$-$RANDOM"
    loop='trap "exit 0" TERM; while :; do sleep 0.1; done'
    dk run -d --name "$name-a" --restart always localhost/wharf-bb:1 sh -c "$loop" >/dev/null
    dk run -d --name "$name-u" --restart unless-stopped localhost/wharf-bb:1 sh -c "$loop" >/dev/null
    dk run -d --name "$name-s" --restart unless-stopped localhost/wharf-bb:1 sh -c "$loop" >/dev/null
    dk run -d --name "$name-as" --restart always localhost/wharf-bb:1 sh -c "$loop" >/dev/null
    dk run -d --name "$name-n" localhost/wharf-bb:1 sh -c "$loop" >/dev/null
    dk stop "$name-s" "$name-as" >/dev/null
    pids=$(for c in a u n; do dk inspect --format '{{.State.Pid}}' "$name-$c"; done)
    daemon_stop
    # they die while the daemon is down
    kill -KILL $pids
    sleep 0.5
    daemon_start
    wait_for 10 state_is "$name-a" running
    wait_for 10 state_is "$name-u" running
    # dockerd starts "always" containers at its start even after a stop by the user
    wait_for 10 state_is "$name-as" running
    sleep 0.5
    [ "$(dk inspect --format '{{.State.Status}}' "$name-s")" = exited ]
    [ "$(dk inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$name-n")" = "exited 137" ]
    [ "$(dk inspect --format '{{.RestartCount}}' "$name-a")" = 0 ]
    dk rm -f "$name-a" "$name-u" "$name-s" "$name-as" "$name-n" >/dev/null
}

@test "docker events --since --until replays create, attach, start, die, destroy of a run --rm" {
    name="ev$$-$RANDOM"
    since=$(now)
    dk run --rm --name "$name" localhost/wharf-bb:1 sh -c 'exit 0'
    sleep 0.2
    run dk events --since "$since" --until "$(now)" --filter "container=$name" --format '{{.Type}} {{.Action}}'
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'container create\ncontainer attach\ncontainer start\ncontainer die\ncontainer destroy')" ]
    # the JSON carries dockerd's fields
    run dk events --since "$since" --until "$(now)" --filter "container=$name" --filter event=die --format '{{json .}}'
    [ "$(echo "$output" | jq -r '[.Type, .Action, .status, .from, .scope, .Actor.Attributes.name, .Actor.Attributes.exitCode, .Actor.Attributes.image] | join(" ")')" = \
        "container die die localhost/wharf-bb:1 local $name 0 localhost/wharf-bb:1" ]
    [ "$(echo "$output" | jq '(.timeNano / 1000000000 | floor) == .time')" = true ]
    # an until in the past with since after it is refused
    run dk events --since "$(now)" --until 1000
    [ "$status" -ne 0 ]
    [[ "$output" == *"cannot be after"* ]]
    run dk events --filter colour=red --until "$(now)"
    [ "$status" -ne 0 ]
    [[ "$output" == *"invalid filter 'colour'"* ]]
}

@test "docker events --filter event=die streams the die of a container that exits on its own" {
    name="ds$$-$RANDOM"
    timeout 20 docker -H "unix://$DD/wharf.sock" events --filter event=die --filter "container=$name" \
        --format '{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}' >"$DD/die.out" 2>&1 &
    evpid=$!
    sleep 0.5
    # nobody waits for this one: only the monitor sees it exit
    dk run -d --name "$name" localhost/wharf-bb:1 sh -c 'sleep 0.5; exit 4' >/dev/null
    wait_for 10 grep -q "die $name 4" "$DD/die.out"
    kill "$evpid" 2>/dev/null || true
    wait "$evpid" 2>/dev/null || true
    [ "$(cat "$DD/die.out")" = "die $name 4" ]
    dk rm "$name" >/dev/null
}

@test "docker stop, kill, exec and image changes are reported as dockerd reports them" {
    name="op$$-$RANDOM"
    since=$(now)
    dk run -d --name "$name" localhost/wharf-bb:1 sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done' >/dev/null
    run dk exec "$name" sh -c 'exit 2'
    [ "$status" -eq 2 ]
    dk stop "$name" >/dev/null
    dk start "$name" >/dev/null
    dk kill "$name" >/dev/null
    dk rm "$name" >/dev/null
    dk tag localhost/wharf-bb:1 "localhost/ev-tag:$$"
    dk rmi "localhost/ev-tag:$$" >/dev/null
    sleep 0.2
    run dk events --since "$since" --until "$(now)" --filter "container=$name" \
        --format '{{.Action}}{{with .Actor.Attributes.signal}} signal={{.}}{{end}}{{with .Actor.Attributes.exitCode}} exit={{.}}{{end}}'
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf '%s\n' create start 'exec_create: sh -c exit 2' 'exec_start: sh -c exit 2' \
        'exec_die exit=2' 'kill signal=15' 'die exit=0' stop start 'kill signal=9' 'die exit=137' destroy)" ]
    run dk events --since "$since" --until "$(now)" --filter type=image \
        --format '{{.Action}} {{.Actor.Attributes.name}}'
    [ "${#lines[@]}" -eq 2 ]
    [ "${lines[0]}" = "tag localhost/ev-tag:$$" ]
    [[ "${lines[1]}" == "untag sha256:"* ]]
}

@test "docker run --init runs wharf-init as pid 1: it reaps orphans and forwards the stop signal" {
    # A sanitizer build's wharf-init is dynamic: it cannot run in the busybox root.
    if readelf -l "$BUILD/wharf-init" | grep -q INTERP; then
        skip "$BUILD/wharf-init is dynamically linked"
    fi
    name="in$$-$RANDOM"
    orphans='for i in 1 2 3 4 5; do (sleep 0.2 &); done; exec sleep 100'
    zombies='n=0; for s in /proc/[0-9]*/stat; do read -r _ _ st _ <"$s" && [ "$st" = Z ] && n=$((n+1)); done; echo $n'
    # without an init the orphans stay zombies: the test can see them
    dk run -d --name "$name-no" localhost/wharf-bb:1 sh -c "$orphans" >/dev/null
    dk run -d --init --name "$name" localhost/wharf-bb:1 sh -c "$orphans" >/dev/null
    sleep 1
    [ "$(dk exec "$name-no" sh -c "$zombies")" -eq 5 ]
    [ "$(dk exec "$name" sh -c "$zombies")" -eq 0 ]
    [ "$(dk exec "$name" cat /proc/1/cmdline | tr '\0' ' ')" = "/dev/init -- sh -c $orphans " ]
    # sleep as pid 1 would ignore SIGTERM; behind the init it gets it at once
    start=$(date +%s%N)
    dk stop -t 10 "$name" >/dev/null
    elapsed=$((($(date +%s%N) - start) / 1000000))
    [ "$elapsed" -lt 3000 ]
    [ "$(dk inspect --format '{{.State.ExitCode}}' "$name")" = 143 ]
    dk rm -f "$name" "$name-no" >/dev/null
}

@test "docker stop --signal sends that signal before the SIGKILL" {
    name="sg$$-$RANDOM"
    dk run -d --name "$name" localhost/wharf-bb:1 sh -c 'trap "exit 5" USR1; trap "" TERM; while :; do sleep 0.1; done' >/dev/null
    since=$(now)
    dk stop --signal USR1 -t 5 "$name" >/dev/null
    [ "$(dk inspect --format '{{.State.ExitCode}}' "$name")" = 5 ]
    run dk events --since "$since" --until "$(now)" --filter "container=$name" \
        --format '{{.Action}}{{with .Actor.Attributes.signal}} {{.}}{{end}}'
    [ "$output" = "$(printf 'kill 10\ndie\nstop')" ]
    run dk stop --signal NOPE "$name"
    [ "$status" -ne 0 ]
    dk rm "$name" >/dev/null
}

@test "docker restart, pause, unpause and rename are reported; a restart does not race the policy" {
    name="rs$$-$RANDOM"
    id=$(dk run -d --name "$name" --restart always localhost/wharf-bb:1 sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done')
    since=$(now)
    dk pause "$name" >/dev/null
    dk unpause "$name" >/dev/null
    dk rename "$name" "$name-2"
    dk restart -t 5 "$name-2" >/dev/null
    pid=$(dk inspect --format '{{.State.Pid}}' "$name-2")
    sleep 1
    # the stop inside the restart was not taken for an exit to restart after
    [ "$(dk inspect --format '{{.State.Status}} {{.State.Pid}} {{.RestartCount}}' "$name-2")" = "running $pid 0" ]
    run dk events --since "$since" --until "$(now)" --filter "container=$id" \
        --format '{{.Action}} {{.Actor.Attributes.name}}{{with .Actor.Attributes.oldName}} {{.}}{{end}}'
    [ "$output" = "$(printf '%s\n' "pause $name" "unpause $name" "rename $name-2 /$name" \
        "kill $name-2" "die $name-2" "stop $name-2" "start $name-2" "restart $name-2")" ]
    dk rm -f "$name-2" >/dev/null
}

@test "docker run -d --rm: the container is removed once it exits, also when that happens while the daemon is down" {
    name="rm$$-$RANDOM"
    since=$(now)
    dk run -d --rm --name "$name" localhost/wharf-bb:1 sh -c 'sleep 0.3; exit 2' >/dev/null
    wait_for 10 eval "! dk inspect $name >/dev/null 2>&1"
    run dk events --since "$since" --until "$(now)" --filter "container=$name" \
        --format '{{.Action}}{{with .Actor.Attributes.exitCode}} {{.}}{{end}}'
    [ "$output" = "$(printf 'create\nstart\ndie 2\ndestroy')" ]
    # the attached form still gets the exit code before the removal
    run dk run --rm --name "$name-a" localhost/wharf-bb:1 sh -c 'exit 3'
    [ "$status" -eq 3 ]
    ! dk inspect "$name-a" >/dev/null 2>&1
    dk run -d --rm --name "$name-d" localhost/wharf-bb:1 sh -c 'sleep 1; exit 0' >/dev/null
    daemon_stop
    sleep 1.5
    daemon_start
    wait_for 10 eval "! dk inspect $name-d >/dev/null 2>&1"
}
