#!/usr/bin/env bats
# linux.resources: limits enforced inside the container (memory, pids) and
# written to the container's cgroup (cpu quota and shares, cpuset), read
# from the host side through /proc/<pid>/cgroup.

load helpers

setup() {
    B="$BATS_TEST_TMPDIR/bundle"
    ID=$(new_id)
}

teardown() {
    cleanup_containers
}

@test "a process allocating beyond the memory limit is killed (137)" {
    # The shell keeps the whole command substitution (64 MiB) in memory.
    make_bundle "$B" sh -c 'x=$(head -c 67108864 /dev/zero | tr "\0" a); echo survived ${#x}'
    edit_config "$B" '.linux.resources.memory = {limit: 16777216, swap: 16777216}'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 137 ]
    [[ "$output" != *survived* ]]
}

@test "the same allocation succeeds under a larger memory limit" {
    make_bundle "$B" sh -c 'x=$(head -c 8388608 /dev/zero | tr "\0" a); echo survived ${#x}'
    edit_config "$B" '.linux.resources.memory = {limit: 268435456}'
    run rt run --bundle "$B" "$ID"
    [ "$status" -eq 0 ]
    [ "$output" = "survived 8388608" ]
}

@test "the memory limit is written to the container's cgroup" {
    make_bundle "$B"
    edit_config "$B" '.linux.resources.memory = {limit: 33554432, reservation: 16777216}'
    create_ct "$B" "$ID"
    pid=$(ct_pid "$ID")
    mem=$(cgroup_dir "$pid" memory)
    [ "$mem" != "$(cgroup_dir $$ memory)" ]
    [ "$(cat "$mem/memory.limit_in_bytes")" = 33554432 ]
    [ "$(cat "$mem/memory.soft_limit_in_bytes")" = 16777216 ]
}

@test "the pids limit stops a fork loop" {
    # Each sleep that starts prints "started"; forks past the limit fail.
    # The sleeps die with the pid namespace when the shell exits.
    make_bundle "$B" sh -c 'for i in $(seq 20); do (sleep 30 & echo started) 2>/dev/null; done'
    edit_config "$B" '.linux.resources.pids = {limit: 10}'
    create_ct "$B" "$ID"
    pid=$(ct_pid "$ID")
    pids=$(cgroup_dir "$pid" pids)
    [ "$(cat "$pids/pids.max")" = 10 ]
    rt start "$ID"
    wait_status "$ID" stopped
    started=$(grep -c '^started$' "$BATS_TEST_TMPDIR/$ID.out")
    # Some sleeps started, but fewer than the loop wanted.
    [ "$started" -ge 1 ]
    [ "$started" -lt 20 ]
    [ "$started" -le 10 ]
}

@test "without a pids limit the same loop starts every process" {
    make_bundle "$B" sh -c 'for i in $(seq 20); do (sleep 30 & echo started) 2>/dev/null; done'
    create_ct "$B" "$ID"
    rt start "$ID"
    wait_status "$ID" stopped
    [ "$(grep -c '^started$' "$BATS_TEST_TMPDIR/$ID.out")" -eq 20 ]
}

@test "cpu quota, period and shares are written to the container's cgroup" {
    make_bundle "$B"
    edit_config "$B" '.linux.resources.cpu = {quota: 50000, period: 100000, shares: 512}'
    create_ct "$B" "$ID"
    pid=$(ct_pid "$ID")
    cpu=$(cgroup_dir "$pid" cpu)
    [ "$cpu" != "$(cgroup_dir $$ cpu)" ]
    [ "$(cat "$cpu/cpu.cfs_quota_us")" = 50000 ]
    [ "$(cat "$cpu/cpu.cfs_period_us")" = 100000 ]
    [ "$(cat "$cpu/cpu.shares")" = 512 ]
}

@test "update changes the cpu quota of a running container" {
    make_bundle "$B"
    edit_config "$B" '.linux.resources.cpu = {quota: 50000, period: 100000}'
    create_ct "$B" "$ID"
    rt start "$ID"
    cpu=$(cgroup_dir "$(ct_pid "$ID")" cpu)
    rt update --cpu-quota 25000 "$ID"
    [ "$(cat "$cpu/cpu.cfs_quota_us")" = 25000 ]
}

@test "cpuset restricts the cpus the process may run on" {
    make_bundle "$B" sh -c 'grep Cpus_allowed_list /proc/self/status; grep Mems_allowed_list /proc/self/status'
    last=$(($(nproc) - 1))
    edit_config "$B" '.linux.resources.cpu = {cpus: $c, mems: "0"}' --arg c "$last"
    create_ct "$B" "$ID"
    pid=$(ct_pid "$ID")
    cs=$(cgroup_dir "$pid" cpuset)
    [ "$(cat "$cs/cpuset.cpus")" = "$last" ]
    [ "$(cat "$cs/cpuset.mems")" = 0 ]
    rt start "$ID"
    wait_status "$ID" stopped
    grep -qE "^Cpus_allowed_list:\s+$last$" "$BATS_TEST_TMPDIR/$ID.out"
    grep -qE '^Mems_allowed_list:\s+0$' "$BATS_TEST_TMPDIR/$ID.out"
}

@test "the cgroups are removed when the container is deleted" {
    make_bundle "$B"
    edit_config "$B" '.linux.resources.cpu = {quota: 50000, period: 100000} | .linux.resources.pids = {limit: 50}'
    create_ct "$B" "$ID"
    pid=$(ct_pid "$ID")
    dirs="$(cgroup_dir "$pid" cpu) $(cgroup_dir "$pid" pids) $(cgroup_dir "$pid" memory) $(cgroup_dir "$pid" cpuset)"
    for d in $dirs; do [ -d "$d" ]; done
    rt delete --force "$ID"
    for d in $dirs; do [ ! -e "$d" ]; done
    [ -z "$(cgroup_leftovers "$ID")" ]
}
