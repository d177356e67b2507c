"""The agent's privileges, as rendered: exactly what deploy/base/daemonset.yaml argues for."""

from __future__ import annotations

import pytest

from harness.manifests import (
    AGENT_KUSTOMIZATIONS,
    LAYOUT_OVERLAYS,
    Document,
    agent_container,
    agent_pod_spec,
    of_kind,
    only,
    render,
)

pytestmark = pytest.mark.kubectl

CAPABILITIES = {
    "base": ["SYS_PTRACE"],
    "overlays/prometheus-operator": ["SYS_PTRACE"],
    "overlays/sys-admin": ["SYS_PTRACE", "SYS_ADMIN"],
    **{overlay: ["SYS_PTRACE"] for overlay in LAYOUT_OVERLAYS},
}
AGENT_LABELS = {"app.kubernetes.io/name": "nsinspect", "app.kubernetes.io/component": "agent"}


@pytest.mark.parametrize("kustomization", AGENT_KUSTOMIZATIONS)
def test_pod_shares_only_the_nodes_pid_namespace(kustomization: str) -> None:
    pod = agent_pod_spec(render(kustomization))
    assert pod["hostPID"] is True
    assert not pod.get("hostNetwork")
    assert not pod.get("hostIPC")


@pytest.mark.parametrize("kustomization", AGENT_KUSTOMIZATIONS)
def test_container_is_unprivileged_with_exactly_its_capabilities(kustomization: str) -> None:
    documents = render(kustomization)
    pod = agent_pod_spec(documents)
    assert not pod.get("initContainers")
    assert not pod.get("ephemeralContainers")
    context = agent_container(documents)["securityContext"]
    assert context.get("privileged", False) is False
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"]["drop"] == ["ALL"]
    assert sorted(context["capabilities"]["add"]) == sorted(CAPABILITIES[kustomization])


@pytest.mark.parametrize("kustomization", AGENT_KUSTOMIZATIONS)
def test_security_profiles(kustomization: str) -> None:
    """RuntimeDefault seccomp everywhere; AppArmor unconfined, the one deliberate exception."""
    documents = render(kustomization)
    pod_context = agent_pod_spec(documents)["securityContext"]
    context = agent_container(documents)["securityContext"]
    assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert context.get("seccompProfile", {"type": "RuntimeDefault"}) == {"type": "RuntimeDefault"}
    assert context["appArmorProfile"] == {"type": "Unconfined"}
    # root inside, for the ptrace checks; see the DaemonSet's comment
    assert pod_context["runAsUser"] == 0
    assert pod_context["runAsNonRoot"] is False
    assert "runAsUser" not in context


@pytest.mark.parametrize("kustomization", AGENT_KUSTOMIZATIONS)
def test_every_host_path_is_mounted_read_only(kustomization: str) -> None:
    documents = render(kustomization)
    pod = agent_pod_spec(documents)
    host_volumes = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    assert host_volumes["proc"] == "/proc"
    mounts = agent_container(documents)["volumeMounts"]
    mounted = [m for m in mounts if m["name"] in host_volumes]
    assert {m["name"] for m in mounted} == set(host_volumes)
    for mount in mounted:
        assert mount.get("readOnly") is True, mount["name"]
        assert mount.get("mountPropagation", "None") in ("None", "HostToContainer"), mount
    # Nothing but host paths: no emptyDir the agent could write to either.
    assert len(mounts) == len(mounted)


@pytest.mark.parametrize("kustomization", AGENT_KUSTOMIZATIONS)
def test_cluster_role_reads_pods_and_nothing_else(kustomization: str) -> None:
    documents = render(kustomization)
    role = only(documents, "ClusterRole")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}
    ]
    assert not of_kind(documents, "Role") and not of_kind(documents, "RoleBinding")
    binding = only(documents, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    account = only(documents, "ServiceAccount")["metadata"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]
    assert agent_pod_spec(documents)["serviceAccountName"] == account["name"]


def test_sys_admin_only_in_its_overlay() -> None:
    for kustomization in AGENT_KUSTOMIZATIONS:
        added = agent_container(render(kustomization))["securityContext"]["capabilities"]["add"]
        assert ("SYS_ADMIN" in added) == (kustomization == "overlays/sys-admin")


def test_namespace_admits_the_agent() -> None:
    """Pod Security's baseline level would reject hostPID and hostPath."""
    labels = only(render("base"), "Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"


def env_of(container: Document) -> dict[str, Document]:
    return {e["name"]: e for e in container["env"]}


def test_agent_pod_is_found_scheduled_and_probed() -> None:
    documents = render("base")
    daemonset = only(documents, "DaemonSet")
    template = daemonset["spec"]["template"]
    # The remote CLI finds the agent of a node by exactly these labels.
    for name, value in AGENT_LABELS.items():
        assert template["metadata"]["labels"][name] == value
        assert daemonset["spec"]["selector"]["matchLabels"][name] == value
    assert {"operator": "Exists"} in template["spec"]["tolerations"]
    strategy = daemonset["spec"]["updateStrategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"]
    container = agent_container(documents)
    assert container["args"] == ["agent"]
    env = env_of(container)
    assert env["NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert env["NSINSPECT_PROC_ROOT"]["value"] == "/host/proc"
    assert env["NSINSPECT_HOST_ROOT"]["value"] == "/host"
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["metrics"]
    assert int(env["NSINSPECT_PORT"]["value"]) == port
    resources = container["resources"]
    assert set(resources["requests"]) == {"cpu", "memory"}
    assert resources["limits"]["memory"] == "128Mi"


def test_headless_service_selects_the_agents_metrics_port() -> None:
    documents = render("base")
    service = only(documents, "Service")["spec"]
    assert service["clusterIP"] == "None"
    assert service["selector"] == AGENT_LABELS
    ports = {p["name"]: p for p in service["ports"]}
    assert ports["metrics"]["targetPort"] == "metrics"
    container_ports = {p["name"] for p in agent_container(documents)["ports"]}
    assert "metrics" in container_ports
