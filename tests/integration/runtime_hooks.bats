#!/usr/bin/env bats
# OCI hooks: the six kinds run once each, in lifecycle order, with the
# container's state JSON on stdin, their args and env, and a timeout; a
# failing creation hook fails `create` without leaving state behind.

load helpers

setup() {
    B="$BATS_TEST_TMPDIR/bundle"
    ID=$(new_id)
    # Hook scripts and their records. The directory is also bind-mounted at
    # /hooks in the container, where startContainer hooks are resolved.
    HD="$BATS_TEST_TMPDIR/hooks"
    mkdir -p "$HD"
}

teardown() {
    cleanup_containers
}

# write_hook NAME DIR [EXTRA-SH]: $HD/NAME.sh appends NAME to DIR/order,
# saves its stdin in DIR/state.NAME and its arguments in DIR/args.NAME, then
# runs EXTRA-SH. DIR is the path of $HD as the hook will see it.
write_hook() {
    local name=$1 dir=$2 extra=${3:-}
    cat >"$HD/$name.sh" <<EOF
#!/bin/sh
echo $name >>$dir/order
cat >$dir/state.$name
echo "\$0 \$*" >$dir/args.$name
echo "\$HOOK_ENV" >$dir/env.$name
$extra
EOF
    chmod 755 "$HD/$name.sh"
}

# hook_json PATH [TIMEOUT]: one hook entry.
hook_json() {
    jq -nc --arg p "$1" --arg t "${2:-}" \
        '{path: $p, args: [$p, "arg1", "arg2"], env: ["HOOK_ENV=set"]} + (if $t == "" then {} else {timeout: ($t | tonumber)} end)'
}

@test "all six hooks run in order with the state on stdin" {
    make_bundle "$B" true
    add_bind_mount "$B" "$HD" /hooks
    for h in prestart createRuntime createContainer poststart poststop; do
        write_hook "$h" "$HD"
    done
    write_hook startContainer /hooks
    edit_config "$B" '.hooks = {
        prestart: [$pre], createRuntime: [$cr], createContainer: [$cc],
        startContainer: [$sc], poststart: [$ps], poststop: [$pst]}' \
        --argjson pre "$(hook_json "$HD/prestart.sh")" \
        --argjson cr "$(hook_json "$HD/createRuntime.sh")" \
        --argjson cc "$(hook_json "$HD/createContainer.sh")" \
        --argjson sc "$(hook_json /hooks/startContainer.sh)" \
        --argjson ps "$(hook_json "$HD/poststart.sh")" \
        --argjson pst "$(hook_json "$HD/poststop.sh")"

    create_ct "$B" "$ID"
    if is_runc; then
        # runc 1.1 runs poststart hooks at the end of create (fixed in 1.2).
        [ "$(cat "$HD/order" | tr '\n' ' ')" = "prestart createRuntime createContainer poststart " ]
    else
        [ "$(cat "$HD/order" | tr '\n' ' ')" = "prestart createRuntime createContainer " ]
    fi
    rt start "$ID"
    wait_status "$ID" stopped
    rt delete "$ID"
    if is_runc; then
        [ "$(cat "$HD/order" | tr '\n' ' ')" = "prestart createRuntime createContainer poststart startContainer poststop " ]
    else
        [ "$(cat "$HD/order" | tr '\n' ' ')" = "prestart createRuntime createContainer startContainer poststart poststop " ]
    fi

    for h in prestart createRuntime createContainer startContainer poststart poststop; do
        # Every hook got the state: the id, a status, the bundle, oci version.
        jq -e --arg id "$ID" --arg b "$B" \
            '.id == $id and (.status | type == "string") and .bundle == $b and (.ociVersion | startswith("1."))' \
            "$HD/state.$h"
        [ "$(cat "$HD/env.$h")" = set ]
    done
    [[ "$(cat "$HD/args.prestart")" == *"prestart.sh arg1 arg2" ]]
    [[ "$(cat "$HD/args.startContainer")" == "/hooks/startContainer.sh arg1 arg2" ]]
    # The hooks that run while the container exists know its pid.
    pid=$(jq -r .pid "$HD/state.createRuntime")
    [ "$pid" -gt 0 ]
    [ "$(jq -r .pid "$HD/state.poststart")" = "$pid" ]
    [ "$(jq -r .status "$HD/state.createRuntime")" = creating ]
    [ "$(jq -r .status "$HD/state.poststop")" = stopped ]
}

@test "hooks of one kind run in the order given" {
    make_bundle "$B"
    for h in first second third; do
        write_hook "$h" "$HD"
    done
    edit_config "$B" '.hooks.createRuntime = [$a, $b, $c]' \
        --argjson a "$(hook_json "$HD/first.sh")" \
        --argjson b "$(hook_json "$HD/second.sh")" \
        --argjson c "$(hook_json "$HD/third.sh")"
    create_ct "$B" "$ID"
    [ "$(cat "$HD/order" | tr '\n' ' ')" = "first second third " ]
}

