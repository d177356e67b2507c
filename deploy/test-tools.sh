#!/bin/bash
# usage: deploy/test-tools.sh — install what tests/deploy needs besides podman (as root; CI
# calls it). Podman itself is set up as ../shared/lab/PODMAN.md says, for every podman test.
#
# kubectl renders the manifests: Debian's kubernetes-client (kubectl 1.20, kustomize v2.0.3) is
# installed only where no kubectl is, since it conflicts with other kubectl packages. Where the
# installed kubectl is newer, Debian's 1.20 is also unpacked (not installed) under
# /var/cache/nsinspect/kubectl-1.20, so the tests check that the oldest syntax still renders.
set -euo pipefail

LEGACY_DIR=/var/cache/nsinspect/kubectl-1.20

missing=()
command -v kubectl >/dev/null || missing+=(kubernetes-client)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v promtool >/dev/null || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! kubectl version --client 2>/dev/null | grep -q 'v1\.20\.' &&
  [ ! -x "$LEGACY_DIR/usr/bin/kubectl" ]; then
  download=$(mktemp -d)
  (cd "$download" && apt-get download -qq kubernetes-client 2>/dev/null)
  mkdir -p "$LEGACY_DIR"
  dpkg-deb -x "$download"/kubernetes-client_*.deb "$LEGACY_DIR"
  rm -rf "$download"
fi
