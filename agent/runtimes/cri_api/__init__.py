"""Generated from `runtime_v1.proto` (see README.md): the CRI calls nsinspect reads with."""
