"""What the agent image holds: at most 150 MB, Python and only what the agent imports, no build
tools, shell or package manager, and the revision it was built from for build_info.

The image is deploy/image/build.sh's (the session's `image` fixture, shared with
test_deploy_image.py); each test runs a short-lived container of it, or reads it mounted.
"""

from __future__ import annotations

import ast
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.manifests import REPO
from harness.podman import podman
from nsinspect.agent import __version__

pytestmark = [pytest.mark.root, pytest.mark.podman, pytest.mark.slow]

MAX_BYTES = 150_000_000  # podman image inspect's Size, as issue I's "≤ 150 MB" counts it
SITE = "opt/nsinspect/lib/python3.11/site-packages"


def imported_modules() -> set[str]:
    """Every module the agent's and CLI's code imports, at module level or inside a function
    (the heavy ones are imported where used), from its own source."""
    names: set[str] = set()
    for package in ("agent", "cli"):
        for source in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_bytes())):
                if isinstance(node, ast.Import):
                    names.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module)
    return {name for name in names if not name.startswith("nsinspect")}


def in_image(image: str, code: str, *arguments: str) -> str:
    done = podman("run", "--rm", "--entrypoint=python3", image, "-c", code, *arguments, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def root(image: str) -> Iterator[Path]:
    """The image's file system, mounted read-only for the module's tests."""
    mounted = Path(podman("image", "mount", image).stdout.strip())
    try:
        yield mounted
    finally:
        podman("image", "unmount", image, check=False)


@pytest.fixture(scope="module")
def inspected(image: str) -> dict[str, Any]:
    [found] = json.loads(podman("image", "inspect", image).stdout)
    return dict(found)


def test_image_is_at_most_150_mb(inspected: dict[str, Any]) -> None:
    assert inspected["Size"] <= MAX_BYTES, f"{inspected['Size'] / 1e6:.1f} MB"


def test_version_and_the_kubernetes_client_run_in_the_image(image: str) -> None:
    done = podman("run", "--rm", image, "--version", check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"nsinspect, version {__version__}"
    client = "import kubernetes.client, kubernetes.config, kubernetes.stream; print('imported')"
    assert in_image(image, client).strip() == "imported"


# Every module of nsinspect, and every module its code names, imported in the image: what the
# runtime root left out of the standard library, or prune-site.sh out of the venv, shows here.
IMPORT_ALL = """
import importlib, pkgutil, sys
import nsinspect
for name in sys.argv[1:]:
    importlib.import_module(name)
for module in pkgutil.walk_packages(nsinspect.__path__, "nsinspect."):
    if not module.name.endswith(".__main__"):
        importlib.import_module(module.name)
print("imported")
"""


def test_everything_the_agent_and_cli_import_is_in_the_image(image: str) -> None:
    modules = sorted(imported_modules())
    assert {"kubernetes.config", "grpc", "psutil", "sqlite3", "ssl"} <= set(modules)
    assert in_image(image, IMPORT_ALL, *modules).strip() == "imported"


# What nothing imports, kept out of the image (issue I, item 4 and 5).
ABSENT_MODULES = ("kubernetes.aio", "aiohttp", "pip", "setuptools", "wheel", "ensurepip", "test")
FIND_SPECS = """
import importlib.util, sys
for name in sys.argv[1:]:
    print(name, importlib.util.find_spec(name) is not None)
"""


def test_what_nothing_imports_is_left_out(image: str, root: Path) -> None:
    found = dict(line.split() for line in in_image(image, FIND_SPECS, *ABSENT_MODULES).splitlines())
    assert found == dict.fromkeys(ABSENT_MODULES, "False")
    site = root / SITE
    assert (site / "kubernetes" / "client").is_dir()
    assert not (site / "kubernetes" / "aio").exists()
    assert not [p for p in site.glob("*/**/tests") if p.is_dir()]
    assert not list(site.glob("pip*")) + list(site.glob("setuptools*"))


def test_no_shell_package_manager_or_build_tools(root: Path) -> None:
    """The final stage starts from scratch: the interpreter and its libraries, nothing to run a
    script with, install with or compile with."""
    for tool in ("sh", "bash", "dash", "apt", "apt-get", "dpkg", "perl", "gcc", "cc", "ld", "pip"):
        for directory in ("usr/bin", "usr/sbin", "opt/nsinspect/bin"):
            assert not (root / directory / tool).exists(), f"/{directory}/{tool}"
    assert (root / "usr/bin/python3").exists()
    assert not (root / "usr/share/doc").exists()


def test_build_info_revision_comes_from_the_image(inspected: dict[str, Any]) -> None:
    """NSINSPECT_REVISION, which nsinspect_build_info{revision} reports, is the commit build.sh
    built, as the OCI revision label says."""
    environment = dict(item.split("=", 1) for item in inspected["Config"]["Env"])
    revision = inspected["Config"]["Labels"]["org.opencontainers.image.revision"]
    assert environment["NSINSPECT_REVISION"] == revision
    # the commit built (the session's image, built from HEAD), not an older one kept in a cached
    # step: podman 4.3's cache does not tell ARG values apart, so build.sh sets them on the image
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    )
    assert revision == head.stdout.strip()
    assert inspected["Config"]["Labels"]["org.opencontainers.image.version"] == __version__
