#!/bin/sh
# Regenerate the Python modules of the CRI protos (see README.md beside this script).
# Needs grpcio-tools (pip install grpcio-tools); run from anywhere.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# protoc derives Python import paths from proto paths: stage the files where the import
# package `nsinspect.agent.cri` (and the tests' `harness`) will find them.
mkdir -p "$stage/nsinspect/agent/cri" "$stage/harness"
cp "$here/runtime_v1.proto" "$stage/nsinspect/agent/cri/"
cp "$repo/tests/harness/cri_harness.proto" "$stage/harness/"
cd "$stage"
python3 -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=. \
    nsinspect/agent/cri/runtime_v1.proto
python3 -m grpc_tools.protoc -I. --python_out=. --pyi_out=. harness/cri_harness.proto
cp nsinspect/agent/cri/runtime_v1_pb2.py nsinspect/agent/cri/runtime_v1_pb2.pyi \
    nsinspect/agent/cri/runtime_v1_pb2_grpc.py "$here/"
cp harness/cri_harness_pb2.py harness/cri_harness_pb2.pyi "$repo/tests/harness/"
