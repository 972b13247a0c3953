#!/usr/bin/env bats
# Pull, push and login against real distribution registries (Debian's
# docker-registry) on 127.0.0.1, started here with configs of our own: an
# open one, one with htpasswd Basic auth, one with token auth (a token
# service from tests/tools/token_fixture.py) and one serving TLS. Images
# get in with skopeo (and out again); the wharf CLI and the docker CLI drive
# a private wharf daemon, which uses the open registry as a docker.io mirror.

load helpers
bats_require_minimum_version 1.5.0

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_registry NAME PORT [YAML to append]: a registry storing under
# $DD/reg-NAME, its pid in $DD/reg-NAME/pid.
start_registry() {
    local name=$1 port=$2 extra=${3:-} dir=$DD/reg-$1 scheme=http
    mkdir -p "$dir/data"
    cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: wharf-test-secret
$extra
EOF
    [[ "$extra" == *certificate:* ]] && scheme=https
    docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
    echo $! >"$dir/pid"
    for _ in $(seq 100); do
        case $(curl -sk -o /dev/null -w '%{http_code}' "$scheme://127.0.0.1:$port/v2/") in
        200 | 401) return 0 ;;
        esac
        sleep 0.05
    done
    echo "registry $name did not start:" >&2
    cat "$dir/log" >&2
    return 1
}

# make_oci DIR TAG ARCH N: an OCI layout holding one image of N gzip layers
# (each with a random file, so every run's blobs are new) for linux/ARCH.
make_oci() {
    local dir=$1 tag=$2 arch=$3 n=$4 i
    mkdir -p "$dir/blobs/sha256" "$dir/tmp"
    local layers='[]' diffs='[]'
    for i in $(seq "$n"); do
        rm -rf "$dir/tmp/l" && mkdir -p "$dir/tmp/l"
        echo "layer $i of $tag for $arch" >"$dir/tmp/l/file-$i"
        head -c 300000 /dev/urandom >"$dir/tmp/l/random-$i"
        tar --sort=name --mtime=@0 --owner=0 --group=0 -C "$dir/tmp/l" -cf "$dir/tmp/layer.tar" .
        local diff dg size
        diff=$(sha256sum <"$dir/tmp/layer.tar" | cut -d' ' -f1)
        gzip -n -c "$dir/tmp/layer.tar" >"$dir/tmp/layer.tgz"
        dg=$(sha256sum <"$dir/tmp/layer.tgz" | cut -d' ' -f1)
        size=$(stat -c %s "$dir/tmp/layer.tgz")
        mv "$dir/tmp/layer.tgz" "$dir/blobs/sha256/$dg"
        layers=$(jq -c --arg d "sha256:$dg" --argjson s "$size" \
            '. + [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d, size: $s}]' <<<"$layers")
        diffs=$(jq -c --arg d "sha256:$diff" '. + [$d]' <<<"$diffs")
    done
    jq -cn --arg a "$arch" --argjson d "$diffs" \
        '{architecture: $a, os: "linux", config: {Cmd: ["sh"]}, rootfs: {type: "layers", diff_ids: $d}}' \
        >"$dir/tmp/config"
    local cd cs md ms
    cd=$(sha256sum <"$dir/tmp/config" | cut -d' ' -f1)
    cs=$(stat -c %s "$dir/tmp/config")
    mv "$dir/tmp/config" "$dir/blobs/sha256/$cd"
    jq -cn --arg c "sha256:$cd" --argjson s "$cs" --argjson l "$layers" \
        '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
          config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $s},
          layers: $l}' >"$dir/tmp/manifest"
    md=$(sha256sum <"$dir/tmp/manifest" | cut -d' ' -f1)
    ms=$(stat -c %s "$dir/tmp/manifest")
    mv "$dir/tmp/manifest" "$dir/blobs/sha256/$md"
    jq -cn --arg m "sha256:$md" --argjson s "$ms" --arg t "$tag" \
        '{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: $m, size: $s, annotations: {"org.opencontainers.image.ref.name": $t}}]}' >"$dir/index.json"
    echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
    rm -rf "$dir/tmp"
    echo "sha256:$cd" >"$dir/config-digest"
}

