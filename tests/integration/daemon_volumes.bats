#!/usr/bin/env bats
# Volumes through the real docker CLI (28.x) against a private wharf daemon:
# named and anonymous volumes, :ro, copy-up of the image's content, --mount,
# rm -v, volumes in use, prune, df, events, and bad input that must leave
# nothing behind. The image (made with podman, no network) has VOLUME /data
# and a file in /data owned by 1000:1000.

load helpers

setup_file() {
    command -v docker >/dev/null || skip "the docker CLI is not installed"
    export DD
    DD=$(mktemp -d /tmp/wharf-dvol.XXXXXX)
    make_rootfs "$DD/rootfs"
    mkdir -p "$DD/rootfs/data/sub"
    echo hello >"$DD/rootfs/data/greeting"
    echo deep >"$DD/rootfs/data/sub/inner"
    chown -R 1000:1000 "$DD/rootfs/data"
    chmod 0750 "$DD/rootfs/data"
    mkdir -p "$DD/rootfs/plain" && echo img >"$DD/rootfs/plain/file"
    echo notadir >"$DD/rootfs/afile"
    tar -C "$DD/rootfs" -cf "$DD/rootfs.tar" .
    local pm="podman --root $DD/pm-storage --runroot $DD/pm-run --storage-driver overlay"
    $pm import --change 'CMD ["sh"]' --change 'VOLUME /data' "$DD/rootfs.tar" \
        localhost/wharf-vol:1 >/dev/null
    $pm import --change 'CMD ["sh"]' --change 'VOLUME /afile' "$DD/rootfs.tar" \
        localhost/wharf-volfile:1 >/dev/null
    $pm save -o "$DD/img.tar" localhost/wharf-vol:1 2>/dev/null
    $pm save -o "$DD/img2.tar" localhost/wharf-volfile:1 2>/dev/null
    $pm rmi -af >/dev/null 2>&1 || true
    umount_under "$DD"
    rm -rf "$DD/pm-storage" "$DD/pm-run" "$DD/rootfs"
    daemon_start
    dk load -i "$DD/img.tar" >/dev/null
    dk load -i "$DD/img2.tar" >/dev/null
}

teardown_file() {
    daemon_teardown
}

teardown() {
    # each test leaves no container and no volume behind
    dk ps -aq | xargs -r docker -H "unix://$DD/wharf.sock" rm -fv >/dev/null 2>&1 || true
    dk volume ls -q | xargs -r docker -H "unix://$DD/wharf.sock" volume rm -f >/dev/null 2>&1 || true
}

IMG=localhost/wharf-vol:1

@test "volume create, ls, inspect and rm" {
    run dk volume create --label team=db --label tier vdata
    [ "$status" -eq 0 ]
    [ "$output" = vdata ]
    run dk volume inspect vdata
    [ "$status" -eq 0 ]
    [ "$(jq -r '.[0].Driver' <<<"$output")" = local ]
    [ "$(jq -r '.[0].Scope' <<<"$output")" = local ]
    [ "$(jq -r '.[0].Name' <<<"$output")" = vdata ]
    [ "$(jq -r '.[0].Mountpoint' <<<"$output")" = "$DD/root/volumes/vdata/_data" ]
    [ "$(jq -c '.[0].Labels' <<<"$output")" = '{"team":"db","tier":""}' ]
    [ "$(jq -c '.[0].Options' <<<"$output")" = null ]
    [[ "$(jq -r '.[0].CreatedAt' <<<"$output")" =~ ^20[0-9-]+T[0-9:]+(Z|[+-][0-9:]+)$ ]]
    [ -d "$DD/root/volumes/vdata/_data" ]
    # the record on disk
    [ "$(jq -r '.driver, .anonymous' "$DD/root/volumes/vdata/volume.json" | tr '\n' ' ')" = "local false " ]
    dk volume create other >/dev/null
    run dk volume ls
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "DRIVER    VOLUME NAME" ]
    [ "${lines[1]}" = "local     other" ]
    [ "${lines[2]}" = "local     vdata" ]
    run dk volume ls -q --filter label=team=db
    [ "$output" = vdata ]
    run dk volume ls -q --filter name=oth
    [ "$output" = other ]
    run dk volume ls -q --filter driver=local
    [ "${#lines[@]}" -eq 2 ]
    run dk volume ls -q --filter driver=nfs
    [ -z "$output" ]
    # creating it again returns the same volume
    run dk volume create vdata
    [ "$status" -eq 0 ]
    [ "$(dk volume inspect -f '{{.Labels.team}}' vdata)" = db ]
    run dk volume rm vdata other
    [ "$status" -eq 0 ]
    [ "$output" = $'vdata\nother' ]
    [ ! -e "$DD/root/volumes/vdata" ]
    run dk volume inspect vdata
    [ "$status" -eq 1 ]
    [[ "$output" == *"Error response from daemon: get vdata: no such volume"* ]]
    run dk volume rm vdata
    [ "$status" -eq 1 ]
    [ "$output" = "Error response from daemon: get vdata: no such volume" ]
    # -f: a missing volume is not an error
    run dk volume rm -f vdata
    [ "$status" -eq 0 ]
}

