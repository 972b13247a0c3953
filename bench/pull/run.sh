#!/usr/bin/env bash
# Pull benchmark: a generated multi-layer image (real files from the host's
# /usr/lib, about 200 MB unpacked, gzip layers) pulled from a local
# distribution registry (Debian's docker-registry on 127.0.0.1) by
#   wharf    the wharf CLI -> wharfd -> wharf-registry, into its store
#            (downloaded, verified, unpacked into snapshots)
#   skopeo   skopeo copy docker://... oci:DIR (downloaded and verified only:
#            an OCI directory, nothing unpacked)
#   podman   podman pull into private storage (downloaded and unpacked)
# in ITER alternating rounds; between two pulls the image is removed again
# (not timed). Prints median and p90 wall times and the ratios to wharf.
#
#   bench/pull/run.sh              ITER=9 LAYERS=5 LAYER_MB=50
#
# Everything lives in one temp dir: the registry's storage, wharfd's root,
# skopeo's directories, podman's root; at exit the processes started here
# are stopped by PID, what they mounted under the dir is unmounted, and the
# dir goes. Environment: ITER, LAYERS, LAYER_MB, BUILD (default
# <repo>/build), PODMAN, SKOPEO. A missing tool is reported as n/a.
set -u

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$REPO/build}
ITER=${ITER:-9}
LAYERS=${LAYERS:-5}
LAYER_MB=${LAYER_MB:-50}
PODMAN=${PODMAN:-$(command -v podman 2>/dev/null || echo podman)}
SKOPEO=${SKOPEO:-$(command -v skopeo 2>/dev/null || echo skopeo)}
WHARF=$BUILD/wharf

for v in ITER LAYERS LAYER_MB; do
    case ${!v} in
    '' | *[!0-9]* | 0) echo "$v must be a positive number, not '${!v}'" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "the pull benchmark runs as root (the daemon mounts)" >&2; exit 2; }
for t in docker-registry jq python3 curl; do
    command -v "$t" >/dev/null || { echo "$t is needed (scripts/install-deps)" >&2; exit 2; }