# curl_push_layout DIR REPO TAG: the OCI layout's image into the open
# registry as it is (monolithic blob uploads, then the manifest).
curl_push_layout() {
    local dir=$1 repo=$2 tag=$3 f loc m
    for f in "$dir"/blobs/sha256/*; do
        loc=$(curl -sf -X POST -D - -o /dev/null "http://127.0.0.1:$PORT/v2/$repo/blobs/uploads/" |
            tr -d '\r' | awk -F': ' 'tolower($1) == "location" { print $2 }')
        [[ "$loc" == http* ]] || loc="http://127.0.0.1:$PORT$loc"
        curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$f" \
            "$loc&digest=sha256:$(basename "$f")" >/dev/null || return 1
    done
    m=$(jq -r '.manifests[0].digest' "$dir/index.json" | cut -c8-)
    curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
        --data-binary @"$dir/blobs/sha256/$m" "http://127.0.0.1:$PORT/v2/$repo/manifests/$tag" >/dev/null
}

setup_file() {
    command -v docker-registry >/dev/null || skip "docker-registry is not installed"
    command -v skopeo >/dev/null || skip "skopeo is not installed"
    export DD
    DD=$(mktemp -d /tmp/wharf-registry.XXXXXX)
    export WHARF_CONFIG=$DD/wharf-cfg DOCKER_CONFIG=$DD/docker-cfg
    make_rootfs "$DD/rootfs"
    echo "from the registry" >"$DD/rootfs/hello"
    podman_image_tar "$DD/rootfs" "$DD/bb.tar" localhost/wharf-bb:1 'CMD ["sh"]'
    rm -rf "$DD/rootfs"

    export PORT APORT TPORT SPORT
    PORT=$(free_port) APORT=$(free_port) TPORT=$(free_port) SPORT=$(free_port)
    start_registry open "$PORT"
    htpasswd -Bbc "$DD/htpasswd" alice s3cret 2>/dev/null
    start_registry basic "$APORT" "auth:
  htpasswd:
    realm: wharf-test
    path: $DD/htpasswd"
    # the token service and its signing certificate
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$DD/tok.key" -out "$DD/tok.crt" \
        -days 2 -subj /CN=wharf-fixture 2>/dev/null
    python3 "$REPO_DIR/tests/tools/token_fixture.py" "$DD/tok.key" "$DD/tok.crt" wharf-fixture \
        wharf-test alice s3cret >"$DD/fixture.out" 2>"$DD/fixture.err" &
    echo $! >"$DD/fixture.pid"
    for _ in $(seq 100); do grep -q ready "$DD/fixture.out" && break; sleep 0.05; done
    export FPORT
    FPORT=$(awk '{print $2}' "$DD/fixture.out")
    start_registry token "$TPORT" "auth:
  token:
    realm: http://127.0.0.1:$FPORT/token
    service: wharf-test
    issuer: wharf-fixture
    rootcertbundle: $DD/tok.crt"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$DD/tls.key" -out "$DD/tls.crt" \
        -days 2 -subj /CN=127.0.0.1 2>/dev/null
    start_registry tls "$SPORT" "  tls:
    certificate: $DD/tls.crt
    key: $DD/tls.key"

    # the busybox image, as a registry stores what skopeo pushes (gzip)
    skopeo copy -q --dest-tls-verify=false "docker-archive:$DD/bb.tar" \
        "docker://127.0.0.1:$PORT/bb:1"
    skopeo copy -q --dest-tls-verify=false "docker-archive:$DD/bb.tar" \
        "docker://127.0.0.1:$PORT/library/mirrored:1"

    # Docker's daemon.json keys: the open registry mirrors docker.io
    jq -n --arg m "http://127.0.0.1:$PORT" \
        '{"registry-mirrors": [$m], "insecure-registries": ["10.99.0.0/16", "reg.invalid:5000"]}' \
        >"$DD/daemon.json"
    "$BUILD/wharf" daemon --root "$DD/root" -H "unix://$DD/wharf.sock" \
        --config-file "$DD/daemon.json" 2>"$DD/daemon.log" &
    echo $! >"$DD/daemon.pid"
    for _ in $(seq 50); do [ -S "$DD/wharf.sock" ] && break; sleep 0.1; done
}

teardown_file() {
    [ -n "${DD:-}" ] || return 0
    wh ps -aq 2>/dev/null |
        xargs -r "$BUILD/wharf" -H "unix://$DD/wharf.sock" rm -f >/dev/null 2>&1
    local p
    for p in "$DD"/daemon.pid "$DD"/fixture.pid "$DD"/reg-*/pid; do
        [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
    done
    for p in "$DD"/daemon.pid "$DD"/fixture.pid "$DD"/reg-*/pid; do
        [ -f "$p" ] || continue
        for _ in $(seq 50); do kill -0 "$(cat "$p")" 2>/dev/null || break; sleep 0.1; done
    done
    umount_under "$DD"
    rm -rf "$DD"
}

# The manifest digest a registry has for repo:tag (Accept: everything).
remote_digest() {
    curl -sfk -I -H 'Accept: application/vnd.oci.image.index.v1+json' \
        -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "$1" |
        tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }'
}

