"""The node layouts: the base (containerd at its defaults) and one overlay per distribution mount
each runtime's socket and state read-only at /host/<the same path>, never create anything on the
node, and change nothing else."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from harness.daemonset_run import HOST_PATH_CHECKS, HostPathRefusedError, check_host_path
from harness.manifests import (
    AGENT_KUSTOMIZATIONS,
    DEPLOY,
    LAYOUT_OVERLAYS,
    LAYOUT_PATHS,
    Document,
    host_mounts,
    kubectls,
    of_kind,
    only,
    render,
)

pytestmark = pytest.mark.kubectl

LAYOUTS = list(LAYOUT_PATHS)
# What no mount may be, nor lie under: the agent needs none of it, and each holds other pods'
# secrets, the node's credentials or the keys to other daemons (k0s's run directory holds its
# status API and, on a controller that runs workloads, the datastore's socket).
FORBIDDEN = ("/etc", "/root", "/home", "/var/lib/kubelet", "/dev", "/sys")
FORBIDDEN_WHOLE = ("/", "/run", "/var", "/var/run", "/var/lib", "/run/k0s", "/var/snap")


def covers(mounted: str, path: str) -> bool:
    return PurePosixPath(path).is_relative_to(PurePosixPath(mounted))


def runtime_mounts(documents: tuple[Document, ...]) -> dict[str, tuple[Document, Document]]:
    return {path: pair for path, pair in host_mounts(documents).items() if path != "/proc"}


@pytest.mark.parametrize("kubectl", sorted(kubectls()))
@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_mounts_its_socket_and_state_at_the_same_place_under_host(
    layout: str, kubectl: str
) -> None:
    mounts = runtime_mounts(render(layout, kubectls()[kubectl]))
    for path in LAYOUT_PATHS[layout]:
        holders = [mounted for mounted in mounts if covers(mounted, path)]
        assert len(holders) == 1, (layout, path, sorted(mounts))
        _, mount = mounts[holders[0]]
        assert mount["mountPath"] == "/host" + holders[0], mount
    # and nothing beside them: every mount holds one of the layout's paths
    for mounted in mounts:
        assert any(covers(mounted, path) for path in LAYOUT_PATHS[layout]), (layout, mounted)


@pytest.mark.parametrize("kustomization", AGENT_KUSTOMIZATIONS)
def test_every_host_path_is_typed_so_the_node_is_never_written(kustomization: str) -> None:
    """Directory and Socket are checked by the kubelet and fail the pod when missing; an untyped
    hostPath makes the runtime create a missing directory (containerd's CRI plugin does MkdirAll),
    and the ...OrCreate types make the kubelet create it."""
    for path, (host_path, mount) in host_mounts(render(kustomization)).items():
        assert host_path.get("type") in HOST_PATH_CHECKS, (kustomization, host_path)
        assert mount.get("readOnly") is True, (kustomization, mount)
        assert mount["mountPath"] == "/host" + path, (kustomization, mount)
        assert path not in FORBIDDEN_WHOLE, (kustomization, path)
        assert not any(covers(forbidden, path) for forbidden in FORBIDDEN), (kustomization, path)
        assert not any(covers(path, forbidden) for forbidden in FORBIDDEN), (kustomization, path)
        assert os.path.normpath(path) == path and not path.endswith("/"), path


def without_runtime_mounts(documents: tuple[Document, ...]) -> list[Document]:
    """The rendered objects with the DaemonSet's hostPath volumes and their mounts taken out."""
    runtime_volumes = {mount["name"] for _, mount in runtime_mounts(documents).values()}
    stripped = [d for d in documents if d["kind"] != "DaemonSet"]
    daemonset = only(documents, "DaemonSet")
    pod = dict(daemonset["spec"]["template"]["spec"])
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] not in runtime_volumes]
    pod["containers"] = [
        {**c, "volumeMounts": [m for m in c["volumeMounts"] if m["name"] not in runtime_volumes]}
        for c in pod["containers"]
    ]
    template = {**daemonset["spec"]["template"], "spec": pod}
    stripped.append({**daemonset, "spec": {**daemonset["spec"], "template": template}})
    return sorted(stripped, key=lambda d: (d["kind"], d["metadata"]["name"]))


