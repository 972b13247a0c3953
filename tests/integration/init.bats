#!/usr/bin/env bats
# wharf-init as a container's pid 1 (what `run --init` will use): zombies
# are reaped, signals reach the command, the exit status comes through.

bats_require_minimum_version 1.5.0
load helpers

setup() {
    ID=$(new_id)
    B="$BATS_TEST_TMPDIR/bundle"
    INIT="$BUILD/wharf-init"
}

teardown() {
    cleanup_containers
}

# init_bundle ARGS...: a fresh bundle in $B whose process is wharf-init running ARGS.
init_bundle() {
    rm -rf "$B"
    make_bundle "$B"
    set_args "$B" /sbin/wharf-init -- "$@"
    edit_config "$B" '.mounts += [{destination: "/sbin/wharf-init", type: "bind", source: $i,
        options: ["bind", "ro"]}]' --arg i "$INIT"
}

# zombies_after BUNDLE: starts the container, whose command leaves five
# orphans that exit at once and then execs `sleep` (which reaps nothing),
# and prints how many zombies `ps` shows inside half a second later.
zombies_after() {
    create_ct "$1" "$ID"
    rt start "$ID"
    sleep 0.8
    rt exec "$ID" ps -o stat | grep -c '^Z' || true
}

ORPHANS='for i in 1 2 3 4 5; do (sleep 0.1 &); done; exec sleep 100'

@test "orphans reparented to pid 1 are reaped" {
    init_bundle sh -c "$ORPHANS"
    [ "$(zombies_after "$B")" -eq 0 ]
}

@test "without an init the same orphans stay zombies (so the test above can fail)" {
    make_bundle "$B"
    set_args "$B" sh -c "$ORPHANS"
    [ "$(zombies_after "$B")" -ge 5 ]
}

@test "a signal to the container reaches the command, whose status is returned" {
    init_bundle sh -c 'trap "echo got TERM; exit 42" TERM; echo ready; while :; do sleep 0.1; done'
    create_ct "$B" "$ID"
    rt start "$ID"
    for _ in $(seq 50); do grep -q ready "$BATS_TEST_TMPDIR/$ID.out" && break; sleep 0.1; done
    rt kill "$ID" TERM
    for _ in $(seq 50); do [ "$(ct_status "$ID")" = stopped ] && break; sleep 0.1; done
    [ "$(ct_status "$ID")" = stopped ]
    grep -q "got TERM" "$BATS_TEST_TMPDIR/$ID.out"
}

@test "the command's exit status and signal death come back through the init" {
    init_bundle sh -c 'exit 7'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 7 ]
    ID2=$(new_id)
    init_bundle sh -c 'kill -KILL $$'
    run rt run --bundle "$B" "$ID2"
    [ "$status" -eq 137 ]
    init_bundle /no/such/command
    run -127 rt run --bundle "$B" "$(new_id)"
}