# run_and_read NAME IMAGE CMD...: runs a container to completion, prints its log.
run_and_read() {
    local name=$1
    shift
    wh run -d --name "$name" "$@" >/dev/null || return 1
    wh wait "$name" >/dev/null
    wh logs "$name"
    wh rm "$name" >/dev/null
}

@test "wharf pull from a registry prints Docker's progress lines, then the image runs" {
    run wh pull "127.0.0.1:$PORT/bb:1"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "1: Pulling from bb" ]
    [[ "${lines[1]}" =~ ^[0-9a-f]{12}:\ Pulling\ fs\ layer$ ]]
    [[ "$output" == *": Verifying Checksum"* ]]
    [[ "$output" == *": Download complete"* ]]
    [[ "$output" == *": Pull complete"* ]]
    [[ "$output" != *Downloading* ]] # no progress bars off a terminal
    digest=$(remote_digest "http://127.0.0.1:$PORT/v2/bb/manifests/1")
    [ "${lines[-3]}" = "Digest: $digest" ]
    [ "${lines[-2]}" = "Status: Downloaded newer image for 127.0.0.1:$PORT/bb:1" ]
    [ "${lines[-1]}" = "127.0.0.1:$PORT/bb:1" ]
    run wh image inspect --format '{{json .RepoDigests}}' "127.0.0.1:$PORT/bb:1"
    [ "$output" = "[\"127.0.0.1:$PORT/bb@$digest\"]" ]
    run run_and_read "pulled-$$" "127.0.0.1:$PORT/bb:1" cat /hello
    [ "$status" -eq 0 ]
    [ "$output" = "from the registry" ]
    # again: nothing to fetch
    run wh pull "127.0.0.1:$PORT/bb:1"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 4 ]
    [ "${lines[2]}" = "Status: Image is up to date for 127.0.0.1:$PORT/bb:1" ]
    # by digest: no tag, the digest works as a name
    run wh pull -q "127.0.0.1:$PORT/bb@$digest"
    [ "$status" -eq 0 ]
    [ "$output" = "127.0.0.1:$PORT/bb@$digest" ]
    wh image inspect "127.0.0.1:$PORT/bb@$digest" >/dev/null
}

@test "progress bars on a terminal are drawn like the docker CLI draws them" {
    command -v script >/dev/null || skip "script(1) is not installed"
    make_oci "$DD/oci-tty" 1 amd64 2
    skopeo copy -q --dest-tls-verify=false "oci:$DD/oci-tty:1" "docker://127.0.0.1:$PORT/tty:1"
    run script -qec "stty cols 150; $BUILD/wharf -H unix://$DD/wharf.sock pull 127.0.0.1:$PORT/tty:1" /dev/null
    [ "$status" -eq 0 ]
    # one line per layer, rewritten in place: cursor up, clear, text, cursor down
    [[ "$output" == *$'\e[1A\e[2K\r'*': Downloading ['*'>'*']'*'kB/'*'kB'* ]] ||
        [[ "$output" == *'Downloading ['* ]]
    [[ "$output" == *$'\e[2A\e[2K\r'* ]]
    [[ "$output" == *'Pull complete'* ]]
}

@test "zstd and OCI images pull and run the same" {
    skopeo copy -q --dest-compress --dest-compress-format zstd "docker-archive:$DD/bb.tar" \
        "oci:$DD/oci-zstd:1"
    # skopeo recompresses zstd to gzip for a registry: push the layout by hand
    curl_push_layout "$DD/oci-zstd" bb zstd
    skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$PORT/bb:zstd" | grep -q 'tar+zstd'

    run wh pull "127.0.0.1:$PORT/bb:zstd"
    [ "$status" -eq 0 ]
    run run_and_read "zstd-$$" "127.0.0.1:$PORT/bb:zstd" cat /hello
    [ "$output" = "from the registry" ]
}

