"""Issue G: process churn beside a real pod never misleads, slows or grows the agent.

A real podman pod with the seed's containers runs while a churner starts and ends over 1,000
short-lived processes a second for 60 s (the issue's rule), and the real agent scans every
quarter second. Every snapshot the test manages to read must pair the pod exactly as podman and
readlink(1) say; the agent stays ready, logs no traceback, and its RSS stays flat after warm-up.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.agent_watch import MIB, PodTruth, tracebacks, watched_agent
from harness.attackers import Attackers, build, churn_rate
from harness.podman import SEED_CONTAINERS, kube_play, pod_yaml

pytestmark = [pytest.mark.root, pytest.mark.podman]

# Not the demo's `my-nginx-pod`: a podman test run beside this one removes the seed pod it made.
POD = "nsi-churn-seed"
CHURN_SECONDS = 60.0
CHURN_RATE = 1_500.0  # asked; at least MIN_RATE must be achieved
MIN_RATE = 1_000.0
INTERVAL = 0.25
WARM_UP_SECONDS = 10.0
RSS_SLACK_BYTES = 10 * MIB
MIN_SNAPSHOTS_CHECKED = 0.8  # of the scans done: the rest finished between two reads


def test_churn(tmp_path: Path) -> None:
    binaries = build(tmp_path / "attackers")
    checked: dict[float, list[str]] = {}  # taken_at -> what was wrong with that snapshot
    with (
        kube_play(pod_yaml(POD, SEED_CONTAINERS)),
        Attackers(binaries, tmp_path) as attackers,
        watched_agent(tmp_path, interval=INTERVAL) as watch,
    ):
        truth = PodTruth.of_podman_pod(POD)
        started = watch.mark()
        churner = attackers.churner(CHURN_RATE, CHURN_SECONDS)
        deadline = time.monotonic() + CHURN_SECONDS
        while time.monotonic() < deadline:
            listing = watch.agent.get("/api/v1/pods", timeout=10)
            if listing.status == 200:
                pods = listing.json()
                if pods["taken_at"] not in checked:
                    checked[pods["taken_at"]] = truth.problems(pods)
            time.sleep(0.05)
        forks, seconds = churn_rate(churner, timeout=30)
        ended = watch.mark()
        churn = watch.window(started, ended)
        warm = watch.window(started + WARM_UP_SECONDS, started + WARM_UP_SECONDS + 5)
        last = watch.window(ended - 5, ended)
        logged = tracebacks(watch.agent.log_path)

    rate = forks / seconds
    figures = (
        f"{forks} processes in {seconds:.1f} s ({rate:.0f}/s); {churn.scans} scans, "
        f"{len(checked)} read, median {churn.scan_quantile(0.5) * 1e3:.1f} ms, "
        f"p99 {churn.scan_quantile(0.99) * 1e3:.1f} ms; ready {churn.ready_share:.1%}; RSS "
        f"{warm.rss_start / MIB:.1f} after warm-up, {last.rss_end / MIB:.1f} MiB at the end"
    )
    print(figures)
    assert rate >= MIN_RATE, figures
    wrong = {at: problems for at, problems in checked.items() if problems}
    assert wrong == {}, figures
    assert len(checked) >= MIN_SNAPSHOTS_CHECKED * churn.scans, figures
    not_ready = len(churn.not_ready())
    assert not_ready == 0, figures
    assert logged == []
    assert max(p.rss_bytes for p in last.probes) <= warm.rss_start + RSS_SLACK_BYTES, figures