@test "a hook that outlives its timeout fails create" {
    make_bundle "$B"
    write_hook slow "$HD" 'exec sleep 10'
    edit_config "$B" '.hooks.prestart = [$h]' --argjson h "$(hook_json "$HD/slow.sh" 1)"
    start=$(date +%s)
    rt_capture create --bundle "$B" "$ID"
    end=$(date +%s)
    [ "$status" -ne 0 ]
    # The runtime did not wait for the hook to finish on its own.
    [ $((end - start)) -lt 8 ]
    echo "$output" | grep -qiE 'time'
    [ -z "$(ls "$(test_root)")" ]
    [ -z "$(cgroup_leftovers "$ID")" ]
}

@test "a failing prestart hook fails create and leaves no state" {
    make_bundle "$B"
    write_hook failing "$HD" 'exit 3'
    edit_config "$B" '.hooks.prestart = [$h]' --argjson h "$(hook_json "$HD/failing.sh")"
    rt_capture create --bundle "$B" "$ID"
    [ "$status" -ne 0 ]
    [ -n "$stderr" ]
    [ "$(cat "$HD/order")" = failing ]
    [ -z "$(ls "$(test_root)")" ]
    [ -z "$(cgroup_leftovers "$ID")" ]
    run rt state "$ID"
    [ "$status" -ne 0 ]
}

@test "a failing createRuntime hook fails create, later hooks do not run" {
    make_bundle "$B"
    write_hook failing "$HD" 'exit 1'
    write_hook later "$HD"
    write_hook poststop "$HD"
    edit_config "$B" '.hooks.createRuntime = [$f] | .hooks.createContainer = [$l] | .hooks.poststop = [$p]' \
        --argjson f "$(hook_json "$HD/failing.sh")" \
        --argjson l "$(hook_json "$HD/later.sh")" \
        --argjson p "$(hook_json "$HD/poststop.sh")"
    rt_capture create --bundle "$B" "$ID"
    [ "$status" -ne 0 ]
    [ "$(head -n1 "$HD/order")" = failing ]
    ! grep -qx later "$HD/order"
    [ -z "$(ls "$(test_root)")" ]
    [ -z "$(cgroup_leftovers "$ID")" ]
}

@test "a missing hook binary fails create" {
    make_bundle "$B"
    edit_config "$B" '.hooks.prestart = [{path: $p}]' --arg p "$HD/does-not-exist"
    rt_capture create --bundle "$B" "$ID"
    [ "$status" -ne 0 ]
    [ -z "$(ls "$(test_root)")" ]
}

@test "a failing poststart hook is a warning: start succeeds, later hooks run" {
    # runc 1.1 runs poststart hooks during create and fails create instead.
    is_runc && skip "runc 1.1 runs poststart hooks in create and fails it"
    make_bundle "$B"
    write_hook failing "$HD" 'exit 1'
    write_hook second "$HD"
    edit_config "$B" '.hooks.poststart = [$f, $s]' \
        --argjson f "$(hook_json "$HD/failing.sh")" --argjson s "$(hook_json "$HD/second.sh")"
    create_ct "$B" "$ID"
    rt_capture start "$ID"
    [ "$status" -eq 0 ]
    [ -n "$stderr" ]
    [ "$(cat "$HD/order" | tr '\n' ' ')" = "failing second " ]
    [ "$(ct_status "$ID")" = running ]
}

@test "a failing poststop hook is a warning: delete still removes the container" {
    make_bundle "$B"
    write_hook failing "$HD" 'exit 1'
    write_hook second "$HD"
    edit_config "$B" '.hooks.poststop = [$f, $s]' \
        --argjson f "$(hook_json "$HD/failing.sh")" --argjson s "$(hook_json "$HD/second.sh")"
    create_ct "$B" "$ID"
    pid=$(ct_pid "$ID")
    rt kill "$ID" KILL
    wait_status "$ID" stopped
    wait_gone "$pid"
    rt_capture delete "$ID"
    [ "$status" -eq 0 ]
    # The spec wants the remaining poststop hooks run; runc 1.1 stops at the
    # failing one.
    if is_runc; then
        [ "$(head -n1 "$HD/order")" = failing ]
    else
        [ "$(cat "$HD/order" | tr '\n' ' ')" = "failing second " ]
    fi
    [ ! -e "$(test_root)/$ID" ]
    [ -z "$(cgroup_leftovers "$ID")" ]
}

@test "running createContainer hooks leaves SIGPIPE at its default in the container" {
    make_bundle "$B" sh -c 'grep SigIgn /proc/self/status'
    write_hook createContainer "$HD"
    edit_config "$B" '.hooks = {createContainer: [$cc]}' \
        --argjson cc "$(hook_json "$HD/createContainer.sh")"
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    # SIGPIPE is signal 13: bit 12 of the ignored mask.
    mask=$(echo "$output" | awk '{ print $2 }')
    [ $((0x$mask & 0x1000)) -eq 0 ]
}
