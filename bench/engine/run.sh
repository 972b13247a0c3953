#!/usr/bin/env bash
# Engine benchmark: Wharf against Docker and Podman, each with its own CLI,
# on one busybox-static image loaded into all three (no network, no pulls).
#
#   bench/engine/run.sh                 ITER=30, N_DETACHED=100
#   ITER=100 N_DETACHED=50 bench/engine/run.sh
#
# 1. `run --rm IMAGE true`, ITER alternating rounds, wall time median/p90:
#      wharf              wharf CLI      -> wharf daemon (wharfd)
#      docker->wharfd     docker 28 CLI  -> wharf daemon (the daemons alone)
#      docker             docker 28 CLI  -> Debian's dockerd + its containerd
#      podman             Debian's podman (no daemon; conmon + runc)
# 2. Idle daemon RSS: wharfd's VmRSS against dockerd's + containerd's, just
#    after start-up and after the runs (each after a short settle).
# 3. N_DETACHED `run -d IMAGE sleep 1000` per engine: time to start them all
#    one after another, and memory per container = (daemon RSS growth + the
#    RSS of the per-container processes: wharf-shim, containerd-shim, conmon)
#    / N_DETACHED; then all are removed (timed too).
#
# The engines run side by side on private state: wharfd and dockerd on their
# own sockets and data roots in one temp dir, dockerd with --bridge=none and
# no iptables/ip-forward changes, starting its own containerd under its
# exec-root; podman with private --root/--runroot/--tmpdir. Containers run
# with --network none where the engine has networks. At exit exactly the
# processes started here are stopped (by PID: the daemons, then any shim or
# conmon whose command line names the temp dir), what they mounted under it
# is unmounted, their cgroups and the few host paths dockerd creates when
# they did not exist before (/etc/docker/key.json, /run/docker,
# /run/containerd/s) are removed, and the temp dir goes.
#
# Environment: ITER, N_DETACHED, BUILD (default <repo>/build), WHARF (the
# wharf CLI; `wharf daemon` starts wharfd beside it), DOCKER (the docker CLI:
# /usr/local/bin/docker, the 28.x CLI, when present), DOCKERD, PODMAN. A
# missing or failing engine is reported as n/a and the rest still runs.
set -u

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$REPO/build}
ITER=${ITER:-30}
N_DETACHED=${N_DETACHED:-100}
WHARF=${WHARF:-$BUILD/wharf}
if [ -z "${DOCKER:-}" ]; then
    DOCKER=/usr/local/bin/docker
    [ -x "$DOCKER" ] || DOCKER=$(command -v docker 2>/dev/null || echo docker)
fi
DOCKERD=${DOCKERD:-$(command -v dockerd 2>/dev/null || echo /usr/sbin/dockerd)}
PODMAN=${PODMAN:-$(command -v podman 2>/dev/null || echo podman)}
IMG=localhost/wharf-bench-bb:1

for v in ITER N_DETACHED; do
    case ${!v} in
    '' | *[!0-9]*) echo "$v must be a positive number, not '${!v}'" >&2; exit 2 ;;
    esac
    [ "${!v}" -gt 0 ] || { echo "$v must be positive" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "the engine benchmark runs as root (it starts dockerd)" >&2; exit 2; }
[ -x /bin/busybox ] || { echo "/bin/busybox (package busybox-static) is needed" >&2; exit 2; }
for t in jq python3 curl; do
    command -v "$t" >/dev/null || { echo "$t is needed" >&2; exit 2; }
done
[ -x "$WHARF" ] || { echo "$WHARF is not built (make build)" >&2; exit 2; }