@test "an anonymous volume from the API: 64 hex digits and the anonymous label" {
    run dk volume create
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^[0-9a-f]{64}$ ]]
    [ "$(dk volume inspect -f '{{json .Labels}}' "$output")" = '{"com.docker.volume.anonymous":""}' ]
}

@test "data persists across containers in a named volume, which outlives them" {
    dk run --name w1 -v keep:/store "$IMG" sh -c 'echo persisted > /store/f' >/dev/null
    dk rm -v w1 >/dev/null
    run dk volume ls -q
    [ "$output" = keep ]
    run dk run --rm -v keep:/elsewhere "$IMG" cat /elsewhere/f
    [ "$status" -eq 0 ]
    [ "$output" = persisted ]
    [ "$(cat "$DD/root/volumes/keep/_data/f")" = persisted ]
}

@test ":ro refuses writes; the volume stays writable elsewhere" {
    dk volume create rov >/dev/null
    run dk run --rm -v rov:/ro:ro "$IMG" sh -c 'echo x > /ro/f'
    [ "$status" -ne 0 ]
    [[ "$output" == *"Read-only file system"* ]]
    [ ! -e "$DD/root/volumes/rov/_data/f" ]
    run dk run --rm --mount type=volume,src=rov,dst=/ro,readonly "$IMG" touch /ro/g
    [ "$status" -ne 0 ]
    [[ "$output" == *"Read-only file system"* ]]
    run dk run --rm -v rov:/rw "$IMG" sh -c 'echo y > /rw/f && cat /rw/f'
    [ "$status" -eq 0 ]
    [ "$output" = y ]
    # a read-only host bind too
    mkdir -p "$DD/hostdir"
    run dk run --rm -v "$DD/hostdir:/h:ro" "$IMG" touch /h/z
    [ "$status" -ne 0 ]
    [ ! -e "$DD/hostdir/z" ]
}

@test "a new named volume is filled from the image, with owners and modes, once" {
    run dk run --rm -v fresh:/data "$IMG" sh -c 'cat /data/greeting /data/sub/inner; stat -c "%u:%g %a" /data /data/greeting'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = hello ]
    [ "${lines[1]}" = deep ]
    [ "${lines[2]}" = "1000:1000 750" ]
    [ "${lines[3]}" = "1000:1000 644" ]
    [ "$(stat -c %u:%g "$DD/root/volumes/fresh/_data/greeting")" = 1000:1000 ]
    # not empty any more: what the container changed stays
    dk run --rm -v fresh:/data "$IMG" sh -c 'echo changed > /data/greeting; rm /data/sub/inner'
    run dk run --rm -v fresh:/data "$IMG" sh -c 'cat /data/greeting; ls /data/sub'
    [ "$output" = changed ]
    # used first where the image has nothing, it stayed empty: filled now
    dk run --rm -v other:/other "$IMG" true
    run dk run --rm -v other:/data "$IMG" ls -A /data
    [ "$status" -eq 0 ]
    [ "$output" = $'greeting\nsub' ]
    # nocopy: an empty volume
    run dk run --rm -v bare:/data:nocopy "$IMG" ls -A /data
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    run dk run --rm --mount type=volume,src=bare2,dst=/data,volume-nocopy "$IMG" ls -A /data
    [ -z "$output" ]
}

