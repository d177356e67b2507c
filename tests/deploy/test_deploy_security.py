"""The agent's privileges, as rendered: exactly what deploy/base/daemonset.yaml argues for. Two
containers: the scanner holds the privileges and no port, the server holds the port and no
privilege."""

from __future__ import annotations

import pytest

from harness.manifests import (
    AGENT_KUSTOMIZATIONS,
    LAYOUT_OVERLAYS,
    Document,
    agent_containers,
    agent_pod_spec,
    of_kind,
    only,
    render,
    scanner_container,
    server_container,
    volume,
)

pytestmark = pytest.mark.kubectl

CAPABILITIES = {
    "base": ["SYS_PTRACE"],
    "overlays/prometheus-operator": ["SYS_PTRACE"],
    "overlays/hardened": ["SYS_PTRACE"],
    "overlays/seccomp": ["SYS_PTRACE"],
    "overlays/sys-admin": ["SYS_PTRACE", "SYS_ADMIN"],
    **{overlay: ["SYS_PTRACE"] for overlay in LAYOUT_OVERLAYS},
}
AGENT_LABELS = {"app.kubernetes.io/name": "nsinspect", "app.kubernetes.io/component": "agent"}
NOBODY = 65534
RESULTS_DIR = "/run/nsinspect"
AGENT_RULES = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
    {
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["subjectaccessreviews"],
        "verbs": ["create"],
    },
]


def cluster_role(documents: tuple[Document, ...], name: str) -> Document:
    [role] = [r for r in of_kind(documents, "ClusterRole") if r["metadata"]["name"] == name]
    return role


def argument(container: Document, flag: str) -> str | None:
    """The value after `flag` in the container's arguments, None when absent."""
    args: list[str] = container["args"]
    return args[args.index(flag) + 1] if flag in args else None


@pytest.mark.parametrize("kustomization", AGENT_KUSTOMIZATIONS)
def test_pod_shares_only_the_nodes_pid_namespace(kustomization: str) -> None:
    pod = agent_pod_spec(render(kustomization))
    assert pod["hostPID"] is True
    assert not pod.get("hostNetwork")
    assert not pod.get("hostIPC")
    assert not pod.get("initContainers")
    assert not pod.get("ephemeralContainers")


@pytest.mark.parametrize("kustomization", AGENT_KUSTOMIZATIONS)
def test_scanner_is_root_with_exactly_its_capabilities_and_no_port(kustomization: str) -> None:
    scanner = scanner_container(render(kustomization))
    context = scanner["securityContext"]
    assert context.get("privileged", False) is False
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"]["drop"] == ["ALL"]
    assert sorted(context["capabilities"]["add"]) == sorted(CAPABILITIES[kustomization])
    # root inside, for the ptrace checks; see the DaemonSet's comment
    assert context["runAsUser"] == 0
    assert context["runAsNonRoot"] is False
    assert context["appArmorProfile"] == {"type": "Unconfined"}
    assert not scanner.get("ports")
    assert scanner["args"][:3] == ["agent", "--role", "scanner"]
    assert argument(scanner, "--results-dir") == RESULTS_DIR


@pytest.mark.parametrize("kustomization", AGENT_KUSTOMIZATIONS)
def test_the_exposed_container_is_nobody_without_capabilities(kustomization: str) -> None:
    documents = render(kustomization)
    server = server_container(documents)
    context = server["securityContext"]
    assert context["runAsUser"] == NOBODY
    assert context["runAsGroup"] == NOBODY
    assert context["runAsNonRoot"] is True
    assert context.get("privileged", False) is False
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["appArmorProfile"] == {"type": "RuntimeDefault"}
    assert context.get("seccompProfile", {"type": "RuntimeDefault"}) == {"type": "RuntimeDefault"}
    assert server["command"] == ["nsinspect-server"]
    assert argument(server, "--results-dir") == RESULTS_DIR
    # The pod IP has the metrics port only; the JSON API is on 127.0.0.1, not a pod port.
    ports = {p["name"]: p["containerPort"] for p in server["ports"]}
    assert ports == {"metrics": int(argument(server, "--port") or 0)}
    assert argument(server, "--api-port") == "9978"
    # Whichever container has a port is unprivileged: no other has one.
    for name, container in agent_containers(documents).items():
        if container.get("ports"):
            assert container["securityContext"]["runAsNonRoot"] is True, name
            assert not container["securityContext"]["capabilities"].get("add"), name


