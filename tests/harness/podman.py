"""Real podman pods from Pod YAML, with a local busybox image (no registry is reachable)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

BUSYBOX_IMAGE = "localhost/busybox:latest"
REPO = Path(__file__).resolve().parents[2]


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check)


def ensure_busybox_image() -> str:
    """Import `localhost/busybox:latest` from busybox-static unless it is there already."""
    subprocess.run([str(REPO / "scripts" / "busybox-image.sh")], check=True, capture_output=True)
    return BUSYBOX_IMAGE


def pod_yaml(name: str, containers: dict[str, list[str]], **spec: Any) -> str:
    """A Kubernetes Pod manifest; no `ports:`, since podman 4.3 publishes them on the host."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                **spec,
                "containers": [
                    {"name": cname, "image": BUSYBOX_IMAGE, "command": command}
                    for cname, command in containers.items()
                ],
            },
        }
    )


SEED_CONTAINERS = {
    "my-nginx-container": ["httpd", "-f", "-p", "80"],
    "ubuntu-sidecar-container": ["tail", "-f", "/dev/null"],
}


def pod_running(name: str) -> bool:
    found = podman("pod", "inspect", "--format", "{{.State}}", name, check=False)
    return found.returncode == 0 and found.stdout.strip() == "Running"


def remove_pod(name: str) -> None:
    """Remove at once: the containers' pid 1 ignores SIGTERM, and waiting costs 10 s each."""
    podman("pod", "rm", "--force", "--time", "0", name, check=False)


@contextmanager
def kube_play(manifest: str) -> Iterator[dict[str, Any]]:
    """Play a Pod manifest and remove the pod afterwards; yields `podman pod inspect`.

    A pod of that name that is already running (someone's demo) is used as it is and left
    running: a test ends only what it started.
    """
    name = yaml.safe_load(manifest)["metadata"]["name"]
    if pod_running(name):
        yield pod_inspect(name)
        return
    ensure_busybox_image()
    remove_pod(name)  # a stopped leftover would make the play fail
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as file:
        file.write(manifest)
        file.flush()
        podman("kube", "play", file.name)
    try:
        yield pod_inspect(name)
    finally:
        remove_pod(name)


def pod_inspect(name: str) -> dict[str, Any]:
    inspected = json.loads(podman("pod", "inspect", name).stdout)
    return inspected[0] if isinstance(inspected, list) else inspected


def container_inspect(name_or_id: str) -> dict[str, Any]:
    inspected: list[dict[str, Any]] = json.loads(podman("inspect", name_or_id).stdout)
    return inspected[0]
