#!/usr/bin/env bash
# API server benchmark: `wharf server` under apibench (bench/apiserver/
# apibench.c) with 10,000 and 100,000 pods, on its embedded SQLite store and
# on etcd (Debian's etcd-server, one member on loopback, started and stopped
# here), then the store alone under kvbench for the same backends. Prints
# apibench's table per run and the issue's goals with what was measured:
#   100,000 pods listed in under 1 s; at least 2,000 creates/s on SQLite;
#   p99 of a single mutation under 50 ms; idle RSS under 20 MiB.
#
#   BUILD=build COUNTS="10000 100000" ETCD_COUNTS="$COUNTS" THREADS=8 WATCHERS=100 \
#       bench/apiserver/run.sh
#
# Everything lives in one temp dir: the servers' data dirs, etcd's data, and
# their logs; every process started here is stopped by its PID at exit.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
COUNTS=${COUNTS:-10000 100000}
ETCD_COUNTS=${ETCD_COUNTS:-$COUNTS}
THREADS=${THREADS:-8}
WATCHERS=${WATCHERS:-100}
WHARF=$BUILD/wharf
APIBENCH=$BUILD/bench/apiserver/apibench
KVBENCH=$BUILD/bench/apiserver/kvbench
for b in "$WHARF" "$APIBENCH" "$KVBENCH"; do
    [ -x "$b" ] || { echo "$b is not built (make build)" >&2; exit 2; }
done
for n in $COUNTS $ETCD_COUNTS $THREADS $WATCHERS; do
    case $n in '' | *[!0-9]*) echo "counts must be numbers, not '$n'" >&2; exit 2 ;; esac
done

WORK=$(mktemp -d /tmp/wab.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_ports() { # N free loopback ports
    python3 -c 'import socket,sys
s=[socket.socket() for _ in range(int(sys.argv[1]))]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])' "$1"
}

# start_server NAME [flags...]: a server on its own data dir; sets URL, SPID
start_server() {
    local name=$1
    shift
    "$WHARF" server --data-dir "$WORK/$name" --https-listen-port 0 "$@" >"$WORK/$name.log" 2>&1 &
    SPID=$!
    PIDS+=("$SPID")
    for _ in $(seq 100); do
        grep -q 'serving on' "$WORK/$name.log" 2>/dev/null && break
        sleep 0.1
    done
    URL=$(sed -n 's/.*serving on \(https:[^,]*\),.*/\1/p' "$WORK/$name.log")
    [ -n "$URL" ] || { echo "wharf server did not start: $(cat "$WORK/$name.log")" >&2; return 1; }
    sleep 1 # idle: let the start-up settle before the RSS sample
}

ETCD_URL=""
if command -v etcd >/dev/null; then
    read -r cport pport < <(free_ports 2)
    etcd --name b --data-dir "$WORK/etcd" --listen-client-urls "http://127.0.0.1:$cport" \
        --advertise-client-urls "http://127.0.0.1:$cport" --listen-peer-urls "http://127.0.0.1:$pport" \
        --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
        --initial-cluster "b=http://127.0.0.1:$pport" --quota-backend-bytes 8589934592 \
        >"$WORK/etcd.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do
        curl -s "http://127.0.0.1:$cport/health" | grep -q true && ETCD_URL="http://127.0.0.1:$cport" && break
        sleep 0.1
    done
fi
[ -n "$ETCD_URL" ] || echo "etcd: not installed or did not start (apt-get install etcd-server): SQLite only"

declare -A RES
echo "API server benchmark: counts $COUNTS, $THREADS client threads, $WATCHERS watchers, $(nproc) cores"
for backend in sqlite etcd; do
    [ "$backend" = etcd ] && [ -z "$ETCD_URL" ] && continue
    counts=$COUNTS
    [ "$backend" = etcd ] && counts=$ETCD_COUNTS
    for n in $counts; do
        name="$backend-$n"
        flags=()
        [ "$backend" = etcd ] && flags=(--datastore-endpoint "$ETCD_URL")
        start_server "$name" "${flags[@]}" || continue
        echo
        echo "== $backend, $n pods"
        "$APIBENCH" -s "$URL" -d "$WORK/$name/tls" -n "$n" -t "$THREADS" -w "$WATCHERS" -p "$SPID" |
            tee "$WORK/$name.out"
        RES[$name]=$WORK/$name.out
        kill "$SPID"
        # etcd keeps what this run wrote: the next run's namespace starts empty
        [ "$backend" = etcd ] && ETCDCTL_API=3 etcdctl --endpoints "$ETCD_URL" del --prefix /registry/ \
            >/dev/null 2>&1
    done
done

echo
echo "== the store alone (kvbench, 10000 objects)"
"$KVBENCH" -n 10000 -b "$([ -n "$ETCD_URL" ] && echo all || echo sqlite)" -d "$WORK" 2>&1 | tail -n +1

# the goals, from the SQLite runs
col() { awk -v p="$2" -v c="$3" '$1" "$2 == p || $1 == p { print $c; exit }' "$1"; }
echo
echo "== goals (SQLite)"
big=${COUNTS##* }
f=${RES[sqlite-$big]:-}
if [ -n "$f" ]; then
    list_ms=$(awk '/^list \(all\)/ { print $5 }' "$f")
    creates=$(awk '/^create / { print $3 }' "$f")
    p99=$(awk '/^update \(watched\)/ { print $6 }' "$f")
    idle=$(awk '/^rss / { print $2 }' "$f")
    loaded=$(awk '/^rss / { print $3 }' "$f")
    verdict() { awk -v a="$1" -v b="$2" -v op="$3" 'BEGIN { ok = op == "<" ? a < b : a >= b; print ok ? "met" : "NOT met" }'; }
    printf '%-36s %12s  %s\n' "list all $big pods (ms, goal < 1000)" "$list_ms" "$(verdict "$list_ms" 1000 '<')"
    printf '%-36s %12s  %s\n' "creates/s (goal >= 2000)" "$creates" "$(verdict "$creates" 2000 '>=')"
    printf '%-36s %12s  %s\n' "p99 mutation ms (goal < 50)" "$p99" "$(verdict "$p99" 50 '<')"
    printf '%-36s %12s  %s\n' "idle RSS KiB (goal < 20480)" "$idle" "$(verdict "$idle" 20480 '<')"
    printf '%-36s %12s\n' "RSS after the run, KiB" "$loaded"
fi
