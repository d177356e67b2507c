#!/bin/bash
# usage: deploy/image/build.sh [IMAGE] — build the agent image and print its size.
#
# Makes the base image first when it is missing (make-base.sh), then `podman build`s the
# Containerfile at the repository's root. Idempotent and quick when nothing changed: the base is
# kept and podman reuses its cached layers. IMAGE defaults to localhost/nsinspect:<version>, the
# name deploy/base/daemonset.yaml uses; the image is also tagged localhost/nsinspect:latest.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$repo/agent/__init__.py")
image=${1:-localhost/nsinspect:$version}
base=${NSINSPECT_BASE_IMAGE:-localhost/nsinspect-base:bookworm}

NSINSPECT_BASE_IMAGE=$base "$repo/deploy/image/make-base.sh"

revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
# The version and revision go in as build arguments (the Containerfile's ARGs, for any builder)
# and again as the image's label and environment, which podman sets on the image it commits:
# podman 4.3's layer cache does not tell builds apart by an ARG's value, so a build at another
# commit would otherwise keep the cached steps with the earlier commit's revision.
build_args=(--build-arg "BASE=$base" --build-arg "VERSION=$version" --build-arg "REVISION=$revision"
  --label "org.opencontainers.image.version=$version"
  --label "org.opencontainers.image.revision=$revision" --env "NSINSPECT_REVISION=$revision")
# Where a local CA inspects TLS to the package index (as on this project's machines), the build's
# pip must trust what the host's pip trusts; the bundle is mounted for the build only.
ca=${PIP_CERT:-$(python3 -m pip config get global.cert 2>/dev/null || true)}
if [ -n "$ca" ] && [ -f "$ca" ]; then
  build_args+=(--volume "$ca:/etc/nsinspect-build-ca.crt:ro" --build-arg PIP_CERT=/etc/nsinspect-build-ca.crt)
fi
# The source label names the public repository: only an https remote says which; a clone of a
# local path keeps the Containerfile's default.
if source=$(git -C "$repo" remote get-url origin 2>/dev/null) && [[ $source == https://* ]]; then
  build_args+=(--build-arg "SOURCE=$source" --label "org.opencontainers.image.source=$source")
fi

podman build --quiet --layers "${build_args[@]}" \
  --file "$repo/Containerfile" --tag "$image" --tag localhost/nsinspect:latest "$repo" >/dev/null

size=$(podman image inspect --format '{{.Size}}' "$image")
echo "built $image: $((size / 1000000)) MB"
