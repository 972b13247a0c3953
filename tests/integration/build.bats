#!/usr/bin/env bats
# `wharf build` against a private `wharf daemon`: Dockerfiles from a
# busybox-static base (FROM scratch + COPY of a root filesystem) covering
# every instruction, the layer cache, .dockerignore, multi-stage builds
# with --target, build args, a failing RUN and bad input naming the line.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
    export DD
    DD=$(mktemp -d /tmp/wharf-build.XXXXXX)
    mkdir -p "$DD/base"
    make_rootfs "$DD/base/rootfs"
    printf 'FROM scratch\nCOPY rootfs/ /\nCMD ["sh"]\n' >"$DD/base/Dockerfile"
    daemon_start
    wh build -q -t wbt-base:1 "$DD/base" >/dev/null
}

teardown_file() {
    daemon_teardown
}

# ctx NAME: a fresh context directory whose Dockerfile is read from stdin.
ctx() {
    local d="$BATS_TEST_TMPDIR/$1"
    mkdir -p "$d"
    cat >"$d/Dockerfile"
    echo "$d"
}

# cfg IMAGE JQ: a field of the image's config.
cfg() {
    wh image inspect "$1" --format '{{json .Config}}' | jq -cS "$2"
}

# run_out IMAGE ARGS...: what a container of IMAGE running ARGS prints.
run_out() {
    local img=$1 id
    shift
    id=$(wh run -d "$img" "$@")
    wh wait "$id" >/dev/null
    wh logs "$id" 2>&1
    wh rm "$id" >/dev/null
}

# No build container and no overlay mount of the builder is left behind.
nothing_left() {
    [ -z "$(wh ps -a --format '{{.Names}}' | grep '^build-')" ]
    ! grep -q "$DD/root/build" /proc/self/mounts
    [ -z "$(ls "$DD/root/build/tmp")" ]
    # unpacked contexts are kept for rebuilds (a few), nothing half-unpacked
    [ -z "$(ls -A "$DD/root/build/contexts" | grep -vx '[0-9a-f]\{64\}')" ]
    [ "$(ls "$DD/root/build/contexts" | wc -l)" -le 8 ]
}

@test "FROM scratch + COPY of a root filesystem builds an image that runs" {
    run wh image inspect wbt-base:1 --format '{{json .Config.Cmd}} {{len .RootFS.Layers}}'
    [ "$status" -eq 0 ]
    [ "$output" = '["sh"] 1' ]
    run run_out wbt-base:1 sh -c 'echo from the built image; ls /bin/busybox'
    [ "$status" -eq 0 ]
    [[ "$output" == *"from the built image"*"/bin/busybox"* ]]
}

