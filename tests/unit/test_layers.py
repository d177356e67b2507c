"""The layers import one way: each folder only what the table below allows, read from the code.

agent/ is built bottom-up: the model; discovery, runtimes, pairing and metrics on the model;
what is inside a pod's namespaces on the model; the report model on the model (and the types of
what was found inside); the scanner's entry points on all of those; the daemon on top. The CLI
sees only the public model (`agent.report`), the scanner's entry points and the daemon's.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# folder -> the folders its modules may import (besides itself and the standard library).
ALLOWED: dict[str, set[str]] = {
    "agent/model": set(),
    "agent/discovery": {"agent/model"},
    "agent/runtimes": {"agent/model"},
    "agent/runtimes/cri_api": set(),
    "agent/pairing": {"agent/model"},
    "agent/metrics": {"agent", "agent/model"},
    "agent/namespace_contents": {"agent/model", "agent/discovery"},
    "agent/report": {"agent/model", "agent/namespace_contents"},
    "agent/scanner": {
        "agent/model",
        "agent/discovery",
        "agent/runtimes",
        "agent/pairing",
        "agent/namespace_contents",
        "agent/report",
    },
    "agent/exchange": set(),
    "agent/server": {"agent/exchange"},
    "agent/daemon": {
        "agent/exchange",
        "agent/model",
        "agent/discovery",
        "agent/report",
        "agent/metrics",
        "agent/scanner",
    },
    "cli": {"agent", "agent/report", "agent/scanner", "agent/daemon"},
}
# Within the report model, only the types of what was found inside are taken from there.
NARROW = {("agent/report", "agent/namespace_contents"): {"details"}}


def _imports(path: Path) -> list[tuple[str, str]]:
    """(folder, module) of every nsinspect module `path` imports, relative imports resolved."""
    package = path.parent.relative_to(ROOT).as_posix()
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = Path(package)
            for _ in range(node.level - 1):
                base = base.parent
            target = base.joinpath(*(node.module or "").split(".")) if node.module else base
            for alias in node.names:
                candidate = target / alias.name
                if (ROOT / candidate).is_dir() or (ROOT / f"{candidate}.py").is_file():
                    target_module = candidate
                else:
                    target_module = target
                found.append(_folder_and_module(target_module))
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            assert not any(n.startswith("nsinspect") for n in names), (
                f"{path}: import nsinspect modules relatively, as the folders are"
            )
    return found


def _folder_and_module(target: Path) -> tuple[str, str]:
    if (ROOT / target).is_dir():
        return target.as_posix(), "__init__"
    return target.parent.as_posix(), target.name


def test_every_layer_imports_only_what_it_may() -> None:
    wrong = []
    for folder, may_import in ALLOWED.items():
        for path in sorted((ROOT / folder).glob("*.py")):
            if path.name.endswith(("_pb2.py", "_pb2_grpc.py")):
                continue
            for target, module in _imports(path):
                if target == folder or target.startswith(f"{folder}/"):
                    continue
                allowed = target in may_import
                narrow = NARROW.get((folder, target))
                if not allowed or (narrow is not None and module not in narrow):
                    wrong.append(f"{path.relative_to(ROOT)} imports {target}/{module}")
    assert not wrong, "\n".join(wrong)


def test_no_two_folders_import_each_other() -> None:
    edges = set()
    for folder in ALLOWED:
        for path in (ROOT / folder).glob("*.py"):
            if path.name.endswith(("_pb2.py", "_pb2_grpc.py")):
                continue
            edges |= {(folder, target) for target, _ in _imports(path) if target != folder}
    assert not {(a, b) for a, b in edges if (b, a) in edges}


def test_the_table_names_every_folder() -> None:
    folders = {
        path.parent.relative_to(ROOT).as_posix()
        for top in ("agent", "cli")
        for path in (ROOT / top).rglob("__init__.py")
    } - {"agent"}
    assert folders == set(ALLOWED)