@test "docker pull against the wharf daemon renders the same progress" {
    make_oci "$DD/oci-dk" 1 amd64 3
    skopeo copy -q --dest-tls-verify=false "oci:$DD/oci-dk:1" "docker://127.0.0.1:$PORT/dk:1"
    run dk pull "127.0.0.1:$PORT/dk:1"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "1: Pulling from dk" ]
    [ "$(grep -c ': Pull complete$' <<<"$output")" -eq 3 ]
    [ "${lines[-1]}" = "127.0.0.1:$PORT/dk:1" ]
    run dk images --format '{{.Repository}}:{{.Tag}} {{.ID}}'
    [[ "$output" == *"127.0.0.1:$PORT/dk:1 $(cut -c8-19 "$DD/oci-dk/config-digest")"* ]]
    run dk pull "127.0.0.1:$PORT/dk:nope"
    [ "$status" -eq 1 ]
    [ "$output" = "Error response from daemon: manifest for 127.0.0.1:$PORT/dk:nope not found: manifest unknown: manifest unknown" ]
}

@test "wharf run and create pull a missing image first" {
    make_oci "$DD/oci-run" 1 amd64 1
    skopeo copy -q --dest-tls-verify=false "docker-archive:$DD/bb.tar" "docker://127.0.0.1:$PORT/runme:1"
    run --separate-stderr wh run -d --name "runme-$$" "127.0.0.1:$PORT/runme:1" true
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^[0-9a-f]{64}$ ]]
    [[ "$stderr" == "Unable to find image '127.0.0.1:$PORT/runme:1' locally"* ]]
    [[ "$stderr" == *"Status: Downloaded newer image for 127.0.0.1:$PORT/runme:1"* ]]
    wh rm -f "runme-$$" >/dev/null
    run --separate-stderr wh create --name "nope-$$" "127.0.0.1:$PORT/runme:nope"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"manifest for 127.0.0.1:$PORT/runme:nope not found"* ]]
}

@test "wharf push: skopeo inspects and copies it back; a second repository mounts the layers" {
    wh load -i "$DD/bb.tar" >/dev/null
    wh tag localhost/wharf-bb:1 "127.0.0.1:$PORT/pushed:1"
    run wh push "127.0.0.1:$PORT/pushed:1"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "The push refers to repository [127.0.0.1:$PORT/pushed]" ]
    [[ "${lines[1]}" =~ ^[0-9a-f]{12}:\ Preparing$ ]]
    [[ "$output" == *": Pushed"* ]]
    [[ "${lines[-1]}" =~ ^1:\ digest:\ (sha256:[0-9a-f]{64})\ size:\ [0-9]+$ ]]
    digest=${BASH_REMATCH[1]}
    [ "$(skopeo inspect --tls-verify=false "docker://127.0.0.1:$PORT/pushed:1" | jq -r .Digest)" = "$digest" ]
    skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$PORT/pushed:1" "oci:$DD/back:1"
    skopeo copy -q "oci:$DD/back:1" "docker-archive:$DD/back.tar:localhost/back:1"
    [ "$(wh load -i "$DD/back.tar")" = "Loaded image: localhost/back:1" ]
    run run_and_read "back-$$" localhost/back:1 cat /hello
    [ "$output" = "from the registry" ]
    # the store knows where the image is now
    wh image inspect --format '{{json .RepoDigests}}' localhost/wharf-bb:1 | grep -q "127.0.0.1:$PORT/pushed@$digest"
    # another repository of the same registry: mounted, not uploaded
    wh tag localhost/wharf-bb:1 "127.0.0.1:$PORT/other:2"
    run wh push "127.0.0.1:$PORT/other:2"
    [ "$status" -eq 0 ]
    [[ "$output" == *": Mounted from pushed"* ]]
    [[ "$output" != *": Pushed"* ]]
    # and once more: everything is there
    run wh push "127.0.0.1:$PORT/other:2"
    [[ "$output" == *": Layer already exists"* ]]
    run wh push "127.0.0.1:$PORT/not-here:1"
    [ "$status" -eq 1 ]
    [ "$output" = "Error response from daemon: An image does not exist locally with the tag: 127.0.0.1:$PORT/not-here" ]
}