@test "the image's VOLUME gets an anonymous volume, filled from the image" {
    id=$(dk create "$IMG" cat /data/greeting)
    run dk inspect -f '{{json .Mounts}}' "$id"
    [ "$status" -eq 0 ]
    name=$(jq -r '.[0].Name' <<<"$output")
    [[ "$name" =~ ^[0-9a-f]{64}$ ]]
    [ "$(jq -c '.[0] | [.Type, .Source, .Destination, .Driver, .Mode, .RW, .Propagation]' <<<"$output")" = \
        "[\"volume\",\"$DD/root/volumes/$name/_data\",\"/data\",\"local\",\"\",true,\"\"]" ]
    [ "$(dk inspect -f '{{json .Config.Volumes}}' "$id")" = '{"/data":{}}' ]
    [ "$(dk volume inspect -f '{{json .Labels}}' "$name")" = '{"com.docker.volume.anonymous":""}' ]
    run dk start -a "$id"
    [ "$output" = hello ]
    # docker ps --filter volume=
    [ "$(dk ps -aq --no-trunc --filter volume="$name")" = "$id" ]
    [ "$(dk ps -aq --no-trunc --filter volume=/data)" = "$id" ]
    [ -z "$(dk ps -aq --filter volume=nosuch)" ]
    # a named volume over the same path replaces the anonymous one
    id2=$(dk create -v named:/data "$IMG" true)
    [ "$(dk inspect -f '{{range .Mounts}}{{.Name}} {{.Mode}}{{end}}' "$id2")" = "named z" ]
    # a tmpfs there: no volume either
    id3=$(dk create --tmpfs /data "$IMG" true)
    [ "$(dk inspect -f '{{len .Mounts}}' "$id3")" = 0 ]
}

@test "rm keeps anonymous volumes, rm -v and run --rm remove them; named ones stay" {
    id=$(dk run -d -v /scratch -v named1:/n "$IMG" sleep 100)
    anon=$(dk inspect -f '{{range .Mounts}}{{if eq .Destination "/scratch"}}{{.Name}}{{end}}{{end}}' "$id")
    img=$(dk inspect -f '{{range .Mounts}}{{if eq .Destination "/data"}}{{.Name}}{{end}}{{end}}' "$id")
    [[ "$anon" =~ ^[0-9a-f]{64}$ ]] && [[ "$img" =~ ^[0-9a-f]{64}$ ]]
    dk rm -f "$id" >/dev/null
    run dk volume ls -q
    [[ "$output" == *"$anon"* && "$output" == *"$img"* && "$output" == *named1* ]]
    dk volume rm "$anon" "$img" >/dev/null
    id=$(dk run -d -v /scratch -v named1:/n "$IMG" sleep 100)
    anon=$(dk inspect -f '{{range .Mounts}}{{if eq .Destination "/scratch"}}{{.Name}}{{end}}{{end}}' "$id")
    dk rm -fv "$id" >/dev/null
    run dk volume ls -q
    [ "$output" = named1 ]
    [ ! -e "$DD/root/volumes/$anon" ]
    # docker run --rm: the anonymous volumes go with the container
    run dk run --rm -v /scratch "$IMG" sh -c 'echo x > /scratch/f'
    [ "$status" -eq 0 ]
    run dk volume ls -q
    [ "$output" = named1 ]
}

