"""Shell completion through the real entry points: the scripts `nsinspect completion` prints
(as the shells parse them), pod names and namespaces completed from the node, the kubectl
plugin completer, and kubectl 1.37 calling it for `kubectl nsinspect <TAB>`."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.cluster_standin import Cluster, serve_cluster
from harness.cluster_standin import pod as standin_pod
from harness.cri_node import CriNode, PodSpec
from harness.kube_standin import write_kubeconfig
from harness.kubectl import kubectl_path
from harness.podman import kube_play, pod_yaml

TAG = uuid.uuid4().hex[:8]
POD = f"nsi-cmp-{TAG}"
TAIL = ["tail", "-f", "/dev/null"]
SHELL_CHECKS = {"bash": ["bash", "-n"], "zsh": ["zsh", "-n"], "fish": ["fish", "--no-execute"]}


def run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, env=os.environ | env
    )


def bash_complete(*words: str) -> list[str]:
    """What click's bash completion answers for the command line `words` (the last one being
    completed), as the script asks it: `type,value` lines."""
    result = run(
        ["nsinspect"],
        _NSINSPECT_COMPLETE="bash_complete",
        COMP_WORDS=" ".join(["nsinspect", *words]),
        COMP_CWORD=str(len(words)),
    )
    assert (result.returncode, result.stderr) == (0, "")
    return [line for line in result.stdout.splitlines() if line]  # click says none with "\n"


@pytest.fixture(scope="module")
def podman_pod() -> Iterator[dict[str, Any]]:
    with kube_play(pod_yaml(POD, {"app": TAIL})) as inspected:
        yield inspected


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_parses_in_its_shell(shell: str, tmp_path: Path) -> None:
    result = run(["nsinspect", "completion", shell])
    assert result.returncode == 0, result.stderr
    assert "_NSINSPECT_COMPLETE" in result.stdout
    check = SHELL_CHECKS[shell]
    if shutil.which(check[0]) is None:
        pytest.skip(f"{shell} is not installed here: the script was printed, not parsed")
    script = tmp_path / f"nsinspect.{shell}"
    script.write_text(result.stdout)
    parsed = run([*check, str(script)])
    assert parsed.returncode == 0, parsed.stderr


def test_completion_refuses_another_shell() -> None:
    result = run(["nsinspect", "completion", "tcsh"])
    assert result.returncode == 2
    assert "tcsh" in result.stderr and "Traceback" not in result.stderr


def test_bash_script_completes_commands_in_bash() -> None:
    """The script sourced in bash, its function called as bash calls it on <TAB>."""
    script = run(["nsinspect", "completion", "bash"]).stdout
    line = "COMP_WORDS=(nsinspect po); COMP_CWORD=1; _nsinspect_completion nsinspect"
    line += '; echo "${COMPREPLY[@]}"'
    result = run(["bash", "-c", f"{script}\n{line}"])
    assert result.stdout.split() == ["pod", "pods"]


@pytest.mark.root
@pytest.mark.podman
@pytest.mark.parametrize("where", [[], ["--local"]], ids=["default", "--local"])
def test_pod_name_completes_from_the_node(podman_pod: dict[str, Any], where: list[str]) -> None:
    assert podman_pod["Name"] == POD
    assert bash_complete(*where, "pod", f"nsi-cmp-{TAG[:4]}") == [f"plain,{POD}"]
    # After the verb, too, and with -n - (no Kubernetes namespace: podman's pods).
    assert bash_complete("pod", "-n", "-", *where, "nsi-cmp-") == [f"plain,{POD}"]
    assert bash_complete("pod", "-n", f"nowhere-{TAG}", "nsi-cmp-") == []
    assert bash_complete("pod", "pod/nsi-cmp-") == [f"plain,pod/{POD}"]  # as -o name says it


@pytest.mark.root
@pytest.mark.containerd
def test_namespaces_complete_from_the_node(cri_node: CriNode) -> None:
    namespace = f"nsi-ns-{TAG}"
    pod = cri_node.run_pod(PodSpec(f"nsi-cmp-cri-{TAG}", {"app": TAIL}, namespace=namespace))
    try:
        flags = ["--cri-socket", cri_node.socket]
        flags += ["--runtime-state", f"containerd={cri_node.state_dir}"]
        assert bash_complete(*flags, "pods", "-n", "nsi-ns-") == [f"plain,{namespace}"]
        assert bash_complete(*flags, "pod", "-n", namespace, "nsi-cmp-") == [
            f"plain,nsi-cmp-cri-{TAG}"
        ]
    finally:
        cri_node.remove_pod(pod)


@pytest.mark.root
@pytest.mark.podman
def test_kubectl_plugin_completer(podman_pod: dict[str, Any]) -> None:
    """kubectl's protocol: candidates a line, then cobra's directive (4: no file names)."""
    result = run(["kubectl_complete-nsinspect", "pod", "nsi-cmp-"])
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [f"{POD}\t-", ":4"]  # described: no namespace
    commands = run(["kubectl_complete-nsinspect", "po"]).stdout.splitlines()
    assert [line.split("\t")[0] for line in commands] == ["pod", "pods", ":4"]
    assert commands[0].startswith("pod\tReport one pod")  # with its description


@pytest.mark.root
@pytest.mark.podman
@pytest.mark.kubectl
def test_kubectl_completes_the_plugin(podman_pod: dict[str, Any]) -> None:
    """kubectl 1.37 finds kubectl-nsinspect and kubectl_complete-nsinspect on PATH and relays
    the candidates (offline: plugin completion asks no API server)."""
    kubectl = kubectl_path()
    assert kubectl is not None
    result = run([str(kubectl), "__complete", "nsinspect", "pod", "nsi-cmp-"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{POD}\t-", ":4"]


def test_completion_never_prints_an_error(tmp_path: Path) -> None:
    """A cluster that does not answer (a closed port): nothing is offered, nothing said."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    for words in (["pod", "x"], ["pods", "-n", "k"]):
        result = run(
            ["nsinspect"],
            KUBECONFIG=str(kubeconfig),
            _NSINSPECT_COMPLETE="bash_complete",
            COMP_WORDS=" ".join(["nsinspect", *words]),
            COMP_CWORD=str(len(words)),
        )
        assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "", "")
    plugin = run(["kubectl_complete-nsinspect", "pod", "x"], KUBECONFIG=str(kubeconfig))
    assert (plugin.stdout, plugin.stderr) == (":4\n", "")