@test "docker push against the wharf daemon; pull and push events" {
    since=$(date +%s)
    wh load -i "$DD/bb.tar" >/dev/null
    dk tag localhost/wharf-bb:1 "127.0.0.1:$PORT/dkpush:7"
    run dk push "127.0.0.1:$PORT/dkpush:7"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "The push refers to repository [127.0.0.1:$PORT/dkpush]" ]
    [[ "${lines[-1]}" =~ ^7:\ digest:\ sha256:[0-9a-f]{64}\ size:\ [0-9]+$ ]]
    skopeo inspect --tls-verify=false "docker://127.0.0.1:$PORT/dkpush:7" >/dev/null
    dk pull -q "127.0.0.1:$PORT/dkpush:7" >/dev/null
    # as dockerd logs them: the familiar reference is the actor
    run dk events --since "$since" --until "$(($(date +%s) + 1))" --filter type=image \
        --filter event=push --filter event=pull --format '{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}'
    [ "$status" -eq 0 ]
    mine=$(grep "dkpush" <<<"$output")
    [ "$mine" = "push 127.0.0.1:$PORT/dkpush:7 127.0.0.1:$PORT/dkpush:7
pull 127.0.0.1:$PORT/dkpush:7 127.0.0.1:$PORT/dkpush:7" ]
}

