#!/usr/bin/env bats
# Container networks driven by the real docker CLI (28.x) against a private
# wharf daemon: the same scenarios as network.bats plus what only the docker
# client does (attached runs, exec, docker port/ps/inspect output, events).
# Subnets come from a test pool clear of the host's routes; the upstream DNS
# server is 127.0.0.1, so no lookup leaves the host.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
    command -v docker >/dev/null || skip "the docker CLI is not installed"
    export DD BR
    DD=$(mktemp -d /tmp/wharf-dnet.XXXXXX)
    BR="wtd$((RANDOM % 100000))"
    make_rootfs "$DD/rootfs"
    podman_image_tar "$DD/rootfs" "$DD/bb.tar" localhost/wharf-bb:1 'CMD ["sh"]' 'EXPOSE 8080'
    rm -rf "$DD/rootfs"
    cat >"$DD/daemon.json" <<EOF
{"bridge": "$BR", "dns": ["127.0.0.1"],
 "default-address-pools": [{"base": "10.203.0.0/16", "size": 24}]}
EOF
    start_daemon
    dk load -i "$DD/bb.tar" >/dev/null
}

start_daemon() {
    daemon_start --config-file "$DD/daemon.json"
}

teardown_file() {
    [ -n "${DD:-}" ] || return 0
    dk ps -aq 2>/dev/null | xargs -r docker -H "unix://$DD/wharf.sock" rm -f >/dev/null 2>&1
    dk network prune -f >/dev/null 2>&1
    daemon_stop
    ip link del "$BR" 2>/dev/null || true
    rm -rf "$DD"
}

uname_() {
    echo "d${BATS_TEST_NUMBER}x$RANDOM"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'
}

@test "docker: two containers on a network reach each other by name; a third elsewhere cannot" {
    local a b web
    a=$(uname_) b=$(uname_) web=$(uname_)
    dk network create "$a" >/dev/null
    dk network create "$b" >/dev/null
    dk run -d --name "$web" --network "$a" --network-alias "$web-api" localhost/wharf-bb:1 \
        sh -c 'mkdir /www; echo hi >/www/i; exec httpd -f -p 8080 -h /www' >/dev/null
    run dk run --rm --network "$a" localhost/wharf-bb:1 sh -c \
        "ping -c1 -W2 $web >/dev/null && wget -qO- http://$web-api:8080/i &&
         printf 'GET /i HTTP/1.0\r\n\r\n' | nc -w2 $web 8080 | grep -q hi && echo nc-ok"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = hi ]
    [ "${lines[1]}" = nc-ok ]
    run dk exec "$web" nslookup "$web-api"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Address: $(dk inspect -f "{{(index .NetworkSettings.Networks \"$a\").IPAddress}}" "$web")"* ]]
    local ip
    ip=$(dk inspect -f "{{(index .NetworkSettings.Networks \"$a\").IPAddress}}" "$web")
    run dk run --rm --network "$b" localhost/wharf-bb:1 nslookup "$web"
    [ "$status" -ne 0 ]
    run dk run --rm --network "$b" localhost/wharf-bb:1 ping -c1 -W1 "$ip"
    [ "$status" -ne 0 ]
    run dk run --rm --network "$b" localhost/wharf-bb:1 sh -c "echo | nc -w1 $ip 8080"
    [ "$status" -ne 0 ]
    # inspect shows the network's containers, and the container's networks
    run dk network inspect -f '{{range .Containers}}{{.Name}}{{end}}' "$a"
    [ "$output" = "$web" ]
    local short
    short=$(dk inspect -f '{{.Id}}' "$web" | cut -c1-12)
    run dk inspect -f "{{(index .NetworkSettings.Networks \"$a\").Aliases}} {{(index .NetworkSettings.Networks \"$a\").DNSNames}}" "$web"
    [ "$output" = "[$web-api] [$web $web-api $short]" ]
    dk rm -f "$web" >/dev/null
    dk network rm "$a" "$b" >/dev/null
}

