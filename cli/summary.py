"""Say in plain words what a pod's containers share, from its PodReport document."""

from __future__ import annotations

from typing import Any

# The node-wide types every ordinary pod shares with the node; mentioned once, not per container.
NODE_WIDE = ("user", "cgroup", "time")
PER_POD = ("net", "ipc", "uts", "pid", "mnt")
HOST_FIELD = {"net": "hostNetwork", "ipc": "hostIPC", "pid": "hostPID"}


def join_words(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def _types_with(container: dict[str, Any], verdict: str, types: tuple[str, ...]) -> list[str]:
    namespaces = container["namespaces"]
    return [t for t in types if t in namespaces and namespaces[t]["verdict"] == verdict]


def _sandbox_phrase(report: dict[str, Any]) -> str:
    sandbox = report["sandbox"]
    if sandbox["process"] == "pinned":
        return "the pod's pinned namespaces"
    if sandbox["process"] == "missing":
        return "the pod's (missing) pause container"
    return "the pause container"


def summarize(report: dict[str, Any]) -> list[str]:
    """Sentences for a pod: who shares what with the sandbox, the host, other pods, nobody."""
    containers = report["containers"]
    if not containers:
        return ["The pod has no running app containers; only its sandbox holds the namespaces."]
    sentences: list[str] = []
    groups: dict[tuple[tuple[str, ...], ...], list[str]] = {}
    for container in containers:
        signature = (
            tuple(_types_with(container, "pod", PER_POD)),
            tuple(_types_with(container, "private", PER_POD)),
            tuple(_types_with(container, "host", PER_POD)),
        )
        groups.setdefault(signature, []).append(container["name"])
    for (pod_types, private_types, host_types), names in groups.items():
        sentences.append(_group_sentence(report, names, pod_types, private_types, host_types))
    sentences.extend(_other_pod_sentences(containers))
    sentences.extend(_unknown_sentences(containers))
    if all(
        set(_types_with(c, "host", NODE_WIDE)) == {t for t in NODE_WIDE if t in c["namespaces"]}
        for c in containers
    ):
        present = [t for t in NODE_WIDE if t in containers[0]["namespaces"]]
        if present:
            who = "they use" if len(containers) > 1 else "it uses"
            sentences.append(f"Like most pods, {who} the node's {join_words(present)} namespaces.")
    return sentences


def _group_sentence(
    report: dict[str, Any],
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
        clauses.append(
            f"{subject} {verb} {join_words(list(pod_types))} with {_sandbox_phrase(report)}"
        )
    if host_types:
        fields = [HOST_FIELD[t] for t in host_types if t in HOST_FIELD]
        because = f" ({join_words(fields)})" if fields else ""
        lead = subject if not clauses else ("they" if several else "it")
        verb = "use" if several else "uses"
        clauses.append(f"{lead} {verb} the node's {join_words(list(host_types))}{because}")
    if private_types:
        if not clauses:
            owner = "each has" if several else "has"
            clauses.append(f"{subject} {owner} its own {join_words(list(private_types))}")
        else:
            clauses.append(
                f"{'each has' if several else 'it has'} its own {join_words(list(private_types))}"
            )
    return "; ".join(clauses) + "."


def _other_pod_sentences(containers: list[dict[str, Any]]) -> list[str]:
    sentences = []
    for container in containers:
        for ns_type, verdict in container["namespaces"].items():
            if verdict["verdict"] == "other":
                sentences.append(
                    f"{container['name']} is in the {ns_type} namespace of another pod, "
                    f"{verdict.get('other_pod', '?')}."
                )
    return sentences


def _unknown_sentences(containers: list[dict[str, Any]]) -> list[str]:
    sentences = []
    for container in containers:
        unknown = {
            t: v.get("reason", "unreadable")
            for t, v in container["namespaces"].items()
            if v["verdict"] == "unknown"
        }
        if unknown:
            reasons = join_words(sorted(set(unknown.values())))
            sentences.append(
                f"{container['name']}'s {join_words(list(unknown))} namespaces could not be read "
                f"({reasons})."
            )
    return sentences
