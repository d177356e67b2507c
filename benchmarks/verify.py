"""Did nsinspect find every synthetic pod, whole and judged right?"""

from __future__ import annotations

from fleet import Fleet

from nsinspect.agent.model import Snapshot, Verdict

EXPECTED = {
    "net": Verdict.POD,
    "ipc": Verdict.POD,
    "uts": Verdict.POD,
    "pid": Verdict.PRIVATE,
    "mnt": Verdict.PRIVATE,
}


def fleet_problems(snapshot: Snapshot, fleet: Fleet) -> list[str]:
    """Every way the snapshot differs from the fleet; empty when all pods were found right.

    A pod must have the holder as its sandbox and exactly its K containers, each with both of
    its processes (`unshare` and its `sleep`), `sleep` as the container's init, and verdicts
    net/ipc/uts = pod, pid/mnt = private.
    """
    by_sandbox = {pod.sandbox.pid: pod for pod in snapshot.pods}
    problems = []
    for holder, expected in fleet.pods.items():
        pod = by_sandbox.get(holder)
        if pod is None:
            problems.append(f"holder {holder}: no pod has it as its sandbox")
            continue
        found = {c.pid: c for c in pod.containers}
        inits = {init: launcher for launcher, init in expected.containers.items()}
        if set(found) != set(inits):
            problems.append(
                f"pod {pod.name}: container inits {sorted(p for p in found if p)}, "
                f"expected {sorted(inits)}"
            )
            continue
        for container in pod.containers:
            init = container.pid or 0
            if sorted(container.pids) != sorted((init, inits[init])):
                problems.append(
                    f"pod {pod.name}, container {container.name}: pids {container.pids}, "
                    f"expected {sorted((init, inits[init]))}"
                )
            for ns_type, verdict in EXPECTED.items():
                judged = container.namespaces.get(ns_type)
                if judged is None or judged.verdict is not verdict:
                    problems.append(
                        f"pod {pod.name}, container {container.name}: {ns_type} is "
                        f"{judged.verdict if judged else 'missing'}, expected {verdict}"
                    )
    return problems
