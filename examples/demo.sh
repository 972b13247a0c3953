#!/usr/bin/env bash
# The end-to-end demo: a busybox container run by wharf-runtime, showing
# isolation and limits at work, the same container supervised by wharf-shim,
# then the engine: wharf daemon with the wharf CLI loading and importing images,
# running containers (piped -i, detached, exec, logs, stop, rm), and the
# example Compose project brought up, curled, listed and torn down.
# Everything lives in a temporary directory that is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RT="$PWD/$BUILD/wharf-runtime"
SHIM="$PWD/$BUILD/wharf-shim"
work=$(mktemp -d /tmp/wharf-demo.XXXXXX)
root="$work/state"
id="demo-$$"
cleanup() {
    "$RT" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
    "$RT" --root "$root" delete --force "$id-shim" >/dev/null 2>&1 || true
    if [ -n "${daemon_pid:-}" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        "$WHARF" rm -f demo-web >/dev/null 2>&1 || true
        [ -d "$work/compose-app" ] && (cd "$work/compose-app" && "$WHARF" compose down -v >/dev/null 2>&1)
        kill "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
    fi
    # Only mounts under our own temporary directory.
    awk -v d="$work" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "A busybox root filesystem (Debian's busybox-static) and a default config"
mkdir -p "$work/bundle/rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$work/bundle/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$work/bundle/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$work/bundle/rootfs/etc/passwd"
(cd "$work/bundle" && "$RT" spec)
echo "wrote $work/bundle/config.json with \`wharf-runtime spec\`"

config() { # config JQ-FILTER: edit config.json
    jq "$1" "$work/bundle/config.json" >"$work/c.json" && mv "$work/c.json" "$work/bundle/config.json"
}
config '.process.terminal = false | .hostname = "demo"
  | .linux.resources.memory.limit = 33554432 | .linux.resources.pids.limit = 32'

step "Isolation, seen from inside the container"
config '.process.args = ["sh", "-c",
  "echo \"hostname:  $(hostname)\"; echo \"my pid:    $$\";
   echo \"processes: $(ps -o pid= | wc -l) visible (ps, sh and this pipe)\";
   echo \"network:   $(ls /sys/class/net | tr \"\\n\" \" \")\";
   echo \"caps:      $(grep CapEff /proc/self/status)\";
   echo \"/proc/keys masked: $(wc -c < /proc/keys) bytes\";
   touch /x 2>/dev/null || echo \"root fs:   read-only\""]'
"$RT" --root "$root" run --bundle "$work/bundle" "$id"

step "Limits: a fork bomb against pids.limit = 32"
config '.process.args = ["sh", "-c",
  "(while :; do sleep 10 & echo >>/dev/shm/n; done) 2>/dev/null; kill -9 -1; wait;
   echo \"the fork bomb was stopped after $(wc -l < /dev/shm/n) processes\""]'
"$RT" --root "$root" run --bundle "$work/bundle" "$id" || true

step "Limits: allocating 64 MiB against a 32 MiB memory limit"
config '.process.args = ["sh", "-c", "x=$(head -c 67108864 /dev/zero | tr \"\\0\" a); echo survived"]'
set +e
"$RT" --root "$root" run --bundle "$work/bundle" "$id"
status=$?
set -e
echo "exit status $status (137 = killed by the OOM killer)"

step "The lifecycle: create, state, start, exec, kill, delete"
config '.process.args = ["sleep", "1000"]'
"$RT" --root "$root" create --bundle "$work/bundle" "$id"
"$RT" --root "$root" state "$id" | jq -c '{id, status, pid}'
"$RT" --root "$root" start "$id"
"$RT" --root "$root" exec "$id" sh -c 'echo "exec sees pid 1 as: $(cat /proc/1/comm)"'
"$RT" --root "$root" list
"$RT" --root "$root" kill "$id" KILL
sleep 0.2
"$RT" --root "$root" state "$id" | jq -c '{id, status}'
"$RT" --root "$root" delete "$id"

