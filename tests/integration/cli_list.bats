#!/usr/bin/env bats
# `wharf ps`, import, image prune, system df/prune and the run/create flags
# of the same issue, checked against the real docker CLI (28.x) talking to
# the SAME private wharf daemon; and `wharf` starting its local daemon when
# none runs (with a private daemon.json through WHARF_DAEMON_CONFIG).

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
    command -v docker >/dev/null || skip "the docker CLI is not installed"
    export DD IMG=localhost/wharf-cl:1
    DD=$(mktemp -d /tmp/wharf-cl.XXXXXX)
    make_rootfs "$DD/rootfs"
    tar -C "$DD/rootfs" -cf "$DD/rootfs.tar" .
    rm -rf "$DD/rootfs"
    daemon_start
    wh import -c 'CMD ["sh"]' -c 'LABEL from=image' \
        "$DD/rootfs.tar" "$IMG" >/dev/null
}

teardown_file() {
    [ -n "${DD:-}" ] || return 0
    dk ps -aq 2>/dev/null | xargs -r docker -H "unix://$DD/wharf.sock" rm -f >/dev/null 2>&1
    local pid
    for pid in $(cat "$DD/daemon.pid" "$DD/auto.pid" 2>/dev/null); do
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done
    rm -rf "$DD"
}

# same_as_docker ARGS...: wharf and docker print the same for ARGS (retried
# while ages like "3 seconds ago" tick between the two calls).
same_as_docker() {
    local a b
    for _ in $(seq 5); do
        a=$(wh "$@" 2>&1) b=$(dk "$@" 2>&1)
        [ "$a" = "$b" ] && return 0
    done
    echo "wharf $*:"; echo "$a"; echo "docker $*:"; echo "$b"
    return 1
}

# same_error ARGS...: both fail with the same exit code and first line (the
# "wharf: "/"docker: " prefix aside).
same_error() {
    local a b sa sb
    a=$(wh "$@" 2>&1 </dev/null) && sa=0 || sa=$?
    b=$(dk "$@" 2>&1 </dev/null) && sb=0 || sb=$?
    a=$(head -1 <<<"$a") b=$(head -1 <<<"$b")
    a=${a#wharf: } b=${b#docker: }
    a=${a//\'wharf /\'docker }
    if [ "$sa" != "$sb" ] || [ "$a" != "$b" ]; then
        echo "wharf ($sa): $a"; echo "docker ($sb): $b"
        return 1
    fi
    [ "$sa" -ne 0 ]
}

cname() {
    echo "cl$$-${BATS_TEST_NUMBER}-$RANDOM"
}

@test "ps prints what docker ps prints: -a, -q, --no-trunc, filters, -n, -l, -s, --format" {
    n=$(cname)
    wh run -d --name "$n-a" -l app=web -l tier=front "$IMG" sh -c 'sleep 1000' >/dev/null
    wh run -d --name "$n-b" -l app=db "$IMG" sh -c 'exit 3' >/dev/null
    wh wait "$n-b" >/dev/null
    wh create --name "$n-c" "$IMG" true >/dev/null
    mkdir -p "$DD/m"
    wh run -d --name "$n-d" -v "$DD/m:/m:ro" "$IMG" sleep 1000 >/dev/null
    same_as_docker ps
    same_as_docker ps -a
    same_as_docker ps -a --no-trunc
    same_as_docker ps -aq
    same_as_docker ps -aq --no-trunc
    same_as_docker ps -a --filter status=exited
    same_as_docker ps -a --filter "label=app" -f "name=$n"
    same_as_docker ps -a --filter label=app=web --filter "ancestor=$IMG"
    same_as_docker ps -a --filter exited=3 --format '{{.Names}}'
    same_as_docker ps -n 2
    same_as_docker ps -l --format '{{.Names}} {{.Status}}'
    same_as_docker ps -a -s
    same_as_docker ps -a --format '{{.Names}} {{.Status}} {{.Command}}'
    same_as_docker ps -a --format 'table {{.Names}}\t{{.Labels}}\t{{.Networks}}\t{{.Mounts}}\t{{.LocalVolumes}}\t{{.State}}'
    same_as_docker ps -a --format '{{.Names}}: {{.Size}}'
    same_as_docker ps -a --format json
    same_as_docker ps -a --format table
}

@test "ps errors: bad filters and flags fail like docker's" {
    same_error ps --filter nokeyvalue
    same_error ps --filter no-such-key=1
    same_error ps --filter status=sleeping
    same_error ps -a --filter before=no-such-container
    same_error ps -n notanumber
    run --separate-stderr wh ps -q --format '{{.Names}}'
    [ "$stderr" = "WARNING: Ignoring custom format, because both --format and --quiet are set." ]
}

@test "import: the new image id, changes, message, stdin, gzip" {
    run --separate-stderr wh import -c 'CMD ["/bin/echo", "via-wharf"]' -c 'LABEL l=v' -m 'a message' \
        "$DD/rootfs.tar" localhost/cl-imp:1
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^sha256:[0-9a-f]{64}$ ]]
    [ "$output" = "$(dk image inspect -f '{{.Id}}' localhost/cl-imp:1)" ]
    [ "$(dk run --rm localhost/cl-imp:1)" = via-wharf ]
    [ "$(dk history --format '{{.Comment}}' localhost/cl-imp:1)" = "a message" ]
    gzip -c "$DD/rootfs.tar" >"$DD/rootfs.tgz"
    run wh import - localhost/cl-imp:gz <"$DD/rootfs.tgz"
    [ "$status" -eq 0 ]
    [ "$(dk image inspect -f '{{.Id}}' localhost/cl-imp:gz)" = "$output" ]
    same_error import
    same_error import -c 'FROBNICATE x' "$DD/rootfs.tar" localhost/cl-bad:1
    run wh import "$DD/no-such.tar"
    [ "$status" -eq 1 ]
    [[ "$output" == "open $DD/no-such.tar: "* ]]
    wh rmi localhost/cl-imp:1 localhost/cl-imp:gz >/dev/null
}