@test "chunked uploads and parallel downloads against the real registry (wharf-registry)" {
    make_oci "$DD/oci-chunk" 1 amd64 3
    skopeo copy -q "oci:$DD/oci-chunk:1" "docker-archive:$DD/chunk.tar:127.0.0.1:$PORT/chunked:1"
    "$BUILD/src/image/imagetool" "$DD/st-chunk" load <"$DD/chunk.tar" >/dev/null
    # the helper the daemon runs, driven by hand: 64 KiB chunks
    run "$BUILD/wharf-registry" push --store "$DD/st-chunk" --chunk-size 65536 \
        -- "127.0.0.1:$PORT/chunked:1" </dev/null
    [ "$status" -eq 0 ]
    [ "$(jq -r 'select(.progress.event == "pushed") | .progress.digest' <<<"$output" | wc -l)" -eq 4 ]
    [ "$(jq -r 'select(.progress.event == "pushing") | .progress.digest' <<<"$output" | wc -l)" -gt 8 ]
    digest=$(jq -r 'select(.pushed) | .pushed.digest' <<<"$output")
    [ "$(remote_digest "http://127.0.0.1:$PORT/v2/chunked/manifests/1")" = "$digest" ]
    run "$BUILD/wharf-registry" pull --store "$DD/st-chunk2" --parallel 3 \
        -- "127.0.0.1:$PORT/chunked:1" <<<'{}'
    [ "$status" -eq 0 ]
    [ "$(jq -r 'select(.pulled) | .pulled.id' <<<"$output")" = "$(cat "$DD/oci-chunk/config-digest")" ]
    skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$PORT/chunked:1" "oci:$DD/chunk-back:1"
}

@test "the daemon pulls through its helper: it maps no libcurl" {
    run wh pull -q "127.0.0.1:$PORT/bb:1"
    [ "$status" -eq 0 ]
    run grep -E 'libcurl|libssl|libcrypto' "/proc/$(cat "$DD/daemon.pid")/maps"
    [ "$status" -ne 0 ]
}

@test "Basic auth: no credentials, wrong ones, login, pull and push, logout" {
    skopeo copy -q --dest-tls-verify=false --dest-creds alice:s3cret \
        "docker-archive:$DD/bb.tar" "docker://127.0.0.1:$APORT/priv:1"
    run wh pull "127.0.0.1:$APORT/priv:1"
    [ "$status" -eq 1 ]
    [ "$output" = "Error response from daemon: Get \"http://127.0.0.1:$APORT/v2/priv/manifests/1\": no basic auth credentials" ]
    run wh login -u alice -p wrong "127.0.0.1:$APORT"
    [ "$status" -eq 1 ]
    [[ "$output" == *"Error response from daemon: login attempt to http://127.0.0.1:$APORT/v2/ failed with status: 401 Unauthorized"* ]]
    [ ! -e "$WHARF_CONFIG/config.json" ] || ! grep -q "$APORT" "$WHARF_CONFIG/config.json"
    run --separate-stderr wh login -u alice --password-stdin "127.0.0.1:$APORT" <<<"s3cret"
    [ "$status" -eq 0 ]
    [ "$output" = "Login Succeeded" ]
    jq -e --arg k "127.0.0.1:$APORT" '.auths[$k].auth == "YWxpY2U6czNjcmV0"' "$WHARF_CONFIG/config.json"
    [ "$(stat -c %a "$WHARF_CONFIG/config.json")" = 600 ]
    run wh pull "127.0.0.1:$APORT/priv:1"
    [ "$status" -eq 0 ]
    wh tag "127.0.0.1:$APORT/priv:1" "127.0.0.1:$APORT/priv/copy:2"
    run wh push "127.0.0.1:$APORT/priv/copy:2"
    [ "$status" -eq 0 ]
    [[ "$output" == *": Mounted from priv"* ]]
    run wh logout "127.0.0.1:$APORT"
    [ "$output" = "Removing login credentials for 127.0.0.1:$APORT" ]
    run wh logout "127.0.0.1:$APORT"
    [ "$output" = "Not logged in to 127.0.0.1:$APORT" ]
    wh rmi "127.0.0.1:$APORT/priv:1" >/dev/null
    run wh pull "127.0.0.1:$APORT/priv:1"
    [ "$status" -eq 1 ]
    # a docker login (Docker's config file) is good for wharf too
    run dk login -u alice --password-stdin "127.0.0.1:$APORT" <<<"s3cret"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Login Succeeded"* ]]
    jq -e --arg k "127.0.0.1:$APORT" '.auths[$k].auth' "$DOCKER_CONFIG/config.json"
    run wh pull "127.0.0.1:$APORT/priv:1"
    [ "$status" -eq 0 ]
    run dk pull "127.0.0.1:$APORT/priv:1"
    [ "$status" -eq 0 ]
    dk logout "127.0.0.1:$APORT" >/dev/null
}

@test "token auth: anonymous pulls, refused pushes, login against the token service" {
    skopeo copy -q --dest-tls-verify=false --dest-creds alice:s3cret \
        "docker-archive:$DD/bb.tar" "docker://127.0.0.1:$TPORT/tok:1"
    run wh pull "127.0.0.1:$TPORT/tok:1"
    [ "$status" -eq 0 ]
    wh tag "127.0.0.1:$TPORT/tok:1" "127.0.0.1:$TPORT/tok/mine:1"
    run --separate-stderr wh push "127.0.0.1:$TPORT/tok/mine:1"
    [ "$status" -eq 1 ]
    [ "$stderr" = "unauthorized: authentication required" ]
    run wh login -u alice -p nope "127.0.0.1:$TPORT"
    [ "$status" -eq 1 ]
    [[ "$output" == *"login attempt to http://127.0.0.1:$TPORT/v2/ failed: unauthorized: incorrect username or password"* ]]
    run wh login -u alice -p s3cret "127.0.0.1:$TPORT"
    [ "$status" -eq 0 ]
    run wh push "127.0.0.1:$TPORT/tok/mine:1"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Mounted from tok"* ]]
    wh logout "127.0.0.1:$TPORT" >/dev/null
}

@test "a manifest list with two platforms: the host's by default, --platform picks" {
    make_oci "$DD/oci-amd" 1 amd64 1
    make_oci "$DD/oci-arm" 1 arm64 1
    local fmt repo
    for fmt in oci v2s2; do
        repo=plat-$fmt
        skopeo copy -q --format "$fmt" --dest-tls-verify=false "oci:$DD/oci-amd:1" "docker://127.0.0.1:$PORT/$repo:amd64"
        skopeo copy -q --format "$fmt" --dest-tls-verify=false "oci:$DD/oci-arm:1" "docker://127.0.0.1:$PORT/$repo:arm64"
        local list_type child_type
        if [ "$fmt" = oci ]; then
            list_type=application/vnd.oci.image.index.v1+json
            child_type=application/vnd.oci.image.manifest.v1+json
        else
            list_type=application/vnd.docker.distribution.manifest.list.v2+json
            child_type=application/vnd.docker.distribution.manifest.v2+json
        fi
        local ad as rd rs
        ad=$(remote_digest "http://127.0.0.1:$PORT/v2/$repo/manifests/amd64")
        rd=$(remote_digest "http://127.0.0.1:$PORT/v2/$repo/manifests/arm64")
        as=$(skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$PORT/$repo:amd64" | wc -c)
        rs=$(skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$PORT/$repo:arm64" | wc -c)
        jq -cn --arg lt "$list_type" --arg ct "$child_type" --arg ad "$ad" --argjson asz "$as" \
            --arg rd "$rd" --argjson rs "$rs" \
            '{schemaVersion: 2, mediaType: $lt, manifests: [
               {mediaType: $ct, digest: $rd, size: $rs, platform: {architecture: "arm64", os: "linux", variant: "v8"}},
               {mediaType: $ct, digest: $ad, size: $asz, platform: {architecture: "amd64", os: "linux"}}]}' \
            >"$DD/list.json"
        curl -sf -X PUT -H "Content-Type: $list_type" --data-binary @"$DD/list.json" \
            "http://127.0.0.1:$PORT/v2/$repo/manifests/multi"
        run wh pull "127.0.0.1:$PORT/$repo:multi"
        [ "$status" -eq 0 ]
        [ "$(wh image inspect --format '{{.Id}}' "127.0.0.1:$PORT/$repo:multi")" = "$(cat "$DD/oci-amd/config-digest")" ]
        [ "${lines[-3]}" = "Digest: sha256:$(sha256sum <"$DD/list.json" | cut -d' ' -f1)" ]
        run wh pull --platform linux/arm64 "127.0.0.1:$PORT/$repo:multi"
        [ "$status" -eq 0 ]
        [ "$(wh image inspect --format '{{.Id}} {{.Architecture}}' "127.0.0.1:$PORT/$repo:multi")" = "$(cat "$DD/oci-arm/config-digest") arm64" ]
        run wh pull --platform linux/s390x "127.0.0.1:$PORT/$repo:multi"
        [ "$status" -eq 1 ]
        [ "$output" = "Error response from daemon: no matching manifest for linux/s390x in the manifest list entries" ]
    done
    run dk pull --platform linux/amd64 "127.0.0.1:$PORT/plat-oci:multi"
    [ "$status" -eq 0 ]
    [ "$(dk image inspect --format '{{.Architecture}}' "127.0.0.1:$PORT/plat-oci:multi")" = amd64 ]
    run wh pull --platform linux/arm64 "127.0.0.1:$PORT/plat-oci:amd64"
    [ "$status" -eq 1 ]
    [[ "$output" == *"does not match the specified platform: wanted linux/arm64, actual: linux/amd64"* ]]
}

@test "a corrupted blob: digest mismatch reported, nothing tagged, the blob not kept" {
    make_oci "$DD/oci-bad" 1 amd64 2
    skopeo copy -q --dest-tls-verify=false "oci:$DD/oci-bad:1" "docker://127.0.0.1:$PORT/bad:1"
    local layer hex file
    layer=$(jq -r '.layers[1].digest' "$DD/oci-bad/blobs/sha256/$(jq -r '.manifests[0].digest' "$DD/oci-bad/index.json" | cut -c8-)")
    hex=${layer#sha256:}
    file=$DD/reg-open/data/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data
    cp "$file" "$DD/good-blob"
    python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=0x5a; open(p,"wb").write(b)' "$file"
    run --separate-stderr wh pull "127.0.0.1:$PORT/bad:1"
    [ "$status" -eq 1 ]
    [[ "$stderr" =~ ^127.0.0.1:$PORT/bad:1:\ layer\ $layer:\ digest\ mismatch\ \(content\ is\ sha256:[0-9a-f]{64}\)$ ]]
    run wh images --format '{{.Repository}}:{{.Tag}}'
    [[ "$output" != *"/bad:1"* ]]
    [ ! -e "$DD/root/image/blobs/sha256/$hex" ]
    [ -z "$(ls "$DD/root/image/tmp")" ]
    # repaired: the retry completes
    cp "$DD/good-blob" "$file"
    run wh pull "127.0.0.1:$PORT/bad:1"
    [ "$status" -eq 0 ]
    [ "$(wh image inspect --format '{{.Id}}' "127.0.0.1:$PORT/bad:1")" = "$(cat "$DD/oci-bad/config-digest")" ]
}

@test "a pull cut short midway tags nothing; the retry completes" {
    make_oci "$DD/oci-cut" 1 amd64 4
    skopeo copy -q --dest-tls-verify=false "oci:$DD/oci-cut:1" "docker://127.0.0.1:$PORT/cut:1"
    local m layer hex file
    m=$(jq -r '.manifests[0].digest' "$DD/oci-cut/index.json" | cut -c8-)
    layer=$(jq -r '.layers[3].digest' "$DD/oci-cut/blobs/sha256/$m")
    hex=${layer#sha256:}
    file=$DD/reg-open/data/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data
    mv "$file" "$DD/held-back"
    run --separate-stderr wh pull "127.0.0.1:$PORT/cut:1"
    [ "$status" -eq 1 ]
    [ "$stderr" = "127.0.0.1:$PORT/cut:1: layer $layer not found: blob unknown: blob unknown to registry" ]
    [ "$(wh images -q "127.0.0.1:$PORT/cut:1")" = "" ]
    run wh image inspect "127.0.0.1:$PORT/cut:1"
    [ "$status" -eq 1 ]
    mv "$DD/held-back" "$file"
    run wh pull "127.0.0.1:$PORT/cut:1"
    [ "$status" -eq 0 ]
    [[ "${lines[-2]}" == "Status: Downloaded newer image for 127.0.0.1:$PORT/cut:1" ]]
}

@test "bad input: unknown tag or repository, unreachable registry, bad reference" {
    run wh pull "127.0.0.1:$PORT/bb:nope"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [ "$output" = "Error response from daemon: manifest for 127.0.0.1:$PORT/bb:nope not found: manifest unknown: manifest unknown" ]
    run wh pull "127.0.0.1:$PORT/no/such/repo"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "Error response from daemon: "*"127.0.0.1:$PORT/no/such/repo"*"unknown"* ]]
    port=$(free_port)
    run wh pull "127.0.0.1:$port/x:1"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "Error response from daemon: 127.0.0.1:$port/x:1: Get \"http://127.0.0.1:$port/v2/\": "* ]]
    run wh pull "127.0.0.1:$PORT/UPPER"
    [ "$status" -eq 1 ]
    [[ "$output" == *"invalid reference format"* ]]
    run wh pull --platform nonsense "127.0.0.1:$PORT/bb:1"
    [ "$status" -eq 1 ]
    [[ "$output" == *"invalid platform"* ]]
    run wh pull
    [ "$status" -eq 1 ]
    run wh push "127.0.0.1:$PORT/bb@sha256:$(printf '%064d' 0)"
    [ "$status" -eq 1 ]
}

