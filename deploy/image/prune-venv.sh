#!/bin/bash
# usage: prune-venv.sh VENV — run in the image's build stage, after nsinspect is installed in
# VENV: take out of the virtual environment what the running agent never imports.
#
# - pip and setuptools (wheel where present): build tools;
# - kubernetes.aio, the client's asyncio half (68 MB), and aiohttp with the libraries only it
#   uses: the kubernetes package declares them, but nsinspect and the synchronous client
#   (kubernetes.client, .config, .stream) import none of them;
# - the packages' own tests;
# - the sources of the Kubernetes client's generated code (kubernetes/client/api and models,
#   32 MB of docstrings that tracebacks would quote): its bytecode, which pip compiled, moves to
#   where the source was, the sourceless layout Python imports as it imports the source.
# The image test checks the outcome: kubernetes.client, the agent and the CLI still import.
set -euo pipefail

venv=${1:?usage: prune-venv.sh VENV}
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')

# Uninstalled through pip, so their metadata goes with them; pip itself last.
asyncio_only=(aiohttp aiohttp-retry aiosignal aiohappyeyeballs attrs frozenlist multidict propcache
  yarl)
installed=$("$venv/bin/python" -m pip list --format=freeze --disable-pip-version-check |
  cut -d= -f1 | tr 'A-Z_' 'a-z-')
for package in "${asyncio_only[@]}" wheel setuptools pip; do
  if grep -qx "$package" <<<"$installed"; then
    "$venv/bin/python" -m pip uninstall -y -q --disable-pip-version-check "$package"
  fi
done

rm -rf "$site/kubernetes/aio"
find "$site" -depth -type d -name tests -path "$site/*/*" \
  -not -path "$site/nsinspect/*" -exec rm -rf {} +
for generated in "$site/kubernetes/client/api" "$site/kubernetes/client/models"; do
  for bytecode in "$generated"/__pycache__/*.cpython-311.pyc; do
    module=$(basename "$bytecode" .cpython-311.pyc)
    mv "$bytecode" "$generated/$module.pyc"
    rm "$generated/$module.py"
  done
  rmdir "$generated/__pycache__"
  # a source without bytecode would mean a module pip did not compile: stop rather than lose it
  if compgen -G "$generated/*.py" >/dev/null; then
    echo "prune-venv.sh: sources without bytecode in $generated" >&2
    exit 1
  fi
done
# pip's and setuptools' console scripts are gone with them; the activation scripts are for shells.
rm -f "$venv"/bin/activate* "$venv"/bin/Activate.ps1
