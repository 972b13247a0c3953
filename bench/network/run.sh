#!/usr/bin/env bash
# Network benchmark: what a container network costs, wharf against dockerd,
# both driven by the same docker 28 CLI on one busybox-static image.
#
#   bench/network/run.sh                 ITER=30, LOOKUPS=2000
#
# 1. Start latency: `run --rm IMAGE true` on the default bridge and with
#    --network none, ITER alternating rounds (bench/engine/timerun.py); the
#    extra cost of a bridged container is the difference of the medians.
# 2. DNS: a container on a user-defined network asks the embedded server
#    (127.0.0.11) for another container's name LOOKUPS times, one query at a
#    time, with bench/network/dnsq.c (built statically, copied into the
#    image); median and p90 of the round trips.
#
# Both daemons run on private sockets and roots in one temp dir. wharfd gets
# its own default bridge name and address pool; dockerd gets a bridge made
# here (--bridge) and --iptables=false, so the host's firewall is not
# touched (its containers still get a veth, an address and a route, which
# is the cost measured; wharf programs no rule for a container without
# published ports either). Upstream DNS is 127.0.0.1 for both: no lookup
# leaves the host. At exit the containers, networks, daemons (by PID), the
# bridges made here and the temp dir go.
#
# Environment: ITER, LOOKUPS, BUILD, WHARF, DOCKER, DOCKERD (as bench/engine).
set -u

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$REPO/build}
ITER=${ITER:-30}
LOOKUPS=${LOOKUPS:-2000}
WHARF=${WHARF:-$BUILD/wharf}
if [ -z "${DOCKER:-}" ]; then
    DOCKER=/usr/local/bin/docker
    [ -x "$DOCKER" ] || DOCKER=$(command -v docker 2>/dev/null || echo docker)
fi
DOCKERD=${DOCKERD:-$(command -v dockerd 2>/dev/null || echo /usr/sbin/dockerd)}
IMG=localhost/wharf-netbench-bb:1

[ "$(id -u)" = 0 ] || { echo "the network benchmark runs as root" >&2; exit 2; }
for t in jq python3 curl podman cc; do
    command -v "$t" >/dev/null || { echo "$t is needed" >&2; exit 2; }
done
[ -x "$WHARF" ] || { echo "$WHARF is not built (make build)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/wbn.XXXXXX)
export DOCKER_CONFIG=$WORK/docker-cli
WHARF_SOCK=$WORK/wharf.sock
DOCKER_SOCK=$WORK/docker.sock
WHARFD_PID="" DOCKERD_PID=""
WBR="wbw$((RANDOM % 10000))" DBR="wbd$((RANDOM % 10000))"
BRIDGES_BEFORE=$(ip -o link show type bridge | awk -F': ' '{ print $2 }' | sort)
HOST_PATHS=(/etc/docker/key.json /run/containerd/s /run/containerd /run/docker/plugins /run/docker)
declare -A HOST_PATH_EXISTED
for p in "${HOST_PATHS[@]}"; do
    [ -e "$p" ] && HOST_PATH_EXISTED[$p]=1
done

dk_w() { "$DOCKER" -H "unix://$WHARF_SOCK" "$@"; }
dk_d() { "$DOCKER" -H "unix://$DOCKER_SOCK" "$@"; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

stop_pid() {
    local pid=$1 i
    alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < $2 * 10; i++)); do
        alive "$pid" || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    sleep 0.2
}

cleanup() {
    trap - EXIT INT TERM
    local e
    for e in dk_w dk_d; do
        $e ps -aq 2>/dev/null | xargs -r "$DOCKER" -H "unix://$([ $e = dk_w ] && echo "$WHARF_SOCK" || echo "$DOCKER_SOCK")" rm -f >/dev/null 2>&1
        $e network rm dnsnet >/dev/null 2>&1
    done
    stop_pid "$WHARFD_PID" 10
    stop_pid "$DOCKERD_PID" 20
    local p m b
    for p in $(pgrep -f "$WORK/" 2>/dev/null); do
        [ "$p" != $$ ] && kill -KILL "$p" 2>/dev/null
    done
    sleep 0.3
    for m in $(awk -v d="$WORK/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
    # bridges that appeared during the run: ours, dockerd's for dnsnet
    for b in $(comm -13 <(echo "$BRIDGES_BEFORE") \
        <(ip -o link show type bridge | awk -F': ' '{ print $2 }' | sort)); do
        case $b in "$WBR" | "$DBR" | br-*) ip link del "$b" 2>/dev/null ;; esac
    done
    for p in "${HOST_PATHS[@]}"; do
        [ -n "${HOST_PATH_EXISTED[$p]:-}" ] && continue
        if [ -d "$p" ]; then rmdir "$p" 2>/dev/null; else rm -f "$p"; fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

percentile() {
    sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        r = int((p / 100) * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR
        print v[r] }'
}
ms() { awk -v u="$1" 'BEGIN { if (u == "n/a" || u == "") print "n/a"; else printf "%.1f", u / 1000 }'; }
sub_ms() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "n/a" || b == "n/a") print "n/a"; else printf "%.1f", (a - b) / 1000 }'; }

