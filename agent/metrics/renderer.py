"""A snapshot's families in the text format, rendered once per scan.

Most of the text is a few lines per container, and most pods are the same from one snapshot to
the next: as kube-state-metrics keeps each object's bytes by uid, the renderer keeps where each
pod's lines are in the previous text, under the pod's identity, and copies them when the pod
and the render context are equal to what they were written from.
"""

from __future__ import annotations

from ..model import Pod, PodIdentityKey, Snapshot
from .node_families import NODE_FAMILIES
from .pod_families import MetricsDetail, RenderContext, pod_families
from .text_format import GaugeFamily, render

# A pod's identity -> the pod its lines were written from, and where its lines of each pod
# family are in the previous text.
Spans = dict[PodIdentityKey, tuple[Pod, tuple[tuple[int, int], ...]]]


class SnapshotRenderer:
    """Renders one snapshot after another, reusing the lines of pods that did not change."""

    def __init__(self, detail: MetricsDetail = MetricsDetail.SHARED) -> None:
        self.detail = detail
        self._families = pod_families(detail)
        self._text = b""
        self._spans: Spans = {}
        self._context: RenderContext | None = None

    def render(self, snapshot: Snapshot, boot_seconds: float | None) -> bytes:
        """`boot_seconds`: boot time, which the sandboxes' start times (in ticks) count from."""
        context = RenderContext(boot_seconds, self.detail)
        families = [family.new() for family in self._families]
        previous = self._spans if context == self._context else {}
        old = memoryview(self._text)
        local: Spans = {}
        for pod in snapshot.pods:
            starts = [len(family.text) for family in families]
            known = previous.get(pod.identity_key)
            if known is not None and known[0] == pod:
                for family, (start, end) in zip(families, known[1], strict=True):
                    family.text += old[start:end]
            else:
                for family, table_entry in zip(families, self._families, strict=True):
                    table_entry.generate(pod, context, family)
            spans = zip(starts, (len(family.text) for family in families), strict=True)
            local[pod.identity_key] = (pod, tuple(spans))
        old.release()

        text = render([*families, *(generate(snapshot) for generate in NODE_FAMILIES)])
        self._spans = _in_text(families, local)
        self._text, self._context = text, context
        return text


def _in_text(families: list[GaugeFamily], local: Spans) -> Spans:
    """From each family's own offsets to offsets in the whole text."""
    bases, offset = [], 0
    for family in families:
        bases.append(offset)
        offset += len(family.text)
    return {
        key: (pod, tuple((b + s, b + e) for b, (s, e) in zip(bases, spans, strict=True)))
        for key, (pod, spans) in local.items()
    }
