#!/usr/bin/env bats
# docker commit against a private wharf daemon, through the docker CLI (28.x)
# and the wharf CLI: the container's changes (new, changed and deleted
# files) become a layer over its image, -c changes the config, -m and -a
# land in history and inspect, a running container is paused for it and
# runs on, and bad input is refused before anything is made.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
    command -v docker >/dev/null || skip "the docker CLI is not installed"
    export DD IMG=localhost/wharf-commit:1
    DD=$(mktemp -d /tmp/wharf-commit.XXXXXX)
    make_rootfs "$DD/rootfs"
    echo original >"$DD/rootfs/etc/motd"
    tar -C "$DD/rootfs" -cf "$DD/rootfs.tar" .
    rm -rf "$DD/rootfs"
    daemon_start
    wh import -c 'CMD ["sh"]' -c 'ENV FROM_IMAGE=yes' -c 'LABEL base=1' "$DD/rootfs.tar" "$IMG" >/dev/null
}

teardown_file() {
    daemon_teardown
}

cname() {
    echo "wcm$$-${BATS_TEST_NUMBER}-$RANDOM"
}

@test "docker commit: the container's files, whiteouts included, in a new image" {
    c=$(cname)
    dk run --name "$c" -v /vol $IMG sh -c \
        'echo new >/added; echo changed >/etc/motd; rm /bin/vi; mkdir -p /d/e; echo x >/d/e/f'
    id=$(dk commit "$c" "$c-img:v1")
    [[ "$id" == sha256:* ]]
    [ "$(dk images -q --no-trunc "$c-img:v1")" = "$id" ]
    run dk run --rm "$c-img:v1" sh -c 'cat /added /etc/motd /d/e/f; ls /bin/vi'
    [ "${lines[0]}" = new ]
    [ "${lines[1]}" = changed ]
    [ "${lines[2]}" = x ]
    [[ "$output" == *"/bin/vi: No such file or directory"* ]]
    # the layers: the image's and one more; the runtime's mount points
    # (/etc/hosts, /etc/resolv.conf, ...) are not in it, the volume's is
    [ "$(dk inspect -f '{{len .RootFS.Layers}}' "$c-img:v1")" = 2 ]
    mkdir -p "$DD/save-$c"
    dk save "$c-img:v1" | tar -C "$DD/save-$c" -xf -
    run tar -tf "$DD/save-$c/$(jq -r '.[0].Layers[-1]' "$DD/save-$c/manifest.json")"
    [[ "$output" == *added* && "$output" == *bin/.wh.vi* && "$output" == *vol* ]]
    [[ "$output" != *hosts* && "$output" != *resolv.conf* && "$output" != *hostname* ]]
    rm -rf "$DD/save-$c"
    # the container's config carries over (its environment and labels, the
    # image's command)
    [ "$(dk inspect -f '{{json .Config.Cmd}}' "$c-img:v1")" = '["sh","-c","echo new >/added; echo changed >/etc/motd; rm /bin/vi; mkdir -p /d/e; echo x >/d/e/f"]' ]
    [[ "$(dk inspect -f '{{json .Config.Env}}' "$c-img:v1")" == *FROM_IMAGE=yes* ]]
    [ "$(dk inspect -f '{{.Config.Labels.base}}' "$c-img:v1")" = 1 ]
    dk rm "$c" >/dev/null
    dk rmi "$c-img:v1" >/dev/null
}

