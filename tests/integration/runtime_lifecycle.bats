#!/usr/bin/env bats
# The runtime's lifecycle commands, as runc's CLI defines them: create,
# start, state, kill, delete, run, list, ps, pause/resume, update, features,
# spec, --pid-file and --log. Every test uses a private --root and its own
# bundle; teardown force-deletes whatever the test left.

load helpers

setup() {
    B="$BATS_TEST_TMPDIR/bundle"
    ID=$(new_id)
}

teardown() {
    cleanup_containers
}

@test "create, start, kill and delete move through created, running, stopped" {
    make_bundle "$B"
    create_ct "$B" "$ID"
    run ct_status "$ID"
    [ "$output" = created ]
    pid=$(ct_pid "$ID")
    [ "$pid" -gt 0 ]
    [ -d "/proc/$pid" ]

    rt start "$ID"
    [ "$(ct_status "$ID")" = running ]

    rt kill "$ID" KILL
    wait_status "$ID" stopped
    wait_gone "$pid"

    [ -d "$(test_root)/$ID" ]
    rt delete "$ID"
    [ ! -e "$(test_root)/$ID" ]
    run rt state "$ID"
    [ "$status" -ne 0 ]
}

@test "kill with the default signal (SIGTERM) stops a process that handles it" {
    make_bundle "$B" sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done'
    create_ct "$B" "$ID"
    rt start "$ID"
    rt kill "$ID"
    wait_status "$ID" stopped
    rt delete "$ID"
    [ ! -e "$(test_root)/$ID" ]
}

@test "run returns the container's exit status" {
    make_bundle "$B" sh -c 'echo out-line; exit 7'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 7 ]
    [[ "$output" == *out-line* ]]
    # run deletes the container when it exits.
    [ ! -e "$(test_root)/$ID" ]
}

@test "run reports a signal death as 128+signal" {
    make_bundle "$B"
    # The init ignores signals it has no handler for when they come from
    # inside its own pid namespace, so the kill comes from outside.
    (
        wait_status "$ID" running && rt kill "$ID" KILL
    ) >/dev/null 2>&1 3>&- &
    run rt run --bundle "$B" "$ID"
    wait
    [ "$status" -eq 137 ]
}

@test "run --detach leaves the container running" {
    make_bundle "$B"
    rt_capture run --detach --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "$(ct_status "$ID")" = running ]
    pid=$(ct_pid "$ID")
    [ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" = "sleep 1000 " ]
    rt delete --force "$ID"
    wait_gone "$pid"
    [ ! -e "$(test_root)/$ID" ]
}

@test "a second create with the same id is refused" {
    make_bundle "$B"
    create_ct "$B" "$ID"
    pid=$(ct_pid "$ID")
    rt_capture create --bundle "$B" "$ID"
    [ "$status" -ne 0 ]
    echo "$output" | grep -qi 'exist'
    # runc says only "container with given ID already exists".
    is_runc || echo "$output" | grep -qF "$ID"
    # The first container is untouched.
    [ "$(ct_status "$ID")" = created ]
    [ "$(ct_pid "$ID")" = "$pid" ]
}

@test "list shows the ids, in table, -q and json formats" {
    make_bundle "$B"
    ID2=$(new_id)2
    create_ct "$B" "$ID"
    create_ct "$B" "$ID2"
    rt start "$ID2"

    run rt list
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == ID* ]]
    echo "$output" | grep -E "^$ID +[0-9]+ +created "
    echo "$output" | grep -E "^$ID2 +[0-9]+ +running "

    run rt list -q
    [ "$status" -eq 0 ]
    [ "$(printf '%s\n' "${lines[@]}" | sort)" = "$(printf '%s\n' "$ID" "$ID2" | sort)" ]

    run rt list --format json
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -r --arg id "$ID" '.[] | select(.id == $id) | .status')" = created ]
    [ "$(echo "$output" | jq -r --arg id "$ID2" '.[] | select(.id == $id) | .status')" = running ]
    [ "$(echo "$output" | jq -r --arg id "$ID2" '.[] | select(.id == $id) | .bundle')" = "$B" ]
}

