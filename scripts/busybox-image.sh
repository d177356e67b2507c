#!/usr/bin/env bash
# Import localhost/busybox:latest from Debian's busybox-static: no image registry is needed.
set -euo pipefail
image=localhost/busybox:latest
podman image exists "$image" && exit 0
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/rootfs/bin"
cp "$(command -v busybox)" "$scratch/rootfs/bin/busybox"
for applet in sh sleep httpd wget hostname ls cat tail ipcmk ipcs nc; do
    ln -s busybox "$scratch/rootfs/bin/$applet"
done
tar -C "$scratch/rootfs" -cf "$scratch/busybox.tar" .
podman import --change 'ENV=PATH=/bin' "$scratch/busybox.tar" "$image" >/dev/null
echo "busybox-image: imported $image"
