"""Run by the kubectl-nsinspect zipapp (shiv's preamble) before nsinspect starts: say plainly
when the python3 on PATH cannot run the compiled modules the zipapp carries."""

import sys

SUPPORTED = ((3, 11), (3, 12), (3, 13))  # deploy/krew/package.sh's Python versions

if sys.implementation.name != "cpython" or sys.version_info[:2] not in SUPPORTED:
    found = f"{sys.implementation.name} {sys.version_info[0]}.{sys.version_info[1]}"
    wanted = ", ".join(f"{major}.{minor}" for major, minor in SUPPORTED)
    sys.exit(f"kubectl-nsinspect runs with CPython {wanted}; python3 on PATH is {found}")
