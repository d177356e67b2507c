"""The real `nsinspect` executable in local mode, for tests that read its JSON documents."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

NSINSPECT = shutil.which("nsinspect") or "nsinspect"


def local_json(*args: str) -> dict[str, Any]:
    """`nsinspect --local ARGS -o json`, which must succeed, parsed."""
    result = subprocess.run(
        [NSINSPECT, "--local", *args, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document