@test "a volume in use cannot be removed, even with -f" {
    id=$(dk create -v busy:/b "$IMG" true)
    run dk volume rm busy
    [ "$status" -eq 1 ]
    [ "$output" = "Error response from daemon: remove busy: volume is in use - [$id]" ]
    run dk volume rm -f busy
    [ "$status" -eq 1 ]
    [[ "$output" == *"volume is in use"* ]]
    run curl -s --unix-socket "$DD/wharf.sock" -o /dev/null -w '%{http_code}' -X DELETE http://wharf/volumes/busy
    [ "$output" = 409 ]
    # dangling: not used by any container
    dk volume create idle >/dev/null
    [ "$(dk volume ls -q --filter dangling=true | grep -v '^[0-9a-f]\{64\}$')" = idle ]
    [ "$(dk volume ls -q --filter dangling=false | grep -v '^[0-9a-f]\{64\}$')" = busy ]
    dk rm "$id" >/dev/null
    run dk volume rm busy
    [ "$status" -eq 0 ]
}

@test "volume prune: anonymous unused volumes by default, all with -a; labels filter" {
    id=$(dk create -v usedname:/u -v /usedanon "$IMG" true)
    dk volume create named-idle >/dev/null
    dk volume create --label keep=yes named-kept >/dev/null
    anon=$(dk volume create)
    run dk volume prune -f
    [ "$status" -eq 0 ]
    [[ "$output" == *"Deleted Volumes:"*"$anon"* ]]
    [[ "$output" == *"Total reclaimed space:"* ]]
    run dk volume ls -q
    [[ "$output" != *"$anon"* ]]
    [[ "$output" == *named-idle* && "$output" == *usedname* ]]
    [ "$(dk volume ls -q | wc -l)" -eq 5 ] # usedname, /usedanon, /data, named-idle, named-kept
    run dk volume prune -a -f --filter 'label!=keep'
    [ "$status" -eq 0 ]
    [[ "$output" == *named-idle* ]]
    [[ "$output" != *named-kept* ]]
    run dk volume ls -q
    [[ "$output" == *named-kept* && "$output" == *usedname* ]]
    # in use: never pruned
    [ "$(dk volume ls -q | wc -l)" -eq 4 ]
    # API versions before 1.42 prune every unused volume
    dk volume create old-api >/dev/null
    run curl -s --unix-socket "$DD/wharf.sock" -X POST http://wharf/v1.41/volumes/prune
    [ "$(jq -c '.VolumesDeleted | sort' <<<"$output")" = '["named-kept","old-api"]' ]
    [ "$(dk volume ls -q | wc -l)" -eq 3 ]
    dk rm -v "$id" >/dev/null
    [ "$(dk volume ls -q)" = usedname ]
}

@test "--mount: volume, bind and tmpfs, shown by inspect like dockerd" {
    mkdir -p "$DD/bindsrc" && echo onhost >"$DD/bindsrc/f"
    id=$(dk create \
        --mount type=volume,source=mv,target=/mv,volume-label=origin=mount \
        --mount "type=bind,source=$DD/bindsrc,target=/b,readonly" \
        --mount type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770 \
        "$IMG" sh -c 'cat /b/f; touch /b/x 2>/dev/null || echo ro; grep " /t " /proc/mounts; echo m > /mv/m')
    run dk inspect -f '{{json .Mounts}}' "$id"
    [ "$(jq -c '.[] | select(.Destination == "/mv") | [.Type, .Name, .Driver, .Mode, .RW]' <<<"$output")" = '["volume","mv","local","z",true]' ]
    [ "$(jq -c '.[] | select(.Destination == "/b") | [.Type, .Source, .Mode, .RW, .Propagation]' <<<"$output")" = "[\"bind\",\"$DD/bindsrc\",\"\",false,\"rprivate\"]" ]
    [ "$(jq -c '.[] | select(.Destination == "/t") | [.Type, .Source, .RW]' <<<"$output")" = '["tmpfs","",true]' ]
    [ "$(dk inspect -f '{{len .HostConfig.Mounts}}' "$id")" = 3 ]
    [ "$(dk volume inspect -f '{{.Labels.origin}}' mv)" = mount ]
    run dk start -a "$id"
    [ "${lines[0]}" = onhost ]
    [ "${lines[1]}" = ro ]
    [[ "${lines[2]}" == *"tmpfs /t tmpfs"*"size=1024k"*"mode=1770"* ]]
    [ "$(cat "$DD/root/volumes/mv/_data/m")" = m ]
}

