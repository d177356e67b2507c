"""Every command and path that nsinspect's messages and documents name for installing it is
real: each `kubectl apply -k PATH` and each `deploy/...` path in the CLI's and the agent's
strings, README and deploy/README.md and docs/ exists in this checkout (a kustomization where
`-k` takes one), and the remote CLI's install hint is one of them."""

from __future__ import annotations

import re
from pathlib import Path

from nsinspect.cli.remote import INSTALL_HINT

ROOT = Path(__file__).resolve().parents[2]
# Whole paths only: not a placeholder's folder (`deploy/overlays/<distribution>`).
APPLY = re.compile(r"kubectl apply -k (?P<path>[\w./-]+)(?![\w./<-])")
# A placeholder (`deploy/overlays/<distribution>`) is checked up to its folder.
DEPLOY_PATH = re.compile(r"(?<![\w/.])deploy/[\w./-]*[\w/](?!<)")
DOCUMENTS = ["README.md", "deploy/README.md", *(str(p.relative_to(ROOT)) for p in
             (ROOT / "docs").glob("*.md"))]  # fmt: skip


def sources() -> dict[str, str]:
    """The text of every place that may name an install command or a deploy path."""
    files = [
        *ROOT.glob("agent/**/*.py"),
        *ROOT.glob("cli/**/*.py"),
        *(ROOT / d for d in DOCUMENTS),
        *ROOT.glob("deploy/**/kustomization.yaml"),
    ]
    return {str(f.relative_to(ROOT)): f.read_text() for f in files if f.is_file()}


def test_the_remote_install_hint_applies_a_kustomization_that_exists() -> None:
    found = APPLY.search(INSTALL_HINT)
    assert found is not None, INSTALL_HINT
    assert (ROOT / found.group("path") / "kustomization.yaml").is_file()


def test_every_kubectl_apply_k_names_a_kustomization() -> None:
    named = {
        (where, found.group("path").rstrip("."))
        for where, text in sources().items()
        for found in APPLY.finditer(text)
        if found.group("path").startswith("deploy")
    }
    assert named  # README and the hint name some
    missing = [(w, p) for w, p in named if not (ROOT / p / "kustomization.yaml").is_file()]
    assert missing == []


def test_every_deploy_path_named_exists() -> None:
    named = {
        (where, path.rstrip("/."))
        for where, text in sources().items()
        for path in DEPLOY_PATH.findall(text)
    }
    missing = [(w, p) for w, p in named if not (ROOT / p).exists()]
    assert missing == []
