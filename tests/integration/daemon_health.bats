#!/usr/bin/env bats
# Limits and observation with the real docker CLI (28.x) against a private
# `wharf daemon`: health checks (image HEALTHCHECK and --health-*, starting
# -> healthy -> unhealthy, events, ps, persistence over a daemon restart),
# docker cp both ways (the archive API), update and the resource flags as
# the cgroup files show them, the OOM kill and the pids limit.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
    command -v docker >/dev/null || skip "the docker CLI is not installed"
    export DD IMG=localhost/wharf-health:1 HC=localhost/wharf-health-hc:1
    DD=$(mktemp -d /tmp/wharf-dh.XXXXXX)
    make_rootfs "$DD/rootfs"
    tar -C "$DD/rootfs" -cf "$DD/rootfs.tar" .
    daemon_start
    dk import -c 'CMD ["sh"]' "$DD/rootfs.tar" "$IMG" >/dev/null
    mkdir -p "$DD/hc"
    printf 'FROM %s\nHEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD ["sh", "-c", "test -e /tmp/ok"]\n' \
        "$IMG" >"$DD/hc/Dockerfile"
    DOCKER_BUILDKIT=0 dk build -q -t "$HC" "$DD/hc" >/dev/null 2>&1
}

teardown_file() {
    daemon_teardown
}

# A name unique to this test.
cname() {
    echo "dh$$-${BATS_TEST_NUMBER}-$RANDOM"
}

# wait_health NAME STATUS [SECONDS]: until inspect says so.
wait_health() {
    local i
    for ((i = 0; i < ${3:-15} * 10; i++)); do
        [ "$(dk inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1")" = "$2" ] &&
            return 0
        sleep 0.1
    done
    echo "health of $1: $(dk inspect -f '{{json .State.Health}}' "$1"), want $2" >&2
    return 1
}

