"""Every kustomization renders, with old and new kubectl alike, into objects the API accepts."""

from __future__ import annotations

import jsonschema
import kubernetes_validate
import pytest

from harness.manifests import (
    KUSTOMIZATIONS,
    LAYOUT_OVERLAYS,
    Document,
    kubectls,
    only,
    render,
)
from harness.operator_schemas import SCHEMAS

pytestmark = pytest.mark.kubectl

# The oldest Kubernetes the manifests support (the DaemonSet's appArmorProfile field is 1.30's)
# and the newest whose schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())

AGENT_KINDS = [
    "Namespace",
    "ServiceAccount",
    "ClusterRole",  # the agent's
    "ClusterRole",  # nsinspect-user, for the CLI's users to bind
    "ClusterRoleBinding",
    "Service",
    "DaemonSet",
    "NetworkPolicy",
]
OPERATOR_KINDS = [
    *AGENT_KINDS,
    "ClusterRole",  # nsinspect-metrics-reader
    "ClusterRoleBinding",  # ... to Prometheus's service account
    "ConfigMap",
    "PrometheusRule",
    "ServiceMonitor",
]
EXPECTED_KINDS = {
    "base": AGENT_KINDS,
    "overlays/sys-admin": AGENT_KINDS,
    "overlays/seccomp": AGENT_KINDS,
    **dict.fromkeys(LAYOUT_OVERLAYS, AGENT_KINDS),
    "overlays/prometheus-operator": OPERATOR_KINDS,
    "overlays/hardened": OPERATOR_KINDS,
    "grafana": ["ConfigMap"],
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}


@pytest.mark.parametrize("kubectl", sorted(kubectls()))
@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_renders_the_expected_objects(kustomization: str, kubectl: str) -> None:
    documents = render(kustomization, kubectls()[kubectl])
    assert sorted(d["kind"] for d in documents) == sorted(EXPECTED_KINDS[kustomization])


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_kustomize_v2_renders_what_the_current_kubectl_renders(kustomization: str) -> None:
    found = dict(kubectls())
    if "kubectl-1.20" not in found or len(found) < 2:
        pytest.skip(f"needs kubectl 1.20 and a newer one, found {sorted(found)}")
    legacy = by_identity(render(kustomization, found.pop("kubectl-1.20")))
    for kubectl in found.values():
        assert by_identity(render(kustomization, kubectl)) == legacy


def by_identity(documents: tuple[Document, ...]) -> list[Document]:
    """The objects in one order: the kustomize versions order objects of one kind differently,
    which changes nothing that kubectl apply does."""
    return sorted(documents, key=lambda d: (d["kind"], d["metadata"]["name"]))


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_objects_validate_against_the_api_schemas(kustomization: str, version: str) -> None:
    for document in render(kustomization):
        if document["kind"] in SCHEMAS:
            jsonschema.validate(document, SCHEMAS[document["kind"]])
        else:
            kubernetes_validate.validate(document, version, strict=True)


def test_an_unknown_field_fails_validation() -> None:
    """The validation above is strict: a misspelt field is an error, not silently dropped."""
    daemonset = only(render("base"), "DaemonSet")
    misspelt = {**daemonset, "spec": {**daemonset["spec"], "updateStrategi": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, KUBERNETES_VERSIONS[0], strict=True)
    monitor = only(render("overlays/prometheus-operator"), "ServiceMonitor")
    misspelt = {**monitor, "spec": {**monitor["spec"], "endpoint": []}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(misspelt, SCHEMAS["ServiceMonitor"])


@pytest.mark.parametrize("kustomization", [k for k in KUSTOMIZATIONS if k != "grafana"])
def test_namespaced_objects_land_in_the_nsinspect_namespace(kustomization: str) -> None:
    for document in render(kustomization):
        namespace = document["metadata"].get("namespace")
        if document["kind"] in CLUSTER_SCOPED:
            assert namespace is None, document["kind"]
        else:
            assert namespace == "nsinspect", document["kind"]