@test "list of an empty root prints nothing in json but an empty array" {
    run rt list --format json
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -c .)" = '[]' ] || [ "$(echo "$output" | jq -c .)" = null ]
}

@test "state has ociVersion, id, status, pid and bundle" {
    make_bundle "$B"
    create_ct "$B" "$ID"
    run rt state "$ID"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e --arg id "$ID" --arg b "$B" '
        (.ociVersion | type == "string" and startswith("1."))
        and .id == $id and .status == "created"
        and (.pid | type == "number" and . > 0)
        and .bundle == $b'
}

@test "ps lists the container's processes, also as json" {
    make_bundle "$B"
    create_ct "$B" "$ID"
    rt start "$ID"
    pid=$(ct_pid "$ID")
    run rt ps "$ID"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == *PID* ]]
    echo "$output" | grep -E "^[^ ]+ +$pid .*sleep"

    run rt ps --format json "$ID"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -c .)" = "[$pid]" ]
}

@test "pause freezes the processes and resume thaws them" {
    # The counter is replaced atomically so a read never sees a half-written file.
    make_bundle "$B" sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/c.new; mv /tmp/c.new /tmp/count; sleep 0.05; done'
    edit_config "$B" '.root.readonly = false'
    create_ct "$B" "$ID"
    rt start "$ID"
    pid=$(ct_pid "$ID")
    counter="/proc/$pid/root/tmp/count"
    for _ in $(seq 100); do [ -s "$counter" ] && break; sleep 0.05; done
    [ -s "$counter" ]

    rt pause "$ID"
    [ "$(ct_status "$ID")" = paused ]
    a=$(cat "$counter")
    sleep 0.5
    b=$(cat "$counter")
    [ "$a" = "$b" ]

    rt resume "$ID"
    [ "$(ct_status "$ID")" = running ]
    sleep 0.5
    c=$(cat "$counter")
    [ "$c" -gt "$b" ]
}

@test "delete --force removes a running container" {
    make_bundle "$B"
    create_ct "$B" "$ID"
    rt start "$ID"
    pid=$(ct_pid "$ID")
    run rt delete "$ID"
    [ "$status" -ne 0 ]
    [ "$(ct_status "$ID")" = running ]
    rt delete --force "$ID"
    [ ! -e "$(test_root)/$ID" ]
    wait_gone "$pid"
}

@test "update --memory and --pids-limit change the cgroup limits" {
    make_bundle "$B"
    create_ct "$B" "$ID"
    rt start "$ID"
    pid=$(ct_pid "$ID")
    mem=$(cgroup_dir "$pid" memory)
    pids=$(cgroup_dir "$pid" pids)
    [ -d "$mem" ] && [ -d "$pids" ]

    rt update --memory 67108864 --pids-limit 42 "$ID"
    [ "$(cat "$mem/memory.limit_in_bytes")" = 67108864 ]
    [ "$(cat "$pids/pids.max")" = 42 ]

    rt update --pids-limit 17 "$ID"
    [ "$(cat "$pids/pids.max")" = 17 ]
    # A field not given keeps its value.
    [ "$(cat "$mem/memory.limit_in_bytes")" = 67108864 ]
}

@test "--pid-file receives the init's pid" {
    make_bundle "$B"
    create_ct "$B" "$ID" --pid-file "$BATS_TEST_TMPDIR/pidfile"
    [ -s "$BATS_TEST_TMPDIR/pidfile" ]
    [ "$(cat "$BATS_TEST_TMPDIR/pidfile")" = "$(ct_pid "$ID")" ]
}

