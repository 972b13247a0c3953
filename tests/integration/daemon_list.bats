#!/usr/bin/env bats
# Listing, import, disk usage, pruning, users by name and the create fields
# of `docker run`, driven by the real docker CLI (28.x) against a private
# `wharf daemon`. The image is a busybox-static root filesystem imported
# with `docker import` (no network).

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
    command -v docker >/dev/null || skip "the docker CLI is not installed"
    export DD IMG=localhost/wharf-list:1
    DD=$(mktemp -d /tmp/wharf-dl.XXXXXX)
    make_rootfs "$DD/rootfs"
    printf 'staff:x:50:nobody,other\nusers:x:100:\n' >>"$DD/rootfs/etc/group"
    tar -C "$DD/rootfs" -cf "$DD/rootfs.tar" .
    daemon_start
    dk import -c 'CMD ["sh"]' -c 'LABEL tier=image from=image' \
        "$DD/rootfs.tar" "$IMG" >/dev/null
}

teardown_file() {
    daemon_teardown
}

# api PATH [curl args...]: the raw Engine API answer.
api() {
    local path=$1
    shift
    curl -s --unix-socket "$DD/wharf.sock" "$@" "http://wharf$path"
}

# A name prefix unique to this test.
cname() {
    echo "dl$$-${BATS_TEST_NUMBER}-$RANDOM"
}

