"""Machine-readable output: the documents as JSON or YAML, each in one write."""

from __future__ import annotations

import json
import sys
from typing import Any

import yaml


def emit_document(document: dict[str, Any], output: str) -> bool:
    """Print a document as json or yaml; False when the format is a table."""
    if output == "json":
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return True
    if output == "yaml":
        sys.stdout.write(yaml.safe_dump(document, sort_keys=False))
        return True
    return False