def test_remote_completion_asks_the_api_server(tmp_path: Path) -> None:
    """With a cluster configured, names come from the API server: the -n namespace's pods, and
    the namespaces (here from the pods of every namespace: the stand-in lists no namespaces,
    as a user without that right sees it)."""
    cluster = Cluster(
        pods=[
            standin_pod("web-0", "shop", "node-a"),
            standin_pod("web-1", "shop", "node-b"),
            standin_pod("dns", "kube-system", "node-a"),
        ]
    )
    with serve_cluster(cluster) as port:
        kubeconfig = str(write_kubeconfig(tmp_path / "kubeconfig", port))
        for words, expected in (
            (["pod", "-n", "shop", "w"], ["plain,web-0", "plain,web-1"]),
            (["pod", "--namespace=kube-system", "w"], []),
            (["pod", "--namespace=kube-system", ""], ["plain,dns"]),
            (["pods", "-n", ""], ["plain,kube-system", "plain,shop"]),
        ):
            result = run(
                ["nsinspect", "--kubeconfig", kubeconfig],
                _NSINSPECT_COMPLETE="bash_complete",
                COMP_WORDS=" ".join(["nsinspect", "--kubeconfig", kubeconfig, *words]),
                COMP_CWORD=str(len(words) + 2),
            )
            assert result.stderr == ""
            assert [line for line in result.stdout.splitlines() if line] == expected, words
    assert "/api/v1/namespaces/shop/pods" in cluster.requests


def test_fish_script_completes_commands_in_fish() -> None:
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed here")
    result = run(["fish", "-c", 'nsinspect completion fish | source; complete -C "nsinspect po"'])
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == ["pod", "pods"]
