"""nsinspect's node side: the model, discovery, runtimes, pairing, the report model, and the agent
that serves them (the layers and what each may import: tests/unit/test_layers.py)."""

# The one source of the version: pyproject.toml reads it (dynamic version), and the CLI prints it
# without importlib.metadata, which alone costs start-up time `--version` must not spend.
__version__ = "0.1.0"
