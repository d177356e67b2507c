#!/bin/bash
# usage: make-base.sh — make the agent's base image, Debian 12 minbase with python3 and venv.
#
# No image registry is reachable where this project is built, so the base comes from Debian's
# package registry: debootstrap a minbase root, then `podman import` it. Idempotent: when the
# image exists this returns at once, so build.sh can call it every time.
set -euo pipefail

BASE_IMAGE=${NSINSPECT_BASE_IMAGE:-localhost/nsinspect-base:bookworm}

if podman image exists "$BASE_IMAGE"; then
  echo "base image $BASE_IMAGE exists"
  exit 0
fi
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null

root=$(mktemp -d /var/tmp/nsinspect-base.XXXXXX)
trap 'rm -rf "$root"' EXIT

# debootstrap's default mirror is Debian's own; python3-venv brings ensurepip's wheels, which the
# build stage needs to make the agent's virtual environment.
debootstrap --variant=minbase --include=python3,python3-venv bookworm "$root" >/dev/null

# Nothing in a container reads docs, man pages or translations, and apt's lists are stale by the
# time anyone would use them: dropping them keeps the base small.
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
  "$root"/usr/share/locale/* "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* \
  "$root"/var/log/*.log "$root"/var/cache/debconf/*-old

tar -C "$root" --numeric-owner -cf - . |
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/usr/bin/python3"]' \
    --message "Debian 12 minbase with python3 and python3-venv, from debootstrap" \
    - "$BASE_IMAGE" >/dev/null
echo "made base image $BASE_IMAGE"