@test "every instruction: the config, the files and one history entry each" {
    local d
    d=$(ctx all <<'EOF'
# syntax=docker/dockerfile:1
ARG BASE=wbt-base:1
FROM ${BASE} AS base
LABEL org.example.title="all instructions" version=1
MAINTAINER someone@example.com
ENV GREETING=hello \
    TARGET=world
ARG WHO=nobody
WORKDIR /app
COPY --chown=1000:1000 --chmod=640 files/ ./files/
ADD files.tar /extracted/
ADD --chown=1000 single.txt /opt/
COPY *.txt /globbed/
RUN echo "$GREETING $TARGET $WHO" > /app/greeting
RUN ["sh", "-c", "echo exec form > /app/exec"]
SHELL ["/bin/sh", "-ec"]
RUN echo "${UNSET:-fallback} ${GREETING:+alt} ${WHO}" > /app/subst
EXPOSE 8080 9000-9001/udp
VOLUME ["/data"]
USER 1000:1000
HEALTHCHECK --interval=5s --timeout=2s --retries=3 CMD cat /app/greeting
STOPSIGNAL SIGUSR1
ONBUILD RUN echo triggered > /tmp/onbuild
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/greeting"]
EOF
)
    mkdir -p "$d/files/sub" "$d/tarsrc/inner"
    echo a >"$d/files/a.txt"
    echo b >"$d/files/sub/b.txt"
    echo one >"$d/single.txt"
    echo two >"$d/double.txt"
    echo packed >"$d/tarsrc/inner/packed.txt"
    tar -C "$d/tarsrc" -czf "$d/files.tar" .
    run wh build -t wbt-all:1 "$d"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Step 1/23 : ARG BASE=wbt-base:1"* ]]
    [[ "$output" == *"Step 23/23 : CMD [\"cat /app/greeting\"]"* ]]
    [[ "$output" == *" ---> Running in "* ]]
    [[ "$output" == *" ---> Removed intermediate container "* ]]
    [[ "$output" == *"Successfully tagged wbt-all:1"* ]]

    [ "$(cfg wbt-all:1 '.Env | map(select(startswith("GREETING=") or startswith("TARGET=")))')" = '["GREETING=hello","TARGET=world"]' ]
    [ "$(cfg wbt-all:1 '.WorkingDir')" = '"/app"' ]
    [ "$(cfg wbt-all:1 '.User')" = '"1000:1000"' ]
    [ "$(cfg wbt-all:1 '.ExposedPorts | keys')" = '["8080/tcp","9000/udp","9001/udp"]' ]
    [ "$(cfg wbt-all:1 '.Volumes')" = '{"/data":{}}' ]
    [ "$(cfg wbt-all:1 '.Labels')" = '{"org.example.title":"all instructions","version":"1"}' ]
    [ "$(cfg wbt-all:1 '.Healthcheck')" = '{"Interval":5000000000,"Retries":3,"Test":["CMD-SHELL","cat /app/greeting"],"Timeout":2000000000}' ]
    [ "$(cfg wbt-all:1 '.StopSignal')" = '"SIGUSR1"' ]
    [ "$(cfg wbt-all:1 '.OnBuild')" = '["RUN echo triggered > /tmp/onbuild"]' ]
    [ "$(cfg wbt-all:1 '.Shell')" = '["/bin/sh","-ec"]' ]
    [ "$(cfg wbt-all:1 '.Entrypoint')" = '["/bin/sh","-c"]' ]
    [ "$(cfg wbt-all:1 '.Cmd')" = '["cat /app/greeting"]' ]
    [ "$(wh image inspect wbt-all:1 --format '{{.Author}}')" = "someone@example.com" ]
    # ARG values reach RUN but are not kept in the image
    [ "$(cfg wbt-all:1 '.Env | map(select(startswith("WHO="))) | length')" = 0 ]

    # ENTRYPOINT + CMD, as the user the image names
    run run_out wbt-all:1
    [ "$output" = "hello world nobody" ]

    # history: one entry per instruction after FROM (the base image's two before)
    run wh history --no-trunc --format '{{.CreatedBy}}' wbt-all:1
    [ "${#lines[@]}" -eq $((21 + 2)) ]
    [[ "${lines[0]}" == '/bin/sh -ec #(nop)  CMD ["cat /app/greeting"]' ]]
    [[ "$output" == *'|1 WHO=nobody /bin/sh -c echo "$GREETING $TARGET $WHO" > /app/greeting'* ]]
    [[ "$output" == *'/bin/sh -c #(nop)  ENV GREETING=hello TARGET=world'* ]]
    [[ "$output" == *'#(nop)  HEALTHCHECK &{["CMD-SHELL" "cat /app/greeting"] "5s" "2s" "0s" "0s" '"'"'\x03'"'"'}'* ]]
    [[ "$output" == *'/bin/sh -c #(nop) COPY dir:'*' in /app/files/ '* ]]

    # the files, looked at by a RUN in a child build (which also runs the ONBUILD trigger)
    local c
    c=$(ctx check <<'EOF'
FROM wbt-all:1
USER 0
RUN stat -c '%n %u:%g %a' /app/files /app/files/a.txt /app/files/sub/b.txt /opt/single.txt; \
    cat /extracted/inner/packed.txt /globbed/single.txt /globbed/double.txt /app/exec /app/subst /tmp/onbuild
EOF
)
    run wh build --no-cache "$c"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"# Executing 1 build trigger..."* ]]
    [[ "$output" == *"/app/files 1000:1000 755"* ]]
    [[ "$output" == *"/app/files/a.txt 1000:1000 640"* ]]
    [[ "$output" == *"/app/files/sub/b.txt 1000:1000 640"* ]]
    [[ "$output" == *"/opt/single.txt 1000:1000 644"* ]]
    [[ "$output" == *$'packed\none\ntwo\nexec form\nfallback alt nobody\ntriggered'* ]]
    nothing_left
}