# pick_subnet PREFIX: PREFIX.N (N in 20..250) that no route uses.
pick_subnet() {
    local x
    for ((x = 20; x < 250; x++)); do
        ip route | grep -q "^$1.$x\." || { echo "$1.$x"; return 0; }
    done
    return 1
}

# ---------------------------------------------------------------- the image

echo "network benchmark: ITER=$ITER, LOOKUPS=$LOOKUPS, work dir $WORK"
ROOTFS=$WORK/rootfs
mkdir -p "$ROOTFS"/{bin,proc,sys,dev,tmp,etc,root,var/run} "$DOCKER_CONFIG"
echo '{}' >"$DOCKER_CONFIG/config.json"
cp /bin/busybox "$ROOTFS/bin/busybox"
for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -sf busybox "$ROOTFS/bin/$a"
done
cc -O2 -static -o "$ROOTFS/bin/dnsq" "$(dirname "$0")/dnsq.c" || exit 1
tar -C "$ROOTFS" -cf "$WORK/rootfs.tar" .
BPM=(podman --root "$WORK/pm/root" --runroot "$WORK/pm/run" --tmpdir "$WORK/pm/tmp"
    --storage-driver overlay --cgroup-manager cgroupfs --events-backend file)
"${BPM[@]}" import --change 'CMD ["sh"]' "$WORK/rootfs.tar" "$IMG" >/dev/null &&
    "${BPM[@]}" save -o "$WORK/image.tar" "$IMG" 2>/dev/null || { echo "cannot build the image" >&2; exit 1; }
