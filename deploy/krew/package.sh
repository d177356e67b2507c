#!/bin/bash
# usage: deploy/krew/package.sh OUTDIR [ARCH...] — the krew plugin's archives and its manifest.
#
# For each ARCH (amd64 and arm64 by default), OUTDIR gets kubectl-nsinspect-v<version>-linux-ARCH
# .tar.gz holding
#   kubectl-nsinspect           nsinspect and every dependency in one executable zipapp (shiv),
#                               run by the workstation's python3 (CPython 3.11 to 3.13)
#   kubectl_complete-nsinspect  the completer kubectl 1.26+ runs for `kubectl nsinspect <TAB>`
# and OUTDIR/nsinspect.yaml, krew's manifest with each archive's sha256. Nothing is installed
# from a package index when the plugin runs. The dependencies come from PyPI as wheels for
# each Python version and the ARCH (pure Python is the same for all; the compiled modules sit
# side by side, named for their Python version), so an arm64 archive builds on amd64 too.
# Install one without a krew index:
#   kubectl krew install --manifest=OUTDIR/nsinspect.yaml \
#     --archive=OUTDIR/kubectl-nsinspect-v<version>-linux-amd64.tar.gz
# The archive is reproducible for the same dependency versions: fixed times, owners and order,
# gzip without name or time.
set -euo pipefail

out=${1:?usage: package.sh OUTDIR [ARCH...]}
shift
if [ $# -gt 0 ]; then arches=("$@"); else arches=(amd64 arm64); fi
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$repo/agent/__init__.py")
pythons=(3.11 3.12 3.13)
python=${PYTHON:-$(command -v python3)}
shiv=${SHIV:-$(dirname "$python")/shiv}
[ -x "$shiv" ] || shiv=shiv
export SOURCE_DATE_EPOCH=315532800 # 1980-01-01, the earliest time a zip can hold

mkdir -p "$out"
out=$(cd "$out" && pwd)
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT

"$python" -m pip wheel --quiet --no-deps --wheel-dir "$staging/wheel" "$repo" >/dev/null

# The manifest: the checked-in head, then a platform for each archive built.
sed "s/@VERSION@/$version/g" "$here/nsinspect.yaml.in" >"$staging/nsinspect.yaml"
for arch in "${arches[@]}"; do
  case $arch in
    amd64) machine=x86_64 ;;
    arm64) machine=aarch64 ;;
    *) echo "package.sh: no such ARCH: $arch (amd64, arm64)" >&2; exit 2 ;;
  esac
  site="$staging/$arch/site-packages"
  for py in "${pythons[@]}"; do
    # The first Python's resolution pins the versions for the others, so that one copy of
    # each pure-Python package serves them all.
    pins=()
    [ -f "$staging/$arch/pins.txt" ] && pins=(--constraint "$staging/$arch/pins.txt")
    "$python" -m pip install --quiet --disable-pip-version-check --no-compile \
      --target "$staging/$arch/$py" --implementation cp --python-version "$py" \
      --only-binary=:all: --platform "manylinux2014_$machine" \
      --platform "manylinux_2_17_$machine" --platform "manylinux_2_28_$machine" \
      "${pins[@]}" "$staging"/wheel/*.whl 2> >(grep -v "is ignored: it is neither" >&2)
    if [ ! -f "$staging/$arch/pins.txt" ]; then
      "$python" -m pip list --disable-pip-version-check --path "$staging/$arch/$py" \
        --format=freeze >"$staging/$arch/pins.txt"
    fi
    mkdir -p "$site"
    cp -rn "$staging/$arch/$py/." "$site/"
  done
  # What nsinspect never imports; pip's console scripts (the zipapp has its entry point) and
  # the install's local paths, which would make the archive differ from one checkout to another.
  "$repo/deploy/image/prune-site.sh" "$site"
  rm -rf "$site/bin"
  find "$site" -name direct_url.json -delete
  sed -i '/\/direct_url\.json,/d' "$site"/*.dist-info/RECORD

  bundle="$staging/$arch/bundle"
  mkdir -p "$bundle"
  "$shiv" --site-packages "$site" --entry-point nsinspect.cli.main:main \
    --python '/usr/bin/env python3' --preamble "$here/preamble.py" --reproducible \
    --output-file "$bundle/kubectl-nsinspect" >/dev/null
  cat >"$bundle/kubectl_complete-nsinspect" <<'COMPLETER'
#!/bin/sh
# kubectl nsinspect's completer (kubectl 1.26+ runs it for `kubectl nsinspect <TAB>`): the same
# executable as kubectl-nsinspect beside it, entered at the completion function.
here=$(dirname "$(readlink -f "$0")")
SHIV_ENTRY_POINT=nsinspect.cli.completion:kubectl_complete exec "$here/kubectl-nsinspect" "$@"
COMPLETER
  chmod 0755 "$bundle"/*
  touch -d @0 "$bundle"/*
  archive="$out/kubectl-nsinspect-v$version-linux-$arch.tar.gz"
  tar -C "$bundle" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - \
    kubectl-nsinspect kubectl_complete-nsinspect | gzip -9 -n >"$archive"
  sha256=$(sha256sum "$archive" | cut -d' ' -f1)
  cat >>"$staging/nsinspect.yaml" <<PLATFORM
  - selector:
      matchLabels:
        os: linux
        arch: $arch
    uri: https://github.com/nsinspect/nsinspect/releases/download/v$version/${archive##*/}
    sha256: $sha256
    bin: kubectl-nsinspect
    files:
    - from: kubectl-nsinspect
      to: .
    - from: kubectl_complete-nsinspect
      to: .
PLATFORM
  echo "$archive $sha256"
done
mv "$staging/nsinspect.yaml" "$out/nsinspect.yaml"
echo "$out/nsinspect.yaml"