done
[ -x "$WHARF" ] && [ -x "$BUILD/wharf-registry" ] || { echo "wharf is not built (make build)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/wbp.XXXXXX)
REG_PID="" WHARFD_PID=""
PM=("$PODMAN" --root "$WORK/podman/root" --runroot "$WORK/podman/run" --tmpdir "$WORK/podman/tmp"
    --storage-driver overlay --events-backend file)

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
stop_pid() {
    local pid=$1 i
    alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
        alive "$pid" || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
}

cleanup() {
    trap - EXIT INT TERM
    [ -d "$WORK/podman" ] && "${PM[@]}" rmi -af >/dev/null 2>&1
    stop_pid "$WHARFD_PID"
    stop_pid "$REG_PID"
    local m
    for m in $(awk -v d="$WORK/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- the image

# LAYERS layers of about LAYER_MB MB each: host libraries, in name order,
# so the content compresses like real binaries do.
build_image() {
    local dir=$WORK/oci limit=$((LAYER_MB * 1000 * 1000)) n=0 acc=0 f s
    mkdir -p "$dir/blobs/sha256" "$WORK/lists"
    : >"$WORK/lists/0"
    while IFS= read -r f; do
        s=$(stat -c %s "$f")
        if [ $((acc + s)) -gt "$limit" ] && [ "$acc" -gt 0 ]; then
            n=$((n + 1)) acc=0
            [ "$n" -ge "$LAYERS" ] && break
            : >"$WORK/lists/$n"
        fi
        echo "$f" >>"$WORK/lists/$n"
        acc=$((acc + s))
    done < <(find /usr/lib /usr/bin -xdev -type f -size +20k 2>/dev/null | sort)
    local layers='[]' diffs='[]' i diff dg size
    for ((i = 0; i < LAYERS; i++)); do
        [ -s "$WORK/lists/$i" ] || { echo "not enough files for $LAYERS layers" >&2; return 1; }
        tar --sort=name --mtime=@0 --owner=0 --group=0 -cf "$WORK/layer.tar" \
            -T "$WORK/lists/$i" 2>/dev/null
        diff=$(sha256sum <"$WORK/layer.tar" | cut -d' ' -f1)
        gzip -n -c "$WORK/layer.tar" >"$WORK/layer.tgz"
        dg=$(sha256sum <"$WORK/layer.tgz" | cut -d' ' -f1)
        size=$(stat -c %s "$WORK/layer.tgz")
        UNPACKED=$((UNPACKED + $(stat -c %s "$WORK/layer.tar")))
        PACKED=$((PACKED + size))
        mv "$WORK/layer.tgz" "$dir/blobs/sha256/$dg"
        layers=$(jq -c --arg d "sha256:$dg" --argjson s "$size" \
            '. + [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d, size: $s}]' <<<"$layers")
        diffs=$(jq -c --arg d "sha256:$diff" '. + [$d]' <<<"$diffs")
    done
    rm -f "$WORK/layer.tar"
    jq -cn --argjson d "$diffs" \
        '{architecture: "amd64", os: "linux", config: {Cmd: ["sh"]}, rootfs: {type: "layers", diff_ids: $d}}' \
        >"$WORK/config"
    local cd cs md ms
    cd=$(sha256sum <"$WORK/config" | cut -d' ' -f1) cs=$(stat -c %s "$WORK/config")
    mv "$WORK/config" "$dir/blobs/sha256/$cd"
    jq -cn --arg c "sha256:$cd" --argjson s "$cs" --argjson l "$layers" \
        '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
          config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $s},
          layers: $l}' >"$WORK/manifest"
    md=$(sha256sum <"$WORK/manifest" | cut -d' ' -f1) ms=$(stat -c %s "$WORK/manifest")
    mv "$WORK/manifest" "$dir/blobs/sha256/$md"
    jq -cn --arg m "sha256:$md" --argjson s "$ms" \
        '{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: $m, size: $s, annotations: {"org.opencontainers.image.ref.name": "1"}}]}' \
        >"$dir/index.json"
    echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
}

# Pushes the layout as it is (monolithic uploads with curl).
push_image() {
    local f loc m
    for f in "$WORK"/oci/blobs/sha256/*; do
        loc=$(curl -sf -X POST -D - -o /dev/null "http://$REG/v2/bench/blobs/uploads/" |
            tr -d '\r' | awk -F': ' 'tolower($1) == "location" { print $2 }')
        [[ "$loc" == http* ]] || loc="http://$REG$loc"
        curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$f" \
            "$loc&digest=sha256:$(basename "$f")" >/dev/null || return 1
    done
    m=$(jq -r '.manifests[0].digest' "$WORK/oci/index.json" | cut -c8-)
    curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
        --data-binary @"$WORK/oci/blobs/sha256/$m" "http://$REG/v2/bench/manifests/1" >/dev/null
}

# ---------------------------------------------------------------- setup

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
IMG=$REG/bench:1
mkdir -p "$WORK/registry"
cat >"$WORK/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry/data
http:
  addr: $REG
  secret: wharf-bench
EOF
docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do curl -sf "http://$REG/v2/" >/dev/null && break; sleep 0.05; done
UNPACKED=0 PACKED=0
echo "building the image ($LAYERS layers of ~$LAYER_MB MB) ..."
build_image || exit 1
push_image || { echo "cannot push the image to the registry" >&2; exit 1; }
echo "image: $LAYERS gzip layers, $((PACKED / 1000000)) MB in the registry, $((UNPACKED / 1000000)) MB unpacked"

"$WHARF" daemon --root "$WORK/wharf" -H "unix://$WORK/wharf.sock" 2>"$WORK/wharfd.log" &
WHARFD_PID=$!
for _ in $(seq 50); do [ -S "$WORK/wharf.sock" ] && break; sleep 0.1; done

declare -a NAMES=() PULL=() UNDO=()
add() { NAMES+=("$1"); PULL+=("$2"); UNDO+=("$3"); }
add wharf "$WHARF -H unix://$WORK/wharf.sock pull -q $IMG" \
    "$WHARF -H unix://$WORK/wharf.sock rmi $IMG"
if command -v "$SKOPEO" >/dev/null; then
    add skopeo "$SKOPEO copy -q --src-tls-verify=false docker://$IMG oci:$WORK/skopeo:1" \
        "rm -rf $WORK/skopeo"
fi
if command -v "$PODMAN" >/dev/null; then
    add podman "${PM[*]} pull -q --tls-verify=false $IMG" "${PM[*]} rmi -af"
fi

# ---------------------------------------------------------------- rounds

declare -A FAILED
for ((r = 0; r < ITER; r++)); do
    for ((k = 0; k < ${#NAMES[@]}; k++)); do
        name=${NAMES[$k]}
        t0=$(date +%s%N)
        if ${PULL[$k]} >/dev/null 2>"$WORK/$name.err"; then
            echo $((($(date +%s%N) - t0) / 1000)) >>"$WORK/$name.times"
        else
            FAILED[$name]=1
        fi
        ${UNDO[$k]} >/dev/null 2>&1
    done
done

percentile() {
    sort -n "$1" | awk -v p="$2" '{ a[NR] = $1 } END { i = int((p / 100) * NR + 0.999); if (i < 1) i = 1; print a[i] }'
}

echo
printf '%-8s %10s %10s %8s\n' "" "median" "p90" "ratio"
base=""
[ -s "$WORK/wharf.times" ] && base=$(percentile "$WORK/wharf.times" 50)
for name in "${NAMES[@]}"; do
    if [ -n "${FAILED[$name]:-}" ] || [ ! -s "$WORK/$name.times" ]; then
        printf '%-8s %10s %10s %8s   (%s)\n' "$name" n/a n/a n/a "$(head -c 200 "$WORK/$name.err" | tr '\n' ' ')"
        continue
    fi
    med=$(percentile "$WORK/$name.times" 50)
    p90=$(percentile "$WORK/$name.times" 90)
    ratio=n/a
    [ -n "$base" ] && ratio=$(awk -v a="$base" -v b="$med" 'BEGIN { printf "%.2f", a / b }')
    printf '%-8s %8.0f ms %8.0f ms %8s\n' "$name" "$((med / 1000))" "$((p90 / 1000))" "$ratio"
done
echo "(ratio: wharf's median / the tool's; below 1 means wharf is faster)"
