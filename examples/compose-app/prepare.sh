#!/usr/bin/env bash
# Imports Debian's busybox-static as localhost/compose-base:1, the base of
# this example's images (so that nothing is pulled). WHARF names the wharf
# binary (default: wharf on PATH); extra arguments go before the command
# (e.g. -H unix:///path/to/wharf.sock).
set -eu
WHARF=${WHARF:-wharf}
[ -x /bin/busybox ] || { echo "/bin/busybox is needed (apt-get install busybox-static)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/rootfs"/{bin,proc,sys,dev,tmp,etc,root}
cp /bin/busybox "$tmp/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$tmp/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$tmp/rootfs/etc/passwd"
printf 'root:x:0:\n' >"$tmp/rootfs/etc/group"
chmod 1777 "$tmp/rootfs/tmp"
tar -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
"$WHARF" "$@" import -c 'CMD ["sh"]' -c 'ENV PATH=/bin' "$tmp/rootfs.tar" localhost/compose-base:1 >/dev/null
echo "localhost/compose-base:1 imported"
