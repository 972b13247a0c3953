#!/usr/bin/env bash
# Runtime benchmark: wall time and peak RSS of `RUNTIME run` of /bin/true in
# a busybox bundle, wharf-runtime against runc, plus the idle RSS of one
# wharf-shim supervising a sleeping container.
#
#   bench/runtime/run.sh            ITER=50 by default
#   ITER=200 bench/runtime/run.sh
#
# Environment: ITER (iterations per runtime), BUILD (build dir, default
# <repo>/build), WHARF_RUNTIME, WHARF_SHIM, RUNC (binaries). A runtime that
# is missing is reported as n/a and the rest still runs. The runs alternate
# between the runtimes so drift in the machine's load hits both alike. Every
# run uses its own --root and id; everything lives in one temp directory
# that is removed on exit, with any container left in it.
set -u

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$REPO/build}
ITER=${ITER:-50}
WHARF=${WHARF_RUNTIME:-$BUILD/wharf-runtime}
TIME_BIN=/usr/bin/time
SHIM=${WHARF_SHIM:-$BUILD/wharf-shim}
RUNC=${RUNC:-$(command -v runc 2>/dev/null || echo /usr/sbin/runc)}

case $ITER in
'' | *[!0-9]*) echo "ITER must be a positive number, not '$ITER'" >&2; exit 2 ;;
esac
[ "$ITER" -gt 0 ] || { echo "ITER must be positive" >&2; exit 2; }
[ -x /bin/busybox ] || { echo "/bin/busybox (package busybox-static) is needed" >&2; exit 2; }
command -v jq >/dev/null || { echo "jq is needed" >&2; exit 2; }

WORK=$(mktemp -d /tmp/wharf-bench.XXXXXX)
SHIM_PID=""

# Removes every container still in a root of ours, the shim, any runtime
# process of ours that hangs, the cgroups left by those, then the dir.
cleanup() {
    local root id p d
    if [ -n "$SHIM_PID" ] && kill -0 "$SHIM_PID" 2>/dev/null; then
        kill -KILL "$SHIM_PID" 2>/dev/null # it ignores SIGTERM by design
    fi
    for root in "$WORK"/root-*; do
        [ -d "$root" ] || continue
        local rt=$RUNC
        case $root in *root-wharf* | *root-shim*) rt=$SHIM_RUNTIME ;; esac
        for id in $(ls "$root" 2>/dev/null); do
            timeout 10 "$rt" --root "$root" delete --force "$id" >/dev/null 2>&1
        done
    done
    # Only processes whose command line names our private temp dir.
    for p in $(pgrep -f "$WORK/" 2>/dev/null); do
        [ "$p" != $$ ] && kill -KILL "$p" 2>/dev/null
    done
    sleep 0.2
    for d in $(find /sys/fs/cgroup -maxdepth 5 -depth -type d -name "bench-$$-*" 2>/dev/null); do
        rmdir "$d" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A runtime is usable if the binary runs `--version`.
usable() {
    [ -x "$1" ] && "$1" --version >/dev/null 2>&1
}

runtimes=()
usable "$WHARF" && runtimes+=(wharf)
usable "$RUNC" && runtimes+=(runc)
if [ ${#runtimes[@]} -eq 0 ]; then
    echo "neither $WHARF nor $RUNC can be run" >&2
    exit 1
fi
SHIM_RUNTIME=$WHARF
usable "$WHARF" || SHIM_RUNTIME=$RUNC

bin_of() {
    case $1 in
    wharf) echo "$WHARF" ;;
    runc) echo "$RUNC" ;;
    esac
}

# The bundle: busybox's static binary and the few links the runs need.
BUNDLE=$WORK/bundle
mkdir -p "$BUNDLE/rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$BUNDLE/rootfs/bin/busybox"
for a in sh true sleep; do
    ln -s busybox "$BUNDLE/rootfs/bin/$a"
done
# The same default spec for both runtimes (runc's, when it is there).
SPEC_RT=$RUNC
usable "$RUNC" || SPEC_RT=$WHARF
(cd "$BUNDLE" && "$SPEC_RT" spec) || { echo "cannot write a default config.json" >&2; exit 1; }
jq '.process.terminal = false | .process.args = ["/bin/true"]' "$BUNDLE/config.json" >"$BUNDLE/c.json" &&
    mv "$BUNDLE/c.json" "$BUNDLE/config.json"

# stat FILE P: the P-th percentile (nearest rank) of the numbers in FILE.
percentile() {
    sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        r = int((p / 100) * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR
        print v[r] }'
}

us_to_ms() {
    awk -v u="$1" 'BEGIN { if (u == "n/a") print "n/a"; else printf "%.2f", u / 1000 }'
}

