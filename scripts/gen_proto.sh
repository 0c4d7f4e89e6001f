#!/usr/bin/env bash
# Regenerate the gRPC/protobuf code from proto/ into src/ (or into $1 for a staleness check).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-src}"
PY="${PYTHON:-.venv/bin/python}"
export PATH="$(dirname "$PY"):$PATH"
mkdir -p "$out/gitstore/git/v1" "$out/gitstore/hook/v1"
"$PY" -m grpc_tools.protoc -Iproto \
  --python_out="$out" --grpc_python_out="$out" \
  --mypy_out="$out" --mypy_grpc_out="$out" \
  proto/gitstore/git/v1/git_service.proto proto/gitstore/hook/v1/hook_service.proto