@test "an unchanged rebuild is all cache hits; a change rebuilds from that step" {
    local d
    d=$(ctx cache <<'EOF'
FROM wbt-base:1
ENV STAGE=one
COPY a.txt /a.txt
RUN cat /a.txt > /copied
COPY b.txt /b.txt
RUN echo done
EOF
)
    echo a1 >"$d/a.txt"
    echo b1 >"$d/b.txt"
    local dangling
    dangling=$(wh images --format '{{.Repository}}' | grep -c '<none>' || true)
    run wh build -t wbt-cache:1 "$d"
    [ "$status" -eq 0 ]
    [[ "$output" != *"Using cache"* ]]
    # the intermediate images of the steps are not listed
    [ "$(wh images --format '{{.Repository}}' | grep -c '<none>' || true)" -eq "$dangling" ]
    [ "$(wh images --format '{{.Repository}}' | grep -c '^wbt-cache$')" -eq 1 ]
    local first
    first=$(wh image inspect wbt-cache:1 --format '{{.Id}}')

    run wh build -t wbt-cache:1 "$d"
    [ "$status" -eq 0 ]
    [ "$(grep -c ' ---> Using cache' <<<"$output")" -eq 5 ]
    [[ "$output" != *"Running in"* ]]
    [ "$(wh image inspect wbt-cache:1 --format '{{.Id}}')" = "$first" ]

    # touching a file without changing it keeps the cache
    touch -d '2001-01-01' "$d/a.txt"
    run wh build -t wbt-cache:1 "$d"
    [ "$(grep -c ' ---> Using cache' <<<"$output")" -eq 5 ]

    # a changed source: its COPY and everything after run again
    echo b2 >"$d/b.txt"
    run wh build -t wbt-cache:1 "$d"
    [ "$status" -eq 0 ]
    [ "$(grep -c ' ---> Using cache' <<<"$output")" -eq 3 ]
    [[ "$output" == *"Step 5/6 : COPY b.txt /b.txt"$'\n'" ---> "[0-9a-f]* ]]
    [[ "$output" == *"Running in"* ]]
    [ "$(wh image inspect wbt-cache:1 --format '{{.Id}}')" != "$first" ]

    # a changed instruction misses from there on
    sed -i 's/STAGE=one/STAGE=two/' "$d/Dockerfile"
    run wh build -t wbt-cache:1 "$d"
    [ "$(grep -c ' ---> Using cache' <<<"$output")" -eq 0 ]

    # --no-cache uses none
    run wh build --no-cache -t wbt-cache:1 "$d"
    [ "$status" -eq 0 ]
    [[ "$output" != *"Using cache"* ]]

    nothing_left
}

@test ".dockerignore: patterns, exceptions and ** keep files out of the context" {
    local d
    d=$(ctx ignore <<'EOF'
FROM wbt-base:1
COPY . /ctx/
RUN cd /ctx && find . | sort
EOF
)
    mkdir -p "$d/secret" "$d/docs/a/b" "$d/keep"
    printf '*.log\n!keep.log\nsecret\ndocs/**/*.md\n# a comment\n/Dockerfile\n' >"$d/.dockerignore"
    touch "$d/other.log" "$d/keep.log" "$d/secret/key" "$d/docs/a/b/x.md" "$d/docs/a/y.txt" "$d/keep/z"
    run wh build "$d"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"./keep.log"* ]]
    [[ "$output" == *"./docs/a/y.txt"* ]]
    [[ "$output" == *"./keep/z"* ]]
    [[ "$output" == *"./.dockerignore"* ]]
    [[ "$output" != *"other.log"* ]]
    [[ "$output" != *"secret"* ]]
    [[ "$output" != *"x.md"* ]]
    # the Dockerfile is sent (the build needs it) but dropped, being excluded
    [[ "$output" != *"./Dockerfile"* ]]
}

