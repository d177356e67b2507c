"""Podman's on-disk state, faked under a host root: libpod's pod records, storage, OCI bundles."""

from __future__ import annotations

import json
from pathlib import Path

GRAPH = "var/lib/containers/storage"
RUN = "run/containers/storage"


def cid(n: int) -> str:
    """A 64-hex container or pod id."""
    return f"{n:064x}"


class FakePodman:
    def __init__(self, host_root: Path) -> None:
        self.graph = host_root / GRAPH
        self.run = host_root / RUN
        (self.graph / "libpod").mkdir(parents=True, exist_ok=True)
        (self.graph / "overlay-containers").mkdir(parents=True, exist_ok=True)
        self._pod_records: list[dict[str, object]] = []
        self._names: list[dict[str, object]] = []

    def add_pod(
        self, pod_id: str, name: str, shares: tuple[str, ...] = ("Net", "Ipc", "Uts")
    ) -> None:
        record: dict[str, object] = {"id": pod_id, "name": name, "hostname": name, "hasInfra": True}
        record.update({f"shares{kind}": True for kind in shares})
        self._pod_records.append(record)
        # BoltDB pages hold records between binary page headers.
        blobs = [
            b"\x00\x10BOLT" + json.dumps(r, separators=(",", ":")).encode()
            for r in self._pod_records
        ]
        (self.graph / "libpod" / "bolt_state.db").write_bytes(b"\xff\x00".join(blobs) + b"\x00")

    def add_container(
        self,
        container_id: str,
        name: str,
        *,
        sandbox_id: str | None = None,
        namespaces: dict[str, str] | None = None,
        pid: int | None = None,
        raw_config: str | None = None,
    ) -> Path:
        """An infra container when `sandbox_id` is None, else an app container of that sandbox."""
        annotations = {"io.container.manager": "libpod"}
        if sandbox_id is not None:
            annotations["io.kubernetes.cri-o.ContainerType"] = "container"
            annotations["io.kubernetes.cri-o.SandboxID"] = sandbox_id
        spec_namespaces = namespaces or {
            "network": "",
            "ipc": "",
            "uts": "",
            "pid": "",
            "mount": "",
        }
        config = {
            "annotations": annotations,
            "linux": {"namespaces": [{"type": t, "path": p} for t, p in spec_namespaces.items()]},
        }
        bundle = self.graph / "overlay-containers" / container_id / "userdata"
        bundle.mkdir(parents=True, exist_ok=True)
        (bundle / "config.json").write_text(
            raw_config if raw_config is not None else json.dumps(config)
        )
        if pid is not None:
            run_bundle = self.run / "overlay-containers" / container_id / "userdata"
            run_bundle.mkdir(parents=True, exist_ok=True)
            (run_bundle / "pidfile").write_text(str(pid))
        self._names.append({"id": container_id, "names": [name]})
        (self.graph / "overlay-containers" / "containers.json").write_text(json.dumps(self._names))
        return bundle


def podman_cgroup(pod_id: str, container_id: str) -> list[str]:
    path = f"/libpod_parent/{pod_id}/libpod-{container_id}"
    return [f"0::{path}", f"4:pids:{path}"]