# Short: containerd's socket lives under dockerd's exec-root.
WORK=$(mktemp -d /tmp/wbe.XXXXXX)
export DOCKER_CONFIG=$WORK/docker-cli # no contexts or plugins of the host's
WHARF_SOCK=$WORK/wharf.sock
DOCKER_SOCK=$WORK/docker.sock
CG_DOCKER=wharf-bench-docker-$$
CG_PODMAN=wharf-bench-podman-$$
WHARFD_PID="" DOCKERD_PID="" CONTAINERD_PID=""
PM=("$PODMAN" --root "$WORK/podman/root" --runroot "$WORK/podman/run" --tmpdir "$WORK/podman/tmp"
    --storage-driver overlay --cgroup-manager cgroupfs --events-backend file)
# Podman asks for nofile=1048576 by default, more than this host lets a
# container have, and runc is refused an nproc above 4096 under it: explicit
# limits (the open files the other engines' containers inherit).
PM_RUN=(--network none --cgroup-parent "/$CG_PODMAN"
    --ulimit "nofile=$(ulimit -Sn):$(ulimit -Hn)" --ulimit "nproc=4096:4096")

# Host paths dockerd/containerd create outside their roots: removed at exit
# only if they were not there before.
HOST_PATHS=(/etc/docker/key.json /run/containerd/s /run/containerd /run/docker/plugins /run/docker)
declare -A HOST_PATH_EXISTED
for p in "${HOST_PATHS[@]}"; do
    [ -e "$p" ] && HOST_PATH_EXISTED[$p]=1
done

wk() { "$WHARF" -H "unix://$WHARF_SOCK" "$@"; }
dk_w() { "$DOCKER" -H "unix://$WHARF_SOCK" "$@"; }
dk_d() { "$DOCKER" -H "unix://$DOCKER_SOCK" "$@"; }
pm() { "${PM[@]}" "$@"; }

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# stop_pid PID SECONDS: SIGTERM, then SIGKILL after SECONDS.
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
    # Containers first, through their engines, while the daemons still run.
    alive "$WHARFD_PID" && dk_w ps -aq 2>/dev/null | xargs -r "$DOCKER" -H "unix://$WHARF_SOCK" rm -f >/dev/null 2>&1
    alive "$DOCKERD_PID" && dk_d ps -aq 2>/dev/null | xargs -r "$DOCKER" -H "unix://$DOCKER_SOCK" rm -f >/dev/null 2>&1
    [ -d "$WORK/podman" ] && pm rm -af -t 0 >/dev/null 2>&1
    stop_pid "$WHARFD_PID" 10
    stop_pid "$DOCKERD_PID" 20 # it stops the containerd it started
    stop_pid "$CONTAINERD_PID" 10
    # Whatever is left of ours: shims and conmons name the temp dir.
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

# ---------------------------------------------------------------- helpers

# percentile FILE P: the P-th percentile (nearest rank) of the numbers in FILE.
percentile() {
    sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        r = int((p / 100) * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR
        print v[r] }'
}