@test "multi-stage: --target builds only the stages it needs" {
    local d
    d=$(ctx multi <<'EOF'
ARG GREETING=hi
FROM wbt-base:1 AS builder
ARG GREETING
RUN echo "artifact $GREETING" > /artifact
FROM wbt-base:1 AS unused
RUN echo should-not-run && exit 1
FROM wbt-base:1 AS final
COPY --from=builder /artifact /artifact
COPY --from=0 /artifact /again
RUN cat /artifact /again
FROM final AS test
RUN echo testing
EOF
)
    run wh build --target final -t wbt-multi:final "$d"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Step 1/8 : ARG GREETING=hi"* ]]
    [[ "$output" == *"Step 8/8 : RUN cat /artifact /again"* ]]
    [[ "$output" == *$'artifact hi\nartifact hi'* ]]
    [[ "$output" != *"should-not-run"* ]]
    [[ "$output" != *"testing"* ]]
    run run_out wbt-multi:final cat /artifact
    [ "$output" = "artifact hi" ]

    # without --target: the last stage, through final (still not "unused")
    run wh build "$d"
    [ "$status" -eq 0 ]
    [[ "$output" == *"testing"* ]]
    [[ "$output" != *"should-not-run"* ]]

    run wh build --target nosuch "$d"
    [ "$status" -eq 1 ]
    [[ "$output" == *"failed to reach build target nosuch in Dockerfile"* ]]
}

@test "build args: defaults, --build-arg, the cache key and unused args" {
    local d
    d=$(ctx args <<'EOF'
ARG TAG=1
FROM wbt-base:${TAG}
ARG V=default
ARG EMPTY
RUN echo "v=$V empty=${EMPTY:-unset}"
EOF
)
    run wh build "$d"
    [ "$status" -eq 0 ]
    [[ "$output" == *"v=default empty=unset"* ]]
    run wh build --build-arg V=given --build-arg EMPTY=set "$d"
    [ "$status" -eq 0 ]
    [[ "$output" == *"v=given empty=set"* ]]
    [[ "$output" != *"v=given empty=set"*"Using cache"* ]]
    V=from-env run wh build --build-arg V --build-arg UNUSED=1 "$d"
    [ "$status" -eq 0 ]
    [[ "$output" == *"v=from-env"* ]]
    [[ "$output" == *"[Warning] One or more build-args [UNUSED] were not consumed"* ]]
    # the global ARG picks the base image
    run wh build --build-arg TAG=nosuch "$d"
    [ "$status" -ne 0 ]
    [[ "$output" == *"Dockerfile:2: FROM: wbt-base:nosuch"* ]]
}

@test "a failing RUN stops the build with its output and exit code, tags nothing" {
    local d
    d=$(ctx fail <<'EOF'
FROM wbt-base:1
RUN echo before-failure && echo on-stderr >&2 && exit 7
RUN echo never
EOF
)
    run --separate-stderr wh build -t wbt-fail:1 "$d"
    [ "$status" -eq 7 ]
    [[ "$output" == *"before-failure"* ]]
    [[ "$output" == *"on-stderr"* ]]
    [[ "$output" != *"never"* ]]
    [[ "$stderr" == *"The command '/bin/sh -c echo before-failure && echo on-stderr >&2 && exit 7' returned a non-zero code: 7"* ]]
    run wh image inspect wbt-fail:1
    [ "$status" -ne 0 ]
    nothing_left
    # -q keeps quiet until it fails, then shows what happened
    run --separate-stderr wh build -q "$d"
    [ "$status" -eq 7 ]
    [ -z "$output" ]
    [[ "$stderr" == *"before-failure"*"returned a non-zero code: 7"* ]]
}

