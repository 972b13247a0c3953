#!/usr/bin/env bats
# Debian's Python docker-compose (1.29) against a private wharf daemon: the
# example project (examples/compose-app) built, brought up, scaled, changed,
# stopped, started and taken down through the Docker Engine API alone.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
    command -v docker-compose >/dev/null || skip "docker-compose is not installed"
    export DD
    DD=$(mktemp -d /tmp/wharf-cv1.XXXXXX)
    daemon_start
    cp -r "$REPO_DIR/examples/compose-app" "$DD/app"
    WHARF="$BUILD/wharf" "$DD/app/prepare.sh" -H "unix://$DD/wharf.sock" >/dev/null
}

teardown_file() {
    [ -d "${DD:-}/app" ] && (cd "$DD/app" && DOCKER_HOST="unix://$DD/wharf.sock" docker-compose -p v1 down -v >/dev/null 2>&1)
    daemon_teardown
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# dc ARGS...: docker-compose 1.29 on the example, against our daemon
dc() {
    (cd "$DD/app" && DOCKER_HOST="unix://$DD/wharf.sock" COMPOSE_INTERACTIVE_NO_CLI=1 \
        docker-compose -p v1 "$@")
}

@test "docker-compose 1.29: build, up -d (health-gated), the page, ps, logs, exec, scale, recreate, stop/start, down" {
    export WEB_PORT
    WEB_PORT=$(free_port)
    run dc up -d
    [ "$status" -eq 0 ]
    for _ in $(seq 50); do [ "$(curl -s "http://127.0.0.1:$WEB_PORT/")" = "hello from the shopfront" ] && break; sleep 0.1; done
    [ "$(curl -s "http://127.0.0.1:$WEB_PORT/")" = "hello from the shopfront" ]
    run dc ps
    [[ "$output" == *v1_web_1* && "$output" == *v1_data_1* && "$output" == *v1_worker_1* ]]
    [ "$(dk() { docker -H "unix://$DD/wharf.sock" "$@"; }; dk inspect -f '{{.State.Health.Status}}' v1_data_1)" = healthy ]
    for _ in $(seq 30); do dc logs worker | grep -q working && break; sleep 0.1; done
    [[ "$(dc logs worker)" == *working* ]]
    [ "$(dc exec -T web cat /www/index.html)" = "hello from the shopfront" ]
    # scale, then back
    dc up -d --scale worker=2 >/dev/null
    [ "$(dc ps -q worker | wc -l)" -eq 2 ]
    dc up -d --scale worker=1 >/dev/null
    [ "$(dc ps -q worker | wc -l)" -eq 1 ]
    # a change to one service recreates it alone; the data volume keeps its data
    data=$(dc ps -q data)
    GREETING=changed dc up -d --build >/dev/null
    [ "$(dc ps -q data)" = "$data" ]
    for _ in $(seq 50); do [ "$(curl -s "http://127.0.0.1:$WEB_PORT/")" = changed ] && break; sleep 0.1; done
    [ "$(curl -s "http://127.0.0.1:$WEB_PORT/")" = changed ]
    dc stop >/dev/null
    [ -z "$(dc ps -q --filter status=running 2>/dev/null || true)" ] || [ "$(docker -H "unix://$DD/wharf.sock" ps -q --filter label=com.docker.compose.project=v1 | wc -l)" -eq 0 ]
    dc start >/dev/null
    [ "$(docker -H "unix://$DD/wharf.sock" ps -q --filter label=com.docker.compose.project=v1 | wc -l)" -eq 3 ]
    [ "$(docker -H "unix://$DD/wharf.sock" exec v1_data_1 cat /data/starts | wc -l)" -ge 2 ]
    dc down >/dev/null
    [ -z "$(docker -H "unix://$DD/wharf.sock" ps -aq --filter label=com.docker.compose.project=v1)" ]
    # the named volume stays until down -v
    docker -H "unix://$DD/wharf.sock" volume inspect v1_data >/dev/null
    dc down -v >/dev/null
    run docker -H "unix://$DD/wharf.sock" volume inspect v1_data
    [ "$status" -ne 0 ]
}