@test "images: a reference argument and -f filters, as docker images prints them" {
    wh import -c 'LABEL kind=a' "$DD/rootfs.tar" localhost/cl-flt:a >/dev/null
    sleep 1.1 # Created is in seconds: before/since need them apart
    wh import -c 'LABEL kind=b' "$DD/rootfs.tar" localhost/cl-flt:b >/dev/null
    wh tag localhost/cl-flt:b localhost/cl-other:b
    local f='{{.Repository}}:{{.Tag}}'
    same_as_docker images --format "$f" localhost/cl-flt
    same_as_docker images --format "$f" localhost/cl-flt:b
    same_as_docker images --format "$f" 'localhost/cl-*'
    same_as_docker images --format "$f" -f 'reference=*/cl-other*'
    same_as_docker images --format "$f" -f label=kind=a
    same_as_docker images --format "$f" -f label=kind -f reference='localhost/cl-flt'
    same_as_docker images --format "$f" -f before=localhost/cl-flt:b -f reference='*/cl-*'
    same_as_docker images --format "$f" -f since=localhost/cl-flt:a -f reference='*/cl-*'
    same_as_docker images -q -f dangling=false -f reference=localhost/cl-flt:a
    # only the matching tags of an image are listed
    [ "$(wh images --format "$f" localhost/cl-other)" = localhost/cl-other:b ]
    [ -z "$(wh images -q localhost/cl-none)" ]
    same_error images -f bogus=1
    same_error images -f before=localhost/cl-none:1
    same_error images -f nokeyvalue
    wh rmi localhost/cl-flt:a localhost/cl-flt:b localhost/cl-other:b >/dev/null
}

