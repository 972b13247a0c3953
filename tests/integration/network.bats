#!/usr/bin/env bats
# Container networks through the `wharf` CLI: user-defined bridge networks
# with name resolution and isolation, published ports, the host/none/
# container modes, connect/disconnect, bad input that leaves nothing half
# configured, and clean-up after network rm and a daemon restart.
#
# The daemon runs on a private socket and data root, with its own default
# bridge name, subnets from a test pool (picked clear of the host's routes,
# so runs side by side do not collide) and an upstream DNS server on
# 127.0.0.1 so that no lookup ever leaves the host. Traffic stays between
# the host and the test's own namespaces.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
    export DD BR
    DD=$(mktemp -d /tmp/wharf-net.XXXXXX)
    BR="wtn$((RANDOM % 100000))"
    make_rootfs "$DD/rootfs"
    podman_image_tar "$DD/rootfs" "$DD/bb.tar" localhost/wharf-bb:1 'CMD ["sh"]'
    rm -rf "$DD/rootfs"
    # a CNI network configuration of the test's own: its bridge, a subnet
    # no route uses, addresses kept under the test directory
    export CNIBR="wtc$((RANDOM % 100000))" CNINET
    local x=$((RANDOM % 200 + 20))
    while ip route | grep -q "^10.207.$x."; do x=$((x + 1)); done
    CNINET="10.207.$x"
    mkdir -p "$DD/cni"
    cat >"$DD/cni/10-wharf-test.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "wharf-test", "plugins": [
  {"type": "bridge", "bridge": "$CNIBR", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$CNINET.0/24"}]],
            "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$DD/cni-ipam"}},
  {"type": "firewall"}]}
EOF
    cat >"$DD/daemon.json" <<EOF
{"bridge": "$BR", "dns": ["127.0.0.1"], "cni-conf-dir": "$DD/cni",
 "default-address-pools": [{"base": "10.201.0.0/16", "size": 24}]}
EOF
    start_daemon
    wh load -i "$DD/bb.tar" >/dev/null
}

start_daemon() {
    daemon_start --config-file "$DD/daemon.json"
}

teardown_file() {
    [ -n "${DD:-}" ] || return 0
    wh ps -aq 2>/dev/null | xargs -r "$BUILD/wharf" -H "unix://$DD/wharf.sock" rm -f >/dev/null 2>&1
    wh network prune -f >/dev/null 2>&1
    daemon_stop
    ip link del "$BR" 2>/dev/null || true
    ip link del "$CNIBR" 2>/dev/null || true
    rm -rf "$DD"
}

# A name unique to this test.
uname_() {
    echo "n${BATS_TEST_NUMBER}x$RANDOM"
}

# wait_exit NAME: waits for the container to exit and prints its status.
wait_exit() {
    wh wait "$1"
}

# A free TCP port on the host.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'
}

# The IPv4 address of container NAME on network NET.
ip_of() {
    wh inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1"
}

# What this daemon owns on the host: interfaces carrying its alias, and its
# nftables table.
our_tag() {
    cat "$DD/tag" 2>/dev/null
}