@pytest.mark.parametrize("overlay", LAYOUT_OVERLAYS)
def test_a_layout_overlay_changes_nothing_but_the_runtime_mounts(overlay: str) -> None:
    """Same security context, capabilities, probes, RBAC and /proc mount as the base."""
    assert without_runtime_mounts(render(overlay)) == without_runtime_mounts(render("base"))
    assert runtime_mounts(render(overlay)).keys().isdisjoint(runtime_mounts(render("base")))


def test_rke2_mounts_what_k3s_mounts() -> None:
    assert render("overlays/rke2") == render("overlays/k3s")


def test_the_namespace_and_rbac_are_the_bases() -> None:
    for overlay in LAYOUT_OVERLAYS:
        for kind in ("Namespace", "ClusterRole", "ClusterRoleBinding", "ServiceAccount"):
            assert of_kind(render(overlay), kind) == of_kind(render("base"), kind), (overlay, kind)


@pytest.mark.parametrize("kubectl", sorted(kubectls()))
def test_a_layout_combines_with_the_operator_overlay_as_deploy_readme_says(
    kubectl: str, tmp_path: Path
) -> None:
    """A kustomization of one's own: the operator overlay as its base, a copy of the k3s patch."""
    patch = DEPLOY / "overlays" / "k3s" / "daemonset-k3s.yaml"
    shutil.copy(patch, tmp_path / patch.name)
    base = os.path.relpath(DEPLOY / "overlays" / "prometheus-operator", tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        f"resources:\n- {base}\npatches:\n- path: {patch.name}\n"
    )
    combined = render(str(tmp_path), kubectls()[kubectl])
    assert runtime_mounts(combined) == runtime_mounts(render("overlays/k3s"))
    operator = render("overlays/prometheus-operator")
    assert only(combined, "ServiceMonitor") == only(operator, "ServiceMonitor")


def test_the_kubelets_check_refuses_what_is_missing_or_of_another_kind(tmp_path: Path) -> None:
    """daemonset_run's stand-in for the kubelet's hostPath type check, which the image tests rely
    on to show a layout would start on this machine."""
    directory = tmp_path / "state"
    directory.mkdir()
    check_host_path({"path": str(directory), "type": "Directory"})
    with pytest.raises(HostPathRefusedError, match="No such file"):
        check_host_path({"path": str(tmp_path / "absent"), "type": "Directory"})
    with pytest.raises(HostPathRefusedError, match="not a Socket"):
        check_host_path({"path": str(directory), "type": "Socket"})
    with pytest.raises(HostPathRefusedError, match="creates"):
        check_host_path({"path": str(directory), "type": "DirectoryOrCreate"})
    with pytest.raises(HostPathRefusedError, match="creates"):
        check_host_path({"path": str(directory)})
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(tmp_path / "runtime.sock"))
        check_host_path({"path": str(tmp_path / "runtime.sock"), "type": "Socket"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runtime.sock", "state"]


CONNECT_THROUGH_READ_ONLY_MOUNT = """
set -e
mount --bind "$1" "$2"
mount -o remount,bind,ro "$2"
grep -qE " $2 ro(,| )" /proc/self/mountinfo
! touch "$2/written" 2>/dev/null
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); \
print(s.recv(16).decode())' "$2/runtime.sock"
"""


@pytest.mark.root
def test_a_socket_on_a_read_only_mount_takes_connections(tmp_path: Path) -> None:
    """Why the CRI socket needs no writable mount: connect() is not a write to the file system
    (the kernel refuses writes on a read-only mount, not connections to a socket on one)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to make a mount namespace and a read-only bind mount")
    node_dir, view = tmp_path / "node", tmp_path / "view"
    node_dir.mkdir()
    view.mkdir()
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(node_dir / "runtime.sock"))
        listener.listen(1)
        listener.settimeout(10)
        child = subprocess.Popen(
            [
                *("unshare", "--mount", "--propagation", "private"),
                *("sh", "-c", CONNECT_THROUGH_READ_ONLY_MOUNT, "sh", str(node_dir), str(view)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            try:
                peer, _ = listener.accept()
            except TimeoutError:
                pytest.fail(f"no connection came: {child.communicate(timeout=10)[1]}")
            with peer:
                peer.sendall(b"answered")
            out, err = child.communicate(timeout=10)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert child.returncode == 0, err
    assert out.strip() == "answered"
    assert not (node_dir / "written").exists()
