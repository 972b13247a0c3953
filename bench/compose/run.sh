#!/usr/bin/env bash
# Compose benchmark: `up -d` and `down` of a 10-service project (one image,
# each service a busybox sleep stopped by SIGKILL; a network; two of them
# publishing a port; nine depending on the first),
# in alternating rounds:
#
#   wharf           wharf compose         -> wharfd
#   docker-compose  Debian's docker-compose 1.29 -> dockerd 20.10 + containerd
#   compose->wharf  Debian's docker-compose 1.29 -> wharfd (compatibility)
#
# Prints the median and p90 wall time of up and down per engine and the
# ratios against docker-compose on dockerd (the issue's goal: 5x faster).
#
#   BUILD=build ITER=10 bench/compose/run.sh
#
# The daemons run on private sockets and roots in one temp dir (dockerd with
# --bridge=none and no iptables); every process started here is stopped by
# its PID at exit, mounts under the temp dir are unmounted, and the host
# paths dockerd creates are removed if they were not there before.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
ITER=${ITER:-10}
WHARF=$PWD/$BUILD/wharf
DOCKERD=${DOCKERD:-$(command -v dockerd 2>/dev/null || echo /usr/sbin/dockerd)}
COMPOSE_V1=${COMPOSE_V1:-$(command -v docker-compose 2>/dev/null || echo docker-compose)}
case $ITER in '' | *[!0-9]*) echo "ITER must be a number" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "the compose benchmark runs as root (it starts dockerd)" >&2; exit 2; }
[ -x "$WHARF" ] || { echo "$WHARF is not built (make build)" >&2; exit 2; }
[ -x /bin/busybox ] || { echo "/bin/busybox (busybox-static) is needed" >&2; exit 2; }

WORK=$(mktemp -d /tmp/wbc.XXXXXX)
export DOCKER_CONFIG=$WORK/docker-cli
mkdir -p "$DOCKER_CONFIG" && echo '{}' >"$DOCKER_CONFIG/config.json"
WSOCK=$WORK/wharf.sock DSOCK=$WORK/docker.sock
CG_DOCKER=wharf-bench-compose-$$
WPID="" DPID=""
HOST_PATHS=(/etc/docker/key.json /run/containerd/s /run/containerd /run/docker/plugins /run/docker)
declare -A EXISTED
for p in "${HOST_PATHS[@]}"; do [ -e "$p" ] && EXISTED[$p]=1; done

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
stop_pid() {
    alive "$1" || return 0
    kill -TERM "$1" 2>/dev/null
    for ((i = 0; i < $2 * 10; i++)); do alive "$1" || return 0; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null
}
cleanup() {
    trap - EXIT INT TERM
    for e in wharf docker; do
        [ -d "$WORK/$e-proj" ] && down "$e" >/dev/null 2>&1
    done
    stop_pid "$WPID" 10
    stop_pid "$DPID" 20
    local p m d
    for p in $(pgrep -f "$WORK/" 2>/dev/null); do [ "$p" != $$ ] && kill -KILL "$p" 2>/dev/null; done
    sleep 0.3
    for m in $(awk -v d="$WORK/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
    for d in $(find /sys/fs/cgroup -maxdepth 3 -depth -type d -name "$CG_DOCKER" 2>/dev/null); do
        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    for p in "${HOST_PATHS[@]}"; do
        [ -n "${EXISTED[$p]:-}" ] && continue
        if [ -d "$p" ]; then rmdir "$p" 2>/dev/null; else rm -f "$p"; fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- the project

mkdir -p "$WORK/rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$WORK/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$WORK/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$WORK/rootfs/etc/passwd"
tar -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .

project() { # DIR: the 10-service compose file (version 3 keys, which v1 reads)
    mkdir -p "$1"
    {
        echo 'version: "3.7"'
        echo 'services:'
        for i in $(seq 1 10); do
            echo "  s$i:"
            echo "    image: localhost/bench-compose:1"
            # killed at once on stop: down measures the engines, not a
            # process's own shutdown
            echo "    command: [\"sleep\", \"100000\"]"
            echo "    stop_signal: SIGKILL"
            echo "    environment: [\"N=$i\"]"
            if [ "$i" -le 2 ]; then
                echo "    ports: [\"127.0.0.1::80\"]"
            fi
            [ "$i" -gt 1 ] && echo "    depends_on: [s1]"
        done
    } >"$1/docker-compose.yml"
}

# ---------------------------------------------------------------- engines

declare -A NA
"$WHARF" daemon --root "$WORK/wharf" -H "unix://$WSOCK" 2>"$WORK/wharfd.log" &
WPID=$!
for _ in $(seq 100); do [ "$(curl -s --unix-socket "$WSOCK" http://x/_ping)" = OK ] && break; sleep 0.1; done
"$WHARF" -H "unix://$WSOCK" import -c 'CMD ["sh"]' "$WORK/rootfs.tar" localhost/bench-compose:1 >/dev/null ||
    NA[wharf]="wharf daemon did not start: $(head -1 "$WORK/wharfd.log")"

if [ -x "$DOCKERD" ] && command -v "$COMPOSE_V1" >/dev/null; then
    mkdir -p "$WORK/docker"
    echo '{}' >"$WORK/docker/daemon.json"
    "$DOCKERD" --config-file "$WORK/docker/daemon.json" -H "unix://$DSOCK" \
        --data-root "$WORK/docker/data" --exec-root "$WORK/docker/exec" \
        --pidfile "$WORK/docker/dockerd.pid" --bridge=none --iptables=false --ip6tables=false \
        --ip-forward=false --ip-masq=false --userland-proxy=false \
        --cgroup-parent "/$CG_DOCKER" --log-level=warn >"$WORK/dockerd.log" 2>&1 &
    DPID=$!
    for _ in $(seq 300); do docker -H "unix://$DSOCK" version >/dev/null 2>&1 && break; sleep 0.1; done
    docker -H "unix://$DSOCK" import -c 'CMD ["sh"]' "$WORK/rootfs.tar" localhost/bench-compose:1 \
        >/dev/null 2>"$WORK/dimport.err" || NA[docker]="dockerd: $(head -1 "$WORK/dimport.err")"
else
    NA[docker]="dockerd or docker-compose not installed (apt-get install docker.io docker-compose)"
    NA[v1wharf]=${NA[docker]}
fi

# up/down ENGINE: one round; the wall time in ms on stdout
up() {
    case $1 in
    wharf) (cd "$WORK/wharf-proj" && "$WHARF" -H "unix://$WSOCK" compose -p bw up -d) ;;
    docker) (cd "$WORK/docker-proj" && DOCKER_HOST="unix://$DSOCK" "$COMPOSE_V1" -p bd up -d) ;;
    v1wharf) (cd "$WORK/v1wharf-proj" && DOCKER_HOST="unix://$WSOCK" "$COMPOSE_V1" -p bv up -d) ;;
    esac
}
down() {
    case $1 in
    wharf) (cd "$WORK/wharf-proj" && "$WHARF" -H "unix://$WSOCK" compose -p bw down) ;;
    docker) (cd "$WORK/docker-proj" && DOCKER_HOST="unix://$DSOCK" "$COMPOSE_V1" -p bd down) ;;
    v1wharf) (cd "$WORK/v1wharf-proj" && DOCKER_HOST="unix://$WSOCK" "$COMPOSE_V1" -p bv down) ;;
    esac
}
timed() { # ENGINE up|down: ms, or nothing on failure
    local s e
    s=$(date +%s%N)
    "$2" "$1" >"$WORK/$1-$2.out" 2>&1 || return 1
    e=$(date +%s%N)
    echo $(((e - s) / 1000000))
}

