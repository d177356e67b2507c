"""nsinspect's node side: the model, discovery, runtimes, pairing, the report model, and the agent
that serves them (the layers and what each may import: tests/unit/test_layers.py)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nsinspect")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
