#!/usr/bin/env bash
# The demo: a real two-container pod (examples/my-nginx-pod.yaml) under podman, inspected.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh demo
ulimit -n "$(ulimit -Hn)"
if ! podman pod exists my-nginx-pod; then
    podman kube play examples/my-nginx-pod.yaml >/dev/null
fi
echo "\$ podman exec my-nginx-pod-ubuntu-sidecar-container wget -qO- http://localhost:80/"
podman exec my-nginx-pod-ubuntu-sidecar-container wget -qO- http://localhost:80/ 2>/dev/null || true
echo
echo "\$ nsinspect pod my-nginx-pod"
.venv/bin/nsinspect pod my-nginx-pod
echo
echo "(remove the pod with: podman pod rm -f -t 0 my-nginx-pod)"