ms() { awk -v u="$1" 'BEGIN { if (u == "n/a" || u == "") print "n/a"; else printf "%.1f", u / 1000 }'; }
mib() { awk -v k="$1" 'BEGIN { if (k == "n/a" || k == "") print "n/a"; else printf "%.1f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "n/a" || b == "n/a" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }

# rss PID...: the summed VmRSS (KiB) of the live ones.
rss() {
    local p t=0 v
    for p in "$@"; do
        v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
        t=$((t + ${v:-0}))
    done
    echo "$t"
}

# first_line FILE: the first non-empty line, for n/a reasons.
first_line() { grep -m1 . "$1" 2>/dev/null | cut -c1-160; }

# ---------------------------------------------------------------- the image

echo "engine benchmark: ITER=$ITER, N_DETACHED=$N_DETACHED, work dir $WORK"
ROOTFS=$WORK/rootfs
mkdir -p "$ROOTFS"/{bin,proc,sys,dev,tmp,etc,root,var/run} "$DOCKER_CONFIG"
echo '{}' >"$DOCKER_CONFIG/config.json" # podman reads it too, for registry auth
cp /bin/busybox "$ROOTFS/bin/busybox"
for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -sf busybox "$ROOTFS/bin/$a"
done
mkdir -p "$ROOTFS/usr" && ln -sfn ../bin "$ROOTFS/usr/bin" && ln -sfn bin "$ROOTFS/sbin"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$ROOTFS/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$ROOTFS/etc/group"
chmod 1777 "$ROOTFS/tmp"
tar -C "$ROOTFS" -cf "$WORK/rootfs.tar" .
# podman turns the tree into a docker-archive, the one file all three load.
BPM=("$PODMAN" --root "$WORK/pm-build/root" --runroot "$WORK/pm-build/run" --tmpdir "$WORK/pm-build/tmp"
    --storage-driver overlay --cgroup-manager cgroupfs --events-backend file)
if ! { "${BPM[@]}" import --change 'CMD ["sh"]' "$WORK/rootfs.tar" "$IMG" >/dev/null &&
    "${BPM[@]}" save -o "$WORK/image.tar" "$IMG" 2>/dev/null; }; then
    echo "cannot build the image archive with podman ($PODMAN)" >&2
    exit 1
fi
"${BPM[@]}" rmi -af >/dev/null 2>&1

# ---------------------------------------------------------------- engines

declare -A NA # engine -> why it is n/a

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
    echo '{}' >"$WORK/docker/daemon.json" # not the host's /etc/docker/daemon.json
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
if [ -z "${NA[wharf]:-}" ] && ! [ -x "$DOCKER" ] && ! command -v "$DOCKER" >/dev/null; then
    NA[docker]="no docker CLI ($DOCKER)"
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
[ -n "${NA[wharf]:-}" ] && NA[docker-wharfd]=${NA[wharf]}
[ -n "${NA[docker]:-}" ] && [ -z "${NA[docker-wharfd]:-}" ] && ! command -v "$DOCKER" >/dev/null &&
    NA[docker-wharfd]="no docker CLI"

DOCKER_CLI_VERSION=$("$DOCKER" version --format '{{.Client.Version}}' 2>/dev/null)
DOCKERD_VERSION=$([ -z "${NA[docker]:-}" ] && dk_d version --format '{{.Server.Version}}' 2>/dev/null)
PODMAN_VERSION=$("$PODMAN" version --format '{{.Client.Version}}' 2>/dev/null)
PODMAN_RUNTIME=$([ -z "${NA[podman]:-}" ] && pm info --format '{{.Host.OCIRuntime.Name}}' 2>/dev/null)
DOCKER_RUNTIME=$([ -z "${NA[docker]:-}" ] && dk_d info --format '{{.DefaultRuntime}}' 2>/dev/null)
echo "docker CLI: $DOCKER ($DOCKER_CLI_VERSION); dockerd: $DOCKERD (${DOCKERD_VERSION:-n/a}, runtime ${DOCKER_RUNTIME:-n/a})"
echo "podman: $PODMAN (${PODMAN_VERSION:-n/a}, runtime ${PODMAN_RUNTIME:-n/a}); wharf: $WHARF -> $(dirname "$WHARF")/wharfd (wharf-runtime)"

# Idle RSS now (fresh daemons, image loaded), after a moment's settle.
sleep 2
RSS_WHARF_FRESH=$(alive "$WHARFD_PID" && rss "$WHARFD_PID")
RSS_DOCKERD_FRESH=$(alive "$DOCKERD_PID" && rss "$DOCKERD_PID")
RSS_CONTAINERD_FRESH=$(alive "$CONTAINERD_PID" && rss "$CONTAINERD_PID")

# ---------------------------------------------------------------- 1. run --rm

ENGINES=(wharf docker-wharfd docker podman)
declare -A CMD_OF
# argv as a JSON array (jq 1.6 would take "--rm" after --args for its own).
cmd_json() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@"; }
CMD_OF[wharf]=$(cmd_json "$WHARF" -H "unix://$WHARF_SOCK" run --rm "$IMG" true)
CMD_OF[docker-wharfd]=$(cmd_json "$DOCKER" -H "unix://$WHARF_SOCK" run --rm --network none "$IMG" true)
CMD_OF[docker]=$(cmd_json "$DOCKER" -H "unix://$DOCKER_SOCK" run --rm --network none "$IMG" true)
CMD_OF[podman]=$(cmd_json "${PM[@]}" run --rm "${PM_RUN[@]}" "$IMG" true)

# One untimed run each: a warm-up, and the check that the engine can do it.
declare -A RUN_NA # engine -> why its `run --rm` row is n/a
: >"$WORK/specs"
for e in "${ENGINES[@]}"; do
    [ -n "${NA[$e]:-}" ] && continue
    mapfile -t argv < <(jq -r '.[]' <<<"${CMD_OF[$e]}")
    if ! "${argv[@]}" </dev/null >/dev/null 2>"$WORK/probe-$e.err"; then
        RUN_NA[$e]="run --rm failed: $(first_line "$WORK/probe-$e.err")"
        continue
    fi
    printf '%s\t%s\n' "$e" "${CMD_OF[$e]}" >>"$WORK/specs"
done

failed=0
if [ -s "$WORK/specs" ]; then
    while read -r name us rc; do
        if [ "$rc" -ne 0 ]; then
            failed=$((failed + 1))
            continue
        fi
        echo "$us" >>"$WORK/time-$name"
    done < <(python3 "$(dirname "$0")/timerun.py" "$ITER" "$WORK/specs" "$WORK")
fi

label() {
    case $1 in
    wharf) echo "wharf CLI -> wharfd" ;;
    docker-wharfd) echo "docker $DOCKER_CLI_VERSION -> wharfd" ;;
    docker) echo "docker $DOCKER_CLI_VERSION -> dockerd ${DOCKERD_VERSION:-}" ;;
    podman) echo "podman ${PODMAN_VERSION:-}" ;;
    esac
}