@test "docker.io pulls go to the registry mirror" {
    run wh pull mirrored:1
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "1: Pulling from library/mirrored" ]
    [ "${lines[-2]}" = "Status: Downloaded newer image for mirrored:1" ]
    [ "${lines[-1]}" = "docker.io/library/mirrored:1" ]
    run wh images --format '{{.Repository}}:{{.Tag}}'
    [[ "$output" == *"mirrored:1"* ]]
}

@test "bad registry settings are refused with one line naming them" {
    run "$BUILD/wharf" daemon --root "$DD/root3" -H "unix://$DD/bad.sock" --registry-mirror ftp://x
    [ "$status" -eq 1 ]
    [[ "$output" == *'invalid mirror: "ftp://x" is not a valid URI'* ]]
    echo '{"insecure-registries": "10.0.0.0/8"}' >"$DD/bad.json"
    run "$BUILD/wharf" daemon --root "$DD/root3" -H "unix://$DD/bad.sock" --config-file "$DD/bad.json"
    [ "$status" -eq 1 ]
    [[ "$output" == *"insecure-registries: expected an array"* ]]
    echo '{"registry-mirrors": [1]}' >"$DD/bad.json"
    run "$BUILD/wharf" daemon --root "$DD/root3" -H "unix://$DD/bad.sock" --config-file "$DD/bad.json"
    [ "$status" -eq 1 ]
    [[ "$output" == *"registry-mirrors[0]: expected a string"* ]]
    [ ! -e "$DD/bad.sock" ]
}

@test "a loopback registry serving TLS is reached over HTTPS without verification" {
    skopeo copy -q --dest-tls-verify=false "docker-archive:$DD/bb.tar" "docker://127.0.0.1:$SPORT/tls:1"
    run wh pull "127.0.0.1:$SPORT/tls:1"
    [ "$status" -eq 0 ]
    [ "${lines[-1]}" = "127.0.0.1:$SPORT/tls:1" ]
}
