#!/bin/sh
# `hone optimize --level basic` on corpus models: the written model must load in hone and run in
# ONNX Runtime with the original model's results (ORT's own outputs, bench/models/reference).
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
for m in ppocr_rec mobilenet_v2 bert_256x4 digits_cnn; do
  dir=$CACHE/$m
  [ -f "$dir/model.onnx" ] || continue
  "$HONE" optimize "$dir/model.onnx" -o "$TMP/$m.onnx" --level basic
  "$HONE" info "$TMP/$m.onnx" > /dev/null
  node "$ROOT/bench/peer/ort_check.js" "$dir" --model "$TMP/$m.onnx"
  checked=$((checked + 1))
done
if [ "$checked" -eq 0 ]; then echo "skipped: no corpus models (bench/models/prepare)"; exit 77; fi
# A level-all model only hone can run; it must still load and run there.
if [ -f "$CACHE/ppocr_rec/model.onnx" ]; then
  "$HONE" optimize "$CACHE/ppocr_rec/model.onnx" -o "$TMP/all.onnx" --level all -q
  "$HONE" run "$TMP/all.onnx" -i "x=$CACHE/ppocr_rec/inputs/x.npy" -o "$TMP/out" > /dev/null
fi
echo "optimize_check: $checked model(s) round-tripped"
