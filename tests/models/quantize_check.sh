#!/bin/sh
# `hone quantize` on the trained digits models: top-1 on the 540-image test split may drop at
# most 0.5 points, the QDQ file must run in ONNX Runtime with hone's results, and ONNX Runtime
# must fuse it into its int8 kernels (QLinearConv / QGemm in the graph it runs).
# Skips (77) when the corpus or onnxruntime-node is missing.
set -eu
HONE=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=$ROOT/bench/models/cache
if [ ! -d "$ROOT/bench/peer/node_modules/onnxruntime-node" ] || ! command -v node >/dev/null; then
  echo "skipped: onnxruntime-node is not installed (cd bench/peer && npm ci)"; exit 77
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
checked=0
top1() { "$HONE" eval "$1" --data "$2/inputs/input.npy" --labels "$2/labels.npy" --json |
  sed 's/.*"top1": \([0-9.]*\).*/\1/'; }
for m in digits_cnn digits_mlp; do
  dir=$CACHE/$m
  [ -f "$dir/calibration.npy" ] || continue
  "$HONE" quantize "$dir/model.onnx" -o "$TMP/$m.onnx" --calibration "$dir/calibration.npy" \
    --report "$TMP/$m.json" -q
  grep -q '"precision": "int8"' "$TMP/$m.json"
  fp32=$(top1 "$dir/model.onnx" "$dir")
  int8=$(top1 "$TMP/$m.onnx" "$dir")
  echo "$m: top-1 fp32 $fp32, int8 $int8"
  awk -v a="$fp32" -v b="$int8" 'BEGIN { exit !(a - b <= 0.005) }' ||
    { echo "$m: int8 top-1 drops more than 0.5 points"; exit 1; }
  # ONNX Runtime on the same file: its outputs against hone's, within two quantization steps of
  # the output (ORT requantizes in integers, hone in float), and the same class on >= 99% of rows.
  mkdir -p "$TMP/$m/inputs"
  cp "$dir/inputs/input.npy" "$TMP/$m/inputs/"
  "$HONE" run "$TMP/$m.onnx" -i "input=$dir/inputs/input.npy" -o "$TMP/$m/hone" > /dev/null
  node "$ROOT/bench/peer/ort_check.js" "$TMP/$m" --model "$TMP/$m.onnx" --write "$TMP/$m/ort" \
    --save-optimized "$TMP/$m.ort.onnx"
  /usr/bin/python3 - "$TMP/$m.onnx" "$TMP/$m.ort.onnx" "$TMP/$m" <<'PY'
import sys, onnx, numpy as np
from onnx import numpy_helper
model, ort_model, d = onnx.load(sys.argv[1]), onnx.load(sys.argv[2]), sys.argv[3]
ops = {n.op_type for n in ort_model.graph.node}
print(f"  ONNX Runtime runs: {sorted(ops)}")
if not ops & {"QLinearConv", "QGemm", "QLinearMatMul"} or ops & {"Conv", "Gemm", "MatMul"}:
    sys.exit("  ONNX Runtime left float Conv/Gemm/MatMul in the graph: its QDQ fusion did not apply")
inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
out = model.graph.output[0].name
dq = next(n for n in model.graph.node if out in n.output)
assert dq.op_type == "DequantizeLinear", dq.op_type
step = float(inits[dq.input[1]])
h, o = np.load(f"{d}/hone/{out}.npy"), np.load(f"{d}/ort/{out}.npy")
worst, agree = float(np.abs(h - o).max()), float((h.argmax(1) == o.argmax(1)).mean())
print(f"  hone vs ONNX Runtime: max |d| {worst:.4g} ({worst / step:.2f} steps), same class {agree:.4f}")
sys.exit(0 if worst <= 2.01 * step and agree >= 0.99 else 1)
PY
  checked=$((checked + 1))
done
if [ "$checked" -eq 0 ]; then echo "skipped: no digits models (bench/models/prepare)"; exit 77; fi
echo "quantize_check: $checked model(s) quantized"
