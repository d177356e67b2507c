#!/usr/bin/env bash
# Install everything the tests need, check style and types, and run the whole suite as root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export PATH="$PWD/.venv/bin:$PATH"
ulimit -n "$(ulimit -Hn)"
ruff check .
ruff format --check .
mypy -p nsinspect.agent -p nsinspect.cli
pytest -ra "$@"