echo
echo "1. run --rm $IMG true: $ITER alternating rounds (wall time of the CLI, ms)"
printf '%-40s %9s %8s %8s %5s\n' "engine" median p90 min runs
declare -A MED
for e in "${ENGINES[@]}"; do
    f=$WORK/time-$e
    if [ ! -s "$f" ]; then
        printf '%-40s %9s %8s %8s %5s  %s\n' "$(label "$e")" n/a n/a n/a 0 "${NA[$e]:-${RUN_NA[$e]:-every run failed: $(first_line "$WORK/$e.err")}}"
        continue
    fi
    MED[$e]=$(percentile "$f" 50)
    printf '%-40s %9s %8s %8s %5s\n' "$(label "$e")" "$(ms "${MED[$e]}")" \
        "$(ms "$(percentile "$f" 90)")" "$(ms "$(percentile "$f" 0)")" "$(wc -l <"$f")"
done
echo "ratios of medians: wharf/docker $(ratio "${MED[wharf]:-}" "${MED[docker]:-}")," \
    "wharf/podman $(ratio "${MED[wharf]:-}" "${MED[podman]:-}");" \
    "the daemons alone (docker CLI to both): wharfd/dockerd $(ratio "${MED[docker-wharfd]:-}" "${MED[docker]:-}")"

# ---------------------------------------------------------------- 2. idle RSS