if [ -x "$SHIM" ]; then
    step "Supervised by wharf-shim: logs and the exit code survive its starter"
    config '.process.args = ["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.2; done; echo oops >&2; exit 3"]'
    "$SHIM" --id "$id-shim" --bundle "$work/bundle" --state-dir "$work/shim" \
        --runtime "$RT" --runtime-root "$root" --start >/dev/null
    for _ in $(seq 50); do [ -e "$work/shim/exit.json" ] && break; sleep 0.1; done
    echo "container log (CRI format):"
    sed 's/^/  /' "$work/shim/container.log"
    echo "exit record: $(cat "$work/shim/exit.json")"
fi
step "The engine: wharf daemon serving the Docker Engine API, driven by the wharf CLI"
# A docker-archive made by hand: one layer (the busybox root filesystem), a
# config naming it by its sha256, and a manifest.
img="$work/image"
mkdir -p "$img/layer"
tar -C "$work/bundle/rootfs" -cf "$img/layer/layer.tar" .
diff_id=$(sha256sum "$img/layer/layer.tar" | cut -d' ' -f1)
jq -n --arg d "sha256:$diff_id" '{architecture: "amd64", os: "linux", created: (now | todate),
    config: {Cmd: ["sh"], Env: ["PATH=/bin"]}, rootfs: {type: "layers", diff_ids: [$d]},
    history: [{created_by: "examples/demo.sh"}]}' >"$img/config.json"
cfg=$(sha256sum "$img/config.json" | cut -d' ' -f1)
mv "$img/config.json" "$img/$cfg.json"
jq -n --arg c "$cfg.json" '[{Config: $c, RepoTags: ["demo/busybox:1"], Layers: ["layer/layer.tar"]}]' \
    >"$img/manifest.json"
tar -C "$img" -cf "$work/busybox.tar" manifest.json "$cfg.json" layer/layer.tar
WHARF="$PWD/$BUILD/wharf"
export WHARF_HOST="unix://$work/wharf.sock"
"$WHARF" daemon --root "$work/engine" -H "$WHARF_HOST" 2>"$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 50); do [ -S "$work/wharf.sock" ] && break; sleep 0.1; done
"$WHARF" version --format 'client {{.Client.Version}}, server {{.Server.Version}}'
"$WHARF" load -i "$work/busybox.tar"
# The same busybox-static root filesystem as a plain tarball, imported.
tar -C "$work/bundle/rootfs" -cf "$work/rootfs.tar" .
"$WHARF" import -c 'CMD ["sh"]' -c 'ENV PATH=/bin' "$work/rootfs.tar" demo/imported:1 >/dev/null
"$WHARF" images
echo "interactive: commands piped into 'wharf run --rm -i':"
printf 'echo hello from $(hostname)\nid -u\nexit 3\n' | "$WHARF" run --rm -i demo/imported:1 sh || echo "(exit code $?)"
"$WHARF" run -d --name demo-web -m 64m demo/imported:1 sh -c 'trap "exit 0" TERM; echo serving; echo oops >&2; while :; do sleep 0.2; done' >/dev/null
sleep 0.5
"$WHARF" ps
echo "logs (stdout, then stderr):"
"$WHARF" logs demo-web
echo "exec: $("$WHARF" exec demo-web sh -c 'echo pid 1 is $(cat /proc/1/comm)')"
"$WHARF" inspect --format 'state={{.State.Status}} pid={{.State.Pid}} memory={{.HostConfig.Memory}}' demo-web
"$WHARF" stop -t 2 demo-web >/dev/null
"$WHARF" ps -a --format '{{.Names}}: {{.Status}}'
"$WHARF" rm demo-web >/dev/null

step "Compose: examples/compose-app (a built web service, a worker, a health-checked data service)"
cp -r examples/compose-app "$work/compose-app"
WHARF="$WHARF" "$work/compose-app/prepare.sh"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$work/compose-app" && WEB_PORT=$port "$WHARF" compose up -d)
echo "curl http://127.0.0.1:$port/: $(curl -s "http://127.0.0.1:$port/")"
(cd "$work/compose-app" && "$WHARF" compose ps && "$WHARF" compose logs --tail 2 &&
    "$WHARF" compose down -v)
kill "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
step "Done"
