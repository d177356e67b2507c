"""nsinspect's node side: discovery, pairing, documents, and the agent that serves them."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nsinspect")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
