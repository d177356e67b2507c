"""A renderer that reuses the previous text writes what a fresh one writes."""

from __future__ import annotations

from pathlib import Path

import msgspec
from prometheus_client.parser import text_string_to_metric_families

from harness.fakenode import NET_A, NGINX, POD_A, POD_A_NS, Node
from harness.fakepodman import podman_cgroup
from nsinspect.agent.metrics.renderer import SnapshotRenderer
from nsinspect.agent.model import HostReference

BOOT = 1_733_000_000.0


def test_each_render_equals_a_fresh_render_as_pods_change(tmp_path: Path) -> None:
    node = Node(tmp_path)
    node.seed_pod()
    builder, renderer = node.builder(), SnapshotRenderer()
    first = builder.build()
    assert renderer.render(first, BOOT) == SnapshotRenderer().render(first, BOOT)

    # nginx leaves the pod's network: its pod's lines change, the text follows.
    node.proc.add(
        310, "httpd", start_time=20,
        namespaces=POD_A_NS | {"net": NET_A + 1000, "pid": 4026532255, "mnt": 4026532254},
        cgroup=podman_cgroup(POD_A, NGINX),
    )  # fmt: skip
    second = builder.build()
    text = renderer.render(second, BOOT)
    assert text == SnapshotRenderer().render(second, BOOT)
    shared = {
        (s.labels["container"], s.labels["ns_type"]): s.value
        for family in text_string_to_metric_families(text.decode())
        if family.name == "nsinspect_container_namespace_shared"
        for s in family.samples
    }
    assert shared[("my-nginx-container", "net")] == 0
    assert shared[("ubuntu-sidecar-container", "net")] == 1

    # The same pods under another host reference or boot time are written anew.
    moved = msgspec.structs.replace(second, host=HostReference("self", 9, {"net": NET_A}))
    assert renderer.render(moved, BOOT) == SnapshotRenderer().render(moved, BOOT)
    assert renderer.render(moved, BOOT + 1) == SnapshotRenderer().render(moved, BOOT + 1)
