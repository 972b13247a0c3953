#!/usr/bin/env bats
# The process's security settings, observed from inside the container:
# capabilities, seccomp, no_new_privs, rlimits, user and groups, umask,
# sysctls, oom_score_adj and an AppArmor profile on a host without AppArmor.

load helpers

setup() {
    B="$BATS_TEST_TMPDIR/bundle"
    ID=$(new_id)
}

teardown() {
    cleanup_containers
}

# status_field NAME: the value of NAME: in the container output (a copy of
# /proc/self/status).
status_field() {
    echo "$output" | awk -v k="$1:" '$1 == k { $1 = ""; sub(/^[ \t]+/, ""); print }'
}

@test "only the configured capabilities remain" {
    make_bundle "$B" cat /proc/self/status
    edit_config "$B" '.process.capabilities = {
        bounding: ["CAP_NET_BIND_SERVICE"], effective: ["CAP_NET_BIND_SERVICE"],
        permitted: ["CAP_NET_BIND_SERVICE"], inheritable: [], ambient: []}'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "$(status_field CapBnd)" = 0000000000000400 ]
    [ "$(status_field CapEff)" = 0000000000000400 ]
    [ "$(status_field CapPrm)" = 0000000000000400 ]
    [ "$(status_field CapInh)" = 0000000000000000 ]
    [ "$(status_field CapAmb)" = 0000000000000000 ]
}

@test "the default spec's capabilities are AUDIT_WRITE, KILL and NET_BIND_SERVICE" {
    make_bundle "$B" cat /proc/self/status
    # runc's default: bits 29, 5 and 10.
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "$(status_field CapBnd)" = 0000000020000420 ]
    [ "$(status_field CapEff)" = 0000000020000420 ]
}

@test "a dropped capability is really gone: chown fails without CAP_CHOWN" {
    make_bundle "$B" sh -c 'touch /tmp/f && if chown 65534 /tmp/f; then echo CHOWNED; else echo DENIED; fi'
    edit_config "$B" '.root.readonly = false'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [[ "$output" == *DENIED* ]]

    edit_config "$B" '.process.capabilities |= with_entries(.value += ["CAP_CHOWN"])'
    run rt run --bundle "$B" "$(new_id)"
    [ "$status" -eq 0 ]
    [[ "$output" == *CHOWNED* ]]
}

@test "a seccomp profile denying mkdir makes mkdir fail while touch works" {
    make_bundle "$B" sh -c 'if mkdir /tmp/x; then echo MKDIR-OK; else echo MKDIR-DENIED; fi; touch /tmp/y && echo TOUCH-OK; grep Seccomp: /proc/self/status'
    edit_config "$B" '.root.readonly = false | .linux.seccomp = {
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO"}]}'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [[ "$output" == *MKDIR-DENIED* ]]
    [[ "$output" == *"Operation not permitted"* ]]
    [[ "$output" == *TOUCH-OK* ]]
    [ ! -e "$B/rootfs/tmp/x" ]
    # 2 = filter mode.
    echo "$output" | grep -qE '^Seccomp:\s+2$'
}

@test "seccomp errnoRet sets the errno a denied call returns" {
    make_bundle "$B" sh -c 'mkdir /tmp/x'
    edit_config "$B" '.root.readonly = false | .linux.seccomp = {
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13}]}'
    run rt run --bundle "$B" "$ID"
    [ "$status" -ne 0 ]
    [[ "$output" == *"Permission denied"* ]]
}

@test "seccomp argument conditions select the call" {
    # chmod to mode 0777 is denied, any other mode passes.
    make_bundle "$B" sh -c 'touch /tmp/f; chmod 755 /tmp/f && echo 755-OK; if chmod 777 /tmp/f; then echo 777-OK; else echo 777-DENIED; fi; stat -c %a /tmp/f'
    edit_config "$B" '.root.readonly = false | .linux.seccomp = {
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{names: ["chmod"], action: "SCMP_ACT_ERRNO", args: [{index: 1, value: 511, op: "SCMP_CMP_EQ"}]},
                   {names: ["fchmodat"], action: "SCMP_ACT_ERRNO", args: [{index: 2, value: 511, op: "SCMP_CMP_EQ"}]}]}'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [[ "$output" == *755-OK* ]]
    [[ "$output" == *777-DENIED* ]]
    [ "${lines[-1]}" = 755 ]
}