sleep 2
RSS_WHARF=$(alive "$WHARFD_PID" && rss "$WHARFD_PID")
RSS_DOCKERD=$(alive "$DOCKERD_PID" && rss "$DOCKERD_PID")
RSS_CONTAINERD=$(alive "$CONTAINERD_PID" && rss "$CONTAINERD_PID")
sum_or_na() { [ -n "$1" ] && [ -n "$2" ] && echo $(($1 + $2)) || echo n/a; }
echo
echo "2. idle daemon RSS (VmRSS from /proc/PID/status, 2 s after the last request), MiB"
printf '%-40s %12s %12s\n' "" "fresh" "after runs"
printf '%-40s %12s %12s\n' "wharfd" "$(mib "${RSS_WHARF_FRESH:-n/a}")" "$(mib "${RSS_WHARF:-n/a}")"
printf '%-40s %12s %12s\n' "dockerd" "$(mib "${RSS_DOCKERD_FRESH:-n/a}")" "$(mib "${RSS_DOCKERD:-n/a}")"
printf '%-40s %12s %12s\n' "containerd (started by dockerd)" "$(mib "${RSS_CONTAINERD_FRESH:-n/a}")" "$(mib "${RSS_CONTAINERD:-n/a}")"
D_FRESH=$(sum_or_na "${RSS_DOCKERD_FRESH:-}" "${RSS_CONTAINERD_FRESH:-}")
D_AFTER=$(sum_or_na "${RSS_DOCKERD:-}" "${RSS_CONTAINERD:-}")
printf '%-40s %12s %12s\n' "dockerd + containerd" "$(mib "$D_FRESH")" "$(mib "$D_AFTER")"
echo "ratio wharfd/(dockerd+containerd): $(ratio "${RSS_WHARF:-}" "$D_AFTER") (after runs)"
if alive "$WHARFD_PID"; then
    # Where wharfd's resident set goes: mostly shared libraries' pages.
    awk '/^[0-9a-f]+-[0-9a-f]+ / { n = $6; sub(".*/", "", n); if (n == "") n = "[anon]" }
         /^Rss:/ { r[n] += $2 }
         END { for (k in r) if (r[k] > 0) print r[k], k }' "/proc/$WHARFD_PID/smaps" |
        sort -rn | head -n 8 | awk '{ printf "%s%s %d KiB", (NR > 1 ? ", " : "wharfd by mapping: "), $2, $1 } END { print "" }'
    awk '/^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 } /^Threads:/ { t = $2 }
         END { printf "wharfd: RssAnon %d KiB, RssFile %d KiB, %d threads\n", a, f, t }' "/proc/$WHARFD_PID/status"
fi

# ---------------------------------------------------------------- 3. detached

