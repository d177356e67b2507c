"""Names from Kubernetes: the pod intents parsed from any shape the API may send, and the pure
step that names what no runtime could, never over a runtime's name."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.kube_standin import StandIn, serve, write_kubeconfig
from nsinspect.agent.daemon.kube_intent import (
    PodIntentWatcher,
    api_for,
    intent_from_pod,
    node_intents,
)
from nsinspect.agent.model import (
    ContainerIdentity,
    Evidence,
    HostReference,
    HostReferenceKind,
    NameSource,
    PodIntent,
    Process,
    Role,
    Runtime,
)
from nsinspect.agent.pairing import PairingInput, pair

UID = "0dce96c8-10db-4274-82a3-05b59e8d9b10"
SANDBOX, APP, SIDECAR = "a" * 64, "b" * 64, "c" * 64
HOST_NS = {"net": 4026531840, "ipc": 4026531839, "uts": 4026531838, "mnt": 4026531841}
POD_NS = {"net": 4026532500, "ipc": 4026532501, "uts": 4026532502}


def api_pod(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"uid": UID, "name": "web", "namespace": "shop"},
        "spec": {"hostIPC": True, "containers": [{"name": "app"}, {"name": "sidecar"}]},
        "status": status,
    }


def test_container_ids_from_every_kind_of_status() -> None:
    uid, intent = intent_from_pod(
        api_pod(
            containerStatuses=[
                {"name": "app", "containerID": f"containerd://{APP}"},
                {"name": "sidecar", "containerID": f"cri-o://{SIDECAR}"},
            ],
            initContainerStatuses=[{"name": "init", "containerID": f"docker://{'d' * 64}"}],
            ephemeralContainerStatuses=[
                {"name": "debug", "containerID": f"containerd://{'e' * 64}"}
            ],
        )
    ) or pytest.fail("no intent")
    assert uid == UID
    assert (intent.name, intent.namespace, intent.host_ipc, intent.host_network) == (
        "web", "shop", True, False,
    )  # fmt: skip
    assert intent.container_names == ("app", "sidecar")
    assert intent.container_ids == {
        APP: "app",
        SIDECAR: "sidecar",
        "d" * 64: "init",
        "e" * 64: "debug",
    }


@pytest.mark.parametrize(
    "statuses",
    [
        [{"name": "app"}],  # waiting: no containerID yet
        [{"name": "app", "containerID": ""}],
        [{"name": "app", "containerID": APP}],  # no scheme
        [{"name": "app", "containerID": "containerd://../../etc"}],
        [{"name": "app", "containerID": f"containerd://{APP.upper()}"}],
        [{"name": "", "containerID": f"containerd://{APP}"}],
        [{"name": 7, "containerID": f"containerd://{APP}"}],
        [{"name": "app", "containerID": ["containerd://", APP]}],
        ["app"],
        None,
        {"name": "app"},
    ],
)
def test_unusable_statuses_name_nothing(statuses: object) -> None:
    found = intent_from_pod(api_pod(containerStatuses=statuses))
    assert found is not None and found[1].container_ids == {}


@pytest.mark.parametrize(
    "pod",
    [None, [], "pod", 3, {}, {"metadata": None}, {"metadata": {"uid": 5}}, {"metadata": []}],
)
def test_a_pod_without_a_uid_is_no_intent(pod: object) -> None:
    assert intent_from_pod(pod) is None


def test_wrong_types_are_unset_and_one_odd_pod_costs_no_other() -> None:
    odd = {
        "metadata": {"uid": "odd", "name": ["x"], "namespace": None},
        "spec": {"hostNetwork": "true", "hostPID": 1, "containers": [{"name": 3}, None, "c"]},
        "status": [],
    }
    listing = {"metadata": {"resourceVersion": "42"}, "items": [odd, 7, api_pod()]}
    intents, version = node_intents(listing)
    assert version == "42" and set(intents) == {"odd", UID}
    assert intents["odd"] == PodIntent()  # every field unset: strings "", flags only when true
    assert node_intents({"items": {"a": 1}, "metadata": "x"}) == ({}, "")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=20,
)
pod_keys = st.sampled_from(
    ["metadata", "spec", "status", "uid", "name", "namespace", "containers", "containerStatuses",
     "initContainerStatuses", "containerID", "hostNetwork", "items"]
)  # fmt: skip
shaped = st.recursive(
    json_values,
    lambda inner: st.dictionaries(pod_keys, inner, max_size=4) | st.lists(inner, max_size=3),
    max_leaves=25,
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(shaped)
def test_any_json_is_parsed_without_raising(value: object) -> None:
    node_intents({"items": [value]})
    intent_from_pod(value)
    json.dumps(node_intents(value)[1])


def test_the_watch_keeps_what_it_can_of_odd_events(tmp_path: Path) -> None:
    """Through the official client against the stand-in: odd events change nothing, and the
    watch goes on to the next one."""
    listed = api_pod() | {"metadata": {"uid": "listed", "name": "a", "namespace": "shop"}}
    later = api_pod(containerStatuses=[{"name": "app", "containerID": f"containerd://{APP}"}])
    state = StandIn()
    state.put(listed)
    state.scripted_watches = [
        [
            {"type": "ADDED", "object": "not a pod"},
            {"type": "ADDED", "object": {"metadata": {"name": "no uid"}}},
            {"type": "MODIFIED", "object": {"metadata": {"uid": "odd"}, "spec": [], "status": 5}},
            {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "150"}}},
            {"type": "DELETED", "object": {"metadata": {}}},
            {"type": "SURPRISE", "object": later},
            {"type": "ADDED", "object": later},
        ]
    ]
    stop = threading.Event()
    with serve(state) as port:
        kubeconfig = str(write_kubeconfig(tmp_path / "kubeconfig", port))
        watcher = PodIntentWatcher(lambda: api_for(kubeconfig), "node-1", stop, 0.1)
        thread = threading.Thread(target=watcher.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while UID not in watcher.intents() and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
    thread.join(timeout=10)
    intents = watcher.intents()
    assert set(intents) == {"listed", "odd", UID}
    assert intents["odd"] == PodIntent()
    assert intents[UID].container_ids == {APP: "app"}
    assert (watcher.up, state.lists) == (True, 1)  # no event made it list again


# --- the pure step, through pair() ---


def process(pid: int, comm: str, namespaces: dict[str, int], cid: str) -> Process:
    cgroup = f"/kubepods/besteffort/pod{UID}/{cid}"
    return Process(pid, 1, comm, pid, (cgroup,), namespaces | {"mnt": 4026533000 + pid})


def cgroup_identity(cid: str, role: Role, **fields: Any) -> ContainerIdentity:
    """As agent/runtimes/cgroup_pods.py describes a container no runtime knew."""
    values: dict[str, Any] = {
        "runtime": Runtime.UNKNOWN, "id": cid, "role": role, "sandbox_id": SANDBOX,
        "name": "" if role is Role.SANDBOX else cid[:12], "pod_name": f"pod{UID}", "pod_uid": UID,
        "evidence": Evidence.CGROUP,
    }  # fmt: skip
    return ContainerIdentity(**(values | fields))


def paired(identities: dict[str, ContainerIdentity], intents: dict[str, PodIntent]) -> Any:
    processes = {
        1: Process(1, 0, "init", 1, ("/",), HOST_NS),
        400: process(400, "pause", POD_NS, SANDBOX),
        410: process(410, "nginx", POD_NS, APP),
        420: process(420, "tail", POD_NS, SIDECAR),
    }
    memberships = {400: SANDBOX, 410: APP, 420: SIDECAR}
    host = HostReference(HostReferenceKind.PID1, 1, HOST_NS)
    [pod] = pair(PairingInput(processes, memberships, identities, host, intents=intents)).pods
    return pod


def cgroup_pod_identities() -> dict[str, ContainerIdentity]:
    return {
        SANDBOX: cgroup_identity(SANDBOX, Role.SANDBOX),
        APP: cgroup_identity(APP, Role.APP),
        SIDECAR: cgroup_identity(SIDECAR, Role.APP),
    }


def names(pod: Any) -> list[tuple[str, str, NameSource]]:
    return [(c.identity.id, c.name, c.identity.names_from) for c in pod.containers]


def test_a_cgroup_pod_is_named_by_kubernetes() -> None:
    intent = PodIntent(name="web", namespace="shop", container_ids={APP: "nginx", SIDECAR: "tail"})
    pod = paired(cgroup_pod_identities(), {UID: intent})
    assert (pod.namespace, pod.name, pod.names_from) == ("shop", "web", NameSource.KUBERNETES)
    assert pod.evidence is Evidence.CGROUP  # what grouped it is unchanged
    assert pod.intent == intent
    assert names(pod) == [
        (APP, "nginx", NameSource.KUBERNETES),
        (SIDECAR, "tail", NameSource.KUBERNETES),
    ]


def test_without_an_intent_the_placeholders_stay_and_say_so() -> None:
    pod = paired(cgroup_pod_identities(), {"another-uid": PodIntent(name="x", namespace="y")})
    assert (pod.namespace, pod.name, pod.names_from) == ("", f"pod{UID}", NameSource.PLACEHOLDER)
    assert names(pod) == [
        (APP, APP[:12], NameSource.PLACEHOLDER),
        (SIDECAR, SIDECAR[:12], NameSource.PLACEHOLDER),
    ]


def test_a_container_id_kubernetes_does_not_know_keeps_its_placeholder() -> None:
    intent = PodIntent(name="web", namespace="shop", container_ids={APP: "nginx", "f" * 64: "x"})
    pod = paired(cgroup_pod_identities(), {UID: intent})
    assert pod.names_from is NameSource.KUBERNETES
    assert names(pod) == [
        (SIDECAR, SIDECAR[:12], NameSource.PLACEHOLDER),
        (APP, "nginx", NameSource.KUBERNETES),
    ]


def test_an_intent_without_a_name_names_no_pod() -> None:
    pod = paired(cgroup_pod_identities(), {UID: PodIntent(container_ids={APP: "nginx"})})
    assert (pod.name, pod.names_from) == (f"pod{UID}", NameSource.PLACEHOLDER)
    assert (APP, "nginx", NameSource.KUBERNETES) in names(pod)


def test_a_runtime_name_is_never_replaced() -> None:
    runtime = {"runtime": Runtime.CONTAINERD, "evidence": Evidence.CRI, "pod_name": "web",
               "pod_namespace": "shop"}  # fmt: skip
    identities = {
        SANDBOX: cgroup_identity(SANDBOX, Role.SANDBOX, **runtime),
        APP: cgroup_identity(APP, Role.APP, name="nginx", **runtime),
        # Joined the runtime's pod by its cgroup alone (its own record unreadable).
        SIDECAR: cgroup_identity(
            SIDECAR, Role.APP, runtime=Runtime.CONTAINERD, pod_name="web", pod_namespace="shop"
        ),
    }
    intent = PodIntent(
        name="other", namespace="elsewhere", container_ids={APP: "renamed", SIDECAR: "tail"}
    )
    pod = paired(identities, {UID: intent})
    assert (pod.namespace, pod.name, pod.names_from) == ("shop", "web", NameSource.RUNTIME)
    assert names(pod) == [
        (APP, "nginx", NameSource.RUNTIME),
        (SIDECAR, "tail", NameSource.KUBERNETES),
    ]


def test_a_pod_with_nothing_to_name_is_handed_back_as_it_was() -> None:
    from nsinspect.agent.pairing.kube_names import name_pod
    from nsinspect.agent.pairing.runtime_pods import pids_by_container, runtime_pods

    identities = {
        cid: cgroup_identity(cid, role, evidence=Evidence.OCI_CONFIG, pod_namespace="shop")
        for cid, role in ((SANDBOX, Role.SANDBOX), (APP, Role.APP))
    }
    host = HostReference(HostReferenceKind.PID1, 1, HOST_NS)
    processes = {400: process(400, "pause", POD_NS, SANDBOX), 410: process(410, "a", POD_NS, APP)}
    given = PairingInput(processes, {400: SANDBOX, 410: APP}, identities, host)
    [candidate] = runtime_pods(given, pids_by_container(given))
    assert name_pod(candidate, PodIntent(name="x", namespace="y")) is candidate