@test "noNewPrivileges sets NoNewPrivs" {
    make_bundle "$B" cat /proc/self/status
    edit_config "$B" '.process.noNewPrivileges = true'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "$(status_field NoNewPrivs)" = 1 ]

    edit_config "$B" '.process.noNewPrivileges = false'
    run rt run --bundle "$B" "$(new_id)"
    [ "$status" -eq 0 ]
    [ "$(status_field NoNewPrivs)" = 0 ]
}

@test "rlimits are applied" {
    make_bundle "$B" sh -c 'ulimit -n; grep "Max open files" /proc/self/limits; grep "Max processes" /proc/self/limits'
    edit_config "$B" '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: 1234, hard: 2048},
                                          {type: "RLIMIT_NPROC", soft: 777, hard: 888}]'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 1234 ]
    echo "${lines[1]}" | grep -qE '^Max open files +1234 +2048 +files'
    echo "${lines[2]}" | grep -qE '^Max processes +777 +888 +processes'
}

@test "a low RLIMIT_NOFILE does not break the container's setup (applied once the root is ready)" {
    make_bundle "$B" sh -c 'ulimit -n'
    edit_config "$B" '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: 10, hard: 10}]'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 10 ]
}

@test "process.user sets uid, gid and additional groups" {
    make_bundle "$B" sh -c 'id; grep -E "^(Uid|Gid|Groups):" /proc/self/status'
    edit_config "$B" '.process.user = {uid: 1000, gid: 1001, additionalGids: [10, 20]}'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "$(status_field Uid | tr -s ' \t' ' ')" = "1000 1000 1000 1000" ]
    [ "$(status_field Gid | tr -s ' \t' ' ')" = "1001 1001 1001 1001" ]
    [ "$(status_field Groups | tr -s ' \t' ' ' | sed 's/ $//')" = "10 20" ]
    [[ "${lines[0]}" == "uid=1000 gid=1001"* ]]
}

@test "a non-root user without capabilities cannot read root's files" {
    make_bundle "$B" sh -c 'if cat /secret; then echo READ; else echo DENIED; fi'
    echo s3cret >"$B/rootfs/secret"
    chmod 600 "$B/rootfs/secret"
    edit_config "$B" '.process.user = {uid: 65534, gid: 65534}'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [[ "$output" == *DENIED* ]]
    [[ "$output" != *s3cret* ]]
}

@test "umask is applied" {
    make_bundle "$B" sh -c 'umask; touch /tmp/f; stat -c %a /tmp/f'
    edit_config "$B" '.root.readonly = false | .process.user.umask = 63'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 0077 ]
    [ "${lines[1]}" = 600 ]
}

@test "sysctls are set inside the container's namespaces only" {
    make_bundle "$B" sh -c 'cat /proc/sys/net/ipv4/ip_forward; cat /proc/sys/kernel/msgmax'
    edit_config "$B" '.linux.sysctl = {"net.ipv4.ip_forward": "1", "kernel.msgmax": "12345"}'
    host_fwd=$(cat /proc/sys/net/ipv4/ip_forward)
    host_msgmax=$(cat /proc/sys/kernel/msgmax)
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 1 ]
    [ "${lines[1]}" = 12345 ]
    [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host_fwd" ]
    [ "$(cat /proc/sys/kernel/msgmax)" = "$host_msgmax" ]
}

@test "oomScoreAdj is applied" {
    make_bundle "$B" cat /proc/self/oom_score_adj
    edit_config "$B" '.process.oomScoreAdj = 500'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "$output" = 500 ]
}

@test "an apparmorProfile on a host without AppArmor is accepted" {
    if [ -e /sys/module/apparmor/parameters/enabled ] &&
        [ "$(cat /sys/module/apparmor/parameters/enabled)" = Y ]; then
        skip "AppArmor is enabled on this host"
    fi
    # runc 1.1 tries to write /proc/self/attr/exec and fails with EINVAL.
    is_runc && skip "runc refuses an AppArmor profile when AppArmor is disabled"
    make_bundle "$B" echo ran
    edit_config "$B" '.process.apparmorProfile = "wharf-test-profile"'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [[ "$output" == *ran* ]]
}
