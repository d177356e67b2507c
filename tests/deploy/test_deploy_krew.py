"""`kubectl nsinspect`: kubectl finds the plugin, and krew's manifest matches its archive."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from harness.manifests import DEPLOY, REPO, kubectls
from nsinspect.agent import __version__

KREW = DEPLOY / "krew"
MANIFEST = KREW / "nsinspect.yaml"
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
            "properties": {"name": {"const": MANIFEST.stem, "pattern": r"^[a-z0-9][a-z0-9-]*$"}},
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


def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    return loaded


def package(out: Path) -> tuple[Path, str]:
    done = subprocess.run(
        [str(KREW / "package.sh"), str(out)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    archive, sha256 = done.stdout.split()
    return Path(archive), sha256


def test_manifest_follows_krew_schema() -> None:
    plugin = manifest()
    jsonschema.validate(plugin, PLUGIN_SCHEMA)
    assert plugin["spec"]["version"] == f"v{VERSION}"


def test_archive_is_reproducible_and_matches_the_manifest(tmp_path: Path) -> None:
    archive, sha256 = package(tmp_path / "one")
    _, sha256_again = package(tmp_path / "two")
    assert sha256 == sha256_again
    [platform] = manifest()["spec"]["platforms"]
    assert platform["sha256"] == sha256, "run deploy/krew/package.sh and update the manifest"
    assert platform["uri"].endswith(f"/v{VERSION}/{archive.name}")
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert {f["from"] for f in platform["files"]} <= set(members)
    assert members[platform["bin"]].mode & 0o111


def test_launcher_installs_the_matching_version() -> None:
    launcher = (KREW / "kubectl-nsinspect").read_text()
    assert f"\nversion={VERSION}\n" in launcher
    assert (
        subprocess.run(["sh", "-n", str(KREW / "kubectl-nsinspect")], check=False).returncode == 0
    )


@pytest.mark.kubectl
@pytest.mark.parametrize("kubectl", sorted(kubectls()))
def test_kubectl_runs_the_installed_entry_point_as_a_plugin(kubectl: str) -> None:
    entry_point = shutil.which("kubectl-nsinspect")
    assert entry_point, "pip install -e . puts kubectl-nsinspect on PATH"
    path = f"{Path(entry_point).parent}:/usr/bin:/bin"
    done = subprocess.run(
        [kubectls()[kubectl], "nsinspect", "--version"],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"nsinspect, version {VERSION}"


@pytest.mark.slow
def test_launcher_installs_nsinspect_once_and_runs_it(tmp_path: Path) -> None:
    """The krew launcher against this checkout's wheel, offered where the index would be."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        ["pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(REPO)],
        check=True,
    )
    pip_cache = subprocess.run(["pip", "cache", "dir"], capture_output=True, text=True, check=True)
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        # pip's own cache stays where it is: the dependencies download once per machine
        "PIP_CACHE_DIR": pip_cache.stdout.strip(),
        "PIP_NO_COMPILE": "1",  # bytecode for the Kubernetes client alone takes a minute
        "PIP_FIND_LINKS": f"{wheels} {os.environ.get('PIP_FIND_LINKS', '')}".strip(),
    }
    launcher = str(KREW / "kubectl-nsinspect")
    for run in ("first", "second"):
        done = subprocess.run(
            [launcher, "--version"], capture_output=True, text=True, env=env, check=False
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"nsinspect, version {VERSION}"
        assert ("installing nsinspect" in done.stderr) == (run == "first")
