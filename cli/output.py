"""Machine-readable output: the documents as JSON or YAML, each in one write."""

from __future__ import annotations

import json
import sys

from ..agent.report import Document


def emit_document(document: Document, output: str) -> bool:
    """Print a document as json or yaml; False when the format is a table."""
    if output == "json":
        sys.stdout.write(json.dumps(document.to_json(), indent=2) + "\n")
        return True
    if output == "yaml":
        import yaml  # only for -o yaml

        sys.stdout.write(yaml.safe_dump(document.to_json(), sort_keys=False))
        return True
    return False
