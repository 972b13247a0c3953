#!/usr/bin/env bats
# `wharf compose` against a private wharf daemon: a web service on a
# published port that waits for a data service's health check, a named
# volume, recreation of what changed only, scale, stop/start, down (-v),
# project names, and bad files refused before anything is made.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
    command -v docker >/dev/null || skip "the docker CLI is not installed"
    export DD IMG=localhost/wharf-compose:1
    DD=$(mktemp -d /tmp/wharf-compose.XXXXXX)
    make_rootfs "$DD/rootfs"
    tar -C "$DD/rootfs" -cf "$DD/rootfs.tar" .
    rm -rf "$DD/rootfs"
    daemon_start
    wh import -c 'CMD ["sh"]' "$DD/rootfs.tar" "$IMG" >/dev/null
}

teardown_file() {
    daemon_teardown
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# project DIR PORT MESSAGE: a compose.yaml in DIR
project() {
    mkdir -p "$1"
    cat >"$1/compose.yaml" <<EOF
services:
  web:
    image: $IMG
    command: ["sh", "-c", "mkdir -p /www; echo $3 >/www/index.html; exec httpd -f -p 8080 -h /www"]
    ports: ["127.0.0.1:$2:8080"]
    depends_on:
      db:
        condition: service_healthy
  db:
    image: $IMG
    command: ["sh", "-c", "sleep 1; echo up >>/data/log; touch /tmp/ready; exec sleep 1000"]
    volumes: ["dbdata:/data"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 500ms
      retries: 10
volumes:
  dbdata:
EOF
}

# wc_ DIR ARGS...: wharf compose in DIR
wc_() {
    local d=$1
    shift
    (cd "$d" && wh compose "$@")
}

@test "compose up -d: networks, volume, health-gated order, a published port, ps, down" {
    local d="$DD/shop" port
    port=$(free_port)
    project "$d" "$port" hello-shop
    since=$(date +%s.%N)
    run wc_ "$d" up -d
    [ "$status" -eq 0 ]
    [[ "$output" == *"Network shop_default  Created"* ]]
    [[ "$output" == *"Container shop-db-1  Healthy"* ]]
    [ "$(curl -s "http://127.0.0.1:$port/")" = hello-shop ]
    # web was created only after db became healthy
    run dk events --since "$since" --until "$(date +%s.%N)" --format '{{.Action}} {{.Actor.Attributes.name}}' \
        --filter event=create --filter event=health_status
    db_healthy=$(grep -n 'health_status: healthy shop-db-1' <<<"$output" | cut -d: -f1)
    web_create=$(grep -n '^create shop-web-1' <<<"$output" | cut -d: -f1)
    [ -n "$db_healthy" ] && [ -n "$web_create" ] && [ "$db_healthy" -lt "$web_create" ]
    # Compose's names and labels
    [ "$(dk inspect -f '{{index .Config.Labels "com.docker.compose.project"}} {{index .Config.Labels "com.docker.compose.service"}} {{index .Config.Labels "com.docker.compose.container-number"}}' shop-web-1)" = "shop web 1" ]
    run wc_ "$d" ps
    [[ "${lines[1]}${lines[2]}" == *shop-web-1*"127.0.0.1:$port->8080/tcp"* || "${lines[1]}${lines[2]}" == *shop-db-1*shop-web-1* ]]
    [ "$(wc_ "$d" ps -q | wc -l)" -eq 2 ]
    # services reach each other by name on the project network
    dk exec shop-web-1 ping -c1 -W2 db >/dev/null
    run wc_ "$d" down
    [ "$status" -eq 0 ]
    [ -z "$(dk ps -aq --filter label=com.docker.compose.project=shop)" ]
    run dk network inspect shop_default
    [ "$status" -ne 0 ]
    # the named volume stays until down -v
    dk volume inspect shop_dbdata >/dev/null
    wc_ "$d" up -d >/dev/null
    [ "$(dk exec shop-db-1 cat /data/log | wc -l)" -eq 2 ]
    wc_ "$d" down -v >/dev/null
    run dk volume inspect shop_dbdata
    [ "$status" -ne 0 ]
}

@test "compose up again: unchanged services kept, a changed one recreated with its data kept" {
    local d="$DD/keep" port
    port=$(free_port)
    project "$d" "$port" first
    wc_ "$d" up -d >/dev/null
    web=$(dk inspect -f '{{.Id}}' keep-web-1) db=$(dk inspect -f '{{.Id}}' keep-db-1)
    run wc_ "$d" up -d
    [[ "$output" == *"Container keep-web-1  Running"* ]]
    [ "$(dk inspect -f '{{.Id}}' keep-web-1)" = "$web" ]
    # only web's configuration changes: only web is recreated, on the same port
    project "$d" "$port" second
    run wc_ "$d" up -d
    [ "$status" -eq 0 ]
    [[ "$output" == *"Container keep-web-1  Recreated"* ]]
    [ "$(dk inspect -f '{{.Id}}' keep-db-1)" = "$db" ]
    [ "$(dk inspect -f '{{.Id}}' keep-web-1)" != "$web" ]
    for _ in $(seq 30); do [ "$(curl -s "http://127.0.0.1:$port/")" = second ] && break; sleep 0.1; done
    [ "$(curl -s "http://127.0.0.1:$port/")" = second ]
    [ -z "$(dk ps -aq --filter name=_keep-web-1)" ] # the old one is gone
    # --force-recreate replaces db too, its volume's data kept
    wc_ "$d" up -d --force-recreate >/dev/null
    [ "$(dk inspect -f '{{.Id}}' keep-db-1)" != "$db" ]
    [ "$(dk exec keep-db-1 cat /data/log | wc -l)" -eq 2 ]
    wc_ "$d" down -v >/dev/null
}

@test "compose scale, stop, start, restart and -p / COMPOSE_PROJECT_NAME" {
    local d="$DD/scale" port
    port=$(free_port)
    project "$d" "$port" scaled
    wc_ "$d" -p other up -d --scale db=3 >/dev/null
    [ "$(dk ps -q --filter label=com.docker.compose.project=other --filter label=com.docker.compose.service=db | wc -l)" -eq 3 ]
    run wc_ "$d" -p other up -d --scale db=1
    [[ "$output" == *"Container other-db-3  Removed"* && "$output" == *"Container other-db-2  Removed"* ]]
    wc_ "$d" -p other stop >/dev/null
    [ "$(COMPOSE_PROJECT_NAME=other wc_ "$d" ps -q | wc -l)" -eq 0 ]
    [ "$(wc_ "$d" -p other ps -aq | wc -l)" -eq 2 ]
    wc_ "$d" -p other start >/dev/null
    [ "$(wc_ "$d" -p other ps -q | wc -l)" -eq 2 ]
    started=$(dk inspect -f '{{.State.StartedAt}}' other-db-1)
    wc_ "$d" -p other restart db >/dev/null
    [ "$(dk inspect -f '{{.State.StartedAt}}' other-db-1)" != "$started" ]
    COMPOSE_PROJECT_NAME=other wc_ "$d" down -v >/dev/null
    [ -z "$(dk ps -aq --filter label=com.docker.compose.project=other)" ]
}

@test "compose config prints the resolved model; bad files fail before anything is made" {
    local d="$DD/cfg"
    mkdir -p "$d"
    cat >"$d/compose.yaml" <<EOF
x-common: &common
  image: $IMG
services:
  a:
    <<: *common
    environment:
      - GREETING=\${GREETING:-hi}
EOF
    run wc_ "$d" config
    [ "$status" -eq 0 ]
    [[ "$output" == *"name: cfg"* && "$output" == *"image: $IMG"* && "$output" == *"GREETING: hi"* ]]
    nets=$(dk network ls -q | wc -l)
    printf 'services:\n  a:\n    image: x\n    portz: [1]\n' >"$d/compose.yaml"
    run wc_ "$d" up -d
    [ "$status" -eq 1 ]
    [[ "$output" == *"services.a.portz"* ]]
    printf 'services:\n  a:\n    image: ${NEEDED?set it}\n' >"$d/compose.yaml"
    run wc_ "$d" up -d
    [ "$status" -eq 1 ]
    [[ "$output" == *"NEEDED"* && "$output" == *"set it"* ]]
    printf 'services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n' >"$d/compose.yaml"
    run wc_ "$d" up -d
    [ "$status" -eq 1 ]
    [[ "$output" == *cycle* || "$output" == *circular* ]]
    printf 'services:\n  a:\n    image: x\n    networks: [nope]\n' >"$d/compose.yaml"
    run wc_ "$d" up -d
    [ "$status" -eq 1 ]
    [[ "$output" == *nope* ]]
    [ "$(dk network ls -q | wc -l)" -eq "$nets" ]
    run wh compose -f "$d/no-such.yaml" ps
    [ "$status" -eq 1 ]
    run wh compose -f "$d/compose.yaml" frobnicate
    [ "$status" -eq 1 ]
    [[ "$output" == *"unknown compose command: frobnicate"* ]]
    # wharf-compose (what make install links to wharf) is wharf compose
    mkdir -p "$DD/bin"
    ln -sf "$BUILD/wharf" "$DD/bin/wharf-compose"
    printf 'services:\n  a:\n    image: %s\n' "$IMG" >"$d/compose.yaml"
    run env DOCKER_HOST="unix://$DD/wharf.sock" "$DD/bin/wharf-compose" -f "$d/compose.yaml" -p viaalias config
    [ "$status" -eq 0 ]
    [[ "$output" == *"name: viaalias"* ]]
    run env DOCKER_HOST="unix://$DD/wharf.sock" "$DD/bin/wharf-compose" -f "$d/compose.yaml" -p viaalias ps -q
    [ "$status" -eq 0 ]
}

@test "compose logs, exec, port, top, pause/unpause, kill and rm act on the services' containers" {
    local d="$DD/ops" port
    port=$(free_port)
    mkdir -p "$d"
    cat >"$d/compose.yaml" <<EOF2
services:
  web:
    image: $IMG
    command: ["sh", "-c", "echo web-says-hi; exec httpd -f -p 8080"]
    ports: ["127.0.0.1:$port:8080"]
  worker:
    image: $IMG
    command: ["sh", "-c", "echo worker-line; exec sleep 1000"]
EOF2
    wc_ "$d" up -d >/dev/null
    for _ in $(seq 30); do wc_ "$d" logs | grep -q worker-line && break; sleep 0.1; done
    run wc_ "$d" logs
    [[ "$output" == *web-says-hi* && "$output" == *worker-line* ]]
    [ "$(wc_ "$d" logs --tail 1 --no-log-prefix web)" = web-says-hi ]
    [ "$(wc_ "$d" logs --tail 1 web)" = "ops-web-1 | web-says-hi" ]
    [ "$(wc_ "$d" exec -T web echo in-exec)" = in-exec ]
    [ "$(wc_ "$d" port web 8080)" = "127.0.0.1:$port" ]
    [[ "$(wc_ "$d" top worker)" == *"sleep 1000"* ]]
    wc_ "$d" pause worker >/dev/null
    [ "$(dk inspect -f '{{.State.Paused}}' ops-worker-1)" = true ]
    wc_ "$d" unpause worker >/dev/null
    [ "$(dk inspect -f '{{.State.Paused}}' ops-worker-1)" = false ]
    wc_ "$d" kill -s KILL worker >/dev/null
    [ "$(dk wait ops-worker-1)" = 137 ]
    # rm takes the stopped containers only
    wc_ "$d" rm -f >/dev/null
    run dk inspect ops-worker-1
    [ "$status" -ne 0 ]
    [ "$(dk inspect -f '{{.State.Running}}' ops-web-1)" = true ]
    run wc_ "$d" exec -T worker true
    [ "$status" -eq 1 ]
    [[ "$output" == *'service "worker" is not running'* ]]
    wc_ "$d" down >/dev/null
}

@test "compose up in the foreground: prefixed logs of every service until Ctrl-C stops them" {
    local d="$DD/fg"
    mkdir -p "$d"
    cat >"$d/compose.yaml" <<EOF2
services:
  web:
    image: $IMG
    command: ["sh", "-c", "trap 'echo web-stopping; exit 0' TERM; echo web-says-hi; while true; do sleep 0.1; done"]
  job:
    image: $IMG
    command: ["sh", "-c", "echo job-1; echo job-2"]
EOF2
    (cd "$d" && exec "$BUILD/wharf" -H "unix://$DD/wharf.sock" compose up >"$d/out" 2>&1 </dev/null) &
    local up=$!
    for _ in $(seq 50); do grep -q 'fg-web-1 | web-says-hi' "$d/out" && break; sleep 0.1; done
    kill -INT "$up"
    local rc=0
    wait "$up" || rc=$?
    [ "$rc" -eq 130 ]
    run cat "$d/out"
    [[ "$output" == *"fg-job-1 | job-1"*  && "$output" == *"fg-job-1 | job-2"* ]]
    [[ "$output" == *"Gracefully stopping..."* && "$output" == *"fg-web-1 | web-stopping"* ]]
    [ "$(dk inspect -f '{{.State.Status}}' fg-web-1)" = exited ]
    run wc_ "$d" logs --no-log-prefix job
    [ "$output" = "job-1
job-2" ]
    wc_ "$d" down >/dev/null
}

@test "the example project (examples/compose-app): built images, health-gated start, run, images, rebuild" {
    local d="$DD/example" port
    port=$(free_port)
    cp -r "$REPO_DIR/examples/compose-app" "$d"
    WHARF="$BUILD/wharf" "$d/prepare.sh" -H "unix://$DD/wharf.sock" >/dev/null
    export WEB_PORT=$port COMPOSE_PROJECT_NAME=ex
    run wc_ "$d" up -d
    [ "$status" -eq 0 ]
    [[ "$output" == *"Service web  Built"* && "$output" == *"Container ex-data-1  Healthy"* ]]
    [ "$(curl -s "http://127.0.0.1:$port/")" = "hello from the shopfront" ]
    for _ in $(seq 30); do wc_ "$d" logs worker | grep -q working && break; sleep 0.1; done
    [[ "$(wc_ "$d" logs worker)" == *"ex-worker-1 | working"* ]]
    [ "$(wc_ "$d" run --rm -T web cat /www/index.html | tail -1)" = "hello from the shopfront" ]
    run wc_ "$d" run --rm -T worker sh -c 'exit 7'
    [ "$status" -eq 7 ]
    [ -z "$(dk ps -aq --filter label=com.docker.compose.oneoff=True)" ]
    run wc_ "$d" images
    [[ "$output" == *ex-web* && "$output" == *localhost/compose-base* ]]
    data=$(dk inspect -f '{{.Id}}' ex-data-1)
    # a new build argument: up --build rebuilds, and only web is replaced
    GREETING=rebuilt run wc_ "$d" up -d --build
    [ "$status" -eq 0 ]
    [[ "$output" == *"Container ex-web-1  Recreated"* ]]
    [ "$(dk inspect -f '{{.Id}}' ex-data-1)" = "$data" ]
    for _ in $(seq 30); do [ "$(curl -s "http://127.0.0.1:$port/")" = rebuilt ] && break; sleep 0.1; done
    [ "$(curl -s "http://127.0.0.1:$port/")" = rebuilt ]
    # --rmi local takes the images built here, not the named base image
    run wc_ "$d" down -v --rmi local
    [ "$status" -eq 0 ]
    [[ "$output" == *"Image ex-web  Removed"* && "$output" == *"Image ex-worker  Removed"* ]]
    run dk image inspect ex-web
    [ "$status" -ne 0 ]
    dk image inspect localhost/compose-base:1 >/dev/null
    run dk inspect ex-data-1
    [ "$status" -ne 0 ]
    run wc_ "$d" down --rmi some
    [ "$status" -eq 1 ]
}
