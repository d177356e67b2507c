#!/bin/sh
# Regenerate the Python modules of the CRI protos (see README.md beside this script).
# Needs grpcio-tools (pip install grpcio-tools); run from anywhere.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# protoc derives Python import paths from proto paths: stage the files where the import
# package `nsinspect.agent.runtimes.cri_api` (and the tests' `harness`) will find them.
package=nsinspect/agent/runtimes/cri_api
mkdir -p "$stage/$package" "$stage/harness"
cp "$here/runtime_v1.proto" "$stage/$package/"
cp "$repo/tests/harness/cri_harness.proto" "$stage/harness/"
cd "$stage"
python3 -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=. \
    "$package/runtime_v1.proto"
python3 -m grpc_tools.protoc -I. --python_out=. --pyi_out=. harness/cri_harness.proto
cp "$package/runtime_v1_pb2.py" "$package/runtime_v1_pb2.pyi" \
    "$package/runtime_v1_pb2_grpc.py" "$here/"
cp harness/cri_harness_pb2.py harness/cri_harness_pb2.pyi "$repo/tests/harness/"
