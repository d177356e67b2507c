"""The `nsinspect` command line: reports for pods, processes and namespaces, local or remote."""
