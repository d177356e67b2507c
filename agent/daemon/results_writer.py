"""Write each scan's rendered results to the results directory, for the unprivileged server.

A generation is written completely in gen-<n>/ before `current` is swapped to it; the server
resolves `current` once per answer, so it never sees half a scan. Each document is serialised,
written and dropped before the next: the scanner holds one document's bytes at a time, not all.
The layout is agent/exchange/layout.py's.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import msgspec

from ..exchange.layout import (
    DIR_MODE,
    EMPTY,
    FILE_MODE,
    FINDINGS,
    FINDINGS_DIR,
    INDEX,
    METRICS,
    METRICS_GZIP,
    NAMESPACES,
    PODS,
    PODS_DIR,
    GenerationIndex,
    generation_name,
    generation_number,
    namespace_key,
    prune_generations,
    publish_generation,
    share_with_server,
)
from ..exchange.metrics_gzip import compress_prefix
from ..model import Snapshot
from ..report import FindingList, PodList
from ..scanner import NodeReports

LOG = logging.getLogger("nsinspect.agent")
ListBuilder = Callable[[str | None], PodList | FindingList]  # NodeReports.pod_list, .finding_list


def prepare_results_dir(results_dir: Path) -> None:
    """Create the directory if needed, readable by the server's group and no one else."""
    results_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    try:
        os.chmod(results_dir, DIR_MODE)
    except OSError as exc:  # not ours (a volume mounted for us): its mode is the volume's
        LOG.debug("cannot set the mode of %s: %s", results_dir, exc.strerror)
    share_with_server(results_dir)


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


class ResultsWriter:
    """Writes generation after generation; numbers go on from what an earlier run left."""

    def __init__(self, results_dir: Path) -> None:
        self.results_dir = results_dir
        self.generation = 0

    def prepare(self) -> None:
        """Make the directory; go on from the generations an earlier scanner left there."""
        prepare_results_dir(self.results_dir)
        numbers = [generation_number(entry) for entry in os.listdir(self.results_dir)]
        self.generation = max((n for n in numbers if n is not None), default=0)

    def write(self, snapshot: Snapshot, metrics: Iterable[bytes]) -> int:
        """Write the snapshot's documents and `metrics` (the exposition, in pieces) as the next
        generation, publish it, and return its number."""
        generation = self.generation + 1
        # The one before the current goes now, not after the new one is published: the volume is
        # memory charged to the scanner, and this keeps two generations in it, not three, while
        # the new one is written (18 rather than 27 MiB at 500 pods of 3 containers). A reader
        # of that one has had a whole interval since it stopped being current.
        prune_generations(self.results_dir, keep_from=self.generation, kept=1)
        directory = self.results_dir / generation_name(generation)
        shutil.rmtree(directory, ignore_errors=True)
        for path in (directory, directory / PODS_DIR, directory / FINDINGS_DIR):
            path.mkdir(mode=DIR_MODE)
            share_with_server(path)
        metrics = tuple(metrics)
        self._write(directory / METRICS, metrics)
        # Compressed once here, for every scrape that accepts gzip until the next scan.
        self._write(directory / METRICS_GZIP, compress_prefix(metrics))
        namespaces = self._write_documents(directory, snapshot)
        index = GenerationIndex(
            node=snapshot.node,
            taken_at=snapshot.taken_at,
            generation=generation,
            namespaces={ns: namespace_key(ns) for ns in namespaces},
        )
        self._write(directory / INDEX, (index.to_json(),))
        publish_generation(self.results_dir, generation)
        self.generation = generation
        return generation

    def _write_documents(self, directory: Path, snapshot: Snapshot) -> list[str]:
        """Every document of the layout; returns the pod namespaces present. Per-namespace lists
        are the full lists' items grouped by namespace (item i of a list is pod or finding i of
        the snapshot), so each pod is rendered once, in the snapshot's order."""
        reports = NodeReports(snapshot)
        pods_by_ns: dict[str, list[int]] = defaultdict(list)
        for i, pod in enumerate(snapshot.pods):
            pods_by_ns[pod.namespace].append(i)
        findings_by_ns: dict[str, list[int]] = defaultdict(list)
        for i, finding in enumerate(snapshot.findings):
            if finding.pod is not None:
                findings_by_ns[finding.pod.namespace].append(i)
        namespaces = sorted(pods_by_ns.keys() | findings_by_ns.keys())
        lists: tuple[tuple[str, str, ListBuilder, dict[str, list[int]]], ...] = (
            (PODS, PODS_DIR, reports.pod_list, pods_by_ns),
            (FINDINGS, FINDINGS_DIR, reports.finding_list, findings_by_ns),
        )
        for whole, per_namespace, build_list, items_by_ns in lists:  # one list in memory at a time
            self._write_lists(
                directory,
                build_list(None),
                whole=whole,
                per_namespace=per_namespace,
                items_by_ns=items_by_ns,
                namespaces=namespaces,
            )
        self._write(directory / NAMESPACES, (_json(reports.namespace_list().to_json()),))
        return namespaces

    def _write_lists(
        self,
        directory: Path,
        document: PodList | FindingList,
        *,
        whole: str,
        per_namespace: str,
        items_by_ns: dict[str, list[int]],
        namespaces: list[str],
    ) -> None:
        """The whole list, one list per namespace, and the empty list."""
        self._write(directory / whole, (_json(document.to_json()),))
        items: list[Any] = list(document.items)
        for ns in namespaces:
            one = msgspec.structs.replace(
                document, items=[items[i] for i in items_by_ns.get(ns, ())]
            )
            self._write(
                directory / per_namespace / f"{namespace_key(ns)}.json", (_json(one.to_json()),)
            )
        empty = msgspec.structs.replace(document, items=[])
        self._write(directory / per_namespace / EMPTY, (_json(empty.to_json()),))

    @staticmethod
    def _write(path: Path, chunks: Iterable[bytes]) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        with os.fdopen(fd, "wb") as file:
            file.writelines(chunks)
        os.chmod(path, FILE_MODE)
        share_with_server(path)
