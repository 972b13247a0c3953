#!/usr/bin/env bash
# Build benchmark: one 10-instruction Dockerfile built cold (--no-cache) and
# rebuilt warm (everything cached) by each engine, ITER alternating rounds.
#
#   bench/build/run.sh                  ITER=10
#   ITER=30 bench/build/run.sh
#
# Engines (the same busybox-static image loaded into each as the base):
#   wharf           wharf CLI          -> wharf daemon (wharfd)
#   docker-wharfd   docker 28 CLI      -> wharf daemon (DOCKER_BUILDKIT=0)
#   docker          docker 28 CLI      -> Debian's dockerd, classic builder
#   podman          podman build       (buildah inside podman, --layers)
# Every RUN has no network (--network none) on every engine.
#
# Goal (issue 6): wharf's warm rebuild at least 3x faster than the fastest
# of the others, its cold build faster than each.
#
# The engines run on private state, as in bench/engine/run.sh: wharfd and
# dockerd on their own sockets and data roots under one temp dir (dockerd
# with --bridge=none, no iptables/ip-forward changes, its own containerd
# under its exec-root), podman with private --root/--runroot/--tmpdir. At
# exit the processes started here are stopped by PID, their mounts under
# the temp dir unmounted, their cgroups and the host paths dockerd creates
# (when they did not exist before) removed, and the temp dir goes.
#
# Environment: ITER, BUILD (default <repo>/build), WHARF, DOCKER, DOCKERD,
# PODMAN. A missing or failing engine is reported as n/a.
set -u

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$REPO/build}
ITER=${ITER:-10}
WHARF=${WHARF:-$BUILD/wharf}
if [ -z "${DOCKER:-}" ]; then
    DOCKER=/usr/local/bin/docker
    [ -x "$DOCKER" ] || DOCKER=$(command -v docker 2>/dev/null || echo docker)
fi
DOCKERD=${DOCKERD:-$(command -v dockerd 2>/dev/null || echo /usr/sbin/dockerd)}
PODMAN=${PODMAN:-$(command -v podman 2>/dev/null || echo podman)}
IMG=localhost/wharf-bench-bb:1

case $ITER in
'' | *[!0-9]* | 0) echo "ITER must be a positive number, not '$ITER'" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "the build benchmark runs as root (it starts dockerd)" >&2; exit 2; }
[ -x /bin/busybox ] || { echo "/bin/busybox (package busybox-static) is needed" >&2; exit 2; }
for t in jq python3 curl; do
    command -v "$t" >/dev/null || { echo "$t is needed" >&2; exit 2; }
