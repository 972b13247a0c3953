#!/usr/bin/env bats
# `wharf cp`, `wharf update`, and run's resource and health flags through
# build/wharf, compared with the docker CLI (28.x) on the same private wharf
# daemon where docker's output is deterministic.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
    command -v docker >/dev/null || skip "the docker CLI is not installed"
    export DD IMG=localhost/wharf-clih:1
    DD=$(mktemp -d /tmp/wharf-clih.XXXXXX)
    make_rootfs "$DD/rootfs"
    tar -C "$DD/rootfs" -cf "$DD/rootfs.tar" .
    daemon_start
    wh import -c 'CMD ["sh"]' "$DD/rootfs.tar" "$IMG" >/dev/null
}

teardown_file() {
    daemon_teardown
}

cname() {
    echo "ch$$-${BATS_TEST_NUMBER}-$RANDOM"
}

# cg NAME CONTROLLER FILE: a cgroup v1 file of the running container.
cg() {
    local pid path
    pid=$(wh inspect -f '{{.State.Pid}}' "$1")
    path=$(awk -F: -v c="$2" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' \
        "/proc/$pid/cgroup")
    cat "/sys/fs/cgroup/$2$path/$3"
}

wait_health() {
    local i
    for ((i = 0; i < 150; i++)); do
        [ "$(wh inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1")" = "$2" ] &&
            return 0
        sleep 0.1
    done
    return 1
}

@test "wharf run: health flags; ps shows the health; --no-healthcheck and bad values as docker" {
    n=$(cname)
    wh run -d --name "$n" --health-cmd 'test -e /tmp/ok' --health-interval 1s --health-timeout 2s \
        --health-retries 1 "$IMG" sleep 1000 >/dev/null
    run wh inspect -f '{{json .Config.Healthcheck}}' "$n"
    [ "$output" = '{"Test":["CMD-SHELL","test -e /tmp/ok"],"Interval":1000000000,"Timeout":2000000000,"Retries":1}' ]
    wait_health "$n" unhealthy
    run wh ps --filter "name=$n" --format '{{.Status}}'
    [[ "$output" == *"(unhealthy)" ]]
    wh exec "$n" touch /tmp/ok
    wait_health "$n" healthy
    run wh ps --filter "name=$n" --filter health=healthy --format '{{.Names}} {{.Status}}'
    [[ "$output" == "$n Up "*" (healthy)" ]]
    # the same create body as docker's for the same flags
    a=$(cname) b=$(cname)
    wh create --name "$a" --health-cmd 'exit 0' --health-start-period 3s --health-start-interval 2s "$IMG" >/dev/null
    dk create --name "$b" --health-cmd 'exit 0' --health-start-period 3s --health-start-interval 2s "$IMG" >/dev/null
    [ "$(wh inspect -f '{{json .Config.Healthcheck}}' "$a")" = "$(dk inspect -f '{{json .Config.Healthcheck}}' "$b")" ]
    c=$(cname)
    wh create --name "$c" --no-healthcheck "$IMG" >/dev/null
    [ "$(wh inspect -f '{{json .Config.Healthcheck}}' "$c")" = '{"Test":["NONE"]}' ]
    run wh run --no-healthcheck --health-retries 2 "$IMG" true
    [ "$status" -eq 125 ]
    [[ "$output" == *"--no-healthcheck conflicts with --health-* options"* ]]
    run wh run --health-interval 5x "$IMG" true
    [ "$status" -eq 125 ]
    [[ "$output" == *'invalid argument "5x" for "--health-interval" flag: time: invalid duration "5x"'* ]]
    run wh run --health-timeout -1s "$IMG" true
    [ "$status" -eq 125 ]
    [[ "$output" == *"--health-timeout cannot be negative"* ]]
    wh rm -f "$n" "$a" "$b" "$c" >/dev/null
}

@test "wharf run: resource flags land in HostConfig as docker's do, and in the cgroup" {
    a=$(cname) b=$(cname)
    flags=(-m 64m --memory-reservation 32m --memory-swap 128m -c 512 --cpu-period 50000
        --cpu-quota 20000 --pids-limit 25 --blkio-weight 250)
    wh run -d --name "$a" "${flags[@]}" "$IMG" sleep 1000 >/dev/null
    dk run -d --name "$b" "${flags[@]}" "$IMG" sleep 1000 >/dev/null
    fmt='{{.HostConfig.Memory}} {{.HostConfig.MemoryReservation}} {{.HostConfig.MemorySwap}} {{.HostConfig.CpuShares}} {{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}} {{.HostConfig.PidsLimit}} {{.HostConfig.BlkioWeight}}'
    [ "$(wh inspect -f "$fmt" "$a")" = "$(dk inspect -f "$fmt" "$b")" ]
    [ "$(wh inspect -f "$fmt" "$a")" = "67108864 33554432 134217728 512 50000 20000 25 250" ]
    [ "$(cg "$a" cpu cpu.cfs_quota_us)" = 20000 ]
    [ "$(cg "$a" pids pids.max)" = 25 ]
    run wh run --memory-swap lots "$IMG" true
    [ "$status" -eq 125 ]
    [[ "$output" == *'invalid argument "lots" for "--memory-swap" flag: invalid size'* ]]
    run wh run -c many "$IMG" true
    [ "$status" -eq 125 ]
    [[ "$output" == *'for "-c, --cpu-shares" flag: strconv.ParseInt: parsing "many": invalid syntax'* ]]
    wh rm -f "$a" "$b" >/dev/null
}

@test "wharf update: the running container's cgroup changes; messages and exit codes as docker's" {
    n=$(cname)
    wh run -d --name "$n" -m 64m "$IMG" sleep 1000 >/dev/null
    run wh update -m 80m --pids-limit 12 --cpus 1.5 --restart unless-stopped "$n"
    [ "$status" -eq 0 ]
    [ "$output" = "$n" ]
    [ "$(cg "$n" memory memory.limit_in_bytes)" = 83886080 ]
    [ "$(cg "$n" pids pids.max)" = 12 ]
    [ "$(cg "$n" cpu cpu.cfs_quota_us)" = 150000 ]
    [ "$(wh inspect -f '{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.NanoCpus}}' "$n")" = "unless-stopped 1500000000" ]
    # the same answers as the docker CLI's
    for args in "" "-m 1m $n" "--cpu-period 20000 $n" "-m 64m nosuch$$" "--blkio-weight x $n"; do
        a_out=$(wh update $args 2>&1) && a_rc=0 || a_rc=$?
        b_out=$(dk update $args 2>&1) && b_rc=0 || b_rc=$?
        [ "$a_rc" = "$b_rc" ] || { echo "update $args: wharf $a_rc, docker $b_rc"; false; }
        if [ -n "$args" ] && [ "$args" != "--blkio-weight x $n" ]; then
            [ "$a_out" = "$b_out" ] || { echo "wharf: $a_out"; echo "docker: $b_out"; false; }
        fi
    done
    run wh update "$n"
    [ "$status" -eq 1 ]
    [ "$output" = "you must provide one or more flags when using this command" ]
    wh rm -f "$n" >/dev/null
}

@test "wharf cp: both ways, directories, tar streams and errors, as docker's" {
    n=$(cname)
    wh run -d --name "$n" "$IMG" sleep 1000 >/dev/null
    wh exec "$n" sh -c 'mkdir -p /d/sub && echo hi >/d/sub/f && echo top >/d/t && ln -s /d/t /d/link'
    w="$BATS_TEST_TMPDIR/w" d="$BATS_TEST_TMPDIR/d"
    mkdir "$w" "$d"
    for args in ":/d X/" ":/d/ X/new" ":/d/. X/" ":/d/t X/renamed" ":/d/link X/asis"; do
        src=${args%% *} dst=${args#* }
        wh cp "$n$src" "${dst/X/$w}"
        dk cp "$n$src" "${dst/X/$d}"
    done
    wh cp -L "$n:/d/link" "$w/followed"
    dk cp -L "$n:/d/link" "$d/followed"
    diff -r --no-dereference "$w" "$d"
    [ "$(cat "$w/followed")" = top ]
    [ "$(readlink "$w/asis")" = /d/t ]
    # a tar stream on stdout
    [ "$(wh cp "$n:/d" - | tar -tf - | sort)" = "$(dk cp "$n:/d" - | tar -tf - | sort)" ]

    # into the container: file, new name, directory, stdin
    src="$BATS_TEST_TMPDIR/src"
    mkdir -p "$src/tree/deep"
    echo one >"$src/file"
    echo two >"$src/tree/deep/x"
    wh cp "$src/file" "$n:/tmp/"
    wh cp "$src/file" "$n:/tmp/renamed"
    wh cp "$src/tree" "$n:/tmp"
    wh cp "$src/tree" "$n:/newtree"
    wh exec "$n" mkdir /fromtar
    tar -C "$src" -cf - tree | wh cp - "$n:/fromtar"
    run wh exec "$n" cat /tmp/file /tmp/renamed /tmp/tree/deep/x /newtree/deep/x /fromtar/tree/deep/x
    [ "$output" = "$(printf 'one\none\ntwo\ntwo\ntwo')" ]

    # errors: the same words and exit codes as docker's
    for args in "$n:/nope $w/" "$src/file $n:/nope/x" "$src/file $n:/d/t/x" "$src/tree $n:/d/t" \
        "$n:/d/t $BATS_TEST_TMPDIR/nodir/" "$src/nofile $n:/tmp" "$n:/a $n:/b" "a b" \
        "$src/file nosuch$$:/tmp" "$n:/d/t /nonexistent-dir/x"; do
        a_out=$(wh cp $args 2>&1) && a_rc=0 || a_rc=$?
        b_out=$(dk cp $args 2>&1) && b_rc=0 || b_rc=$?
        [ "$a_rc" = "$b_rc" ] || { echo "cp $args: wharf $a_rc, docker $b_rc"; false; }
        # (the docker CLI may log its tar writer's broken pipe first: the last lines count)
        [ "${a_out##*$'\n'}" = "${b_out##*$'\n'}" ] ||
            { echo "cp $args"; echo "wharf: $a_out"; echo "docker: $b_out"; false; }
    done
    run wh cp "$n:/d"
    [ "$status" -eq 1 ]
    [[ "$output" == *"requires 2 arguments"* ]]
    wh rm -f "$n" >/dev/null
}

@test "wharf cp: progress is reported on a terminal, as docker does" {
    n=$(cname)
    wh run -d --name "$n" "$IMG" sleep 1000 >/dev/null
    echo data >"$BATS_TEST_TMPDIR/f"
    run script -qec "$BUILD/wharf -H unix://$DD/wharf.sock cp $BATS_TEST_TMPDIR/f $n:/tmp/" /dev/null
    [[ "$output" == *"Successfully copied 2.05kB to $n:/tmp/"* ]]
    run script -qec "docker -H unix://$DD/wharf.sock cp $BATS_TEST_TMPDIR/f $n:/tmp/" /dev/null
    [[ "$output" == *"Successfully copied 2.05kB to $n:/tmp/"* ]]
    run script -qec "$BUILD/wharf -H unix://$DD/wharf.sock cp -q $BATS_TEST_TMPDIR/f $n:/tmp/" /dev/null
    [[ "$output" != *Successfully* ]]
    wh rm -f "$n" >/dev/null
}
