#!/bin/bash
# usage: deploy/krew/package.sh OUTDIR — the krew archive kubectl-nsinspect-v<version>.tar.gz.
#
# The archive holds the launcher alone (nsinspect itself comes from the package index on first
# use), and is byte-for-byte reproducible: fixed order, owners, modes and times, gzip without a
# name or time. So the sha256 in nsinspect.yaml can be checked against a fresh build; after a
# change to the launcher or the version, run this and put the printed sha256 in the manifest.
set -euo pipefail

out=${1:?usage: package.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's/^version=\(.*\)$/\1/p' "$here/kubectl-nsinspect")
archive="$out/kubectl-nsinspect-v$version.tar.gz"

mkdir -p "$out"
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
install -m 0755 "$here/kubectl-nsinspect" "$staging/kubectl-nsinspect"
tar -C "$staging" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - \
  kubectl-nsinspect | gzip -9 -n >"$archive"
echo "$archive $(sha256sum "$archive" | cut -d' ' -f1)"