@test "docker: a published port answers on 127.0.0.1; docker port and ps show it; -P uses EXPOSE" {
    local c p
    c=$(uname_) p=$(free_port)
    dk run -d --name "$c" -p "127.0.0.1:$p:8080" -P localhost/wharf-bb:1 \
        sh -c 'mkdir /www; echo pub >/www/i; exec httpd -f -p 8080 -h /www' >/dev/null
    for _ in $(seq 30); do curl -sf "http://127.0.0.1:$p/i" >/dev/null && break; sleep 0.1; done
    [ "$(curl -sf "http://127.0.0.1:$p/i")" = pub ]
    run dk port "$c" 8080/tcp
    [ "$status" -eq 0 ]
    [[ "$output" == *"127.0.0.1:$p"* ]]
    [ "${#lines[@]}" -eq 1 ] # -P does not add a port that -p already publishes
    run dk ps --format '{{.Names}} {{.Ports}}'
    [[ "$output" == *"$c 127.0.0.1:$p->8080/tcp"* ]]
    # a port of its own for an exposed port nobody mapped
    local c2 q
    c2=$(uname_)
    dk run -d --name "$c2" -P localhost/wharf-bb:1 \
        sh -c 'mkdir /www; echo auto >/www/i; exec httpd -f -p 8080 -h /www' >/dev/null
    q=$(dk port "$c2" 8080 | head -1)
    q=${q##*:}
    for _ in $(seq 30); do curl -sf "http://127.0.0.1:$q/i" >/dev/null && break; sleep 0.1; done
    [ "$(curl -sf "http://127.0.0.1:$q/i")" = auto ]
    run dk inspect -f '{{json .NetworkSettings.Ports}}' "$c2"
    [ "$output" = "{\"8080/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"$q\"}]}" ]
    dk rm -f "$c" "$c2" >/dev/null
}

@test "docker: a port is held only while its container runs (stop frees it, start takes it again)" {
    local a b p
    a=$(uname_) b=$(uname_) p=$(free_port)
    dk run -d --name "$a" -p "127.0.0.1:$p:8080" localhost/wharf-bb:1 \
        sh -c 'mkdir /www; echo A >/www/i; exec httpd -f -p 8080 -h /www' >/dev/null
    for _ in $(seq 30); do curl -sf "http://127.0.0.1:$p/i" >/dev/null && break; sleep 0.1; done
    [ "$(curl -sf "http://127.0.0.1:$p/i")" = A ]
    dk stop -t 1 "$a" >/dev/null
    # stopped: no ports in inspect, docker port or ps, and no forwarding
    [ "$(dk inspect -f '{{json .NetworkSettings.Ports}}' "$a")" = '{}' ]
    [ -z "$(dk port "$a")" ]
    # the port is free for another container (compose recreates this way)
    dk run -d --name "$b" -p "127.0.0.1:$p:8080" localhost/wharf-bb:1 \
        sh -c 'mkdir /www; echo B >/www/i; exec httpd -f -p 8080 -h /www' >/dev/null
    for _ in $(seq 30); do curl -sf "http://127.0.0.1:$p/i" >/dev/null && break; sleep 0.1; done
    [ "$(curl -sf "http://127.0.0.1:$p/i")" = B ]
    # ... so the first cannot start while the second holds it
    run dk start "$a"
    [ "$status" -ne 0 ]
    [[ "$output" == *"Bind for 127.0.0.1:$p failed: port is already allocated"* ]]
    [ "$(dk inspect -f '{{.State.Status}}' "$a")" = exited ]
    [[ "$(dk inspect -f '{{.State.Error}}' "$a")" == *"port is already allocated"* ]]
    dk rm -f "$b" >/dev/null
    dk start "$a" >/dev/null
    for _ in $(seq 30); do curl -sf "http://127.0.0.1:$p/i" >/dev/null && break; sleep 0.1; done
    [ "$(curl -sf "http://127.0.0.1:$p/i")" = A ]
    [ "$(dk port "$a" 8080)" = "127.0.0.1:$p" ]
    # a container that exits by itself gives its ports back too
    dk rm -f "$a" >/dev/null
    dk run -d --name "$a" -p "127.0.0.1:$p:8080" localhost/wharf-bb:1 true >/dev/null
    [ "$(dk wait "$a")" = 0 ]
    for _ in $(seq 30); do [ "$(dk inspect -f '{{json .NetworkSettings.Ports}}' "$a")" = '{}' ] && break; sleep 0.1; done
    dk run -d --name "$b" -p "127.0.0.1:$p:8080" localhost/wharf-bb:1 sleep 1000 >/dev/null
    dk rm -f "$a" "$b" >/dev/null
}

@test "docker: --network none, host and container:NAME" {
    run dk run --rm --network none localhost/wharf-bb:1 ip -o link
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "1: lo: <LOOPBACK,UP,LOWER_UP>"* ]]
    run dk run --rm --network host localhost/wharf-bb:1 hostname
    [ "$output" = "$(hostname)" ]
    local web
    web=$(uname_)
    dk run -d --name "$web" localhost/wharf-bb:1 \
        sh -c 'mkdir /www; echo same >/www/i; exec httpd -f -p 8080 -h /www' >/dev/null
    run dk run --rm --network "container:$web" localhost/wharf-bb:1 sh -c 'sleep 0.3; wget -qO- http://127.0.0.1:8080/i'
    [ "$output" = same ]
    run dk inspect -f '{{.HostConfig.NetworkMode}}' "$web"
    [ "$output" = bridge ]
    dk rm -f "$web" >/dev/null
}

@test "docker: network ls, inspect, connect, disconnect, prune and their events" {
    local a c since
    a=$(uname_) c=$(uname_)
    since=$(date +%s)
    local id
    id=$(dk network create --label k=v "$a")
    run dk network ls --filter "name=$a" --format '{{.ID}} {{.Name}} {{.Driver}} {{.Scope}}'
    [ "$output" = "${id:0:12} $a bridge local" ]
    run dk network ls --format '{{.Name}}'
    [[ "$output" == *bridge*host*none* ]]
    run dk network inspect -f '{{.Name}} {{.Driver}} {{.Scope}} {{.Labels.k}} {{.Internal}}' "$a"
    [ "$output" = "$a bridge local v false" ]
    dk run -d --name "$c" localhost/wharf-bb:1 sleep 1000 >/dev/null
    dk network connect "$a" "$c"
    run dk exec "$c" ip -o -4 addr show eth1
    [[ "$output" == *"inet $(dk inspect -f "{{(index .NetworkSettings.Networks \"$a\").IPAddress}}" "$c")/24"* ]]
    run dk network rm "$a"
    [ "$status" -ne 0 ]
    [[ "$output" == *"has active endpoints"* ]]
    dk network disconnect "$a" "$c"
    run dk exec "$c" ip -o link show eth1
    [ "$status" -ne 0 ]
    run dk network prune -f
    [[ "$output" == *"$a"* ]]
    run dk events --since "$since" --until "$(($(date +%s) + 1))" --filter type=network \
        --format '{{.Action}} {{.Actor.Attributes.name}}'
    [[ "$output" == *"create $a"*"connect $a"*"disconnect $a"*"destroy $a"* ]]
    dk rm -f "$c" >/dev/null
}

@test "docker: bad input is refused with Docker's messages and leaves nothing" {
    local a b c p
    a=$(uname_) b=$(uname_) c=$(uname_)
    local x=$((RANDOM % 200 + 20))
    while ip route | grep -q "^10.204.$x."; do x=$((x + 1)); done
    dk network create --subnet "10.204.$x.0/24" "$a" >/dev/null
    run dk network create --subnet "10.204.$x.0/25" "$b"
    [ "$status" -eq 1 ]
    [ "$output" = "Error response from daemon: invalid pool request: Pool overlaps with other one on this address space" ]
    run dk run --rm --network nosuch localhost/wharf-bb:1 true
    [ "$status" -eq 125 ]
    [[ "$output" == *"network nosuch not found"* ]]
    run dk run --rm -p 80:80/xyz localhost/wharf-bb:1 true
    [ "$status" -eq 125 ]
    [[ "$output" == *"invalid proto: xyz"* ]]
    p=$(free_port)
    dk run -d --name "$c" -p "$p:8080" localhost/wharf-bb:1 sleep 1000 >/dev/null
    local before containers
    before=$(ip -o link | wc -l)
    containers=$(dk ps -aq | wc -l)
    run dk run --rm -p "$p:8080" localhost/wharf-bb:1 true
    [ "$status" -eq 125 ]
    [[ "$output" == *"Bind for 0.0.0.0:$p failed: port is already allocated"* ]]
    [ "$(dk ps -aq | wc -l)" -eq "$containers" ]
    [ "$(ip -o link | wc -l)" -eq "$before" ]
    run dk network rm none
    [ "$status" -ne 0 ]
    [[ "$output" == *"pre-defined network"* ]]
    run dk network disconnect "$a" "$c"
    [ "$status" -ne 0 ]
    [[ "$output" == *"is not connected to network $a"* ]]
    dk rm -f "$c" >/dev/null
    dk network rm "$a" >/dev/null
}

@test "docker: after network rm and a daemon restart no interface, rule or namespace of ours is left" {
    local a c p id
    a=$(uname_) c=$(uname_) p=$(free_port)
    # (the default bridge stays while any container uses it)
    dk ps -aq | xargs -r docker -H "unix://$DD/wharf.sock" rm -f >/dev/null
    id=$(dk network create "$a")
    local bridge="br-${id:0:12}"
    local tag
    tag=$(ip -d link show "$bridge" | awk '/alias/ { print $2 }')
    tag=${tag%:*}
    dk run -d --name "$c" --network "$a" -p "$p:8080" localhost/wharf-bb:1 sleep 1000 >/dev/null
    nft list ruleset | grep -q "$bridge"
    dk rm -f "$c" >/dev/null
    dk network rm "$a" >/dev/null
    daemon_stop
    start_daemon
    run ip link show "$bridge"
    [ "$status" -ne 0 ]
    [ -z "$(ip -o link | grep -F "$tag")" ]
    ! nft list ruleset | grep -q "$bridge"
    ! nft list ruleset | grep -q "dport $p "
    run nft list table ip "wharf_${tag#wharf:}"
    [ "$status" -ne 0 ]
    [ -z "$(ls "$DD/root/network/netns")" ]
}