@pytest.mark.parametrize("kustomization", AGENT_KUSTOMIZATIONS)
def test_security_profiles(kustomization: str) -> None:
    """RuntimeDefault seccomp for both (the scanner's own profile in its overlay); AppArmor
    unconfined for the scanner, the one deliberate exception."""
    documents = render(kustomization)
    pod_context = agent_pod_spec(documents)["securityContext"]
    assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}
    # No user for the pod: each container says its own, so none is root by inheritance.
    assert "runAsUser" not in pod_context
    assert pod_context["fsGroup"] == NOBODY
    scanner = scanner_container(documents)["securityContext"]
    expected = {"type": "RuntimeDefault"}
    if kustomization == "overlays/seccomp":
        expected = {"type": "Localhost", "localhostProfile": "nsinspect/scanner.json"}
    assert scanner.get("seccompProfile", {"type": "RuntimeDefault"}) == expected


@pytest.mark.parametrize("kustomization", AGENT_KUSTOMIZATIONS)
def test_results_are_shared_in_memory_written_by_the_scanner_only(kustomization: str) -> None:
    documents = render(kustomization)
    results = volume(documents, "results")["emptyDir"]
    assert results["medium"] == "Memory"
    assert results["sizeLimit"]
    mounts = {
        name: [m for m in container["volumeMounts"] if m["name"] == "results"]
        for name, container in agent_containers(documents).items()
    }
    [scanner_mount] = mounts["scanner"]
    [server_mount] = mounts["server"]
    assert scanner_mount["mountPath"] == server_mount["mountPath"] == RESULTS_DIR
    assert not scanner_mount.get("readOnly")
    assert server_mount["readOnly"] is True
    # The server mounts nothing else: no host path, no token of its own beyond the pod's.
    assert [m["name"] for m in server_container(documents)["volumeMounts"]] == ["results"]


@pytest.mark.parametrize("kustomization", AGENT_KUSTOMIZATIONS)
def test_every_host_path_is_mounted_read_only(kustomization: str) -> None:
    documents = render(kustomization)
    pod = agent_pod_spec(documents)
    host_volumes = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    assert host_volumes["proc"] == "/proc"
    mounts = scanner_container(documents)["volumeMounts"]
    mounted = [m for m in mounts if m["name"] in host_volumes]
    assert {m["name"] for m in mounted} == set(host_volumes)
    for mount in mounted:
        assert mount.get("readOnly") is True, mount["name"]
        assert mount.get("mountPropagation", "None") in ("None", "HostToContainer"), mount
    # Nothing but host paths and the results: the scanner writes nowhere else.
    assert sorted(m["name"] for m in mounts if m not in mounted) == ["results"]


@pytest.mark.parametrize("kustomization", AGENT_KUSTOMIZATIONS)
def test_cluster_roles_are_exactly_what_scanner_server_and_users_need(kustomization: str) -> None:
    documents = render(kustomization)
    assert cluster_role(documents, "nsinspect")["rules"] == AGENT_RULES
    # For the CLI's users, bound by a RoleBinding in the agent's namespace (README: RBAC).
    assert cluster_role(documents, "nsinspect-user")["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["pods/portforward"], "verbs": ["get", "create"]},
    ]
    assert not of_kind(documents, "Role") and not of_kind(documents, "RoleBinding")
    [binding] = [
        b for b in of_kind(documents, "ClusterRoleBinding") if b["metadata"]["name"] == "nsinspect"
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "nsinspect",
    }
    account = only(documents, "ServiceAccount")["metadata"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]
    assert agent_pod_spec(documents)["serviceAccountName"] == account["name"]
    # nsinspect-user is never bound by deploy/: who may use the CLI is the cluster's choice.
    bound = {b["roleRef"]["name"] for b in of_kind(documents, "ClusterRoleBinding")}
    assert "nsinspect-user" not in bound


@pytest.mark.parametrize("kustomization", AGENT_KUSTOMIZATIONS)
def test_network_policy_admits_only_scrapes_of_the_metrics_port(kustomization: str) -> None:
    documents = render(kustomization)
    policy = only(documents, "NetworkPolicy")["spec"]
    template_labels = only(documents, "DaemonSet")["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"] == AGENT_LABELS
    assert AGENT_LABELS.items() <= template_labels.items()
    assert policy["policyTypes"] == ["Ingress"]
    [rule] = policy["ingress"]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"nsinspect.io/scrape-metrics": "true"}}}
    ]
    metrics_port = {p["name"]: p["containerPort"] for p in server_container(documents)["ports"]}
    assert rule["ports"] == [{"protocol": "TCP", "port": metrics_port["metrics"]}]


