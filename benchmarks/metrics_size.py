"""What /metrics costs at each detail level (`nsinspect agent --metrics-detail`): the snapshot's
families as the agent renders them, their bytes (as text and gzip-compressed, as a scrape that
accepts gzip gets them) and their series, in all and per app container."""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

from nsinspect.agent.metrics.pod_families import MetricsDetail
from nsinspect.agent.metrics.renderer import SnapshotRenderer
from nsinspect.agent.model import Snapshot


@dataclass(frozen=True)
class MetricsSize:
    detail: str
    containers: int
    bytes: int  # the snapshot's families (the agent's own few health series left out)
    gzip_bytes: int
    series: int
    container_series: int  # of the families with a series per container and namespace type

    @property
    def bytes_per_container(self) -> float:
        return self.bytes / max(self.containers, 1)

    @property
    def gzip_bytes_per_container(self) -> float:
        return self.gzip_bytes / max(self.containers, 1)

    @property
    def series_per_container(self) -> float:
        return self.series / max(self.containers, 1)


CONTAINER_FAMILIES = (
    b"nsinspect_container_namespace_info{",
    b"nsinspect_container_namespace_shared{",
)


def measure(snapshot: Snapshot, detail: MetricsDetail) -> MetricsSize:
    boot_seconds = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
    text = SnapshotRenderer(detail).render(snapshot, boot_seconds)
    series = [line for line in text.splitlines() if line and not line.startswith(b"#")]
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # the scanner's level
    compressed = compressor.compress(text) + compressor.flush()
    return MetricsSize(
        detail=str(detail),
        containers=sum(len(pod.containers) for pod in snapshot.pods),
        bytes=len(text),
        gzip_bytes=len(compressed),
        series=len(series),
        container_series=sum(line.startswith(CONTAINER_FAMILIES) for line in series),
    )


def measure_all(snapshot: Snapshot) -> list[MetricsSize]:
    return [measure(snapshot, detail) for detail in MetricsDetail]


def render(sizes: list[MetricsSize]) -> list[str]:
    if not sizes:
        return []
    lines = [
        f"/metrics by --metrics-detail ({sizes[0].containers} app containers; the snapshot's "
        "families, without the agent's health series):",
        f"  {'detail':8} {'bytes':>11} {'gzip':>10} {'series':>8} {'bytes/ctr':>10} "
        f"{'gzip/ctr':>9} {'series/ctr':>11} {'ctr-type series':>16}",
    ]
    for size in sizes:
        lines.append(
            f"  {size.detail:8} {size.bytes:11,} {size.gzip_bytes:10,} {size.series:8,} "
            f"{size.bytes_per_container:10.0f} {size.gzip_bytes_per_container:9.0f} "
            f"{size.series_per_container:11.1f} {size.container_series:16,}"
        )
    return lines
