"""The CRI resolver and its parsing, against a fake client: what each answer and failure becomes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from nsinspect.agent.model import ContainerIdentity, Evidence, Role, Runtime, ScanError
from nsinspect.agent.runtimes.cgroups import CgroupMatch
from nsinspect.agent.runtimes.cri import CriResolver
from nsinspect.agent.runtimes.cri_api import runtime_v1_pb2 as cri
from nsinspect.agent.runtimes.cri_identity import (
    container_identity,
    parse_verbose_info,
    sandbox_identity,
)
from nsinspect.agent.runtimes.identities import IdentityResolution

UID = "0dce96c8-10db-4274-82a3-05b59e8d9b10"
SANDBOX, APP = "a1" * 32, "a2" * 32


class FakeRpcError(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    """A failed call as grpcio raises it: an RpcError that is also a Call with a status."""

    def __init__(self, code: grpc.StatusCode, details: str = "") -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def initial_metadata(self) -> None: ...
    def trailing_metadata(self) -> None: ...
    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> None: ...
    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return False


def containerd_info(
    pid: int, options: dict[str, int] | None, namespaces: list[dict[str, str]]
) -> dict[str, str]:
    document: dict[str, Any] = {"pid": pid, "runtimeSpec": {"linux": {"namespaces": namespaces}}}
    if options is not None:
        document["config"] = {"linux": {"security_context": {"namespace_options": options}}}
    return {"info": json.dumps(document)}


def sandbox_status(
    network: int = cri.POD, pid: int = cri.CONTAINER
) -> cri.PodSandboxStatusResponse:
    status = cri.PodSandboxStatusResponse(
        info=containerd_info(400, {"network": network, "pid": pid}, [{"type": "pid"}])
    )
    status.status.linux.namespaces.options.network = network
    status.status.linux.namespaces.options.pid = pid
    return status


def sandbox_item(state: int = cri.SANDBOX_READY) -> cri.PodSandbox:
    return cri.PodSandbox(
        id=SANDBOX,
        metadata=cri.PodSandboxMetadata(name="web", uid=UID, namespace="shop"),
        state=state,  # type: ignore[arg-type]
    )


def app_item() -> cri.Container:
    return cri.Container(
        id=APP,
        pod_sandbox_id=SANDBOX,
        metadata=cri.ContainerMetadata(name="nginx"),
        state=cri.CONTAINER_RUNNING,
        labels={"io.kubernetes.pod.name": "web"},
    )


def test_verbose_info_of_containerd_cri_o_and_garbage() -> None:
    joined = [{"type": "network", "path": "/proc/400/ns/net"}, {"type": "pid"}]
    containerd = parse_verbose_info(containerd_info(410, {"pid": 1}, joined))
    assert (containerd.pid, containerd.options) == (410, {"pid": 1})
    assert containerd.namespace_paths == {"net": "/proc/400/ns/net", "pid": ""}
    crio = parse_verbose_info({"info": json.dumps({"pid": 0, "runtimeSpec": {}})})
    assert (crio.pid, crio.options, crio.namespace_paths, crio.malformed) == (None, None, {}, False)
    assert parse_verbose_info({"info": "{"}).malformed
    assert parse_verbose_info({"info": "[1]"}).malformed
    assert parse_verbose_info({}) == parse_verbose_info({"info": ""})


def test_sandbox_identity_takes_the_status_options() -> None:
    status = sandbox_status(network=cri.NODE, pid=cri.POD)
    identity = sandbox_identity(
        "containerd", sandbox_item(), status, parse_verbose_info(status.info)
    )
    assert (identity.role, identity.sandbox_id, identity.init_pid, identity.evidence) == (
        Role.SANDBOX,
        SANDBOX,
        400,
        "cri",
    )
    assert (identity.pod_name, identity.pod_namespace, identity.pod_uid) == ("web", "shop", UID)
    assert identity.requested == {"net": "NODE", "ipc": "POD", "pid": "POD"}


def test_sandbox_identity_without_linux_status_reads_the_config() -> None:
    status = cri.PodSandboxStatusResponse(info=containerd_info(400, {"ipc": 2}, []))
    identity = sandbox_identity(
        "containerd", sandbox_item(), status, parse_verbose_info(status.info)
    )
    assert identity.requested == {"net": "POD", "ipc": "NODE", "pid": "POD"}


def test_container_identity_options_then_spec_then_pod() -> None:
    status = sandbox_status()
    pod = sandbox_identity("cri-o", sandbox_item(), status, parse_verbose_info(status.info))
    with_options = parse_verbose_info(containerd_info(410, {"pid": 3}, []))
    assert container_identity("cri-o", app_item(), with_options, pod).requested == {
        "net": "POD",
        "ipc": "POD",
        "pid": "TARGET",
    }
    joined = [
        {"type": "network", "path": "/proc/400/ns/net"},
        {"type": "ipc", "path": "/var/run/ipcns/x"},
        {"type": "pid", "path": "/proc/999/ns/pid"},
    ]
    from_spec = parse_verbose_info(containerd_info(410, None, joined))
    identity = container_identity("cri-o", app_item(), from_spec, pod)
    assert identity.requested == {"net": "POD", "ipc": "POD", "pid": "TARGET"}
    assert (identity.name, identity.sandbox_id, identity.pod_uid, identity.init_pid) == (
        "nginx",
        SANDBOX,
        UID,
        410,
    )
    bare = container_identity("cri-o", app_item(), parse_verbose_info({}), None)
    assert (bare.pod_name, bare.pod_uid, bare.requested) == ("web", "", {})


class FakeClient:
    """Answers like a CRI server; `fail` maps a call name to the error it raises."""

    def __init__(self, runtime_name: str = "cri-o") -> None:
        self.runtime_name = runtime_name
        self.fail: dict[str, FakeRpcError] = {}
        self.calls: list[str] = []
        self.sandboxes = [sandbox_item(), sandbox_item(cri.SANDBOX_NOTREADY)]
        self.sandboxes[1].id = "dead" * 16

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name in self.fail:
            raise self.fail[name]

    def version(self) -> cri.VersionResponse:
        self._call("version")
        return cri.VersionResponse(runtime_name=self.runtime_name)

    def list_sandboxes(self) -> list[cri.PodSandbox]:
        self._call("list_sandboxes")
        return self.sandboxes

    def list_containers(self) -> list[cri.Container]:
        self._call("list_containers")
        return [app_item()]

    def sandbox_status(self, sandbox_id: str) -> cri.PodSandboxStatusResponse:
        self._call(f"sandbox_status {sandbox_id}")
        return sandbox_status()

    def container_status(self, container_id: str) -> cri.ContainerStatusResponse:
        self._call(f"container_status {container_id}")
        return cri.ContainerStatusResponse(info=containerd_info(410, {"pid": 1}, []))

    def close(self) -> None:
        self.calls.append("close")


@pytest.fixture
def socket_path(tmp_path: Path) -> str:
    path = tmp_path / "crio.sock"
    path.touch()
    return str(path)


def resolver_with(client: FakeClient, socket_path: str) -> CriResolver:
    return CriResolver(socket_path, "/run/crio/crio.sock", client_factory=lambda _: client)  # type: ignore[arg-type,return-value]


def test_resolver_lists_each_scan_and_asks_each_status_once(socket_path: str) -> None:
    client = FakeClient()
    resolver = resolver_with(client, socket_path)
    errors: list[ScanError] = []
    assert resolver.available() and resolver.refresh(errors) and resolver.refresh(errors)
    assert errors == []
    assert client.calls.count(f"sandbox_status {SANDBOX}") == 1
    assert client.calls.count(f"container_status {APP}") == 1
    assert client.calls.count("list_containers") == 2
    assert client.calls.count("version") == 1
    assert not any("dead" in call for call in client.calls)  # not ready: never asked about
    app = resolver.identify(CgroupMatch(APP), errors)
    assert app is not None
    assert (app.runtime, app.evidence, app.pod_name, app.pod_namespace, app.init_pid) == (
        "cri-o",
        "cri",
        "web",
        "shop",
        410,
    )
    assert resolver.identify(CgroupMatch("ff" * 32), errors) is None
    assert resolver.name == "cri:/run/crio/crio.sock"


def test_an_item_gone_between_list_and_status_is_skipped(socket_path: str) -> None:
    client = FakeClient()
    client.fail[f"container_status {APP}"] = FakeRpcError(grpc.StatusCode.NOT_FOUND, "gone")
    resolver = resolver_with(client, socket_path)
    errors: list[ScanError] = []
    assert resolver.refresh(errors)
    assert errors == []
    assert resolver.identify(CgroupMatch(APP), errors) is None
    assert resolver.identify(CgroupMatch(SANDBOX), errors) is not None


def test_a_failing_status_is_a_scan_error(socket_path: str) -> None:
    client = FakeClient()
    client.fail[f"sandbox_status {SANDBOX}"] = FakeRpcError(grpc.StatusCode.INTERNAL, "boom\nmore")
    errors: list[ScanError] = []
    assert resolver_with(client, socket_path).refresh(errors)
    assert [(e.stage, e.reason, e.path) for e in errors] == [
        ("cri", f"{SANDBOX[:12]}: INTERNAL: boom", "/run/crio/crio.sock")
    ]


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED])
def test_a_runtime_that_does_not_answer_is_down_for_this_scan(
    socket_path: str, code: grpc.StatusCode
) -> None:
    client = FakeClient()
    resolver = resolver_with(client, socket_path)
    errors: list[ScanError] = []
    assert resolver.refresh(errors)
    client.fail["list_sandboxes"] = FakeRpcError(code, "connection refused")
    assert not resolver.refresh(errors)
    assert [(e.stage, e.reason) for e in errors] == [("cri", f"{code.name}: connection refused")]
    assert resolver.identify(CgroupMatch(APP), errors) is None
    assert "close" in client.calls
    del client.fail["list_sandboxes"]
    assert resolver.refresh(errors)  # back: asked again on the next scan
    assert resolver.identify(CgroupMatch(APP), errors) is not None


def test_missing_sockets(tmp_path: Path) -> None:
    missing = str(tmp_path / "none.sock")
    assert not CriResolver(missing).available()
    required = CriResolver(missing, required=True)
    errors: list[ScanError] = []
    assert required.available()
    assert not required.refresh(errors)
    assert [(e.stage, e.reason, e.path) for e in errors] == [("cri", "no such socket", missing)]


class BundleResolver:
    """A runtime's files on disk: knows the sandbox as soon as its pause runs."""

    name = "containerd"

    def available(self) -> bool:
        return True

    def refresh(self, errors: list[ScanError]) -> bool:
        return True

    def identify(self, match: CgroupMatch, errors: list[ScanError]) -> ContainerIdentity | None:
        if match.container_id != SANDBOX:
            return None
        return ContainerIdentity(
            runtime=Runtime.CONTAINERD,
            id=SANDBOX,
            role=Role.SANDBOX,
            sandbox_id=SANDBOX,
            evidence=Evidence.OCI_CONFIG,
        )


def test_the_cri_takes_over_a_sandbox_read_from_its_bundle_before_the_cri_listed_it(
    socket_path: str,
) -> None:
    """RunPodSandbox starts the pause before the CRI lists the sandbox: a scan in between knows
    it from the bundle only, and the next scan after the CRI lists it must say `cri`."""
    client = FakeClient()
    client.sandboxes = []
    resolvers = [resolver_with(client, socket_path), BundleResolver()]
    resolution = IdentityResolution()
    memberships = {4242: CgroupMatch(SANDBOX)}
    errors: list[ScanError] = []
    identities, _ = resolution.identify(resolvers, memberships, {}, errors)
    assert identities[SANDBOX].evidence is Evidence.OCI_CONFIG
    client.sandboxes = [sandbox_item()]
    identities, _ = resolution.identify(resolvers, memberships, {}, errors)
    assert identities[SANDBOX].evidence is Evidence.CRI
    assert (identities[SANDBOX].pod_name, identities[SANDBOX].pod_namespace) == ("web", "shop")
    assert errors == []