"${BPM[@]}" rmi -af >/dev/null 2>&1
for m in $(awk -v d="$WORK/pm" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null
done

# ---------------------------------------------------------------- daemons

WNET=$(pick_subnet 10.221) DNET=$(pick_subnet 10.222) || { echo "no free subnet" >&2; exit 1; }
cat >"$WORK/wharf.json" <<EOF
{"bridge": "$WBR", "dns": ["127.0.0.1"],
 "default-address-pools": [{"base": "$WNET.0/24", "size": 25}]}
EOF
"$WHARF" daemon --root "$WORK/wharf" -H "unix://$WHARF_SOCK" --config-file "$WORK/wharf.json" \
    2>"$WORK/wharfd.log" &
WHARFD_PID=$!
declare -A NA
for ((i = 0; i < 100; i++)); do
    [ "$(curl -s --unix-socket "$WHARF_SOCK" http://x/_ping 2>/dev/null)" = OK ] && break
    sleep 0.1
done
dk_w load -i "$WORK/image.tar" >/dev/null 2>&1 || NA[wharf]="wharfd: $(head -c 160 "$WORK/wharfd.log")"

if [ -x "$DOCKERD" ]; then
    ip link add "$DBR" type bridge && ip addr add "$DNET.1/25" dev "$DBR" && ip link set "$DBR" up
    mkdir -p "$WORK/docker"
    echo '{"dns": ["127.0.0.1"]}' >"$WORK/docker/daemon.json"
    "$DOCKERD" --config-file "$WORK/docker/daemon.json" -H "unix://$DOCKER_SOCK" \
        --data-root "$WORK/docker/data" --exec-root "$WORK/docker/exec" \
        --pidfile "$WORK/docker/dockerd.pid" --bridge="$DBR" --iptables=false \
        --ip6tables=false --ip-forward=false --ip-masq=false --userland-proxy=false \
        --default-address-pool "base=$DNET.128/25,size=26" \
        --log-level=warn >"$WORK/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for ((i = 0; i < 300; i++)); do
        dk_d version >/dev/null 2>&1 && break
        alive "$DOCKERD_PID" || break
        sleep 0.1
    done
    dk_d load -i "$WORK/image.tar" >/dev/null 2>&1 ||
        NA[docker]="dockerd: $(grep -m1 -E 'level=(error|fatal)' "$WORK/dockerd.log" | cut -c1-160)"
else
    NA[docker]="$DOCKERD not installed (scripts/install-deps bench-engine)"
fi
DOCKERD_VERSION=$([ -z "${NA[docker]:-}" ] && dk_d version --format '{{.Server.Version}}' 2>/dev/null)
echo "docker CLI $("$DOCKER" version --format '{{.Client.Version}}' 2>/dev/null); dockerd ${DOCKERD_VERSION:-n/a}"

# ---------------------------------------------------------------- 1. start latency

cmd_json() { printf '%s\0' "$@" | jq -Rsc 'split("\u0000") | .[:-1]'; }
: >"$WORK/specs"
for e in wharf docker; do
    [ -n "${NA[$e]:-}" ] && continue
    sock=$([ $e = wharf ] && echo "$WHARF_SOCK" || echo "$DOCKER_SOCK")
    for mode in bridge none; do
        spec=$(cmd_json "$DOCKER" -H "unix://$sock" run --rm --network "$mode" "$IMG" true)
        mapfile -t argv < <(jq -r '.[]' <<<"$spec")
        if "${argv[@]}" </dev/null >/dev/null 2>"$WORK/probe.err"; then
            printf '%s-%s\t%s\n' "$e" "$mode" "$spec" >>"$WORK/specs"
        else
            NA[$e-$mode]="$(head -c 160 "$WORK/probe.err")"
        fi
    done
done
while read -r name us rc; do
    [ "$rc" -eq 0 ] && echo "$us" >>"$WORK/time-$name"
done < <(python3 "$REPO/bench/engine/timerun.py" "$ITER" "$WORK/specs" "$WORK")

echo
echo "1. docker run --rm $IMG true: $ITER alternating rounds (wall time of the CLI, ms)"
printf '%-40s %9s %8s %9s %8s %12s\n' engine "bridge" "p90" "none" "p90" "extra (med)"
for e in wharf docker; do
    label=$([ $e = wharf ] && echo "docker CLI -> wharfd" || echo "docker CLI -> dockerd ${DOCKERD_VERSION:-}")
    if [ ! -s "$WORK/time-$e-bridge" ] || [ ! -s "$WORK/time-$e-none" ]; then
        printf '%-40s n/a  %s\n' "$label" "${NA[$e]:-${NA[$e-bridge]:-${NA[$e-none]:-}}}"
        continue
    fi
    b=$(percentile "$WORK/time-$e-bridge" 50) n=$(percentile "$WORK/time-$e-none" 50)
    printf '%-40s %9s %8s %9s %8s %12s\n' "$label" "$(ms "$b")" "$(ms "$(percentile "$WORK/time-$e-bridge" 90)")" \
        "$(ms "$n")" "$(ms "$(percentile "$WORK/time-$e-none" 90)")" "$(sub_ms "$b" "$n")"
done

# ---------------------------------------------------------------- 2. DNS

echo
echo "2. embedded DNS: $LOOKUPS A lookups of a container name from another container (us)"
printf '%-40s %9s %8s %8s %9s\n' engine median p90 min answered
for e in wharf docker; do
    label=$([ $e = wharf ] && echo "docker CLI -> wharfd" || echo "docker CLI -> dockerd ${DOCKERD_VERSION:-}")
    if [ -n "${NA[$e]:-}" ]; then
        printf '%-40s n/a  %s\n' "$label" "${NA[$e]}"
        continue
    fi
    dk=$([ $e = wharf ] && echo dk_w || echo dk_d)
    $dk network create dnsnet >/dev/null 2>"$WORK/dns.err" &&
        $dk run -d --name target --network dnsnet "$IMG" sleep 1000 >/dev/null 2>>"$WORK/dns.err" &&
        out=$($dk run --rm --network dnsnet "$IMG" dnsq target 127.0.0.11 "$LOOKUPS" 2>>"$WORK/dns.err")
    if [ -n "${out:-}" ]; then
        read -r med p90 min n <<<"$out"
        printf '%-40s %9s %8s %8s %9s\n' "$label" "$med" "$p90" "$min" "$n/$LOOKUPS"
    else
        printf '%-40s n/a  %s\n' "$label" "$(head -c 160 "$WORK/dns.err")"
    fi
    out=""
    $dk rm -f target >/dev/null 2>&1
    $dk network rm dnsnet >/dev/null 2>&1
done
