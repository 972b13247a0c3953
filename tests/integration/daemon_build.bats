#!/usr/bin/env bats
# The real docker CLI (28.x) building against `wharf daemon` with the
# classic builder (DOCKER_BUILDKIT=0, and the CLI's own fallback when no
# buildx plugin is installed): POST /build with a tar context, Docker's
# query parameters and JSON progress. Same Dockerfiles as build.bats, from
# a busybox-static base built FROM scratch.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
    command -v docker >/dev/null || skip "the docker CLI is not installed"
    export DD
    DD=$(mktemp -d /tmp/wharf-dbuild.XXXXXX)
    mkdir -p "$DD/base"
    make_rootfs "$DD/base/rootfs"
    printf 'FROM scratch\nCOPY rootfs/ /\nCMD ["sh"]\n' >"$DD/base/Dockerfile"
    daemon_start
    DOCKER_BUILDKIT=0 dk build -q -t dbt-base:1 "$DD/base" \
        >/dev/null 2>&1
}

teardown_file() {
    daemon_teardown
}

# dkb ARGS...: docker build with the classic builder.
dkb() {
    DOCKER_BUILDKIT=0 dk build "$@"
}

ctx() {
    local d="$BATS_TEST_TMPDIR/$1"
    mkdir -p "$d"
    cat >"$d/Dockerfile"
    echo "$d"
}

@test "docker build: FROM scratch + COPY, and docker run of the result" {
    run dk image inspect dbt-base:1 --format '{{json .Config.Cmd}} {{len .RootFS.Layers}}'
    [ "$status" -eq 0 ]
    [ "$output" = '["sh"] 1' ]
    run dk run --rm dbt-base:1 sh -c 'echo built by wharf'
    [ "$status" -eq 0 ]
    [ "$output" = "built by wharf" ]
}

@test "docker build: the classic builder's progress, config and history" {
    local d
    d=$(ctx all <<'EOF'
FROM dbt-base:1
LABEL title="docker cli" version=2
ENV GREETING=hello
ARG WHO=docker
WORKDIR /app
COPY --chown=1000:1000 files/ ./files/
ADD files.tar.gz /extracted/
RUN echo "$GREETING $WHO" > /app/greeting
SHELL ["/bin/sh", "-ec"]
EXPOSE 80/tcp 53/udp
VOLUME /data /logs
USER 1000
HEALTHCHECK --interval=30s CMD ["true"]
STOPSIGNAL SIGINT
ONBUILD RUN true
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/greeting; cat /extracted/packed.txt; stat -c '%u' /app/files/a.txt"]
EOF
)
    mkdir -p "$d/files" "$d/packed"
    echo a >"$d/files/a.txt"
    echo packed >"$d/packed/packed.txt"
    tar -C "$d/packed" -czf "$d/files.tar.gz" packed.txt
    run dkb -t dbt-all:1 "$d"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Sending build context to Docker daemon"* ]]
    [[ "$output" == *"Step 1/17 : FROM dbt-base:1"* ]]
    [[ "$output" == *"Step 8/17 : RUN echo \"\$GREETING \$WHO\" > /app/greeting"$'\n'" ---> Running in "* ]]
    [[ "$output" == *"Successfully built "* ]]
    [[ "$output" == *"Successfully tagged dbt-all:1"* ]]
    run dk image inspect dbt-all:1 --format '{{json .Config.ExposedPorts}} {{json .Config.Volumes}} {{.Config.User}} {{.Config.WorkingDir}} {{.Config.StopSignal}} {{json .Config.Healthcheck.Test}} {{json .Config.OnBuild}} {{json .Config.Labels}}'
    [ "$output" = '{"53/udp":{},"80/tcp":{}} {"/data":{},"/logs":{}} 1000 /app SIGINT ["CMD","true"] ["RUN true"] {"title":"docker cli","version":"2"}' ]
    run dk run --rm dbt-all:1
    [ "$status" -eq 0 ]
    [ "$output" = $'hello docker\npacked\n1000' ]
    run dk history --format '{{.CreatedBy}}' --no-trunc dbt-all:1
    [ "${#lines[@]}" -eq $((16 + 2)) ]
    [[ "${lines[0]}" == '/bin/sh -ec #(nop)  CMD ["cat /app/greeting; cat /extracted/packed.txt; stat -c '"'"'%u'"'"' /app/files/a.txt"]' ]]
    [[ "$output" == *'|1 WHO=docker /bin/sh -c echo "$GREETING $WHO" > /app/greeting'* ]]
    # history names the intermediate images it still has
    [ "$(dk history -q dbt-all:1 | grep -vc missing)" -eq 18 ]
}