@test "bad input: the error names the Dockerfile line" {
    local d
    d=$(ctx bad <<'EOF'
FROM wbt-base:1
EOF
)
    try() {
        printf '%b' "$1" >"$d/Dockerfile"
        run --separate-stderr wh build "$d"
        [ "$status" -eq 1 ] || { echo "status $status for $1"; return 1; }
        [[ "$stderr" == *"$2"* ]] || { echo "stderr: $stderr"; return 1; }
    }
    try 'FROM wbt-base:1\nRUN true\n\n\n\n\nFOOBAR x\n' "Dockerfile:7: unknown instruction: FOOBAR"
    try 'FROM wbt-base:1\nCOPY --mode=1 a b\n' "Dockerfile:2: unknown flag: --mode"
    try 'FROM wbt-base:1\nENV A=1\nCOPY missing.txt /x\n' "Dockerfile:3: COPY failed: file not found in build context or excluded by .dockerignore: stat missing.txt"
    try 'FROM wbt-base:1\nCOPY --from=nostage /a /b\n' "Dockerfile:2: COPY --from=nostage: no build stage or image named nostage"
    try 'FROM 127.0.0.1:9/nosuch-image-xyz:1\n' "Dockerfile:1: FROM: 127.0.0.1:9/nosuch-image-xyz:1"
    try 'FROM wbt-base:1\nUSER nosuchuser\nRUN true\n' "Dockerfile:3: unable to find user nosuchuser"
    try 'RUN true\nFROM wbt-base:1\n' "Dockerfile:1: no build stage in current context"
    try 'FROM wbt-base:1\nENV X=${A\n' "Dockerfile:2: syntax error: missing '}'"
    try 'FROM wbt-base:1\nCOPY a b c\n' "When using COPY with more than one source file, the destination must be a directory and end with a /"
    try '# only comments\n' "the Dockerfile (Dockerfile) cannot be empty"
    run wh build -f nosuch "$d"
    [ "$status" -eq 1 ]
    [[ "$output" == *"nosuch"* ]]
    run wh build --bogus "$d"
    [ "$status" -eq 125 ]
    run wh build -t 'Bad:Tag!' "$d"
    [ "$status" -eq 1 ]
    nothing_left
}

@test "contexts: -f outside the context, a Dockerfile or tar on stdin, a tar file" {
    local d
    d=$(ctx stdin <<'EOF'
FROM wbt-base:1
COPY hello.txt /
RUN cat /hello.txt
EOF
)
    echo "hello from the context" >"$d/hello.txt"
    mv "$d/Dockerfile" "$BATS_TEST_TMPDIR/outside.Dockerfile"
    run wh build -f "$BATS_TEST_TMPDIR/outside.Dockerfile" "$d"
    [ "$status" -eq 0 ]
    [[ "$output" == *"hello from the context"* ]]

    # a Dockerfile alone on stdin: no context at all
    run bash -c "printf 'FROM wbt-base:1\nRUN echo no context\n' | '$BUILD/wharf' -H 'unix://$DD/wharf.sock' build -"
    [ "$status" -eq 0 ]
    [[ "$output" == *"no context"* ]]

    # a tar on stdin, and a tar file, with -f naming the Dockerfile in it
    cp "$BATS_TEST_TMPDIR/outside.Dockerfile" "$d/Build.file"
    tar -C "$d" -cf "$BATS_TEST_TMPDIR/ctx.tar" .
    run bash -c "'$BUILD/wharf' -H 'unix://$DD/wharf.sock' build --no-cache -f Build.file - <'$BATS_TEST_TMPDIR/ctx.tar'"
    [ "$status" -eq 0 ]
    [[ "$output" == *"hello from the context"* ]]
    run wh build -f Build.file -q "$BATS_TEST_TMPDIR/ctx.tar"
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^sha256:[0-9a-f]{64}$ ]]
}

