#!/bin/bash
# usage: deploy/unpack-kubectl-1.20.sh — put Debian's kubectl 1.20 (kustomize v2.0.3) beside a
# newer kubectl, for tests/deploy (as root; scripts/setup.sh test calls it).
#
# The manifests promise to render with kubectl 1.20 as well as a current one. Where the kubectl
# on PATH is 1.20 (Debian's kubernetes-client, which setup.sh installs when no kubectl is there)
# this does nothing. Otherwise the package is unpacked, not installed, since it conflicts with
# other kubectl packages, under /var/cache/nsinspect/kubectl-1.20.
set -euo pipefail

target=/var/cache/nsinspect/kubectl-1.20

if kubectl version --client 2>/dev/null | grep -q 'v1\.20\.' || [ -x "$target/usr/bin/kubectl" ]; then
  exit 0
fi
download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT
(cd "$download" && apt-get download -qq kubernetes-client 2>/dev/null) ||
  (apt-get update -qq && cd "$download" && apt-get download -qq kubernetes-client)
mkdir -p "$target"
dpkg-deb -x "$download"/kubernetes-client_*.deb "$target"
echo "unpacked kubectl 1.20 under $target"