ENGINES=(wharf docker v1wharf)
for e in "${ENGINES[@]}"; do project "$WORK/$e-proj"; done
echo "compose benchmark: 10 services, $ITER alternating rounds; docker-compose $("$COMPOSE_V1" version --short 2>/dev/null || echo n/a); dockerd $("$DOCKERD" --version 2>/dev/null | awk '{print $3}' | tr -d ,)"
for ((r = 0; r < ITER; r++)); do
    for e in "${ENGINES[@]}"; do
        [ -n "${NA[$e]:-}" ] && continue
        t=$(timed "$e" up) || { NA[$e]="up failed: $(grep -m1 -i -E 'error|fail' "$WORK/$e-up.out" | cut -c1-140)"; continue; }
        echo "$t" >>"$WORK/$e.up"
        t=$(timed "$e" down) || { NA[$e]="down failed: $(grep -m1 -i -E 'error|fail' "$WORK/$e-down.out" | cut -c1-140)"; continue; }
        echo "$t" >>"$WORK/$e.down"
    done
done

pct() { [ -s "$1" ] && sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END { r = int(p / 100 * NR + 0.999999); if (r < 1) r = 1; print v[r] }' || echo n/a; }
label() {
    case $1 in
    wharf) echo "wharf compose -> wharfd" ;;
    docker) echo "docker-compose 1.29 -> dockerd" ;;
    v1wharf) echo "docker-compose 1.29 -> wharfd" ;;
    esac
}
echo
printf '%-34s %10s %10s %10s %10s\n' engine "up p50" "up p90" "down p50" "down p90"
for e in "${ENGINES[@]}"; do
    printf '%-34s %10s %10s %10s %10s  %s\n' "$(label "$e")" "$(pct "$WORK/$e.up" 50)" \
        "$(pct "$WORK/$e.up" 90)" "$(pct "$WORK/$e.down" 50)" "$(pct "$WORK/$e.down" 90)" \
        "${NA[$e]:+(n/a: ${NA[$e]})}"
done
wu=$(pct "$WORK/wharf.up" 50) du=$(pct "$WORK/docker.up" 50)
wd=$(pct "$WORK/wharf.down" 50) dd=$(pct "$WORK/docker.down" 50)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b == 0) print "n/a"; else printf "%.2f (%.1fx)", a / b, b / a }'; }
echo "ratio wharf / docker-compose on dockerd: up $(ratio "$wu" "$du"), down $(ratio "$wd" "$dd") (goal: 5x faster)"
