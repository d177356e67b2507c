"""Issue G: nothing running on the node can freeze or flood the agent's scan.

Against the real agent (`nsinspect agent` on a loopback port, a short interval), processes that
pass themselves off as container runtimes attack the reading of runtimes' fd tables: FIFO
swappers (fd 100 flips between an nsfs file and a FIFO with no writer, so a blocking open of
/proc/<pid>/fd/100 would wait for ever) and fd holders (5 x 19,950 fds on a namespace). Each
attack runs in two disguises: renamed `containerd` by prctl (never read), and with an executable
really called `containerd` (read: this tests the non-blocking read and the caps themselves).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.agent_watch import MIB, AgentWatch, Window, metric_values, tracebacks, watched_agent
from harness.attackers import MAX_FDS, Attacker, AttackerBinaries, Attackers, build
from harness.synthetic import readlink_inode
from nsinspect.agent.discovery.fds import MAX_FDS_PER_SCAN, SECONDS_PER_FD

pytestmark = pytest.mark.root

INTERVAL = 0.2
DISGUISES = pytest.mark.parametrize("runtime_named", [False, True], ids=["renamed", "executable"])
SWAPPERS = 4
ATTACK_SECONDS = 8.0
# At INTERVAL 0.2 s an unhindered agent does ~40 scans in ATTACK_SECONDS; half of that leaves
# room for a loaded machine and still fails at once on a scan that blocks.
MIN_SCANS_UNDER_ATTACK = 20
HOLDERS = 5
# Scan time under the flood may be twice the baseline, plus 20 ms: a baseline scan is a few
# milliseconds, where one slow scheduling slice would otherwise decide the outcome.
SCAN_SLACK_SECONDS = 0.020
RSS_SLACK_BYTES = 10 * MIB


@pytest.fixture(scope="module")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> AttackerBinaries:
    return build(tmp_path_factory.mktemp("attackers"))


@pytest.fixture
def attackers(binaries: AttackerBinaries, tmp_path: Path) -> Iterator[Attackers]:
    with Attackers(binaries, tmp_path) as started:
        yield started


def own_netns(attackers: list[Attacker]) -> dict[int, int]:
    """pid -> the inode of the network namespace each attacker made for itself."""
    return {attacker.pid: readlink_inode(attacker.pid, "net") for attacker in attackers}


def pins_of(namespaces: dict[str, Any], netns: dict[int, int]) -> dict[int, list[str]]:
    """pid -> the pins the agent lists on that attacker's own network namespace."""
    by_inode: dict[int, list[dict[str, Any]]] = {}
    for item in namespaces["items"]:
        if item["type"] == "net":
            by_inode.setdefault(item["inode"], []).append(item)
    pins = {}
    for pid, inode in netns.items():
        items = by_inode.get(inode, [])
        assert len(items) == 1, f"pid {pid}: net:[{inode}] is listed {len(items)} times"
        pins[pid] = items[0]["pins"]
    return pins


def describe(window: Window) -> str:
    return (
        f"{window.scans} scans, mean {window.mean_scan_seconds * 1e3:.1f} ms, "
        f"ready {window.ready_share:.0%}, healthy {window.healthy_share:.0%}, "
        f"RSS {window.rss_start / MIB:.1f}->{window.rss_end / MIB:.1f} MiB"
    )


@DISGUISES
def test_fifo_race(attackers: Attackers, tmp_path: Path, runtime_named: bool) -> None:
    with watched_agent(tmp_path, interval=INTERVAL) as watch:
        watch.wait_scans(3, timeout=10)
        started = watch.mark()
        swappers = attackers.fifo_swappers(SWAPPERS, runtime_named, seconds=ATTACK_SECONDS + 20)
        netns = own_netns(swappers)
        time.sleep(ATTACK_SECONDS / 2)
        namespaces = watch.agent.get("/api/v1/namespaces", timeout=5).json()
        time.sleep(ATTACK_SECONDS / 2)
        attack = watch.window(started, watch.mark())
        attackers.end_all()
        after_attack = scans_after(watch)
        log = watch.agent.log_path

    figures = describe(attack)  # plain numbers: a Window's repr would bury them
    scans, not_ready, healthy = attack.scans, len(attack.not_ready()), attack.healthy_share
    assert scans >= MIN_SCANS_UNDER_ATTACK, figures
    assert not_ready == 0, figures
    assert healthy == 1.0, figures
    assert after_attack >= 3, "the scans did not go on once the attackers were gone"
    # Read (executable): the namespace it holds open is listed once as pinned. Renamed: a name
    # is not a runtime, its fd table is not read at all.
    expected = 1 if runtime_named else 0
    assert [len(p) for p in pins_of(namespaces, netns).values()] == [expected] * SWAPPERS
    assert tracebacks(log) == []


def scans_after(watch: AgentWatch) -> int:
    """Scans done within 3 s from now (at least 3 expected at INTERVAL 0.2 s)."""
    before = watch.probe().scans
    time.sleep(3)
    return watch.probe().scans - before


@DISGUISES
def test_fd_flood(attackers: Attackers, tmp_path: Path, runtime_named: bool) -> None:
    with watched_agent(tmp_path, interval=INTERVAL) as watch:
        watch.wait_scans(10, timeout=20)  # the first scans fill the agent's caches
        started = watch.mark()
        time.sleep(3)
        baseline = watch.window(started, watch.mark())
        holders = attackers.fd_holders(HOLDERS, MAX_FDS, runtime_named, seconds=60)
        watch.wait_scans(3, timeout=30)  # scans that met every holder
        started = watch.mark()
        time.sleep(3)
        flood = watch.window(started, watch.mark())
        namespaces = watch.agent.get("/api/v1/namespaces", timeout=30).json()
        skipped = metric_values(watch.agent.metrics()).get("nsinspect_fds_skipped")
        log = watch.agent.log_path

    figures = f"baseline: {describe(baseline)}; flood: {describe(flood)}"
    limit = 2 * baseline.mean_scan_seconds + SCAN_SLACK_SECONDS
    if runtime_named:  # its fds are read, up to the scan's bound: that much more, no more
        limit += 2 * MAX_FDS_PER_SCAN * SECONDS_PER_FD
    mean = flood.mean_scan_seconds
    assert mean <= limit, figures
    peak = max(p.rss_bytes for p in flood.probes)
    assert peak <= max(p.rss_bytes for p in baseline.probes) + RSS_SLACK_BYTES, figures
    not_ready = len(flood.not_ready())
    assert not_ready == 0, figures
    pins = pins_of(namespaces, own_netns(holders))
    all_pins = sum(len(item["pins"]) for item in namespaces["items"])
    assert all_pins < 100, f"{all_pins} pins listed (de-duplicated by type and inode: a few)"
    if runtime_named:
        # 99,750 fds are over the scan's bound: the first holders are read (each namespace
        # listed once), the rest are skipped, and the skipped fds are counted.
        assert sorted(len(p) for p in pins.values()) == [0, 0, 0, 1, 1]
        assert skipped is not None and skipped >= HOLDERS * MAX_FDS - MAX_FDS_PER_SCAN, skipped
    else:
        assert [len(p) for p in pins.values()] == [0] * HOLDERS
    assert tracebacks(log) == []