@test "ps: newest first, docker's quoted Command and Status, --no-trunc" {
    n=$(cname)
    dk run -d --name "$n-a" "$IMG" sh -c 'sleep 1000' >/dev/null
    dk run -d --name "$n-b" "$IMG" sh -c 'exit 3' >/dev/null
    [ "$(dk wait "$n-b")" = 3 ]
    dk create --name "$n-c" "$IMG" true >/dev/null
    run dk ps -a --filter "name=$n" --format '{{.Names}} {{.Status}} {{.Command}}'
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 3 ]
    [ "${lines[0]}" = "$n-c Created \"true\"" ]
    [[ "${lines[1]}" =~ ^$n-b\ Exited\ \(3\)\ .*\ ago\ \"sh\ -c\ \'exit\ 3\'\"$ ]]
    [[ "${lines[2]}" =~ ^$n-a\ Up\ .*\ \"sh\ -c\ \'sleep\ 1000\'\"$ ]]
    # without -a only the running one
    [ "$(dk ps --filter "name=$n" --format '{{.Names}}')" = "$n-a" ]
    run dk ps -a --no-trunc --filter "name=$n-a" --format '{{.ID}} {{.Command}}'
    [[ "$output" =~ ^[0-9a-f]{64}\ \"sh\ -c\ \'sleep\ 1000\'\"$ ]]
    # the table cuts the command at 20 characters like dockerd's CLI does
    dk run -d --name "$n-long" "$IMG" sh -c 'echo a long command line; sleep 1000' >/dev/null
    [ "$(dk ps --filter "name=$n-long" --format '{{.Command}}')" = "\"sh -c 'echo a long …\"" ]
}

@test "ps filters: status, exited, label, name, id, ancestor, before, since" {
    n=$(cname)
    a=$(dk run -d --name "$n-a" -l app=web -l tier=front "$IMG" sleep 1000)
    b=$(dk run -d --name "$n-b" -l app=db "$IMG" sh -c 'exit 3')
    [ "$(dk wait "$n-b")" = 3 ]
    c=$(dk create --name "$n-c" "$IMG" true)
    ids() { dk ps "$@" --filter "name=$n" --format '{{.Names}}' | tr '\n' ' '; }
    [ "$(ids --filter status=exited)" = "$n-b " ]
    [ "$(ids --filter status=created)" = "$n-c " ]
    [ "$(ids --filter status=running --filter status=created)" = "$n-c $n-a " ]
    [ "$(ids -a --filter exited=3)" = "$n-b " ]
    [ "$(ids -a --filter exited=0)" = "" ]
    [ "$(ids --filter exited=3)" = "" ] # exited needs -a, as in dockerd
    [ "$(ids -a --filter label=app)" = "$n-b $n-a " ]
    [ "$(ids -a --filter label=app=web)" = "$n-a " ]
    [ "$(ids -a --filter label=app=web --filter label=tier=back)" = "" ]
    [ "$(ids -a --filter label=from=image)" = "$n-c $n-b $n-a " ] # the image's label
    [ "$(ids -a --filter label=tier=image)" = "$n-c $n-b " ]        # overridden on a
    # a regular expression (two name filters would match either)
    [ "$(dk ps -a --filter "name=^/?$n-[ab]\$" --format '{{.Names}}' | tr '\n' ' ')" = "$n-b $n-a " ]
    [ "$(ids -a --filter "id=${b:0:12}")" = "$n-b " ]
    [ "$(ids -a --filter "ancestor=$IMG")" = "$n-c $n-b $n-a " ]
    [ "$(ids -a --filter "ancestor=localhost/not-there:1")" = "" ]
    [ "$(ids -a --filter "before=$n-b")" = "$n-a " ]
    [ "$(ids -a --filter "since=$n-a")" = "$n-c $n-b " ]
    [ "$(ids -a --filter health=none --filter network=bridge)" = "$n-c $n-b $n-a " ]
    [ "$(ids -a --filter network=none)" = "" ]
    run dk ps --filter no-such-key=1
    [ "$status" -eq 1 ]
    [ "$output" = "Error response from daemon: invalid filter 'no-such-key'" ]
    run dk ps --filter status=sleeping
    [ "$output" = "Error response from daemon: invalid filter 'status=sleeping'" ]
    run dk ps --filter before=no-such-container
    [ "$output" = "Error response from daemon: No such container: no-such-container" ]
    [ "$(api "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22app%3Ddb%22%5D%7D" | jq -r '.[].Names[0]')" = "/$n-b" ]
    [ "$(api '/containers/json?filters=%7B%22x%22%3A%5B%22y%22%5D%7D' -o /dev/null -w '%{http_code}')" = 400 ]
}

@test "ps -n, -l and the limit parameter include stopped containers, newest first" {
    n=$(cname)
    dk create --name "$n-1" "$IMG" true >/dev/null
    dk create --name "$n-2" "$IMG" true >/dev/null
    dk create --name "$n-3" "$IMG" true >/dev/null
    [ "$(dk ps -n 2 --format '{{.Names}}' | tr '\n' ' ')" = "$n-3 $n-2 " ]
    [ "$(dk ps -l --format '{{.Names}}')" = "$n-3" ]
    [ "$(api '/containers/json?limit=1' | jq -r '.[0].Names[0]')" = "/$n-3" ]
}

@test "ps -s: the writable layer's size from the overlay, and the virtual size" {
    n=$(cname)
    dk run -d --name "$n" "$IMG" sleep 1000 >/dev/null
    dk exec "$n" sh -c 'head -c 100000 /dev/zero >/big'
    run dk ps -s --filter "name=$n" --format '{{.Size}}'
    [[ "$output" == "100kB (virtual "*MB")" ]]
    json=$(api "/containers/json?size=1&filters=%7B%22name%22%3A%5B%22$n%22%5D%7D")
    [ "$(jq '.[0].SizeRw' <<<"$json")" -eq 100000 ]
    image_size=$(dk image inspect -f '{{.Size}}' "$IMG")
    [ "$(jq '.[0].SizeRootFs' <<<"$json")" -eq $((100000 + image_size)) ]
    # without size=1 the fields are absent, as in dockerd
    [ "$(api "/containers/json?filters=%7B%22name%22%3A%5B%22$n%22%5D%7D" | jq '.[0] | has("SizeRw")')" = false ]
}

@test "summary shapes: Mounts of binds, NetworkSettings, Ports, Labels" {
    n=$(cname)
    mkdir -p "$DD/host-$n"
    dk run -d --name "$n" -l k=v -v "$DD/host-$n:/data:ro" "$IMG" sleep 1000 >/dev/null
    s=$(api "/containers/json?filters=%7B%22name%22%3A%5B%22$n%22%5D%7D" | jq -c '.[0]')
    [ "$(jq -c .Mounts <<<"$s")" = "[{\"Type\":\"bind\",\"Source\":\"$DD/host-$n\",\"Destination\":\"/data\",\"Mode\":\"ro\",\"RW\":false,\"Propagation\":\"rprivate\"}]" ]
    [ "$(jq -c .Ports <<<"$s")" = "[]" ]
    [ "$(jq -r .HostConfig.NetworkMode <<<"$s")" = bridge ]
    [ "$(jq -r '.NetworkSettings.Networks | keys[0]' <<<"$s")" = bridge ]
    [ "$(jq -r .NetworkSettings.Networks.bridge.IPAddress <<<"$s")" = "$(dk inspect -f '{{.NetworkSettings.IPAddress}}' "$n")" ]
    [ -n "$(jq -r .NetworkSettings.Networks.bridge.IPAddress <<<"$s")" ]
    [ "$(jq -S -c .Labels <<<"$s")" = '{"from":"image","k":"v","tier":"image"}' ]
    [ "$(jq -r .Names[0] <<<"$s")" = "/$n" ]
    # inspect carries the same mount point
    [ "$(dk inspect -f '{{json .Mounts}}' "$n")" = "$(jq -c .Mounts <<<"$s")" ]
    [ "$(dk ps -a --filter "volume=/data" --filter "name=$n" --format '{{.Names}}')" = "$n" ]
}

@test "docker import: a file, gzip, stdin, changes and message" {
    run dk import -c 'CMD ["/bin/echo", "imported"]' -c 'ENV A=1' -c 'LABEL l=v' -m 'from a test' \
        "$DD/rootfs.tar" localhost/dl-imp:1
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^sha256:[0-9a-f]{64}$ ]]
    [ "$output" = "$(dk image inspect -f '{{.Id}}' localhost/dl-imp:1)" ]
    [ "$(dk image inspect -f '{{json .Config.Cmd}} {{index .Config.Labels "l"}}' localhost/dl-imp:1)" = '["/bin/echo","imported"] v' ]
    [ "$(dk history --format '{{.Comment}}' localhost/dl-imp:1)" = "from a test" ]
    [ "$(dk run --rm localhost/dl-imp:1)" = imported ]
    gzip -c "$DD/rootfs.tar" >"$DD/rootfs.tgz"
    run dk import "$DD/rootfs.tgz" localhost/dl-imp:gz
    [ "$status" -eq 0 ]
    [ "$(dk run --rm localhost/dl-imp:gz cat /etc/group | head -1)" = "root:x:0:" ]
    [ "$(dk history --format '{{.Comment}}' localhost/dl-imp:gz)" = "Imported from -" ]
    run dk import - <"$DD/rootfs.tar"
    [ "$status" -eq 0 ]
    dangling=$output
    [ "$(dk image inspect -f '{{len .RepoTags}}' "$dangling")" = 0 ]
    dk rmi "$dangling" localhost/dl-imp:1 localhost/dl-imp:gz >/dev/null
}

@test "docker import refuses bad input and stores nothing" {
    before=$(dk images -aq | wc -l)
    run dk import -c 'FROBNICATE x' "$DD/rootfs.tar" localhost/dl-bad:1
    [ "$status" -eq 1 ]
    [[ "$output" == "Error response from daemon: "*FROBNICATE* ]]
    head -c 3000 "$DD/rootfs.tar" >"$DD/cut.tar"
    run dk import "$DD/cut.tar" localhost/dl-bad:2
    [ "$status" -eq 1 ]
    [[ "$output" == "Error response from daemon: "* ]]
    [ "$(dk images -aq | wc -l)" = "$before" ]
    [ "$(api '/images/create?fromSrc=http://127.0.0.1:1/x.tar' -X POST -o /dev/null -w '%{http_code}')" = 400 ]
}

@test "docker system df: image, container and layer sizes" {
    n=$(cname)
    dk run -d --name "$n" "$IMG" sh -c 'head -c 250000 /dev/zero >/f; sleep 1000' >/dev/null
    for _ in $(seq 50); do [ "$(api /system/df | jq "[.Containers[] | select(.Names[0] == \"/$n\") | .SizeRw][0]")" = 250000 ] && break; sleep 0.1; done
    run dk system df
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" =~ ^TYPE\ +TOTAL\ +ACTIVE\ +SIZE\ +RECLAIMABLE$ ]]
    [[ "${lines[1]}" =~ ^Images\ +[0-9]+\ +[1-9][0-9]*\ +[0-9.]+[kM]B\ + ]]
    [[ "${lines[2]}" =~ ^Containers\ +[0-9]+\ +[1-9][0-9]*\ +[0-9.]+kB\ + ]]
    [[ "${lines[3]}" =~ ^Local\ Volumes\ +0\ +0\ +0B\ +0B$ ]]
    [[ "${lines[4]}" =~ ^Build\ Cache\ +0\ +0\ +0B\ +0B$ ]]
    df=$(api /system/df)
    [ "$(jq -r "[.Images[] | select(.RepoTags[0] == \"$IMG\") | .Containers][0]" <<<"$df")" -ge 1 ]
    [ "$(jq '.LayersSize > 0' <<<"$df")" = true ]
    [ "$(jq -c '[.Volumes, .BuildCache]' <<<"$df")" = '[[],[]]' ]
    [ "$(jq "[.Containers[] | select(.Names[0] == \"/$n\") | .SizeRw][0]" <<<"$df")" -eq 250000 ]
    run dk system df -v
    [ "$status" -eq 0 ]
    [[ "$output" == *"Images space usage:"* ]]
    [[ "$output" == *"$n"* ]]
    # type= narrows the answer
    [ "$(api '/system/df?type=image' | jq -c '[.Containers, (.Images | length > 0)]')" = '[null,true]' ]
}

@test "docker image prune: dangling by default, -a spares images containers use, until and label filters" {
    dk import "$DD/rootfs.tar" >/dev/null # dangling
    dk import -c 'LABEL keep=yes' "$DD/rootfs.tar" localhost/dl-keep:1 >/dev/null
    dk import -c 'LABEL keep=no' "$DD/rootfs.tar" localhost/dl-drop:1 >/dev/null
    dk import "$DD/rootfs.tar" localhost/dl-used:1 >/dev/null
    n=$(cname)
    dk create --name "$n" localhost/dl-used:1 true >/dev/null
    run dk image prune -f
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "Deleted Images:" ]
    [[ "${lines[1]}" =~ ^deleted:\ sha256:[0-9a-f]{64}$ ]]
    [[ "${lines[-1]}" == "Total reclaimed space: "* ]]
    [ "$(api /images/json | jq '[.[] | select(.RepoTags | length == 0)] | length')" = 0 ]
    dk image inspect localhost/dl-keep:1 >/dev/null
    # until in the past matches nothing
    run dk image prune -a -f --filter until=2000-01-01T00:00:00Z
    [ "$output" = "Total reclaimed space: 0B" ]
    run dk image prune -a -f --filter label=keep=no
    [[ "$output" == *"untagged: localhost/dl-drop:1"* ]]
    dk image inspect localhost/dl-keep:1 >/dev/null
    run dk image prune -a -f --filter 'label!=keep=yes'
    [[ "$output" != *"dl-keep"* ]]
    [[ "$output" != *"dl-used"* ]]
    dk image inspect localhost/dl-keep:1 >/dev/null
    dk image inspect localhost/dl-used:1 >/dev/null # a container uses it
    dk image inspect "$IMG" >/dev/null
    run dk image prune -f --filter bogus=1
    [ "$status" -eq 1 ]
    [ "$output" = "Error response from daemon: invalid filter 'bogus'" ]
    run dk image prune -f --filter until=someday
    [ "$output" = 'Error response from daemon: failed to parse value as time or duration: "someday"' ]
    dk rm "$n" >/dev/null
    dk rmi localhost/dl-keep:1 localhost/dl-used:1 >/dev/null
}

@test "docker system prune -f: stopped containers and dangling images go" {
    code=$(api /containers/prune -X POST -o /dev/null -w '%{http_code}')
    [ "$code" = 200 ] || skip "POST /containers/prune is not in this build (it answers $code)"
    n=$(cname)
    dk run --name "$n-stopped" "$IMG" true
    dk run -d --name "$n-running" "$IMG" sleep 1000 >/dev/null
    dk import "$DD/rootfs.tar" >/dev/null
    run dk system prune -f
    [ "$status" -eq 0 ]
    [[ "$output" == *"Deleted Containers:"* ]]
    [[ "$output" == *"Deleted Images:"* ]]
    [[ "${lines[-1]}" == "Total reclaimed space: "* ]]
    run dk inspect "$n-stopped"
    [ "$status" -ne 0 ]
    dk inspect "$n-running" >/dev/null
    dk image inspect "$IMG" >/dev/null
}

@test "users by name: passwd and group of the container, supplementary groups, GroupAdd" {
    [ "$(dk run --rm -u nobody "$IMG" id)" = "uid=65534(nobody) gid=65534(nogroup) groups=50(staff),65534(nogroup)" ]
    [ "$(dk run --rm -u nobody:nogroup "$IMG" id)" = "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)" ]
    [ "$(dk run --rm -u 1000:users "$IMG" id)" = "uid=1000 gid=100(users) groups=100(users)" ]
    [ "$(dk run --rm -u 1000 "$IMG" id)" = "uid=1000 gid=0(root) groups=0(root)" ]
    [ "$(dk run --rm -u 65534 "$IMG" id -G)" = "65534 50" ]
    [ "$(dk run --rm -u 1000 --group-add staff "$IMG" id -G)" = "0 50" ]
    [ "$(dk run --rm "$IMG" sh -c 'echo $HOME')" = /root ]
    run dk run --rm -u nosuchuser "$IMG" id
    [ "$status" -eq 125 ]
    [[ "$output" == *"Error response from daemon: unable to find user nosuchuser: no matching entries in passwd file"* ]]
    run dk run --rm -u nobody:nosuchgroup "$IMG" id
    [ "$status" -eq 125 ]
    [[ "$output" == *"unable to find group nosuchgroup: no matching entries in group file"* ]]
    # an image's USER by name
    dk import -c 'USER nobody' "$DD/rootfs.tar" localhost/dl-user:1 >/dev/null
    [ "$(dk run --rm localhost/dl-user:1 id -u)" = 65534 ]
    dk rmi localhost/dl-user:1 >/dev/null
}

@test "users: an image's /etc/passwd link cannot reach the host's files" {
    esc="/tmp/wharf-escape-$$-$RANDOM"
    mkdir -p "$esc"
    echo "escapee:x:4242:4242::/:/bin/sh" >"$esc/passwd"
    cp -a "$DD/rootfs" "$DD/evil"
    rm "$DD/evil/etc/passwd"
    ln -s "../../../../../../../..$esc/passwd" "$DD/evil/etc/passwd"
    tar -C "$DD/evil" -cf "$DD/evil.tar" .
    dk import -c 'CMD ["sh"]' "$DD/evil.tar" localhost/dl-evil:1 >/dev/null
    run dk run --rm -u escapee localhost/dl-evil:1 id -u
    rm -rf "$esc" "$DD/evil" "$DD/evil.tar"
    [ "$status" -eq 125 ]
    [[ "$output" == *"unable to find user escapee: no matching entries in passwd file"* ]]
    dk rmi localhost/dl-evil:1 >/dev/null
}

@test "create fields: ulimits, sysctls, OOM score, cpuset, shm size, tmpfs, hostname and domain name" {
    run dk run --rm --ulimit nofile=1024:2048 --ulimit nproc=300 --sysctl net.ipv4.ip_forward=1 \
        --oom-score-adj 300 --cpuset-cpus 0 --shm-size 8m --tmpfs /scratch:size=1m,mode=1700 \
        -h inner --domainname example.test "$IMG" sh -c \
        'ulimit -n; ulimit -Hn; ulimit -u; cat /proc/sys/net/ipv4/ip_forward /proc/self/oom_score_adj;
         grep Cpus_allowed_list /proc/self/status; grep " /dev/shm " /proc/mounts;
         grep " /scratch " /proc/mounts; hostname; cat /proc/sys/kernel/domainname'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 1024 ]
    [ "${lines[1]}" = 2048 ]
    [ "${lines[2]}" = 300 ]
    [ "${lines[3]}" = 1 ]
    [ "${lines[4]}" = 300 ]
    [[ "${lines[5]}" =~ Cpus_allowed_list:[[:space:]]+0$ ]]
    [[ "${lines[6]}" == *"size=8192k"* ]]
    [[ "${lines[7]}" == *"nosuid,nodev,noexec"*"size=1024k"*"mode=1700"* ]]
    [ "${lines[8]}" = inner ]
    [ "${lines[9]}" = example.test ]
    run dk run --rm --cpuset-cpus 0-999 "$IMG" true
    [ "$status" -eq 125 ]
    [[ "$output" == *"Requested CPUs are not available - requested 0-999, available: "* ]]
    run dk run --rm --oom-score-adj 5000 "$IMG" true
    [[ "$output" == *"Invalid value 5000, range for oom score adj is [-1000, 1000]"* ]]
    run dk run --rm --tmpfs /x:bogus "$IMG" true
    [[ "$output" == *'invalid tmpfs option "bogus"'* ]]
}

@test "host-path binds: ro and rw, a missing source is created, bad specs refused" {
    n=$(cname)
    mkdir -p "$DD/share-$n"
    echo from-host >"$DD/share-$n/f"
    run dk run --rm -v "$DD/share-$n:/data:ro" "$IMG" sh -c 'cat /data/f; touch /data/g'
    [ "$status" -ne 0 ]
    [ "${lines[0]}" = from-host ]
    [[ "$output" == *"Read-only file system"* ]]
    dk run --rm -v "$DD/share-$n:/data" "$IMG" sh -c 'echo from-ctr >/data/g'
    [ "$(cat "$DD/share-$n/g")" = from-ctr ]
    dk run --rm -v "$DD/new-$n/deep:/made" "$IMG" true
    [ -d "$DD/new-$n/deep" ]
    run dk run --rm -v "$DD/share-$n:/data:bogus" "$IMG" true
    [ "$status" -eq 125 ]
    [[ "$output" == *"invalid mode: bogus"* ]]
    run dk run --rm -v "$DD/share-$n:relative" "$IMG" true
    [[ "$output" == *"mount path must be absolute"* ]]
    run dk run --rm -v "$DD/share-$n:/d" -v "$DD/new-$n:/d" "$IMG" true
    [[ "$output" == *"Duplicate mount point: /d"* ]]
    # a source that is not a path names a volume (daemon_volumes.bats has more)
    run dk run --rm -v "dl-named-$n:/data" "$IMG" true
    [ "$status" -eq 0 ]
    [ ! -e "dl-named-$n" ]
    dk volume rm "dl-named-$n" >/dev/null
}

@test "env files, labels merged with the image's, working directory created, no-new-privileges" {
    printf '# a comment\nFROM_FILE=1\n  SPACED=two words\nPASSED\n' >"$DD/env.list"
    run env PASSED=through docker -H "unix://$DD/wharf.sock" run --rm --env-file "$DD/env.list" \
        -e LATER=2 -w /made/for/you "$IMG" sh -c 'echo $FROM_FILE $SPACED $PASSED $LATER; pwd; ls -ld /made/for/you'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "1 two words through 2" ]
    [ "${lines[1]}" = /made/for/you ]
    [[ "${lines[2]}" == "drwxr-xr-x "*" root "*" root "* ]]
    n=$(cname)
    dk create --name "$n" -l tier=cli "$IMG" true >/dev/null
    [ "$(dk inspect -f '{{json .Config.Labels}}' "$n")" = '{"from":"image","tier":"cli"}' ]
    [ "$(dk run --rm --security-opt no-new-privileges "$IMG" grep NoNewPrivs /proc/self/status)" = "NoNewPrivs:	1" ]
    [ "$(dk run --rm --security-opt no-new-privileges=false "$IMG" grep NoNewPrivs /proc/self/status)" = "NoNewPrivs:	0" ]
    run dk run --rm --security-opt seccomp=/no/such/profile.json "$IMG" true
    [ "$status" -eq 125 ]
    run dk run --rm -w relative/dir "$IMG" true
    [[ "$output" == *"the working directory 'relative/dir' is invalid, it needs to be an absolute path"* ]]
    run dk run --rm -w /etc/passwd "$IMG" true
    [[ "$output" == *"Cannot mkdir: /etc/passwd is not a directory"* ]]
}

@test "restart policies are kept for inspect and checked like dockerd" {
    n=$(cname)
    dk create --name "$n" --restart on-failure:5 "$IMG" true >/dev/null
    [ "$(dk inspect -f '{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}' "$n")" = "on-failure 5" ]
    run dk create --restart sometimes "$IMG" true
    [ "$status" -ne 0 ]
    [[ "$output" == *"invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"* ]]
    run dk create --restart always:3 "$IMG" true
    [[ "$output" == *"maximum retry count can only be used with 'on-failure'"* ]]
    body='{"Image":"'$IMG'","HostConfig":{"AutoRemove":true,"RestartPolicy":{"Name":"always"}}}'
    run api /containers/create -X POST -H 'Content-Type: application/json' -d "$body"
    [ "$output" = '{"message":"can'"'"'t create '"'"'AutoRemove'"'"' container with restart policy"}' ]
}