@test "docker commit -c -m -a: the config changed, the message and author in history and inspect" {
    c=$(cname)
    dk run --name "$c" -e KEPT=1 $IMG sh -c 'echo hi >/greet'
    dk commit -c 'CMD ["cat", "/greet"]' -c 'ENV ADDED=2' -c 'EXPOSE 8080' -c 'LABEL who=me' \
        -c 'WORKDIR /tmp' -c 'USER nobody' -c 'ONBUILD RUN true' -c 'STOPSIGNAL SIGINT' \
        -m "first commit" -a "Jane <jane@example.com>" "$c" "$c-img" >/dev/null
    [ "$(dk run --rm "$c-img")" = hi ]
    f='{{json .Config.Cmd}}|{{.Config.WorkingDir}}|{{.Config.User}}|{{.Config.StopSignal}}|{{json .Config.ExposedPorts}}|{{.Config.Labels.who}}|{{json .Config.OnBuild}}'
    [ "$(dk inspect -f "$f" "$c-img")" = '["cat","/greet"]|/tmp|nobody|SIGINT|{"8080/tcp":{}}|me|["RUN true"]' ]
    env=$(dk inspect -f '{{json .Config.Env}}' "$c-img")
    [[ "$env" == *KEPT=1* && "$env" == *ADDED=2* && "$env" == *FROM_IMAGE=yes* ]]
    [ "$(dk inspect -f '{{.Author}}|{{.Comment}}' "$c-img")" = "Jane <jane@example.com>|first commit" ]
    run dk history --no-trunc --format '{{.CreatedBy}}|{{.Comment}}' "$c-img"
    [ "${lines[0]}" = "sh -c echo hi >/greet|first commit" ]
    # the same through wharf
    id=$(wh commit -c 'CMD ["echo", "via-wharf"]' -m second "$c" "$c-img:wharf")
    [[ "$id" == sha256:* ]]
    [ "$(dk run --rm "$c-img:wharf")" = via-wharf ]
    [ "$(dk inspect -f '{{.Comment}}' "$c-img:wharf")" = second ]
    dk rm "$c" >/dev/null
    dk rmi "$c-img" "$c-img:wharf" >/dev/null
}

@test "commit of a running container pauses it for the copy; it runs on after" {
    c=$(cname)
    dk run -d --name "$c" $IMG sh -c 'echo live >/state; sleep 1000' >/dev/null
    for _ in $(seq 30); do dk exec "$c" test -f /state && break; sleep 0.1; done
    since=$(date +%s.%N)
    dk commit "$c" "$c-img" >/dev/null
    [ "$(dk inspect -f '{{.State.Status}}' "$c")" = running ]
    [ "$(dk run --rm "$c-img" cat /state)" = live ]
    ev=(--filter "container=$c" --filter event=pause --filter event=unpause --filter event=commit)
    run dk events --since "$since" --until "$(date +%s.%N)" "${ev[@]}" --format '{{.Action}}'
    [ "$(echo "$output" | tr '\n' ' ')" = "pause unpause commit " ]
    # --pause=false: no pause
    since=$(date +%s.%N)
    wh commit --pause=false "$c" "$c-img:2" >/dev/null
    run dk events --since "$since" --until "$(date +%s.%N)" "${ev[@]}" --format '{{.Action}}'
    [ "$output" = commit ]
    dk rm -f "$c" >/dev/null
    dk rmi "$c-img" "$c-img:2" >/dev/null
}

@test "commit: bad input is refused and nothing is made" {
    c=$(cname)
    dk run --name "$c" $IMG true
    before=$(dk images -aq | sort | tr '\n' ' ')
    for cli in dk wh; do
        run $cli commit -c 'FROBNICATE x' "$c" "$c-img"
        [ "$status" -eq 1 ]
        [[ "$output" == *"FROBNICATE is not a valid change command"* ]]
        run $cli commit "$c" 'Bad:Ref!'
        [ "$status" -ne 0 ]
        run $cli commit no-such-container-$c
        [ "$status" -eq 1 ]
        [[ "$output" == *"No such container: no-such-container-$c"* ]]
    done
    run wh commit
    [ "$status" -eq 1 ]
    [[ "$output" == *"requires at least 1 and at most 2 arguments"* ]]
    run wh commit --pause=maybe "$c"
    [ "$status" -eq 125 ]
    [ "$(dk images -aq | sort | tr '\n' ' ')" = "$before" ]
    dk rm "$c" >/dev/null
}