# detached ENGINE: starts N_DETACHED `sleep 1000` containers and reports.
# Prints: start_ms per_start_ms daemon_growth_kib procs_kib per_container_kib rm_ms
detached() {
    local e=$1 before after i t0 t1 ids=() id pids procs=() p cpid
    case $e in
    wharf) before=$(rss "$WHARFD_PID") ;;
    docker) before=$(rss "$DOCKERD_PID" "$CONTAINERD_PID") ;;
    podman) before=0 ;;
    esac
    t0=$(date +%s%N)
    for ((i = 1; i <= N_DETACHED; i++)); do
        case $e in
        wharf) id=$(wk run -d "$IMG" sleep 1000 2>>"$WORK/det-$e.err") ;;
        docker) id=$(dk_d run -d --network none "$IMG" sleep 1000 2>>"$WORK/det-$e.err") ;;
        podman) id=$(pm run -d "${PM_RUN[@]}" "$IMG" sleep 1000 2>>"$WORK/det-$e.err") ;;
        esac
        [ -n "$id" ] || return 1
        ids+=("$id")
    done
    t1=$(date +%s%N)
    sleep 3 # let the last ones settle
    case $e in
    wharf) pids=$(wk inspect --format '{{.State.Pid}}' "${ids[@]}") ;;
    docker) pids=$(dk_d inspect --format '{{.State.Pid}}' "${ids[@]}") ;;
    podman) pids=$(pm inspect --format '{{.State.Pid}}' "${ids[@]}") ;;
    esac
    # The process supervising each container is its init's parent.
    for cpid in $pids; do
        p=$(awk '/^PPid:/ { print $2 }' "/proc/$cpid/status" 2>/dev/null)
        [ -n "$p" ] && [ "$p" -gt 1 ] && procs+=("$p")
    done
    mapfile -t procs < <(printf '%s\n' "${procs[@]}" | sort -u)
    if [ "${#procs[@]}" -ne "$N_DETACHED" ]; then # say why, for the warning below
        local st='{{.State.Status}} exit={{.State.ExitCode}} pid={{.State.Pid}} {{.State.Error}}'
        case $e in
        wharf) wk inspect --format "$st" "${ids[0]}" ;;
        docker) dk_d inspect --format "$st" "${ids[0]}" ;;
        podman) pm inspect --format "$st" "${ids[0]}" ;;
        esac >"$WORK/det-$e.err" 2>&1
    fi
    case $e in
    wharf) after=$(rss "$WHARFD_PID") ;;
    docker) after=$(rss "$DOCKERD_PID" "$CONTAINERD_PID") ;;
    podman) after=0 ;;
    esac
    local procs_kib per_kib names rm0 rm1
    procs_kib=$(rss "${procs[@]}")
    names=$(for p in "${procs[@]}"; do cat "/proc/$p/comm" 2>/dev/null; done | sort | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }')
    per_kib=$(((after - before + procs_kib) / N_DETACHED))
    rm0=$(date +%s%N)
    case $e in
    wharf) wk rm -f "${ids[@]}" >/dev/null 2>>"$WORK/det-$e.err" ;;
    docker) dk_d rm -f "${ids[@]}" >/dev/null 2>>"$WORK/det-$e.err" ;;
    podman) pm rm -f -t 0 "${ids[@]}" >/dev/null 2>>"$WORK/det-$e.err" ;;
    esac
    rm1=$(date +%s%N)
    echo "$(((t1 - t0) / 1000000)) $(((t1 - t0) / 1000 / N_DETACHED)) $((after - before)) $procs_kib $per_kib $(((rm1 - rm0) / 1000000)) ${#procs[@]} $names"
}

echo
echo "3. $N_DETACHED detached containers (run -d $IMG sleep 1000, one after another), then rm -f of all"
printf '%-40s %8s %8s %11s %11s %11s %6s  %s\n' "engine" "start_s" "ms_each" "daemon_+KiB" "proc_KiB" "KiB_per_ctr" "rm_s" "per-container processes (RSS total)"
for e in wharf docker podman; do
    if [ -n "${NA[$e]:-}" ]; then
        printf '%-40s %8s  %s\n' "$(label "$e")" n/a "${NA[$e]}"
        continue
    fi
    if ! out=$(detached "$e"); then
        printf '%-40s %8s  %s\n' "$(label "$e")" n/a "run -d failed: $(first_line "$WORK/det-$e.err")"
        failed=$((failed + 1))
        continue
    fi
    read -r start_ms each_us growth procs_kib per_kib rm_ms nprocs names <<<"$out"
    if [ "$nprocs" -ne "$N_DETACHED" ]; then
        echo "$e: found $nprocs per-container processes for $N_DETACHED containers: $(first_line "$WORK/det-$e.err")" >&2
        failed=$((failed + 1))
    fi
    printf '%-40s %8s %8s %11s %11s %11s %6s  %s\n' "$(label "$e")" "$(awk -v m="$start_ms" 'BEGIN { printf "%.1f", m / 1000 }')" \
        "$(ms "$each_us")" "$growth" "$((procs_kib / (nprocs > 0 ? nprocs : 1)))" "$per_kib" \
        "$(awk -v m="$rm_ms" 'BEGIN { printf "%.1f", m / 1000 }')" "$names ($(mib "$procs_kib") MiB)"
done
echo "(daemon_+KiB: daemon VmRSS growth, dockerd + containerd for docker, no daemon for podman;"
echo " proc_KiB: mean VmRSS of one per-container process; KiB_per_ctr: (growth + all those processes' RSS) / $N_DETACHED)"

[ "$failed" -eq 0 ] || { echo "$failed run(s) failed" >&2; exit 1; }