echo "runtime benchmark: $ITER x run /bin/true (busybox bundle), runtimes: ${runtimes[*]}"
for name in wharf runc; do
    usable "$(bin_of "$name")" || echo "$name: $(bin_of "$name") not usable, n/a"
done

failed=0
args=()
for name in "${runtimes[@]}"; do args+=("$name=$(bin_of "$name")"); done
while read -r name us rc root id; do
    if [ "$rc" -ne 0 ]; then
        echo "$name run $id failed (exit $rc)" >&2
        failed=$((failed + 1))
        timeout 10 "$(bin_of "$name")" --root "$root" delete --force "$id" >/dev/null 2>&1
        continue
    fi
    echo "$us" >>"$WORK/time-$name"
    rm -rf "$root"
done < <(python3 "$(dirname "$0")/timerun.py" "$ITER" "$WORK" "$BUNDLE" "${args[@]}")

# Peak RSS in a separate pass: time(1) is a small C program, so its fork does
# not inflate the figure the way a fork of the Python timer would.
for ((i = 1; i <= 5; i++)); do
    for name in "${runtimes[@]}"; do
        root="$WORK/rss-root-$name-$i"
        if "$TIME_BIN" -f %M -o "$WORK/rss.tmp" "$(bin_of "$name")" --root "$root" run \
            --bundle "$BUNDLE" "bench-$$-rss-$name-$i" </dev/null >/dev/null 2>&1; then
            tail -n 1 "$WORK/rss.tmp" >>"$WORK/rss-$name"
        fi
        rm -rf "$root"
    done
done

printf '\n%-8s %8s %8s %8s %8s %6s\n' runtime median_ms p90_ms min_ms rss_kib runs
declare -A median
for name in wharf runc; do
    f="$WORK/time-$name"
    if [ ! -s "$f" ]; then
        printf '%-8s %8s %8s %8s %8s %6s\n' "$name" n/a n/a n/a n/a 0
        continue
    fi
    median[$name]=$(percentile "$f" 50)
    printf '%-8s %8s %8s %8s %8s %6s\n' "$name" \
        "$(us_to_ms "${median[$name]}")" "$(us_to_ms "$(percentile "$f" 90)")" \
        "$(us_to_ms "$(percentile "$f" 0)")" "$(percentile "$WORK/rss-$name" 50)" \
        "$(wc -l <"$f")"
done
if [ -n "${median[wharf]:-}" ] && [ -n "${median[runc]:-}" ]; then
    awk -v w="${median[wharf]}" -v r="${median[runc]}" \
        'BEGIN { printf "ratio wharf/runc (median wall time): %.2f\n", w / r }'
else
    echo "ratio wharf/runc: n/a"
fi
echo "(wall time from timerun.py; rss_kib: median peak RSS of the runtime process, time(1) %M)"

# Idle RSS of one shim supervising a sleeping container.
shim_rss() {
    [ -x "$SHIM" ] || { echo "shim: n/a ($SHIM not built)"; return; }
    local b="$WORK/shim-bundle" st="$WORK/shim-state" root="$WORK/root-shim" id="bench-$$-shim" out
    mkdir -p "$b"
    cp -a "$BUNDLE/rootfs" "$b/rootfs"
    jq '.process.args = ["/bin/sleep", "1000"]' "$BUNDLE/config.json" >"$b/config.json"
    # Output to a file: the shim daemon must not hold a pipe we wait on.
    timeout 20 "$SHIM" --id "$id" --bundle "$b" --state-dir "$st" --runtime "$SHIM_RUNTIME" \
        --runtime-root "$root" --start >"$WORK/shim.out" 2>&1 </dev/null
    local rc=$?
    out=$(cat "$WORK/shim.out")
    [ -s "$st/shim.pid" ] && SHIM_PID=$(cat "$st/shim.pid")
    if [ $rc -ne 0 ] || [ -z "$SHIM_PID" ] || ! kill -0 "$SHIM_PID" 2>/dev/null; then
        echo "shim: n/a (wharf-shim did not start a container: $(echo "$out" | head -n 2 | tr '\n' ' '))"
        return
    fi
    # Let it settle into its idle loop before reading.
    sleep 1
    local rss
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SHIM_PID/status" 2>/dev/null)
    echo "shim: idle VmRSS ${rss:-n/a} KiB (pid $SHIM_PID, runtime $(basename "$SHIM_RUNTIME"))"
    timeout 10 "$SHIM_RUNTIME" --root "$root" delete --force "$id" >/dev/null 2>&1
    # The shim exits once its container is gone.
    local n
    for n in $(seq 50); do
        kill -0 "$SHIM_PID" 2>/dev/null || break
        sleep 0.1
    done
}
shim_rss

[ "$failed" -eq 0 ] || { echo "$failed run(s) failed" >&2; exit 1; }
