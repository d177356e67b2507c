"""Say in plain words what a pod's containers share, from its report."""

from __future__ import annotations

from collections.abc import Sequence

from ..agent.report import (
    HOST_SPEC_FIELDS,
    NODE_WIDE_TYPES,
    NS_TYPES,
    ContainerReport,
    PodReport,
    SandboxProcess,
    Verdict,
    value_or,
)

# The types each pod holds for itself or shares with its sandbox; the node-wide ones (user,
# cgroup, time) every ordinary pod shares with the node are mentioned once, not per container.
PER_POD = tuple(t for t in NS_TYPES if t not in NODE_WIDE_TYPES)


def join_words(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def _types_with(container: ContainerReport, verdict: Verdict, types: Sequence[str]) -> list[str]:
    namespaces = container.namespaces
    return [t for t in types if t in namespaces and namespaces[t].verdict is verdict]


def _sandbox_phrase(report: PodReport) -> str:
    process = report.sandbox.process
    if process is SandboxProcess.PINNED:
        return "the pod's pinned namespaces"
    if process is SandboxProcess.MISSING:
        return "the pod's (missing) pause container"
    return "the pause container"


def summarize(report: PodReport) -> list[str]:
    """Sentences for a pod: who shares what with the sandbox, the host, other pods, nobody."""
    containers = report.containers
    if not containers:
        return ["The pod has no running app containers; only its sandbox holds the namespaces."]
    sentences: list[str] = []
    groups: dict[tuple[tuple[str, ...], ...], list[str]] = {}
    for container in containers:
        signature = (
            tuple(_types_with(container, Verdict.POD, PER_POD)),
            tuple(_types_with(container, Verdict.PRIVATE, PER_POD)),
            tuple(_types_with(container, Verdict.HOST, PER_POD)),
        )
        groups.setdefault(signature, []).append(container.name)
    for (pod_types, private_types, host_types), names in groups.items():
        sentences.append(_group_sentence(report, names, pod_types, private_types, host_types))
    sentences.extend(_other_pod_sentences(containers))
    sentences.extend(_unknown_sentences(containers))
    if all(
        set(_types_with(c, Verdict.HOST, NODE_WIDE_TYPES))
        == {t for t in NODE_WIDE_TYPES if t in c.namespaces}
        for c in containers
    ):
        present = [t for t in NODE_WIDE_TYPES if t in containers[0].namespaces]
        if present:
            who = "they use" if len(containers) > 1 else "it uses"
            sentences.append(f"Like most pods, {who} the node's {join_words(present)} namespaces.")
    return sentences


def _group_sentence(
    report: PodReport,
    names: list[str],
    pod_types: tuple[str, ...],
    private_types: tuple[str, ...],
    host_types: tuple[str, ...],
) -> str:
    subject = join_words(names)
    several = len(names) > 1
    clauses = []
    if pod_types:
        verb = "share" if several else "shares"
        clauses.append(f"{subject} {verb} {join_words(pod_types)} with {_sandbox_phrase(report)}")
    if host_types:
        fields = list(
            dict.fromkeys(HOST_SPEC_FIELDS[t] for t in host_types if t in HOST_SPEC_FIELDS)
        )
        because = f" ({join_words(fields)})" if fields else ""
        lead = subject if not clauses else ("they" if several else "it")
        verb = "use" if several else "uses"
        clauses.append(f"{lead} {verb} the node's {join_words(host_types)}{because}")
    if private_types:
        if not clauses:
            owner = "each has" if several else "has"
            clauses.append(f"{subject} {owner} its own {join_words(private_types)}")
        else:
            clauses.append(
                f"{'each has' if several else 'it has'} its own {join_words(private_types)}"
            )
    return "; ".join(clauses) + "."


def _other_pod_sentences(containers: Sequence[ContainerReport]) -> list[str]:
    sentences = []
    for container in containers:
        for ns_type, entry in container.namespaces.items():
            if entry.verdict is Verdict.OTHER:
                sentences.append(
                    f"{container.name} is in the {ns_type} namespace of another pod, "
                    f"{value_or(entry.other_pod, '?')}."
                )
    return sentences


def _unknown_sentences(containers: Sequence[ContainerReport]) -> list[str]:
    sentences = []
    for container in containers:
        unknown = {
            t: value_or(entry.reason, "unreadable")
            for t, entry in container.namespaces.items()
            if entry.verdict is Verdict.UNKNOWN
        }
        if unknown:
            reasons = join_words(sorted(set(unknown.values())))
            sentences.append(
                f"{container.name}'s {join_words(list(unknown))} namespaces could not be read "
                f"({reasons})."
            )
    return sentences
