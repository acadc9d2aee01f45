#!/usr/bin/env bash
# run_conformance.sh HONE ONNX_TESTS EXPECTED_FAILURES FLOOR [extra hone flags]
set -uo pipefail
hone=$1 tests=$2 expected=$3 floor=$4
shift 4
if [ ! -d "$tests/node" ]; then
  echo "SKIPPED: ONNX backend cases not found at $tests (see ../shared/onnx-tests/README.md)"
  exit 77
fi
exec "$hone" conformance "$tests/node" "$tests/pytorch-converted" "$tests/pytorch-operator" \
  "$tests/simple" --expected-failures "$expected" --min-pass "$floor" "$@"