@test "--volumes-from shares another container's volumes and binds, ro when asked" {
    mkdir -p "$DD/fromhost"
    src=$(dk create --name vsrc -v shared-vol:/sv -v "$DD/fromhost:/fh" "$IMG" true)
    run dk run --rm --volumes-from vsrc "$IMG" sh -c 'cat /data/greeting; echo w > /sv/f; echo h > /fh/f'
    [ "$status" -eq 0 ]
    [ "$output" = hello ] # the source's anonymous /data, filled when it was made
    [ "$(cat "$DD/root/volumes/shared-vol/_data/f")" = w ]
    [ "$(cat "$DD/fromhost/f")" = h ]
    run dk run --rm --volumes-from vsrc:ro "$IMG" sh -c 'cat /sv/f; touch /sv/g'
    [ "$status" -ne 0 ]
    [[ "$output" == w*"Read-only file system"* ]]
    id=$(dk create --volumes-from vsrc -v other-vol:/sv "$IMG" true)
    run dk inspect -f '{{range .Mounts}}{{.Destination}}={{.Type}}:{{.Name}}{{.Source}}:{{.RW}} {{end}}' "$id"
    [[ "$output" == *"/sv=volume:other-vol"* ]]
    [[ "$output" == *"/fh=bind:$DD/fromhost:true"* ]]
    # the shared volume is in use by both
    dk rm "$id" >/dev/null
    id=$(dk create --volumes-from vsrc "$IMG" true)
    run dk volume rm shared-vol
    [[ "$output" == *"volume is in use"*"$src"* && "$output" == *"$id"* ]]
    run dk run --rm --volumes-from nosuch "$IMG" true
    [ "$status" -eq 125 ]
    [[ "${lines[0]}" == *"No such container: nosuch"* ]]
}

@test "mounts nest in path order: a bind inside a volume" {
    mkdir -p "$DD/inner" && echo in >"$DD/inner/x"
    run dk run --rm -v "$DD/inner:/data/inner" -v nest:/data "$IMG" sh -c 'cat /data/inner/x /data/greeting'
    [ "$status" -eq 0 ]
    [ "$output" = $'in\nhello' ]
}

