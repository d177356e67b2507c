#!/bin/bash
# usage: prune-site.sh SITE_PACKAGES [--sourceless-kubernetes]
# Take out of an installed nsinspect's site-packages what nsinspect never imports. The image's
# build stage runs it on its venv; deploy/krew/package.sh on the plugin executable's packages.
#
# - pip, setuptools and wheel: build tools;
# - kubernetes.aio, the client's asyncio half (68 MB), and aiohttp with the libraries only it
#   uses: the kubernetes package declares them, but nsinspect and the synchronous client
#   (kubernetes.client, .config, .stream) import none of them;
# - the packages' own tests.
# Distributions go by their RECORD (files, console scripts, metadata), as pip uninstalls them.
# With --sourceless-kubernetes (the image) the Kubernetes client's generated code
# (kubernetes/client/api and models, 32 MB of docstrings that tracebacks would quote) keeps only
# its bytecode, which pip compiled, moved to where the source was: the sourceless layout Python
# imports as it imports the source. The tests check the outcome: everything nsinspect imports
# still imports.
set -euo pipefail
shopt -s nullglob nocaseglob

site=${1:?usage: prune-site.sh SITE_PACKAGES [--sourceless-kubernetes]}
sourceless=${2:-}

unused=(aiohttp aiohttp_retry aiosignal aiohappyeyeballs attrs frozenlist multidict propcache yarl
  wheel setuptools pip)
for distribution in "${unused[@]}"; do
  for info in "$site/$distribution"-[0-9]*.dist-info; do
    # its files, and the whole of each directory they are in: a site-packages merged from several
    # Python versions' installs (package.sh) holds compiled modules no one RECORD lists
    cut -d, -f1 "$info/RECORD" | while read -r path; do
      top=${path%%/*}
      if [[ $path == */* && $top != ..* && $top != *.dist-info ]]; then
        rm -rf "${site:?}/$top"
      else
        rm -f "$site/$path"
      fi
    done
    rm -rf "$info"
  done
done
rm -rf "$site/kubernetes/aio"
find "$site" -mindepth 2 -depth -type d -name tests -not -path "$site/nsinspect/*" \
  -exec rm -rf {} +

if [ "$sourceless" = --sourceless-kubernetes ]; then
  for generated in "$site/kubernetes/client/api" "$site/kubernetes/client/models"; do
    for bytecode in "$generated"/__pycache__/*.cpython-3*.pyc; do
      module=$(basename "$bytecode")
      mv "$bytecode" "$generated/${module%%.*}.pyc"
      rm "$generated/${module%%.*}.py"
    done
    rmdir "$generated/__pycache__"
    # a source without bytecode would be a module pip did not compile: stop rather than lose it
    if compgen -G "$generated/*.py" >/dev/null; then
      echo "prune-site.sh: sources without bytecode in $generated" >&2
      exit 1
    fi
  done
fi
find "$site" -depth -type d -empty -delete