@test "containers on one network reach each other by name and alias; another network's cannot" {
    local a b web c1 c3
    a=$(uname_) b=$(uname_) web=$(uname_) c1=$(uname_) c3=$(uname_)
    wh network create "$a" >/dev/null
    wh network create "$b" >/dev/null
    wh run -d --name "$web" --network "$a" --network-alias "$web-alias" localhost/wharf-bb:1 \
        sh -c 'mkdir /www; echo hello-from-web >/www/index.html; exec httpd -f -p 8080 -h /www' >/dev/null
    wh run -d --name "$c1" --network "$a" localhost/wharf-bb:1 sh -c \
        "nslookup $web && ping -c1 -W2 $web && wget -qO- http://$web-alias:8080/index.html" >/dev/null
    run wait_exit "$c1"
    [ "$output" = 0 ] || { wh logs "$c1"; false; }
    run wh logs "$c1"
    [[ "$output" == *"Server:"*"127.0.0.11"* ]]
    [[ "$output" == *"hello-from-web"* ]]
    # resolv.conf points at the embedded server; hosts names the container
    local webip
    webip=$(ip_of "$web" "$a")
    [[ "$webip" == 10.201.* ]]
    # from the other network: the name does not resolve, the address is unreachable
    wh run -d --name "$c3" --network "$b" localhost/wharf-bb:1 sh -c \
        "nslookup $web; echo lookup=\$?; ping -c1 -W1 $webip; echo ping=\$?; cat /etc/resolv.conf" >/dev/null
    wait_exit "$c3" >/dev/null
    run wh logs "$c3"
    [[ "$output" == *"lookup=1"* ]]
    [[ "$output" == *"ping=1"* ]]
    [[ "$output" == *"nameserver 127.0.0.11"* ]]
    # a renamed container answers to its new name
    wh rename "$web" "$web-renamed"
    wh run -d --name "$c1-2" --network "$a" localhost/wharf-bb:1 sh -c \
        "nslookup $web-renamed && ! nslookup $web" >/dev/null
    [ "$(wait_exit "$c1-2")" = 0 ] || { wh logs "$c1-2"; false; }
    wh rm -f "$web-renamed" "$c1" "$c1-2" "$c3" >/dev/null
    wh network rm "$a" "$b" >/dev/null
}

@test "the default bridge: an address, /etc/hosts and hostname, no embedded DNS" {
    local c
    c=$(uname_)
    wh run -d --name "$c" --hostname myhost localhost/wharf-bb:1 sh -c \
        'ip -o -4 addr show eth0; ip route; cat /etc/hostname /etc/hosts /etc/resolv.conf; hostname' >/dev/null
    wait_exit "$c" >/dev/null
    run wh logs "$c"
    local ip
    ip=$(wh inspect -f '{{.NetworkSettings.IPAddress}}' "$c")
    [[ "$ip" == 10.201.* ]]
    [[ "$output" == *"inet $ip/24"* ]]
    [[ "$output" == *"default via ${ip%.*}.1 dev eth0"* ]]
    [[ "$output" == *"$ip	myhost"* ]]
    [[ "$output" == *"nameserver 127.0.0.1"* ]]
    [ "${lines[-1]}" = myhost ]
    [ "$(wh inspect -f '{{.HostConfig.NetworkMode}} {{.NetworkSettings.Networks.bridge.Gateway}}' "$c")" = "bridge ${ip%.*}.1" ]
    # the bridge was made for it, and stays while the daemon runs
    ip link show "$BR" >/dev/null
    wh rm -f "$c" >/dev/null
    ip link show "$BR" >/dev/null
}