# cg NAME CONTROLLER FILE: a cgroup v1 file of the running container.
cg() {
    local pid path
    pid=$(dk inspect -f '{{.State.Pid}}' "$1")
    path=$(awk -F: -v c="$2" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' \
        "/proc/$pid/cgroup")
    cat "/sys/fs/cgroup/$2$path/$3"
}

# ---------------------------------------------------------------- health checks

@test "health: starting, then healthy, then unhealthy after the retries; ps, events and the filter follow" {
    n=$(cname)
    t0=$(date +%s)
    dk run -d --name "$n" --health-cmd 'test -e /tmp/ok' --health-interval 1s --health-retries 2 \
        --health-start-period 30s --health-start-interval 1s "$IMG" sleep 1000 >/dev/null
    # within the start period failures do not count: it stays starting
    run dk inspect -f '{{.State.Health.Status}}' "$n"
    [ "$output" = starting ]
    run dk ps --filter "name=$n" --format '{{.Status}}'
    [[ "$output" == "Up "*" (health: starting)" ]]
    sleep 2.5
    run dk inspect -f '{{.State.Health.Status}} {{.State.Health.FailingStreak}} {{(index .State.Health.Log 0).ExitCode}}' "$n"
    [ "$output" = "starting 0 1" ]
    dk exec "$n" touch /tmp/ok
    wait_health "$n" healthy
    run dk ps --filter "name=$n" --format '{{.Status}}'
    [[ "$output" == "Up "*" (healthy)" ]]
    run dk ps --filter "name=$n" --filter health=healthy --format '{{.Names}}'
    [ "$output" = "$n" ]
    run dk ps --filter "name=$n" --filter health=none --format '{{.Names}}'
    [ -z "$output" ]
    # after a success the streak counts, start period or not
    dk exec "$n" rm /tmp/ok
    wait_health "$n" unhealthy
    run dk inspect -f '{{.State.Health.FailingStreak}}' "$n"
    [ "$output" -ge 2 ]
    run dk ps --filter "name=$n" --filter health=unhealthy --format '{{.Status}}'
    [[ "$output" == *"(unhealthy)" ]]
    # only the last five results are kept, each with its times
    for _ in $(seq 100); do
        log=$(dk inspect -f '{{range .State.Health.Log}}{{.ExitCode}}{{if .Start.IsZero}}!{{end}}{{if .End.IsZero}}!{{end}}{{end}}' "$n")
        [ "$log" = 11111 ] && break
        sleep 0.1
    done
    [ "$log" = 11111 ]
    sleep 1.5
    run dk inspect -f '{{len .State.Health.Log}}' "$n"
    [ "$output" = 5 ]
    run dk events --since "$t0" --until "$(date +%s.%N)" --filter "container=$n" \
        --filter event=health_status --format '{{.Action}}'
    [ "${lines[0]}" = "health_status: healthy" ]
    [ "${lines[1]}" = "health_status: unhealthy" ]
    # the probes are execs, as dockerd reports them
    run dk events --since "$t0" --until "$(date +%s.%N)" --filter "container=$n" --format '{{.Action}}'
    [[ "$output" == *"exec_create: /bin/sh -c test -e /tmp/ok"* ]]
    [[ "$output" == *"exec_die"* ]]
    dk rm -f "$n" >/dev/null
}

@test "health: a stop makes it unhealthy, a start starting again; a pause stops the probes" {
    n=$(cname)
    dk run -d --name "$n" --health-cmd true --health-interval 1s "$IMG" sleep 1000 >/dev/null
    wait_health "$n" healthy
    dk pause "$n" >/dev/null
    run dk inspect -f '{{.State.Health.Status}}' "$n"
    [ "$output" = unhealthy ]
    run dk ps --filter "name=$n" --format '{{.Status}}'
    [[ "$output" == *"(Paused)" ]]
    dk unpause "$n" >/dev/null
    wait_health "$n" healthy
    dk stop -t 0 "$n" >/dev/null
    run dk inspect -f '{{.State.Health.Status}}' "$n"
    [ "$output" = unhealthy ]
    run dk ps -a --filter "name=$n" --format '{{.Status}}'
    [[ "$output" == Exited* ]]
    [[ "$output" != *"("*"health"* ]]
    dk start "$n" >/dev/null
    run dk inspect -f '{{.State.Health.Status}} {{.State.Health.FailingStreak}}' "$n"
    [ "$output" = "starting 0" ]
    wait_health "$n" healthy
    dk rm -f "$n" >/dev/null
}

@test "health: the image's HEALTHCHECK, overridden by --health-* and turned off by --no-healthcheck" {
    run dk image inspect -f '{{json .Config.Healthcheck}}' "$HC"
    [ "$output" = '{"Test":["CMD","sh","-c","test -e /tmp/ok"],"Interval":1000000000,"Timeout":2000000000,"Retries":2}' ]
    a=$(cname)
    dk run -d --name "$a" "$HC" sleep 1000 >/dev/null
    wait_health "$a" unhealthy
    dk exec "$a" touch /tmp/ok
    wait_health "$a" healthy
    # a request's field replaces the image's; the rest comes from the image
    b=$(cname)
    dk run -d --name "$b" --health-retries 7 "$HC" sleep 1000 >/dev/null
    run dk inspect -f '{{json .Config.Healthcheck}}' "$b"
    [ "$output" = '{"Test":["CMD","sh","-c","test -e /tmp/ok"],"Interval":1000000000,"Timeout":2000000000,"Retries":7}' ]
    c=$(cname)
    dk run -d --name "$c" --no-healthcheck "$HC" sleep 1000 >/dev/null
    sleep 1.5
    run dk inspect -f '{{json .Config.Healthcheck.Test}} {{json .State.Health}}' "$c"
    [ "$output" = '["NONE"] null' ]
    run dk ps --filter "name=$c" --format '{{.Status}}'
    [[ "$output" != *"("* ]]
    run dk ps --filter "name=$c" --filter health=none --format '{{.Names}}'
    [ "$output" = "$c" ]
    dk rm -f "$a" "$b" "$c" >/dev/null
}

@test "health: a probe past its timeout fails with dockerd's message; output is kept" {
    n=$(cname)
    dk run -d --name "$n" --health-cmd 'echo probing; sleep 5' --health-timeout 300ms \
        --health-interval 1s --health-retries 1 "$IMG" sleep 1000 >/dev/null
    wait_health "$n" unhealthy
    run dk inspect -f '{{(index .State.Health.Log 0).ExitCode}} {{(index .State.Health.Log 0).Output}}' "$n"
    [ "$output" = "-1 Health check exceeded timeout (300ms): probing" ]
    m=$(cname)
    dk run -d --name "$m" --health-cmd 'seq 5000; exit 3' --health-interval 1s "$IMG" sleep 1000 >/dev/null
    for _ in $(seq 50); do
        [ "$(dk inspect -f '{{len .State.Health.Log}}' "$m")" -ge 1 ] && break
        sleep 0.1
    done
    run dk inspect -f '{{(index .State.Health.Log 0).ExitCode}} {{len (index .State.Health.Log 0).Output}}' "$m"
    [ "$output" = "3 4096" ]
    dk rm -f "$n" "$m" >/dev/null
}

@test "health: bad settings are refused as dockerd refuses them" {
    run dk run --rm --health-interval 500us "$IMG" true
    [ "$status" -eq 125 ]
    [[ "$output" == *"Interval in Healthcheck cannot be less than 1ms"* ]]
    run dk create --health-timeout 10ns "$IMG" true
    [ "$status" -ne 0 ]
    [[ "$output" == *"Timeout in Healthcheck cannot be less than 1ms"* ]]
    run dk create --health-start-period 1ns "$IMG" true
    [[ "$output" == *"StartPeriod in Healthcheck cannot be less than 1ms"* ]]
    run curl -s --unix-socket "$DD/wharf.sock" -H 'Content-Type: application/json' \
        -d "{\"Image\": \"$IMG\", \"Healthcheck\": {\"Test\": [\"CMD\", \"true\"], \"Retries\": -1}}" \
        http://wharf/containers/create
    [[ "$output" == *"Retries in Healthcheck cannot be negative"* ]]
}

@test "health: the state survives a daemon restart, and probing goes on" {
    n=$(cname)
    dk run -d --name "$n" --health-cmd 'test -e /tmp/ok' --health-interval 1s --health-retries 1 \
        "$IMG" sleep 1000 >/dev/null
    dk exec "$n" touch /tmp/ok
    wait_health "$n" healthy
    before=$(dk inspect -f '{{len .State.Health.Log}}' "$n")
    daemon_stop
    daemon_start
    run dk inspect -f '{{.State.Health.Status}}' "$n"
    [ "$output" = healthy ]
    [ "$(dk inspect -f '{{len .State.Health.Log}}' "$n")" -ge "$before" ]
    dk exec "$n" rm /tmp/ok
    wait_health "$n" unhealthy
    dk rm -f "$n" >/dev/null
    # the state goes with the container
    run ls "$DD/root/health"
    [[ "$output" != *"$(dk inspect -f '{{.Id}}' "$n" 2>/dev/null || echo gone)"* ]]
}

# ---------------------------------------------------------------- cp

@test "cp: files and directories out of a container, to a directory, a new name, or a tar on stdout" {
    n=$(cname)
    dk run -d --name "$n" "$IMG" sleep 1000 >/dev/null
    dk exec "$n" sh -c 'mkdir -p /d/sub && echo hi >/d/sub/f && echo top >/d/t && chmod 640 /d/t && ln -s /d/t /d/link'
    out="$BATS_TEST_TMPDIR/out"
    mkdir "$out"
    dk cp "$n:/d" "$out/"
    [ "$(cat "$out/d/sub/f")" = hi ]
    [ "$(readlink "$out/d/link")" = /d/t ]
    [ "$(stat -c %a "$out/d/t")" = 640 ]
    # a directory that does not exist yet takes the source's contents
    dk cp "$n:/d/" "$out/new"
    [ "$(cat "$out/new/t")" = top ]
    # "/." copies what is in it
    mkdir "$out/into"
    dk cp "$n:/d/." "$out/into"
    [ -f "$out/into/t" ] && [ -d "$out/into/sub" ]
    dk cp "$n:/d/t" "$out/renamed"
    [ "$(cat "$out/renamed")" = top ]
    # -L follows a symlink source
    dk cp -L "$n:/d/link" "$out/followed"
    [ "$(cat "$out/followed")" = top ]
    [ ! -L "$out/followed" ]
    run bash -c "docker -H unix://$DD/wharf.sock cp $n:/d - | tar -tf - | sort"
    [ "$output" = "$(printf 'd/\nd/link\nd/sub/\nd/sub/f\nd/t')" ]
    # a stopped container too (its overlay)
    dk stop -t 0 "$n" >/dev/null
    dk cp "$n:/d/sub/f" "$out/fromstopped"
    [ "$(cat "$out/fromstopped")" = hi ]
    dk rm -f "$n" >/dev/null
}

@test "cp: files, directories and tar streams into a container" {
    n=$(cname)
    dk run -d --name "$n" "$IMG" sleep 1000 >/dev/null
    src="$BATS_TEST_TMPDIR/src"
    mkdir -p "$src/tree/deep"
    echo one >"$src/file"
    echo two >"$src/tree/deep/x"
    chmod 600 "$src/tree/deep/x"
    dk cp "$src/file" "$n:/tmp/"
    [ "$(dk exec "$n" cat /tmp/file)" = one ]
    dk cp "$src/file" "$n:/tmp/other"
    [ "$(dk exec "$n" cat /tmp/other)" = one ]
    dk cp "$src/tree" "$n:/tmp"
    [ "$(dk exec "$n" cat /tmp/tree/deep/x)" = two ]
    [ "$(dk exec "$n" stat -c '%a %u' /tmp/tree/deep/x)" = "600 0" ]
    dk cp "$src/tree" "$n:/newdir"
    [ "$(dk exec "$n" cat /newdir/deep/x)" = two ]
    dk exec "$n" mkdir /srv
    tar -C "$src" -cf - file tree | dk cp - "$n:/srv"
    [ "$(dk exec "$n" cat /srv/tree/deep/x)" = two ]
    run dk events --since 1m --until "$(date +%s.%N)" --filter "container=$n" --filter event=extract-to-dir --format '{{.Action}}'
    [[ "$output" == extract-to-dir* ]]
    # a stopped container takes files too, and has them at its next start
    dk stop -t 0 "$n" >/dev/null
    dk cp "$src/file" "$n:/root/later"
    dk start "$n" >/dev/null
    [ "$(dk exec "$n" cat /root/later)" = one ]
    dk rm -f "$n" >/dev/null
}

@test "cp: dockerd's errors for missing paths, non-directories and bad containers" {
    n=$(cname)
    dk run -d --name "$n" "$IMG" sleep 1000 >/dev/null
    dk exec "$n" sh -c 'mkdir /d && echo x >/d/file'
    src="$BATS_TEST_TMPDIR/src"
    mkdir -p "$src/dir"
    echo data >"$src/f"
    run dk cp "$n:/nope" "$BATS_TEST_TMPDIR/"
    [ "$status" -eq 1 ]
    [ "$output" = "Error response from daemon: Could not find the file /nope in container $n" ]
    run dk cp "$src/f" "$n:/nope/x"
    [ "$status" -eq 1 ]
    [ "$output" = "Error response from daemon: Could not find the file /nope in container $n" ]
    run dk cp "$src/f" "$n:/d/file/x"
    [ "$status" -eq 1 ]
    [ "$output" = "Error response from daemon: extraction point is not a directory" ]
    run dk cp "$src/dir" "$n:/d/file"
    [ "$status" -eq 1 ]
    [[ "$output" == *"cannot copy directory"* ]]
    run dk cp "$src/f" "nosuch$$:/tmp"
    [ "$status" -eq 1 ]
    [[ "$output" == *"No such container: nosuch$$"* ]]
    run dk cp - "$n:/d/file" </dev/null
    [ "$status" -eq 1 ]
    [[ "$output" == *"must be a directory"* ]]
    run curl -s -o /dev/null -w '%{http_code}' -I --unix-socket "$DD/wharf.sock" \
        "http://wharf/containers/$n/archive?path=/nope"
    [ "$output" = 404 ]
    run curl -s -I --unix-socket "$DD/wharf.sock" "http://wharf/containers/$n/archive?path=/d/file"
    stat=$(echo "$output" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-docker-container-path-stat" { print $2 }' | base64 -d)
    [ "$(echo "$stat" | jq -r '.name, .size, .mode')" = "$(printf 'file\n2\n420')" ]
    run curl -s --unix-socket "$DD/wharf.sock" "http://wharf/containers/$n/archive"
    [[ "$output" == *"Path cannot be empty"* ]]
    dk rm -f "$n" >/dev/null
}

@test "cp: what an archive puts through symlinks stays inside the container; names that climb out are refused" {
    n=$(cname)
    dk run -d --name "$n" "$IMG" sleep 1000 >/dev/null
    dk exec "$n" mkdir /dest
    host="$DD/hostdir-$n"
    mkdir "$host"
    python3 - "$BATS_TEST_TMPDIR/esc.tar" "$host" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    link = tarfile.TarInfo("esc")
    link.type, link.linkname = tarfile.SYMTYPE, sys.argv[2]
    t.addfile(link)
    data = b"owned\n"
    f = tarfile.TarInfo("esc/pwned")
    f.size = len(data)
    t.addfile(f, io.BytesIO(data))
EOF
    dk cp - "$n:/dest" <"$BATS_TEST_TMPDIR/esc.tar"
    [ ! -e "$host/pwned" ]
    [ "$(dk exec "$n" cat "$host/pwned")" = owned ]
    python3 - "$BATS_TEST_TMPDIR/up.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    f = tarfile.TarInfo("../../../../../../tmp/wharf-evil")
    t.addfile(f, io.BytesIO(b""))
EOF
    run dk cp - "$n:/dest" <"$BATS_TEST_TMPDIR/up.tar"
    [ "$status" -eq 1 ]
    [[ "$output" == *"is outside of"* ]]
    [ ! -e /tmp/wharf-evil ]
    dk rm -f "$n" >/dev/null
}

@test "cp: a running container's tmpfs takes files; its read-only root does not" {
    n=$(cname)
    dk run -d --name "$n" --read-only --tmpfs /scratch "$IMG" sleep 1000 >/dev/null
    echo hello >"$BATS_TEST_TMPDIR/f"
    dk cp "$BATS_TEST_TMPDIR/f" "$n:/scratch/"
    [ "$(dk exec "$n" cat /scratch/f)" = hello ]
    run dk cp "$BATS_TEST_TMPDIR/f" "$n:/"
    [ "$status" -eq 1 ]
    [[ "$output" == *"container rootfs is marked read-only"* ]]
    dk cp "$n:/scratch/f" "$BATS_TEST_TMPDIR/back"
    [ "$(cat "$BATS_TEST_TMPDIR/back")" = hello ]
    dk rm -f "$n" >/dev/null
}

# ---------------------------------------------------------------- limits

@test "run: every resource flag reaches inspect and the cgroup files" {
    n=$(cname)
    dk run -d --name "$n" -m 64m --memory-reservation 32m --memory-swap 128m --cpu-shares 512 \
        --cpu-period 50000 --cpu-quota 25000 --cpuset-cpus 0 --pids-limit 50 --blkio-weight 300 \
        "$IMG" sleep 1000 >/dev/null
    run dk inspect -f '{{.HostConfig.Memory}} {{.HostConfig.MemoryReservation}} {{.HostConfig.MemorySwap}} {{.HostConfig.CpuShares}} {{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}} {{.HostConfig.CpusetCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.BlkioWeight}}' "$n"
    [ "$output" = "67108864 33554432 134217728 512 50000 25000 0 50 300" ]
    [ "$(cg "$n" memory memory.limit_in_bytes)" = 67108864 ]
    [ "$(cg "$n" memory memory.soft_limit_in_bytes)" = 33554432 ]
    if [ -e /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes ]; then
        [ "$(cg "$n" memory memory.memsw.limit_in_bytes)" = 134217728 ]
    fi
    [ "$(cg "$n" cpu cpu.shares)" = 512 ]
    [ "$(cg "$n" cpu cpu.cfs_period_us)" = 50000 ]
    [ "$(cg "$n" cpu cpu.cfs_quota_us)" = 25000 ]
    [ "$(cg "$n" cpuset cpuset.cpus)" = 0 ]
    [ "$(cg "$n" pids pids.max)" = 50 ]
    weight=$(cg "$n" blkio blkio.bfq.weight 2>/dev/null || cg "$n" blkio blkio.weight)
    [[ "$weight" == *300* ]]
    m=$(cname)
    # --cpus: a quota of that many periods; -m alone: swap twice the memory
    dk run -d --name "$m" --cpus 0.5 -m 32m "$IMG" sleep 1000 >/dev/null
    [ "$(dk inspect -f '{{.HostConfig.NanoCpus}} {{.HostConfig.MemorySwap}}' "$m")" = "500000000 67108864" ]
    [ "$(cg "$m" cpu cpu.cfs_quota_us)" = 50000 ]
    [ "$(cg "$m" cpu cpu.cfs_period_us)" = 100000 ]
    dk rm -f "$n" "$m" >/dev/null
}

@test "run: dockerd's checks of the limits" {
    run dk run --rm -m 1m "$IMG" true
    [ "$status" -eq 125 ]
    [[ "$output" == *"Minimum memory limit allowed is 6MB"* ]]
    run dk run --rm -m 16m --memory-swap 8m "$IMG" true
    [[ "$output" == *"Minimum memoryswap limit should be larger than memory limit"* ]]
    run dk run --rm --cpus 1 --cpu-period 50000 "$IMG" true
    [[ "$output" == *"Conflicting options: Nano CPUs and CPU Period cannot both be set"* ]]
    run dk run --rm --blkio-weight 5 "$IMG" true
    [[ "$output" == *"Range of blkio weight is from 10 to 1000"* ]]
    run dk run --rm --cpu-quota 500 "$IMG" true
    [[ "$output" == *"CPU cfs quota can not be less than 1ms (i.e. 1000)"* ]]
    run dk run --rm --cpus 1000 "$IMG" true
    [[ "$output" == *"Range of CPUs is from 0.01 to"* ]]
}

@test "update: a running container's limits change in its cgroup and inspect" {
    n=$(cname)
    dk run -d --name "$n" -m 64m --pids-limit 20 "$IMG" sleep 1000 >/dev/null
    run dk update -m 96m --memory-swap 192m --pids-limit 40 --cpu-shares 256 --cpus 0.25 \
        --blkio-weight 700 --restart on-failure:3 "$n"
    [ "$status" -eq 0 ]
    [ "$output" = "$n" ]
    [ "$(cg "$n" memory memory.limit_in_bytes)" = 100663296 ]
    [ "$(cg "$n" pids pids.max)" = 40 ]
    [ "$(cg "$n" cpu cpu.shares)" = 256 ]
    [ "$(cg "$n" cpu cpu.cfs_quota_us)" = 25000 ]
    weight=$(cg "$n" blkio blkio.bfq.weight 2>/dev/null || cg "$n" blkio blkio.weight)
    [[ "$weight" == *700* ]]
    run dk inspect -f '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.PidsLimit}} {{.HostConfig.CpuShares}} {{.HostConfig.NanoCpus}} {{.HostConfig.BlkioWeight}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}' "$n"
    [ "$output" = "100663296 201326592 40 256 250000000 700 on-failure:3" ]
    # dockerd's conflicts
    run dk update --cpu-period 50000 "$n"
    [ "$status" -eq 1 ]
    [[ "$output" == *"Cannot update container"*"CPU Period cannot be updated as NanoCPUs has already been set"* ]]
    run dk update -m 300m "$n"
    [[ "$output" == *"Memory limit should be smaller than already set memoryswap limit"* ]]
    run dk update -m 1m "$n"
    [[ "$output" == *"Minimum memory limit allowed is 6MB"* ]]
    run dk update "$n"
    [ "$status" -eq 1 ]
    [[ "$output" == *"you must provide one or more flags"* ]]
    run dk update -m 64m "nosuch$$"
    [[ "$output" == *"No such container: nosuch$$"* ]]
    run dk events --since 1m --until "$(date +%s.%N)" --filter "container=$n" --filter event=update --format '{{.Action}}'
    [[ "$output" == update* ]]
    dk rm -f "$n" >/dev/null
}

@test "update: a stopped container gets its new limits at its next start" {
    n=$(cname)
    dk create --name "$n" --pids-limit 20 "$IMG" sleep 1000 >/dev/null
    dk update --pids-limit 33 -m 48m "$n" >/dev/null
    dk start "$n" >/dev/null
    [ "$(cg "$n" pids pids.max)" = 33 ]
    [ "$(cg "$n" memory memory.limit_in_bytes)" = 50331648 ]
    dk stop -t 0 "$n" >/dev/null
    # 0 leaves it as it is (the CLI sends nothing); -1 lifts it
    dk update --pids-limit 0 "$n" >/dev/null
    [ "$(dk inspect -f '{{.HostConfig.PidsLimit}}' "$n")" = 33 ]
    dk update --pids-limit -1 "$n" >/dev/null
    run dk inspect -f '{{.HostConfig.PidsLimit}}' "$n"
    [ "$output" = "<nil>" ]
    dk start "$n" >/dev/null
    [ "$(cg "$n" pids pids.max)" = max ]
    dk rm -f "$n" >/dev/null
}

@test "pids limit: forks beyond it fail inside the container" {
    n=$(cname)
    dk run -d --name "$n" --pids-limit 8 "$IMG" sh -c 'sleep 1000' >/dev/null
    run dk exec "$n" sh -c 'for i in $(seq 20); do sleep 30 & done 2>&1; echo done'
    [[ "$output" == *"can't fork"* ]]
    [ "$(cg "$n" pids pids.current)" -le 8 ]
    dk rm -f "$n" >/dev/null
}

@test "oom: a container past -m is OOM-killed; inspect says so and oom comes before die" {
    n=$(cname)
    t0=$(date +%s)
    run dk run --name "$n" -m 32m "$IMG" sh -c 'dd if=/dev/zero of=/dev/null bs=100M count=1'
    [ "$status" -eq 137 ]
    run dk inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' "$n"
    [ "$output" = "true 137" ]
    run dk events --since "$t0" --until "$(date +%s.%N)" --filter "container=$n" --format '{{.Action}}'
    [[ "$output" == *$'oom\ndie'* ]]
    # without a kill it is false
    m=$(cname)
    dk run --name "$m" -m 32m "$IMG" true
    [ "$(dk inspect -f '{{.State.OOMKilled}}' "$m")" = false ]
    dk rm -f "$n" "$m" >/dev/null
}