@test "-q prints the ID, --iidfile writes it, --label and -t label and tag it" {
    local d
    d=$(ctx quiet <<'EOF'
FROM wbt-base:1
LABEL from=file
EOF
)
    run wh build -q --iidfile "$BATS_TEST_TMPDIR/iid" --label extra=yes --label "spaced=a b" -t wbt-q:1 -t wbt-q:2 "$d"
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^sha256:[0-9a-f]{64}$ ]]
    [ "$(cat "$BATS_TEST_TMPDIR/iid")" = "$output" ]
    [ "$(wh image inspect wbt-q:1 --format '{{.Id}}')" = "$output" ]
    [ "$(wh image inspect wbt-q:2 --format '{{.Id}}')" = "$output" ]
    [ "$(cfg wbt-q:1 '.Labels')" = '{"extra":"yes","from":"file","spaced":"a b"}' ]
    run wh build --label extra=yes "$d"
    [[ "$output" == *'Step 3/3 : LABEL "extra"='"'"'yes'"'"* ]]
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

@test "FROM and COPY --from pull missing images from a registry; --pull pulls again" {
    command -v docker-registry >/dev/null || skip "docker-registry is not installed"
    local port dir="$BATS_TEST_TMPDIR/registry"
    port=$(free_port)
    mkdir -p "$dir/data"
    printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
        "$dir/data" "$port" >"$dir/config.yml"
    docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
    local reg_pid=$!
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break
        sleep 0.05
    done
    local r="127.0.0.1:$port/wbt"
    local d
    d=$(ctx artifact <<'EOF'
FROM wbt-base:1
RUN echo "made elsewhere" > /artifact
EOF
)
    wh build -q -t "$r/artifact:1" "$d" >/dev/null
    wh tag wbt-base:1 "$r/base:1"
    wh push "$r/base:1" >/dev/null
    wh push "$r/artifact:1" >/dev/null
    wh rmi "$r/base:1" "$r/artifact:1" >/dev/null
    d=$(ctx pulls <<EOF
FROM $r/base:1 AS first
COPY --from=$r/artifact:1 /artifact /copied
RUN cat /copied
EOF
)
    run wh build --no-cache -t wbt-pulled:1 "$d"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Step 1/3 : FROM $r/base:1 AS first"$'\n'"1: Pulling from wbt/base"* ]]
    [[ "$output" == *"Status: Downloaded newer image for $r/base:1"* ]]
    [[ "$output" == *"1: Pulling from wbt/artifact"* ]]
    [[ "$output" == *"made elsewhere"* ]]
    # stored now: no pull; --pull asks the registry again
    run wh build -t wbt-pulled:1 "$d"
    [ "$status" -eq 0 ]
    [[ "$output" != *"Pulling from"* ]]
    run wh build --pull -t wbt-pulled:1 "$d"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Status: Image is up to date for $r/base:1"* ]]
    kill "$reg_pid"
    wait "$reg_pid" 2>/dev/null || true
    # the registry gone: its error, naming the line
    run wh build --pull -t wbt-pulled:1 "$d"
    [ "$status" -eq 1 ]
    [[ "$output" == *"Dockerfile:1: FROM: $r/base:1"* ]]
}

@test "a daemon killed during a RUN leaves nothing behind once it builds again" {
    local d
    d=$(ctx crash <<'EOF2'
FROM wbt-base:1
RUN echo started && sleep 317
EOF2
)
    wh build --no-cache "$d" >"$BATS_TEST_TMPDIR/crash.out" 2>&1 &
    local client=$!
    for _ in $(seq 100); do
        grep -q started "$BATS_TEST_TMPDIR/crash.out" && break
        sleep 0.1
    done
    grep -q "$DD/root/build/tmp" /proc/self/mounts
    kill -KILL "$(cat "$DD/daemon.pid")"
    wait "$client" || true
    "$BUILD/wharf" daemon --root "$DD/root" -H "unix://$DD/wharf.sock" 2>>"$DD/daemon.log" &
    echo $! >"$DD/daemon.pid"
    for _ in $(seq 50); do wh version >/dev/null 2>&1 && break; sleep 0.1; done
    # the RUN still runs under its shim until the next build sweeps it away
    printf 'FROM wbt-base:1\nRUN true\n' >"$d/Dockerfile"
    run wh build "$d"
    [ "$status" -eq 0 ]
    nothing_left
    ! pgrep -f "sleep 317" >/dev/null
}