@test "a published port answers on 127.0.0.1 and on the host's addresses; port and ps show it" {
    local c p1 p2
    c=$(uname_) p1=$(free_port) p2=$(free_port)
    wh run -d --name "$c" -p "127.0.0.1:$p1:8080" -p "$p2:8080/tcp" localhost/wharf-bb:1 \
        sh -c 'mkdir /www; echo published >/www/i; exec httpd -f -p 8080 -h /www' >/dev/null
    local gw
    gw=$(wh inspect -f '{{.NetworkSettings.Gateway}}' "$c")
    for _ in $(seq 30); do curl -sf "http://127.0.0.1:$p1/i" >/dev/null && break; sleep 0.1; done
    [ "$(curl -sf "http://127.0.0.1:$p1/i")" = published ]
    [ "$(curl -sf "http://127.0.0.1:$p2/i")" = published ]
    [ "$(curl -sf "http://$gw:$p2/i")" = published ]
    # bound to 127.0.0.1 only: not on the bridge's address
    run curl -sf --max-time 2 "http://$gw:$p1/i"
    [ "$status" -ne 0 ]
    run wh port "$c"
    [ "${lines[0]}" = "8080/tcp -> 0.0.0.0:$p2" ] || [ "${lines[1]}" = "8080/tcp -> 0.0.0.0:$p2" ]
    [[ "$output" == *"8080/tcp -> 127.0.0.1:$p1"* ]]
    run wh ps --format '{{.Names}} {{.Ports}}'
    [[ "$output" == *"$c 0.0.0.0:$p2->8080/tcp, 127.0.0.1:$p1->8080/tcp"* ||
       "$output" == *"$c 127.0.0.1:$p1->8080/tcp, 0.0.0.0:$p2->8080/tcp"* ]]
    # the rules are gone with the container
    wh rm -f "$c" >/dev/null
    run curl -sf --max-time 2 "http://127.0.0.1:$p1/i"
    [ "$status" -ne 0 ]
    ! nft list ruleset | grep -q "dport $p1 "
}

@test "-P publishes the exposed ports on free host ports" {
    local c
    c=$(uname_)
    wh run -d --name "$c" -P --expose 8080 localhost/wharf-bb:1 \
        sh -c 'mkdir /www; echo any >/www/i; exec httpd -f -p 8080 -h /www' >/dev/null
    run wh port "$c" 8080
    [ "$status" -eq 0 ]
    [[ "$output" == 0.0.0.0:* ]]
    local p=${output#0.0.0.0:}
    [ "$p" -gt 0 ]
    for _ in $(seq 30); do curl -sf "http://127.0.0.1:$p/i" >/dev/null && break; sleep 0.1; done
    [ "$(curl -sf "http://127.0.0.1:$p/i")" = any ]
    run wh port "$c" 9999
    [ "$status" -eq 1 ]
    [ "$output" = "Error: No public port '9999/tcp' published for $c" ]
    wh rm -f "$c" >/dev/null
}

@test "--network none has only lo; host shares the host's; container: shares another's" {
    local c n h web j
    c=$(uname_) h=$(uname_) web=$(uname_) j=$(uname_)
    wh run -d --name "$c" --network none localhost/wharf-bb:1 ip -o link >/dev/null
    wait_exit "$c" >/dev/null
    run wh logs "$c"
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" == "1: lo: <LOOPBACK,UP,LOWER_UP>"* ]]
    [ "$(wh inspect -f '{{.HostConfig.NetworkMode}}' "$c")" = none ]
    wh run -d --name "$h" --network host localhost/wharf-bb:1 sh -c 'ip -o link | wc -l; hostname' >/dev/null
    wait_exit "$h" >/dev/null
    run wh logs "$h"
    [ "${lines[0]}" -eq "$(ip -o link | wc -l)" ]
    [ "${lines[1]}" = "$(hostname)" ]
    wh run -d --name "$web" localhost/wharf-bb:1 \
        sh -c 'mkdir /www; echo shared >/www/i; exec httpd -f -p 8080 -h /www' >/dev/null
    wh run -d --name "$j" --network "container:$web" localhost/wharf-bb:1 \
        sh -c 'sleep 0.3; wget -qO- http://127.0.0.1:8080/i; ip -o -4 addr show eth0' >/dev/null
    wait_exit "$j" >/dev/null
    run wh logs "$j"
    [ "${lines[0]}" = shared ]
    [[ "${lines[1]}" == *"$(wh inspect -f '{{.NetworkSettings.IPAddress}}' "$web")/24"* ]]
    wh rm -f "$c" "$h" "$web" "$j" >/dev/null
}

@test "connect and disconnect a running container" {
    local a web c
    a=$(uname_) web=$(uname_) c=$(uname_)
    wh network create "$a" >/dev/null
    wh run -d --name "$web" localhost/wharf-bb:1 sleep 1000 >/dev/null
    wh network connect --alias "$web-x" "$a" "$web"
    local ip
    ip=$(ip_of "$web" "$a")
    [[ "$ip" == 10.201.* ]]
    wh run -d --name "$c" --network "$a" localhost/wharf-bb:1 sh -c "ping -c1 -W2 $web-x" >/dev/null
    [ "$(wait_exit "$c")" = 0 ]
    run wh network connect "$a" "$web"
    [ "$status" -eq 1 ]
    [[ "$output" == *"already exists in network $a"* ]]
    run wh network inspect -f '{{len .Containers}}' "$a"
    [ "$output" = 2 ]
    wh network disconnect "$a" "$web"
    run wh inspect -f '{{len .NetworkSettings.Networks}}' "$web"
    [ "$output" = 1 ]
    wh rm -f "$web" "$c" >/dev/null
    wh network rm "$a" >/dev/null
}

@test "internal networks reach each other but not out; create, ls, inspect, prune" {
    local a c
    a=$(uname_) c=$(uname_)
    wh network create --internal --label team=x "$a" >/dev/null
    run wh network ls --format '{{.Name}} {{.Driver}} {{.Internal}}' --filter "label=team=x"
    [ "$output" = "$a bridge true" ]
    run wh network inspect -f '{{.Internal}} {{.Labels.team}}' "$a"
    [ "$output" = "true x" ]
    wh run -d --name "$c" --network "$a" localhost/wharf-bb:1 sh -c 'ip route' >/dev/null
    wait_exit "$c" >/dev/null
    run wh logs "$c"
    # no default route out of an internal network
    [[ "$output" != *default* ]]
    wh rm -f "$c" >/dev/null
    run wh network prune -f --filter "label=team=x"
    [ "${lines[0]}" = "Deleted Networks:" ]
    [ "${lines[1]}" = "$a" ]
    run wh network inspect "$a"
    [ "$status" -eq 1 ]
    [ "$output" = "[]"$'\n'"Error: No such network: $a" ] || [[ "$output" == *"No such network: $a"* ]]
}

@test "a CNI network: the plugins' addresses, names that resolve, DEL at removal" {
    [ -x /usr/lib/cni/bridge ] || skip "containernetworking-plugins is not installed"
    local n a b
    n=$(uname_) a=$(uname_) b=$(uname_)
    wh network create -d cni:wharf-test "$n" >/dev/null
    run wh network ls --format '{{.Name}} {{.Driver}}' --filter "name=$n"
    [ "$output" = "$n cni:wharf-test" ]
    wh run -d --name "$a" --network "$n" localhost/wharf-bb:1 sleep 1000 >/dev/null
    local ip
    ip=$(ip_of "$a" "$n")
    [[ "$ip" == "$CNINET".* ]]
    [ -f "$DD/cni-ipam/wharf-test/$ip" ]
    wh run -d --name "$b" --network "$n" localhost/wharf-bb:1 sh -c "ping -c1 -W2 $a && ip -o -4 addr show eth0" >/dev/null
    [ "$(wait_exit "$b")" = 0 ]
    run wh logs "$b"
    [[ "$output" == *"inet $CNINET."*"/24"* ]]
    # removal runs DEL: host-local gives the address back
    wh rm -f "$a" "$b" >/dev/null
    [ ! -f "$DD/cni-ipam/wharf-test/$ip" ]
    wh network rm "$n" >/dev/null
    run wh network create -d cni:nosuchlist "$n"
    [ "$status" -eq 1 ]
    [[ "$output" == *"no network configuration named nosuchlist"* ]]
}

@test "bad input: one-line errors and nothing half-configured" {
    local a b c p net3
    a=$(uname_) b=$(uname_) c=$(uname_)
    local x=$((RANDOM % 200 + 20))
    while ip route | grep -q "^10.202.$x."; do x=$((x + 1)); done
    wh network create --subnet "10.202.$x.0/24" "$a" >/dev/null
    run wh network create --subnet "10.202.$x.128/25" "$b"
    [ "$status" -eq 1 ]
    [ "$output" = "Error response from daemon: invalid pool request: Pool overlaps with other one on this address space" ]
    run wh network create --subnet 10.1.2.0/33 "$b"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    run wh network create "$a"
    [ "$output" = "Error response from daemon: network with name $a already exists" ]
    local before_links before_ns
    before_links=$(ip -o link | wc -l)
    before_ns=$(ls "$DD/root/network/netns" | wc -l)
    # a port some process on the host holds
    p=$(free_port)
    python3 -c "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', $p)); s.listen(); time.sleep(30)" &
    local holder=$!
    for _ in $(seq 30); do ss -ltn | grep -q ":$p " && break; sleep 0.1; done
    run wh run -d --name "$c" -p "$p:80" localhost/wharf-bb:1 true
    kill "$holder"
    [ "$status" -eq 125 ]
    [ "$output" = "Error response from daemon: driver failed programming external connectivity: Bind for 0.0.0.0:$p failed: port is already allocated" ]
    # a port another container publishes
    p=$(free_port)
    wh run -d --name "$c" -p "$p:80" localhost/wharf-bb:1 sleep 100 >/dev/null
    run wh run -d -p "127.0.0.1:$p:80" localhost/wharf-bb:1 true
    [ "$status" -eq 125 ]
    [[ "$output" == *"Bind for 127.0.0.1:$p failed: port is already allocated" ]]
    wh rm -f "$c" >/dev/null
    run wh run -d --network nosuch localhost/wharf-bb:1 true
    [ "$status" -eq 125 ]
    [ "$output" = "Error response from daemon: network nosuch not found" ]
    for spec in abc 8080:abc 99999:80 80/xyz 1.2.3:80:80; do
        run wh run -d -p "$spec" localhost/wharf-bb:1 true
        [ "$status" -eq 125 ]
        [[ "${lines[0]}" == "wharf: invalid "* ]]
    done
    run wh network rm bridge
    [ "$status" -eq 1 ]
    [ "$output" = "Error response from daemon: bridge is a pre-defined network and cannot be removed" ]
    # nothing of the refused containers stayed behind
    [ "$(wh ps -aq | wc -l)" -eq 0 ]
    # (the removed container's veth goes on a thread of its own)
    for _ in $(seq 50); do [ "$(ip -o link | wc -l)" -eq "$before_links" ] && break; sleep 0.1; done
    [ "$(ip -o link | wc -l)" -eq "$before_links" ]
    [ "$(ls "$DD/root/network/netns" | wc -l)" -eq "$before_ns" ]
    [ "$(ls "$DD/root/network/sandboxes" | wc -l)" -eq 0 ]
    wh network rm "$a" >/dev/null
}

@test "after network rm and a daemon restart nothing of ours is left" {
    local a web c p bridge tag table
    a=$(uname_) web=$(uname_) c=$(uname_) p=$(free_port)
    local id
    id=$(wh network create "$a")
    bridge="br-${id:0:12}"
    tag=$(ip -d link show "$bridge" | awk '/alias/ { print $2 }')
    [[ "$tag" == wharf:*:"$id" ]]
    tag=${tag%:*}
    table="wharf_${tag#wharf:}"
    wh run -d --name "$web" --network "$a" -p "$p:8080" localhost/wharf-bb:1 \
        sh -c 'mkdir /www; echo alive >/www/i; exec httpd -f -p 8080 -h /www' >/dev/null
    nft list table ip "$table" | grep -q "dport $p "
    # live restore: the daemon goes and comes back, the container keeps its
    # network, port and names
    daemon_stop
    [ "$(curl -sf --max-time 3 "http://127.0.0.1:$p/i")" = alive ]
    start_daemon
    [ "$(curl -sf --max-time 3 "http://127.0.0.1:$p/i")" = alive ]
    wh run -d --name "$c" --network "$a" localhost/wharf-bb:1 ping -c1 -W2 "$web" >/dev/null
    [ "$(wait_exit "$c")" = 0 ]
    run wh run -d -p "$p:80" localhost/wharf-bb:1 true
    [[ "$output" == *"port is already allocated"* ]]
    wh rm -f "$web" "$c" >/dev/null
    wh network rm "$a" >/dev/null
    # a stale interface of ours (as a crash would leave one) goes at start
    ip link add "wtst$((RANDOM % 10000))" type bridge
    local stale
    stale=$(ip -o link show type bridge | awk -F': ' '/wtst/ { print $2 }' | tail -1)
    ip link set "$stale" alias "$tag:0000000000000000000000000000000000000000000000000000000000000000"
    daemon_stop
    start_daemon
    run ip link show "$stale"
    [ "$status" -ne 0 ]
    run ip link show "$bridge"
    [ "$status" -ne 0 ]
    [ -z "$(ip -o link | grep -F "$tag")" ]
    # the default bridge went with the daemon, unused; with no container and
    # no user network the table is gone too
    run ip link show "$BR"
    [ "$status" -ne 0 ]
    run nft list table ip "$table"
    [ "$status" -ne 0 ]
    [ -z "$(ls "$DD/root/network/netns")" ]
}