done
[ -x "$WHARF" ] || { echo "$WHARF is not built (make build)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/wbb.XXXXXX)
export DOCKER_CONFIG=$WORK/docker-cli # no contexts or plugins of the host's
WHARF_SOCK=$WORK/wharf.sock
DOCKER_SOCK=$WORK/docker.sock
CG_DOCKER=wharf-bench-docker-$$
CG_PODMAN=wharf-bench-podman-$$
WHARFD_PID="" DOCKERD_PID="" CONTAINERD_PID=""
PM=("$PODMAN" --root "$WORK/podman/root" --runroot "$WORK/podman/run" --tmpdir "$WORK/podman/tmp"
    --storage-driver overlay --cgroup-manager cgroupfs --events-backend file)
HOST_PATHS=(/etc/docker/key.json /run/containerd/s /run/containerd /run/docker/plugins /run/docker)
declare -A HOST_PATH_EXISTED
for p in "${HOST_PATHS[@]}"; do
    [ -e "$p" ] && HOST_PATH_EXISTED[$p]=1
done

wk() { "$WHARF" -H "unix://$WHARF_SOCK" "$@"; }
dk_d() { "$DOCKER" -H "unix://$DOCKER_SOCK" "$@"; }
pm() { "${PM[@]}" "$@"; }
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
    alive "$WHARFD_PID" && wk ps -aq 2>/dev/null | xargs -r "$WHARF" -H "unix://$WHARF_SOCK" rm -f >/dev/null 2>&1
    alive "$DOCKERD_PID" && dk_d ps -aq 2>/dev/null | xargs -r "$DOCKER" -H "unix://$DOCKER_SOCK" rm -f >/dev/null 2>&1
    [ -d "$WORK/podman" ] && pm rm -af -t 0 >/dev/null 2>&1
    stop_pid "$WHARFD_PID" 10
    stop_pid "$DOCKERD_PID" 20
    stop_pid "$CONTAINERD_PID" 10
    local p m d
    for p in $(pgrep -f "$WORK/" 2>/dev/null); do
        [ "$p" != $$ ] && kill -KILL "$p" 2>/dev/null
    done
    sleep 0.3
    for m in $(awk -v d="$WORK/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
    for d in $(find /sys/fs/cgroup -maxdepth 3 -depth -type d \( -name "$CG_DOCKER" -o -name "$CG_PODMAN" \) 2>/dev/null); do
        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
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
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "n/a" || b == "n/a" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
first_line() { grep -m1 . "$1" 2>/dev/null | cut -c1-160; }
# last_line FILE: the last non-empty line (the docker CLI warns first).
last_line() { grep . "$1" 2>/dev/null | tail -n 1 | cut -c1-160; }

# ---------------------------------------------------------------- image and context

echo "build benchmark: ITER=$ITER, work dir $WORK"
ROOTFS=$WORK/rootfs
mkdir -p "$ROOTFS"/{bin,proc,sys,dev,tmp,etc,root,var/run} "$DOCKER_CONFIG"
echo '{}' >"$DOCKER_CONFIG/config.json"
cp /bin/busybox "$ROOTFS/bin/busybox"
for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -sf busybox "$ROOTFS/bin/$a"
done
mkdir -p "$ROOTFS/usr" && ln -sfn ../bin "$ROOTFS/usr/bin" && ln -sfn bin "$ROOTFS/sbin"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$ROOTFS/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$ROOTFS/etc/group"
chmod 1777 "$ROOTFS/tmp"
tar -C "$ROOTFS" -cf "$WORK/rootfs.tar" .
BPM=("$PODMAN" --root "$WORK/pm-build/root" --runroot "$WORK/pm-build/run" --tmpdir "$WORK/pm-build/tmp"
    --storage-driver overlay --cgroup-manager cgroupfs --events-backend file)
if ! { "${BPM[@]}" import --change 'CMD ["sh"]' "$WORK/rootfs.tar" "$IMG" >/dev/null &&
    "${BPM[@]}" save -o "$WORK/image.tar" "$IMG" 2>/dev/null; }; then
    echo "cannot build the image archive with podman ($PODMAN)" >&2
    exit 1
fi
"${BPM[@]}" rmi -af >/dev/null 2>&1

CTX=$WORK/context
mkdir -p "$CTX/src"
for i in $(seq 50); do
    printf 'line %d of a source file\n' $(seq "$i") >"$CTX/src/file$i.txt"
done
echo '{"name": "bench", "debug": false}' >"$CTX/config.json"
cat >"$CTX/Dockerfile" <<EOF
FROM $IMG
ARG VERSION=1
ENV APP=/app MODE=bench
WORKDIR /app
COPY src/ ./src/
RUN cat src/*.txt | wc -l > lines && mkdir -p out
COPY config.json ./
RUN echo "\$VERSION \$MODE" > out/version
LABEL bench=build
EXPOSE 8080
CMD ["cat", "/app/out/version"]
EOF

# ---------------------------------------------------------------- engines

declare -A NA

start_wharf() {
    "$WHARF" daemon --root "$WORK/wharf" -H "unix://$WHARF_SOCK" 2>"$WORK/wharfd.log" &
    WHARFD_PID=$!
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(curl -s --unix-socket "$WHARF_SOCK" http://x/_ping 2>/dev/null)" = OK ] && return 0
        alive "$WHARFD_PID" || break
        sleep 0.1
    done
    NA[wharf]="wharf daemon did not come up: $(first_line "$WORK/wharfd.log")"
    return 1
}

start_dockerd() {
    if ! [ -x "$DOCKERD" ]; then
        NA[docker]="$DOCKERD not installed (apt-get install docker.io)"
        return 1
    fi
    mkdir -p "$WORK/docker"
    echo '{}' >"$WORK/docker/daemon.json"
    "$DOCKERD" --config-file "$WORK/docker/daemon.json" -H "unix://$DOCKER_SOCK" \
        --data-root "$WORK/docker/data" --exec-root "$WORK/docker/exec" \
        --pidfile "$WORK/docker/dockerd.pid" --bridge=none --iptables=false --ip6tables=false \
        --ip-forward=false --ip-masq=false --userland-proxy=false \
        --cgroup-parent "/$CG_DOCKER" --log-level=warn >"$WORK/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    local i
    for ((i = 0; i < 300; i++)); do
        if dk_d version >/dev/null 2>&1; then
            CONTAINERD_PID=$(pgrep -P "$DOCKERD_PID" -x containerd | head -n 1)
            return 0
        fi
        alive "$DOCKERD_PID" || break
        sleep 0.1
    done
    NA[docker]="dockerd did not come up: $(grep -m1 -E 'level=(error|fatal)|failed' "$WORK/dockerd.log" | cut -c1-160)"
    stop_pid "$DOCKERD_PID" 10
    return 1
}

start_wharf && wk load -i "$WORK/image.tar" >/dev/null 2>"$WORK/load-wharf.err" ||
    NA[wharf]=${NA[wharf]:-"load: $(first_line "$WORK/load-wharf.err")"}
[ -n "${NA[wharf]:-}" ] && NA[docker-wharfd]=${NA[wharf]}
if ! command -v "$DOCKER" >/dev/null; then
    NA[docker]="no docker CLI ($DOCKER)"
    NA[docker-wharfd]="no docker CLI ($DOCKER)"
fi
if [ -z "${NA[docker]:-}" ]; then
    start_dockerd && dk_d load -i "$WORK/image.tar" >/dev/null 2>"$WORK/load-docker.err" ||
        NA[docker]=${NA[docker]:-"load: $(first_line "$WORK/load-docker.err")"}
fi
if command -v "$PODMAN" >/dev/null; then
    pm load -i "$WORK/image.tar" >/dev/null 2>"$WORK/load-podman.err" ||
        NA[podman]="load: $(first_line "$WORK/load-podman.err")"
else
    NA[podman]="podman not installed"
fi

DOCKER_CLI_VERSION=$("$DOCKER" version --format '{{.Client.Version}}' 2>/dev/null)
DOCKERD_VERSION=$([ -z "${NA[docker]:-}" ] && dk_d version --format '{{.Server.Version}}' 2>/dev/null)
PODMAN_VERSION=$("$PODMAN" version --format '{{.Client.Version}}' 2>/dev/null)
echo "docker CLI: $DOCKER ($DOCKER_CLI_VERSION); dockerd: $DOCKERD (${DOCKERD_VERSION:-n/a}); podman: $PODMAN (${PODMAN_VERSION:-n/a})"

ENGINES=(wharf docker-wharfd docker podman)
# argv as a JSON array (jq 1.6 cuts a NUL-separated list's last element).
cmd_json() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@"; }
# cmd ENGINE MODE: the build command (MODE cold: --no-cache; warm: cached).
cmd() {
    local e=$1 tag="bench-$2:1"
    local extra=()
    [ "$2" = cold ] && extra=(--no-cache)
    case $e in
    wharf) cmd_json "$WHARF" -H "unix://$WHARF_SOCK" build -q "${extra[@]}" --network none -t "$tag" "$CTX" ;;
    docker-wharfd) cmd_json env DOCKER_BUILDKIT=0 "$DOCKER" -H "unix://$WHARF_SOCK" build -q "${extra[@]}" --network none -t "$tag" "$CTX" ;;
    docker) cmd_json env DOCKER_BUILDKIT=0 "$DOCKER" -H "unix://$DOCKER_SOCK" build -q "${extra[@]}" --network none -t "$tag" "$CTX" ;;
    podman) cmd_json "${PM[@]}" build -q --layers "${extra[@]}" --network none --cgroup-parent "/$CG_PODMAN" -t "$tag" "$CTX" ;;
    esac
}

# One untimed build each (which also primes the warm cache), checked to work.
declare -A BUILD_NA
: >"$WORK/specs-cold"
: >"$WORK/specs-warm"
for e in "${ENGINES[@]}"; do
    [ -n "${NA[$e]:-}" ] && continue
    mapfile -t argv < <(cmd "$e" warm | jq -r '.[]')
    if ! "${argv[@]}" </dev/null >/dev/null 2>"$WORK/probe-$e.err"; then
        BUILD_NA[$e]="build failed: $(last_line "$WORK/probe-$e.err")"
        continue
    fi
    printf '%s\t%s\n' "$e" "$(cmd "$e" cold)" >>"$WORK/specs-cold"
    printf '%s\t%s\n' "$e" "$(cmd "$e" warm)" >>"$WORK/specs-warm"
done

label() {
    case $1 in
    wharf) echo "wharf CLI -> wharfd" ;;
    docker-wharfd) echo "docker $DOCKER_CLI_VERSION -> wharfd" ;;
    docker) echo "docker $DOCKER_CLI_VERSION -> dockerd ${DOCKERD_VERSION:-}" ;;
    podman) echo "podman ${PODMAN_VERSION:-} build" ;;
    esac
}

declare -A MED
for mode in cold warm; do
    if [ -s "$WORK/specs-$mode" ]; then
        while read -r name us rc; do
            [ "$rc" -eq 0 ] && echo "$us" >>"$WORK/time-$mode-$name"
        done < <(python3 "$REPO/bench/engine/timerun.py" "$ITER" "$WORK/specs-$mode" "$WORK")
    fi
    echo
    if [ "$mode" = cold ]; then
        echo "cold: build --no-cache of an 11-line Dockerfile (FROM + 10 instructions, 2 RUN), $ITER alternating rounds, ms"
    else
        echo "warm: the same build again, every step cached, $ITER alternating rounds, ms"
    fi
    printf '%-40s %9s %8s %8s %5s\n' "engine" median p90 min runs
    for e in "${ENGINES[@]}"; do
        f=$WORK/time-$mode-$e
        if [ ! -s "$f" ]; then
            printf '%-40s %9s %8s %8s %5s  %s\n' "$(label "$e")" n/a n/a n/a 0 \
                "${NA[$e]:-${BUILD_NA[$e]:-every build failed: $(last_line "$WORK/$e.err")}}"
            continue
        fi
        MED[$mode-$e]=$(percentile "$f" 50)
        printf '%-40s %9s %8s %8s %5s\n' "$(label "$e")" "$(ms "${MED[$mode-$e]}")" \
            "$(ms "$(percentile "$f" 90)")" "$(ms "$(percentile "$f" 0)")" "$(wc -l <"$f")"
    done
done

echo
for mode in cold warm; do
    fastest="" fastest_e=""
    for e in docker podman; do
        v=${MED[$mode-$e]:-}
        [ -n "$v" ] || continue
        if [ -z "$fastest" ] || [ "$v" -lt "$fastest" ]; then
            fastest=$v
            fastest_e=$e
        fi
    done
    echo "$mode: wharf/docker $(ratio "${MED[$mode-wharf]:-}" "${MED[$mode-docker]:-}")," \
        "wharf/podman $(ratio "${MED[$mode-wharf]:-}" "${MED[$mode-podman]:-}")," \
        "speed-up over the fastest other ($fastest_e): $(ratio "$fastest" "${MED[$mode-wharf]:-}")x"
done
echo "goal: warm speed-up >= 3x over the fastest other engine; cold faster than each"
