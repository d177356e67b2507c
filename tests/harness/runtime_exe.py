"""A process that is a runtime by its executable, as nsinspect tells runtimes apart.

nsinspect reads the fd tables only of processes whose `exe` is a runtime's binary: named like
one, owned by root, writable by no one else, run in the node's mount namespace. A test that needs
such a holder runs Python from a root-owned 0755 copy named after the runtime.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def runtime_python(directory: Path, name: str) -> Path:
    """A copy of this Python called `name` in `directory` (made 0755, the file 0755)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    binary = directory / name
    shutil.copy2(os.path.realpath(sys.executable), binary)
    binary.chmod(0o755)
    return binary