@test "image prune: docker's prompt, report and total" {
    # declined: nothing is deleted, exit 0, the same prompt
    wh import "$DD/rootfs.tar" >/dev/null
    a=$(echo n | wh image prune) b=$(echo n | dk image prune)
    [ "$a" = "$b" ]
    [[ "$a" == "WARNING! This will remove all dangling images."* ]]
    [ "$(echo n | wh image prune -a)" = "$(echo n | dk image prune -a)" ]
    # the dangling image goes, with docker's report
    id=$(wh import "$DD/rootfs.tar")
    run wh image prune -f
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "Deleted Images:" ]
    [[ "$output" == *"deleted: $id"* ]]
    [[ "${lines[-1]}" =~ ^Total\ reclaimed\ space:\ [0-9.]+k?B$ ]]
    # docker's own report on the same kind of state has the same form
    id=$(wh import "$DD/rootfs.tar")
    run dk image prune -f
    [ "${lines[0]}" = "Deleted Images:" ]
    [[ "$output" == *"deleted: $id"* ]]
    # -a keeps what a container uses; y on stdin confirms
    wh import "$DD/rootfs.tar" localhost/cl-unused:1 >/dev/null
    run bash -c "echo y | '$BUILD/wharf' -H 'unix://$DD/wharf.sock' image prune -a"
    [[ "$output" == *"untagged: localhost/cl-unused:1"* ]]
    wh image inspect "$IMG" >/dev/null # containers of the first test use it
    same_error image prune --filter bogus=1 -f
    same_error image prune extra
}

@test "system df prints what docker system df prints" {
    n=$(cname)
    wh run -d --name "$n" "$IMG" sh -c 'head -c 120000 /dev/zero >/f; sleep 1000' >/dev/null
    for _ in $(seq 50); do wh exec "$n" test -s /f 2>/dev/null && break; sleep 0.1; done
    same_as_docker system df
    same_as_docker system df -v
    same_as_docker system df --format '{{.Type}}: {{.Size}} {{.Reclaimable}}'
    same_as_docker system df --format json
    run wh system df
    [[ "${lines[2]}" =~ ^Containers\ +[0-9]+\ +[1-9][0-9]*\ +[0-9.]+kB ]]
}