def test_sys_admin_only_in_its_overlay() -> None:
    for kustomization in AGENT_KUSTOMIZATIONS:
        for name, container in agent_containers(render(kustomization)).items():
            added = container["securityContext"]["capabilities"].get("add", [])
            expected = name == "scanner" and kustomization == "overlays/sys-admin"
            assert ("SYS_ADMIN" in added) == expected, (kustomization, name)


def test_metrics_and_api_authentication_by_overlay() -> None:
    """Off in the base; /metrics authenticated with the operator's ServiceMonitor; a token
    required on the API in the hardened overlay."""
    expected = {
        "base": (False, None),
        "overlays/prometheus-operator": (True, None),
        "overlays/hardened": (True, "required"),
    }
    for kustomization, (metrics_auth, api_auth) in expected.items():
        server = server_container(render(kustomization))
        assert ("--metrics-auth" in server["args"]) is metrics_auth, kustomization
        assert argument(server, "--api-auth") == api_auth, kustomization
    for kustomization in AGENT_KUSTOMIZATIONS:
        if kustomization not in expected:
            assert server_container(render(kustomization)) == server_container(render("base"))


def test_namespace_admits_the_agent() -> None:
    """Pod Security's baseline level would reject hostPID and hostPath."""
    labels = only(render("base"), "Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"


def env_of(container: Document) -> dict[str, Document]:
    return {e["name"]: e for e in container.get("env", [])}


def test_agent_pod_is_found_scheduled_and_probed() -> None:
    documents = render("base")
    daemonset = only(documents, "DaemonSet")
    template = daemonset["spec"]["template"]
    # The remote CLI finds the agent of a node by exactly these labels.
    for name, value in AGENT_LABELS.items():
        assert template["metadata"]["labels"][name] == value
        assert daemonset["spec"]["selector"]["matchLabels"][name] == value
    annotations = template["metadata"]["annotations"]
    assert annotations["kubectl.kubernetes.io/default-container"] == "scanner"
    assert {"operator": "Exists"} in template["spec"]["tolerations"]
    strategy = daemonset["spec"]["updateStrategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"]
    scanner, server = scanner_container(documents), server_container(documents)
    env = env_of(scanner)
    assert env["NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert env["NSINSPECT_PROC_ROOT"]["value"] == "/host/proc"
    assert env["NSINSPECT_HOST_ROOT"]["value"] == "/host"
    assert "NSINSPECT_PORT" not in env
    port = {p["name"]: p["containerPort"] for p in server["ports"]}["metrics"]
    # The server reports the scanner's health; the scanner's probe restarts the scanner.
    assert scanner["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}
    assert "readinessProbe" not in scanner
    assert server["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert server["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "metrics"}
    # The budgets of issue K: the server 40 MiB; the scanner 60 MiB resident, and its limit
    # also holds the in-memory results volume, whose pages are charged to the writer.
    results = next(v for v in agent_pod_spec(documents)["volumes"] if v["name"] == "results")
    volume = mebibytes(results["emptyDir"]["sizeLimit"])
    assert mebibytes(scanner["resources"]["limits"]["memory"]) >= 60 + volume
    assert server["resources"]["limits"]["memory"] == "40Mi"
    for container in (scanner, server):
        assert set(container["resources"]["requests"]) == {"cpu", "memory"}


def test_headless_service_selects_the_servers_metrics_port() -> None:
    documents = render("base")
    service = only(documents, "Service")["spec"]
    assert service["clusterIP"] == "None"
    assert service["selector"] == AGENT_LABELS
    ports = {p["name"]: p for p in service["ports"]}
    assert ports["metrics"]["targetPort"] == "metrics"
    assert set(ports) == {"metrics"}
    assert "metrics" in {p["name"] for p in server_container(documents)["ports"]}


def mebibytes(quantity: str) -> int:
    """A memory quantity written in Mi, as these manifests write them."""
    assert quantity.endswith("Mi"), quantity
    return int(quantity.removesuffix("Mi"))