@test "delete leaves no cgroup directory behind" {
    make_bundle "$B"
    create_ct "$B" "$ID"
    rt start "$ID"
    pid=$(ct_pid "$ID")
    mem=$(cgroup_dir "$pid" memory)
    pids=$(cgroup_dir "$pid" pids)
    # The container has cgroups of its own, not its parent's.
    [ "$mem" != "$(cgroup_dir $$ memory)" ]
    [ "$pids" != "$(cgroup_dir $$ pids)" ]
    [ -d "$mem" ] && [ -d "$pids" ]

    rt kill "$ID" KILL
    wait_status "$ID" stopped
    rt delete "$ID"
    [ ! -e "$mem" ]
    [ ! -e "$pids" ]
    [ -z "$(cgroup_leftovers "$ID")" ]
}

@test "features prints the supported hooks, mount options, namespaces, capabilities, cgroup and seccomp" {
    run rt features
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '
        (.ociVersionMin | startswith("1.")) and (.ociVersionMax | startswith("1."))
        and (.hooks | index("prestart") and index("createRuntime") and index("poststop"))
        and (.mountOptions | index("ro") and index("nosuid") and index("rbind"))
        and ((["cgroup","ipc","mount","network","pid","user","uts"] - .linux.namespaces) == [])
        and (.linux.capabilities | index("CAP_SYS_ADMIN") and index("CAP_NET_BIND_SERVICE"))
        and (.linux.cgroup | has("v1") and has("v2"))
        and .linux.seccomp.enabled == true
        and (.linux.seccomp.actions | index("SCMP_ACT_ERRNO") and index("SCMP_ACT_ALLOW"))'
}

@test "spec writes a config.json and refuses to overwrite one" {
    d="$BATS_TEST_TMPDIR/spec"
    mkdir "$d"
    cd "$d"
    run "$RUNTIME" spec
    [ "$status" -eq 0 ]
    jq -e '(.ociVersion | startswith("1.")) and .root.path == "rootfs"
           and (.process.args | length > 0)
           and ([.linux.namespaces[].type] | index("pid") and index("mount"))' config.json
    echo '{"mine":true}' >config.json
    run "$RUNTIME" spec
    [ "$status" -ne 0 ]
    echo "$output" | grep -qi 'exist'
    [ "$(cat config.json)" = '{"mine":true}' ]
}

@test "spec --bundle writes into the given directory" {
    d="$BATS_TEST_TMPDIR/spec2"
    mkdir "$d"
    run "$RUNTIME" spec --bundle "$d"
    [ "$status" -eq 0 ]
    jq -e .ociVersion "$d/config.json"
}

@test "--log with --log-format json writes JSON error lines" {
    log="$BATS_TEST_TMPDIR/runtime.log"
    run "$RUNTIME" --root "$(test_root)" --log "$log" --log-format json state "nosuch-$ID"
    [ "$status" -ne 0 ]
    [ -s "$log" ]
    # Every line is one JSON object; the error has level and msg.
    jq -e . "$log" >/dev/null
    jq -se 'map(select(.level == "error" and (.msg | type == "string" and length > 0))) | length >= 1' "$log"
}

@test "process env and cwd come from the config" {
    make_bundle "$B" sh -c 'echo "foo=$FOO"; pwd'
    edit_config "$B" '.process.env += ["FOO=from-config"] | .process.cwd = "/tmp"'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = foo=from-config ]
    [ "${lines[1]}" = /tmp ]
}

@test "events --stats prints the cgroup's usage, and the stream reports OOM kills" {
    make_bundle "$B" sh -c 'while :; do head -c 40000000 /dev/zero | sort >/dev/null; sleep 0.2; done'
    edit_config "$B" '.linux.resources.memory = {limit: 16777216, swap: 16777216}'
    create_ct "$B" "$ID"
    rt start "$ID"
    run rt events --stats "$ID"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e --arg id "$ID" '.type == "stats" and .id == $id
        and (.data.memory.usage.usage > 0) and (.data.pids.current >= 1)'
    run timeout 4 "$RUNTIME" --root "$(test_root)" events --interval 200ms "$ID"
    echo "$output" | jq -e -s --arg id "$ID" 'map(select(.type == "oom" and .id == $id)) | length >= 1'
}