@test "system prune: docker's prompt; -f prunes containers and dangling images" {
    [ "$(echo n | wh system prune)" = "$(echo n | dk system prune)" ]
    [ "$(echo n | wh system prune -a)" = "$(echo n | dk system prune -a)" ]
    [ "$(echo n | wh system prune --filter label=x=y)" = "$(echo n | dk system prune --filter label=x=y)" ]
    code=$(curl -s --unix-socket "$DD/wharf.sock" -X POST -o /dev/null -w '%{http_code}' http://wharf/containers/prune)
    [ "$code" = 200 ] || skip "POST /containers/prune is not in this build (it answers $code)"
    n=$(cname)
    wh run -d --name "$n-stopped" "$IMG" true >/dev/null
    wh wait "$n-stopped" >/dev/null
    wh run -d --name "$n-running" "$IMG" sleep 1000 >/dev/null
    id=$(wh import "$DD/rootfs.tar")
    run wh system prune -f
    [ "$status" -eq 0 ]
    [[ "$output" == *"Deleted Containers:"* ]]
    [[ "$output" == *"deleted: $id"* ]]
    [[ "${lines[-1]}" == "Total reclaimed space: "* ]]
    run wh inspect "$n-stopped"
    [ "$status" -ne 0 ]
    wh inspect "$n-running" >/dev/null
}

@test "run/create flags build the same Config and HostConfig as docker's" {
    printf '# c\nFROM_FILE=1\n  SPACED=two words\nPASSED\nA=file\n' >"$DD/env.list"
    mkdir -p "$DD/share"
    flags=(--env-file "$DD/env.list" -e A=flag -h inner --domainname example.test
        --ulimit nofile=1024:2048 --ulimit nproc=300 --sysctl net.ipv4.ip_forward=1
        --tmpfs /run:size=1m --tmpfs /t -v "$DD/share:/data:ro" -v /anon --shm-size 8m
        --security-opt no-new-privileges --restart on-failure:3 --group-add nogroup
        --oom-score-adj 5 --cpuset-cpus 0 -u nobody:nogroup -w /work)
    a=$(PASSED=through wh create "${flags[@]}" "$IMG" true)
    b=$(PASSED=through dk create "${flags[@]}" "$IMG" true)
    for k in .HostConfig.Ulimits .HostConfig.Sysctls .HostConfig.Tmpfs .HostConfig.Binds \
        .HostConfig.ShmSize .HostConfig.SecurityOpt .HostConfig.RestartPolicy .HostConfig.GroupAdd \
        .HostConfig.OomScoreAdj .HostConfig.CpusetCpus .Config.Env .Config.Hostname \
        .Config.Domainname .Config.Volumes .Config.User .Config.WorkingDir .Mounts; do
        x=$(dk inspect -f "{{json $k}}" "$a") y=$(dk inspect -f "{{json $k}}" "$b")
        if [ "$k" = .Mounts ]; then # each has an anonymous volume of its own name
            x=$(jq -c 'map(if .Type == "volume" then del(.Name, .Source) else . end)' <<<"$x")
            y=$(jq -c 'map(if .Type == "volume" then del(.Name, .Source) else . end)' <<<"$y")
        fi
        [ "$x" = "$y" ] || { echo "$k: wharf $x, docker $y"; false; }
    done
    [ "$(dk inspect -f '{{json .Config.Env}}' "$a")" = '["FROM_FILE=1","SPACED=two words","PASSED=through","A=file","A=flag"]' ]
    run wh run -d --rm --restart no "$IMG" true
    [ "$status" -eq 0 ]
}

@test "run/create flag errors: docker's messages and exit codes" {
    printf 'A B=1\n' >"$DD/bad1.env"
    printf '=1\n' >"$DD/bad2.env"
    same_error run -d --ulimit nofile=x "$IMG" true
    same_error run -d --ulimit nosuchlimit=1 "$IMG" true
    same_error run -d --ulimit nofile "$IMG" true
    same_error run -d --ulimit nofile=5:2 "$IMG" true
    same_error run -d --sysctl kernel.notallowed=1 "$IMG" true
    same_error run -d --shm-size lots "$IMG" true
    same_error run -d --env-file "$DD/bad1.env" "$IMG" true
    same_error run -d --env-file "$DD/bad2.env" "$IMG" true
    same_error run -d -v :/x "$IMG" true
    same_error run -d --restart :3 "$IMG" true
    same_error run -d --restart on-failure:x "$IMG" true
    same_error run -d --rm --restart always "$IMG" true
    same_error run -d --restart sometimes "$IMG" true
    same_error create --restart sometimes "$IMG" true
    same_error run -d --oom-score-adj x "$IMG" true
    same_error run -d -u nosuchuser "$IMG" true
    same_error run -d -v "$DD/share:/data:bogus" "$IMG" true
}

@test "with no host given, wharf starts the local daemon once and says so once" {
    mkdir -p "$DD/auto"
    printf '{"data-root": "%s", "hosts": ["unix://%s"]}\n' "$DD/auto/root" "$DD/auto/run/w.sock" \
        >"$DD/auto/daemon.json"
    run --separate-stderr env -u DOCKER_HOST -u WHARF_HOST WHARF_DAEMON_CONFIG="$DD/auto/daemon.json" \
        "$BUILD/wharf" images -q
    pid=$(sed -n 's/.*(pid \([0-9]*\)).*/\1/p' <<<"$stderr")
    [ -n "$pid" ] && echo "$pid" >"$DD/auto.pid"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
    [[ "$stderr" == *"started \`wharf daemon\` (pid $pid) on unix://$DD/auto/run/w.sock, logging to $DD/auto/root/wharf.log" ]]
    kill -0 "$pid"
    [ -S "$DD/auto/run/w.sock" ]
    grep -q "serving the Docker Engine API" "$DD/auto/root/wharf.log"
    # detached: another session, not our child
    sid=$(ps -o sid= -p "$pid" | tr -d ' ')
    [ "$sid" != "$(ps -o sid= -p $$ | tr -d ' ')" ]
    [ "$(ps -o ppid= -p "$pid" | tr -d ' ')" != "$$" ]
    # the second call finds it running: no message, no second daemon
    run --separate-stderr env -u DOCKER_HOST -u WHARF_HOST WHARF_DAEMON_CONFIG="$DD/auto/daemon.json" \
        "$BUILD/wharf" ps -q
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [ "$(pgrep -x wharfd -s "$sid" | wc -l)" -eq 1 ]
    # an explicit host never starts anything
    run --separate-stderr env -u DOCKER_HOST WHARF_HOST="unix://$DD/auto/none.sock" \
        WHARF_DAEMON_CONFIG="$DD/auto/daemon.json" "$BUILD/wharf" ps
    [ "$status" -eq 1 ]
    [[ "$stderr" != *started* ]]
    [ ! -e "$DD/auto/none.sock" ]
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    ! kill -0 "$pid" 2>/dev/null
}