@test "docker build: cache hits, a change rebuilds from its step, --no-cache" {
    local d
    d=$(ctx cache <<'EOF'
FROM dbt-base:1
COPY a.txt /a.txt
RUN cat /a.txt
COPY b.txt /b.txt
CMD ["cat", "/b.txt"]
EOF
)
    echo a >"$d/a.txt"
    echo b >"$d/b.txt"
    run dkb -t dbt-cache:1 "$d"
    [ "$status" -eq 0 ]
    local first
    first=$(dk image inspect dbt-cache:1 --format '{{.Id}}')
    run dkb -t dbt-cache:1 "$d"
    [ "$status" -eq 0 ]
    [ "$(grep -c ' ---> Using cache' <<<"$output")" -eq 4 ]
    [ "$(dk image inspect dbt-cache:1 --format '{{.Id}}')" = "$first" ]
    # the wharf CLI sends the same context: the same cache
    run wh build -t dbt-cache:1 "$d"
    [ "$(grep -c ' ---> Using cache' <<<"$output")" -eq 4 ]
    echo b2 >"$d/b.txt"
    run dkb -t dbt-cache:1 "$d"
    [ "$status" -eq 0 ]
    [ "$(grep -c ' ---> Using cache' <<<"$output")" -eq 2 ]
    [ "$(dk run --rm dbt-cache:1)" = "b2" ]
    run dkb --no-cache "$d"
    [[ "$output" != *"Using cache"* ]]
}

@test "docker build: .dockerignore, --target, build args" {
    local d
    d=$(ctx multi <<'EOF'
FROM dbt-base:1 AS builder
ARG MSG=default
RUN echo "$MSG" > /msg
FROM dbt-base:1 AS skipped
RUN exit 1
FROM dbt-base:1 AS final
COPY --from=builder /msg /msg
COPY . /ctx/
RUN cat /msg && ls -A /ctx | sort | tr '\n' ' '
FROM final
RUN echo not-the-target
EOF
)
    printf '*.tmp\n!keep.tmp\n' >"$d/.dockerignore"
    touch "$d/drop.tmp" "$d/keep.tmp" "$d/plain"
    run dkb --target final --build-arg MSG=from-cli -t dbt-multi:1 "$d"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Step 7/7 : RUN cat /msg"* ]]
    [[ "$output" == *"from-cli"$'\n'".dockerignore Dockerfile keep.tmp plain "* ]]
    [[ "$output" != *"not-the-target"* ]]
    [ "$(dk run --rm dbt-multi:1 cat /msg)" = "from-cli" ]
}

@test "docker build: a failing RUN exits with its code and tags nothing" {
    local d
    d=$(ctx fail <<'EOF'
FROM dbt-base:1
RUN echo partial-output; exit 5
EOF
)
    run dkb -t dbt-fail:1 "$d"
    [ "$status" -eq 5 ]
    [[ "$output" == *"partial-output"* ]]
    [[ "$output" == *"The command '/bin/sh -c echo partial-output; exit 5' returned a non-zero code: 5"* ]]
    run dk image inspect dbt-fail:1
    [ "$status" -ne 0 ]
    [ -z "$(dk ps -aq)" ]
}

@test "docker build: bad input is the daemon's error naming the line" {
    local d
    d=$(ctx bad <<'EOF'
FROM dbt-base:1
RUN true
BOGUS here
EOF
)
    run dkb "$d"
    [ "$status" -eq 1 ]
    [[ "$output" == *"Error response from daemon: Dockerfile:3: unknown instruction: BOGUS"* ]]
    printf 'FROM dbt-base:1\nCOPY --chmod=999 a b\n' >"$d/Dockerfile"
    run dkb "$d"
    [ "$status" -eq 1 ]
    [[ "$output" == *"Dockerfile:2: invalid chmod parameter: 999"* ]]
    run dkb -f nosuch.Dockerfile "$d"
    [ "$status" -ne 0 ]
}

@test "docker build -q and --iidfile; the CLI's fallback without buildx" {
    local d
    d=$(ctx quiet <<'EOF'
FROM dbt-base:1
ENV QUIET=1
EOF
)
    run --separate-stderr dkb -q --iidfile "$BATS_TEST_TMPDIR/iid" "$d"
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^sha256:[0-9a-f]{64}$ ]]
    [ "$(cat "$BATS_TEST_TMPDIR/iid")" = "$output" ]
    # a Dockerfile on stdin
    run bash -c "printf 'FROM dbt-base:1\nRUN echo from-stdin\n' | DOCKER_BUILDKIT=0 docker -H unix://$DD/wharf.sock build -"
    [ "$status" -eq 0 ]
    [[ "$output" == *"from-stdin"* ]]
    if docker buildx version >/dev/null 2>&1; then
        skip "a buildx plugin is installed: the CLI would use BuildKit"
    fi
    run bash -c "unset DOCKER_BUILDKIT; docker -H unix://$DD/wharf.sock build -q $d"
    [ "$status" -eq 0 ]
    [[ "$output" == *"sha256:"* ]]
}