@test "bad volume names, options and mounts: one-line errors, nothing created" {
    before_c=$(dk ps -aq | wc -l)
    run dk volume create 'bad name'
    [ "$status" -eq 1 ]
    [ "$output" = 'Error response from daemon: create bad name: "bad name" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path' ]
    run dk volume create x
    [ "$status" -eq 1 ]
    [ "$output" = "Error response from daemon: create x: volume name is too short, names should be at least two alphanumeric characters" ]
    run dk volume create -o foo=bar withopt
    [ "$status" -eq 1 ]
    [ "$output" = 'Error response from daemon: create withopt: invalid option: "foo"' ]
    run dk volume create -o size=10m quota
    [ "$status" -eq 1 ]
    [ "$output" = 'Error response from daemon: create quota: quota size requested but no quota support' ]
    run dk volume create -d nfsplugin plug
    [ "$status" -eq 1 ]
    [ "$output" = 'Error response from daemon: error looking up volume plugin nfsplugin: plugin "nfsplugin" not found' ]
    run dk run --rm -v 'bad@name:/x' "$IMG" true
    [ "$status" -eq 125 ]
    [[ "${lines[0]}" == 'docker: Error response from daemon: create bad@name: "bad@name" includes invalid characters'* ]]
    run dk run --rm -v 'good:/x:rshared' "$IMG" true
    [ "$status" -eq 125 ]
    [[ "${lines[0]}" == *"invalid volume specification: 'good:/x:rshared': invalid mount config for type \"volume\": field BindOptions must not be specified"* ]]
    run dk run --rm -v 'good:relative' "$IMG" true
    [ "$status" -eq 125 ]
    [[ "${lines[0]}" == *"invalid mount config for type \"volume\": invalid mount path: 'relative' mount path must be absolute"* ]]
    run dk run --rm --mount type=bind,source=/nonexistent-wharf,target=/x "$IMG" true
    [ "$status" -eq 125 ]
    [[ "${lines[0]}" == *'invalid mount config for type "bind": bind source path does not exist: /nonexistent-wharf'* ]]
    run dk run --rm --mount type=floppy,target=/x "$IMG" true
    [ "$status" -eq 125 ]
    [[ "${lines[0]}" == *'invalid mount config for type "floppy": mount type unknown'* ]]
    run dk run --rm --mount type=volume,target=/x,readonly "$IMG" true
    [ "$status" -eq 125 ]
    [[ "${lines[0]}" == *"must not set ReadOnly mode when using anonymous volumes"* ]]
    run dk run --rm --mount type=volume,src=good2,target=/x,volume-opt=foo=bar "$IMG" true
    [ "$status" -eq 125 ]
    [[ "${lines[0]}" == *'create good2: invalid option: "foo"'* ]]
    run dk run --rm -v va:/same -v vb:/same "$IMG" true
    [ "$status" -eq 125 ]
    [[ "${lines[0]}" == *"Duplicate mount point: /same"* ]]
    # the image's VOLUME over a file: found once the named volume was made,
    # which goes again
    run dk create -v made-first:/x localhost/wharf-volfile:1 true
    [ "$status" -eq 1 ]
    [[ "${lines[0]}" == *"cannot mount volume over existing file, file exists"*"/afile"* ]]
    # nothing was left: no container, no volume, no rootfs
    [ "$(dk ps -aq | wc -l)" -eq "$before_c" ]
    [ -z "$(dk volume ls -q)" ]
    [ -z "$(ls "$DD/root/rootfs" 2>/dev/null)" ]
    [ -z "$(ls -A "$DD/root/volumes")" ]
}

@test "system df counts volumes; events report create and destroy" {
    since=$(date +%s)
    dk volume create dfv >/dev/null
    dk run --rm -v dfv:/d "$IMG" sh -c 'head -c 3000 /dev/zero > /d/f'
    # and the image's /data: an anonymous volume with its 11 bytes
    id=$(dk create -v dfv:/d "$IMG" true)
    run dk system df --format '{{.Type}} {{.TotalCount}} {{.Active}} {{.Size}}'
    [[ "$output" == *"Local Volumes 2 2 3.011kB"* ]]
    run dk system df -v
    [[ "$output" == *$'\ndfv   '*"1         3kB"* ]]
    dk rm -v "$id" >/dev/null
    run dk system df --format '{{.Type}} {{.Active}} {{.Reclaimable}}'
    [[ "$output" == *"Local Volumes 0 3kB (100%)"* ]]
    dk volume rm dfv >/dev/null
    run dk events --since "$since" --until "$(($(date +%s) + 1))" --filter type=volume --filter volume=dfv --format '{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.driver}}'
    [ "${lines[0]}" = "create dfv local" ]
    [ "${lines[${#lines[@]} - 1]}" = "destroy dfv local" ]
}

@test "volumes and who uses them survive a daemon restart" {
    dk volume create survivor >/dev/null
    id=$(dk create -v survivor:/s -v /anon "$IMG" true)
    daemon_stop
    daemon_start
    run dk volume rm survivor
    [ "$status" -eq 1 ]
    [[ "$output" == *"volume is in use - [$id]"* ]]
    [ "$(dk inspect -f '{{len .Mounts}}' "$id")" = 3 ]
    dk rm -v "$id" >/dev/null
    [ "$(dk volume ls -q)" = survivor ]
}
