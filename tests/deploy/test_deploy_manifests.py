"""Every kustomization renders, with no warning on current kubectls, into objects the API takes."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from harness.manifests import (
    AGENT_KUSTOMIZATIONS,
    DEPLOY,
    KUSTOMIZATIONS,
    LAYOUT_OVERLAYS,
    PODMAN_NODE,
    REPO,
    Document,
    kubectls,
    only,
    render,
)
from harness.operator_schemas import SCHEMAS
from nsinspect.agent import __version__

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
VERSION = __version__  # pyproject reads it from there (dynamic version)
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}


@pytest.mark.parametrize("kubectl", sorted(kubectls()))
@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_renders_the_expected_objects(kustomization: str, kubectl: str) -> None:
    documents = render(kustomization, kubectls()[kubectl])
    assert sorted(d["kind"] for d in documents) == sorted(EXPECTED_KINDS[kustomization])


# kustomize v2's fields, which kubectl 1.27 and newer warn about (kustomize v5 deprecates them).
DEPRECATED_FIELDS = ("bases", "patchesStrategicMerge", "patchesJson6902", "commonLabels", "vars")
KUSTOMIZATION_FILES = sorted(
    str(path.relative_to(REPO))
    for path in REPO.glob("**/kustomization.yaml")
    if ".venv" not in path.parts
)


@pytest.mark.parametrize("kubectl", sorted(kubectls()))
@pytest.mark.parametrize("kustomization", [*KUSTOMIZATIONS, PODMAN_NODE])
def test_renders_without_a_warning(kustomization: str, kubectl: str) -> None:
    """kubectl kustomize writes nothing to stderr: no deprecation warning, on every kubectl at
    hand (the current one from .venv/bin, and the one on PATH when it is another version)."""
    done = subprocess.run(
        [kubectls()[kubectl], "kustomize", str(DEPLOY / kustomization)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout


@pytest.mark.parametrize("path", KUSTOMIZATION_FILES)
def test_kustomizations_use_kustomize_v5_fields_only(path: str) -> None:
    kustomization = yaml.safe_load((REPO / path).read_text())
    assert not set(kustomization) & set(DEPRECATED_FIELDS)


def daemonset_images(documents: tuple[Document, ...]) -> set[str]:
    pod = only(documents, "DaemonSet")["spec"]["template"]["spec"]
    return {c["image"] for c in pod["containers"] + pod.get("initContainers", [])}


def test_the_images_entry_names_every_container_image() -> None:
    """The containers' image is the name base's images: entry maps, so `kustomize edit set image
    nsinspect=...` moves all of them; unmapped, the reference would be a bare `nsinspect`."""
    [entry] = yaml.safe_load((DEPLOY / "base" / "kustomization.yaml").read_text())["images"]
    assert entry["name"] == "nsinspect"
    for kustomization in AGENT_KUSTOMIZATIONS:
        assert daemonset_images(render(kustomization)) == {
            f"{entry['newName']}:{entry['newTag']}"
        }, kustomization
    assert entry["newTag"] == VERSION
    assert "/" in entry["newName"].split(":")[0]  # a registry's reference, not localhost's
    assert not entry["newName"].startswith("localhost/")


def test_a_kustomization_of_ones_own_points_the_daemonset_at_a_registry(tmp_path: Path) -> None:
    """deploy/README.md's example: an images: entry over base's."""
    readme = (DEPLOY / "README.md").read_text()
    [example] = [
        block
        for block in re.findall(r"```yaml\n(.*?)```", readme, re.S)
        if "my-nsinspect/kustomization.yaml" in block
    ]
    own = tmp_path / "my-nsinspect"
    own.mkdir()
    base = os.path.relpath(DEPLOY / "base", own)
    (own / "kustomization.yaml").write_text(example.replace("../deploy/base", base))
    [image] = daemonset_images(render(str(own)))
    assert image == "registry.example.com/nsinspect:0.1.0"


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
