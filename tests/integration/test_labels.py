"""Pod labels and `-l` through the real `nsinspect` executable: podman pods' labels and a CRI
pod's, each against the runtime's own answer, and selectors that choose among them."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from harness.cri_node import CriNode, CriPod, PodSpec
from harness.podman import kube_play, pod_yaml

TAG = uuid.uuid4().hex[:8]
LABELLED, UNLABELLED = f"nsi-lbl-{TAG}", f"nsi-unlbl-{TAG}"
LABELS = {"app": f"web-{TAG}", "tier": "front", "example.com/team": "shop"}
TAIL = ["tail", "-f", "/dev/null"]


def nsinspect(*args: str) -> subprocess.CompletedProcess[str]:
    command = ["nsinspect", "--local", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def items(*args: str) -> dict[str, dict[str, Any]]:
    """Pod name -> item of `pods -o json`, for the pods of this module."""
    result = nsinspect("pods", "-o", "json", *args)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    return {i["pod"]["name"]: i for i in listing["items"] if i["pod"]["name"].endswith(TAG)}


def labelled_manifest(name: str, labels: dict[str, str]) -> str:
    manifest = yaml.safe_load(pod_yaml(name, {"app": TAIL}))
    manifest["metadata"]["labels"] = labels
    return str(yaml.safe_dump(manifest))


@pytest.fixture(scope="module")
def podman_pods() -> Iterator[dict[str, dict[str, Any]]]:
    """Two podman pods, one labelled; yields `podman pod inspect` of each by name."""
    with (
        kube_play(labelled_manifest(LABELLED, LABELS)) as labelled,
        kube_play(pod_yaml(UNLABELLED, {"app": TAIL})) as unlabelled,
    ):
        yield {LABELLED: labelled, UNLABELLED: unlabelled}


@pytest.mark.root
@pytest.mark.podman
def test_podman_pod_labels_are_podman_s(podman_pods: dict[str, dict[str, Any]]) -> None:
    found = items()
    for name, inspected in podman_pods.items():
        assert found[name]["pod"].get("labels", {}) == (inspected.get("Labels") or {})
    assert found[LABELLED]["pod"]["labels"] == LABELS


@pytest.mark.root
@pytest.mark.podman
@pytest.mark.parametrize(
    ("selector", "chosen"),
    [
        (f"app=web-{TAG}", {LABELLED}),
        (f"app==web-{TAG},tier in (front,back)", {LABELLED}),
        ("example.com/team", {LABELLED}),
        (f"app!=web-{TAG}", {UNLABELLED}),  # a pod without the key holds `!=`
        ("!example.com/team", {UNLABELLED}),
        ("tier notin (front)", {UNLABELLED}),
        (f"app=web-{TAG},tier=back", set()),
    ],
)
def test_selector_chooses_pods(
    podman_pods: dict[str, dict[str, Any]], selector: str, chosen: set[str]
) -> None:
    assert set(items("-l", selector)) == chosen
    assert set(items(f"--selector={selector}")) == chosen


@pytest.mark.root
@pytest.mark.podman
def test_selector_in_a_table_and_no_match(podman_pods: dict[str, dict[str, Any]]) -> None:
    table = nsinspect("pods", "-l", f"app=web-{TAG}")
    assert table.returncode == 0, table.stderr
    assert LABELLED in table.stdout and UNLABELLED not in table.stdout
    nothing = nsinspect("pods", "-l", f"app=none-{TAG}")
    assert (nothing.returncode, nothing.stdout) == (0, "")
    assert "No resources found" in nothing.stderr


@pytest.mark.parametrize(
    ("selector", "says"),
    [
        ("app web", "found 'web', expected: '=', '!=', '==', 'in', notin'"),
        ("tier in front", "found 'front' expected: '('"),
        ("-bad=x", 'Invalid value: "-bad"'),
    ],
)
def test_bad_selector_is_a_usage_error(selector: str, says: str) -> None:
    result = nsinspect("pods", "-l", selector)
    assert result.returncode == 2
    assert "unable to parse requirement" in result.stderr and says in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.root
@pytest.mark.containerd
def test_cri_pod_labels_are_the_sandbox_s(cri_node: CriNode) -> None:
    """The labels kubelet gave the sandbox, less its own io.kubernetes.pod.* keys, as the CRI
    itself lists them."""
    spec = PodSpec(f"nsi-cri-lbl-{TAG}", {"app": TAIL}, labels={"app": f"cri-{TAG}", "v": "2"})
    pod: CriPod = cri_node.run_pod(spec)
    try:
        listed = cri_node.status(pod).status.labels
        kubelet_keys = {k for k in listed if k.startswith("io.kubernetes.pod.")}
        assert kubelet_keys  # the CRI holds kubelet's keys too: nsinspect leaves them out
        truth = {k: v for k, v in listed.items() if k not in kubelet_keys}
        flags = ["--cri-socket", cri_node.socket]
        flags += ["--runtime-state", f"containerd={cri_node.state_dir}"]
        result = nsinspect(*flags, "pods", "-n", "default", "-l", f"app=cri-{TAG}", "-o", "json")
        assert result.returncode == 0, result.stderr
        (item,) = json.loads(result.stdout)["items"]
        assert item["pod"]["uid"] == pod.uid
        assert item["pod"]["labels"] == truth == spec.labels
    finally:
        cri_node.remove_pod(pod)


@pytest.mark.root
@pytest.mark.podman
def test_doctor_selector_keeps_the_chosen_pods_findings() -> None:
    """A labelled pod on the node's network has a finding; -l keeps exactly the findings about
    the pods it chooses (compared with doctor's whole answer), and the exit code follows."""
    name = f"nsi-lbl-host-{TAG}"
    manifest = yaml.safe_load(pod_yaml(name, {"app": TAIL}, hostNetwork=True))
    manifest["metadata"]["labels"] = {"doctor": TAG}
    with kube_play(yaml.safe_dump(manifest)):
        everything = json.loads(nsinspect("doctor", "-o", "json").stdout)["items"]
        expected = [item for item in everything if item["pod"] == name]
        assert expected  # the finding the selector must keep
        chosen = nsinspect("doctor", "-l", f"doctor={TAG}", "-o", "json")
        assert json.loads(chosen.stdout)["items"] == expected
        assert chosen.returncode == 1  # a warning among the chosen
        none = nsinspect("doctor", "-l", f"doctor=other-{TAG}", "-o", "json")
        assert json.loads(none.stdout)["items"] == []
        assert none.returncode in (0, 3)  # nothing found; 3 when the node was not all readable
