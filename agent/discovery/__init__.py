"""Finding processes, their namespaces and the namespaces pinned without them."""
