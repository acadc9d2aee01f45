#!/bin/sh
# `hone fit` end to end on the CSVs of bench/ml/make_data.py: mixed-type classification, the
# digits with logistic regression and an MLP, the diabetes regression, boosted trees on four sets. Each exported pipeline must
# run in ONNX Runtime with the labels / values hone predicts for every held-out row
# (bench/peer/ort_fit_check.js; that comparison is skipped when onnxruntime-node is missing), and
# `hone eval` scores one. Skips (77) when scikit-learn (for the data) is missing.
set -eu
HONE=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ORT=1
if [ ! -d "$ROOT/bench/peer/node_modules/onnxruntime-node" ] || ! command -v node >/dev/null; then
  echo "fit_check: onnxruntime-node is not installed (cd bench/peer && npm ci): hone only"; ORT=0
fi
ort_check() {
  if [ "$ORT" = 1 ]; then node "$ROOT/bench/peer/ort_fit_check.js" "$@"; fi
}
if ! /usr/bin/python3 -c "import sklearn" 2>/dev/null; then
  echo "skipped: python3-sklearn is not installed"; exit 77
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
/usr/bin/python3 "$ROOT/bench/ml/make_data.py" "$TMP" > /dev/null
"$HONE" fit "$TMP/mixed.csv" --target churn --param C=0.1,1 --cv 3 -q -o "$TMP/mixed.onnx" \
  --report "$TMP/report.json" --predictions "$TMP/pred.csv" > /dev/null
ort_check "$TMP/mixed.onnx" "$TMP/mixed.csv" "$TMP/report.json" \
  "$TMP/pred.csv"
# The same model served by `hone serve`: its labels over KServe v2 JSON equal hone fit's for the
# first 50 held-out rows without a missing number (JSON has no NaN).
/usr/bin/python3 - "$HONE" "$TMP" <<'PY'
import csv, json, os, re, shutil, subprocess, sys, urllib.request
hone, tmp = sys.argv[1], sys.argv[2]
os.makedirs(f"{tmp}/repo/mixed/1")
shutil.copy(f"{tmp}/mixed.onnx", f"{tmp}/repo/mixed/1/model.onnx")
rows = list(csv.reader(open(f"{tmp}/mixed.csv")))[1:]
want = {int(r[0]): r[1] for r in list(csv.reader(open(f"{tmp}/pred.csv")))[1:]}
p = subprocess.Popen([hone, "serve", "--model-repository", f"{tmp}/repo", "--http-port", "0",
                      "--metrics-port", "-1", "--grpc-port", "-1", "--host", "127.0.0.1", "--threads", "1"],
                     stderr=subprocess.PIPE, text=True)
try:
    port = re.search(r":(\d+)/v2", p.stderr.readline()).group(1)
    checked = 0
    for i, label in want.items():
        r = rows[i]
        if any(v == "" for v in r[:8]):
            continue
        body = {"inputs": [
            {"name": "numeric", "shape": [1, 8], "datatype": "FP32", "data": [float(v) for v in r[:8]]},
            {"name": "categorical", "shape": [1, 3], "datatype": "BYTES", "data": r[8:11]}]}
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v2/models/mixed/infer",
                                     json.dumps(body).encode())
        out = json.loads(urllib.request.urlopen(req).read())["outputs"]
        got = [o for o in out if o["name"] == "label"][0]["data"][0]
        assert str(got) == label, (i, got, label)
        checked += 1
        if checked == 50:
            break
    assert checked == 50, checked
    print("fit_check: hone serve answers the fitted pipeline with hone fit's labels (50 rows)")
finally:
    p.terminate()
    p.wait()
PY
# The digits (integer labels, numbers only) too.
"$HONE" fit "$TMP/digits.csv" --target target --param C=0.1 --cv 3 -q -o "$TMP/digits.onnx" \
  --report "$TMP/digits.json" --predictions "$TMP/digits_pred.csv" > /dev/null
ort_check "$TMP/digits.onnx" "$TMP/digits.csv" "$TMP/digits.json" \
  "$TMP/digits_pred.csv"
# An MLP (digits, a short training).
"$HONE" fit "$TMP/digits.csv" --target target --model mlp --param max_iter=30 --cv 3 -q \
  -o "$TMP/mlp.onnx" --report "$TMP/mlp.json" --predictions "$TMP/mlp_pred.csv" > /dev/null
ort_check "$TMP/mlp.onnx" "$TMP/digits.csv" "$TMP/mlp.json" \
  "$TMP/mlp_pred.csv"
# A regression (diabetes: ridge over alpha).
"$HONE" fit "$TMP/diabetes.csv" --target target --model linear --param alpha=0.1,10 -q \
  -o "$TMP/diabetes.onnx" --report "$TMP/diabetes.json" --predictions "$TMP/diabetes_pred.csv" \
  > /dev/null
ort_check "$TMP/diabetes.onnx" "$TMP/diabetes.csv" \
  "$TMP/diabetes.json" "$TMP/diabetes_pred.csv"
# Boosted trees (ai.onnx.ml TreeEnsembleRegressor): binary, three classes, regression, and the
# mixed CSV (one-hot strings).
for spec in "breast_cancer target" "wine target" "diabetes target" "mixed churn"; do
  set -- $spec
  "$HONE" fit "$TMP/$1.csv" --target "$2" --model gbdt --param max_iter=40 --cv 3 -q \
    -o "$TMP/gbdt_$1.onnx" --report "$TMP/gbdt_$1.json" --predictions "$TMP/gbdt_$1_pred.csv" \
    > /dev/null
  ort_check "$TMP/gbdt_$1.onnx" "$TMP/$1.csv" "$TMP/gbdt_$1.json" "$TMP/gbdt_$1_pred.csv"
done
# --categorical: a numeric column (diabetes f1, two values) one-hot encoded; an unknown one refused.
"$HONE" fit "$TMP/diabetes.csv" --target target --model linear --categorical f1 -q \
  --report "$TMP/cat.json" > /dev/null
/usr/bin/python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))
assert r['string_columns'] == ['f1'], r['string_columns']
" "$TMP/cat.json"
if "$HONE" fit "$TMP/diabetes.csv" --target target --categorical nope -q 2> "$TMP/err"; then
  echo "fit accepted an unknown --categorical column"; exit 1
fi
grep -q "no column 'nope'" "$TMP/err"
# hone eval on the fitted model: top-1 on its own training rows, agreement with itself, and a
# clear refusal of labels that do not match the rows.
/usr/bin/python3 - "$TMP" <<'PY'
import sys, numpy as np
d = np.loadtxt(sys.argv[1] + "/digits.csv", delimiter=",", skiprows=1)
np.save(sys.argv[1] + "/x.npy", d[:, :-1].astype(np.float32))
np.save(sys.argv[1] + "/y.npy", d[:, -1].astype(np.int64))
np.save(sys.argv[1] + "/y_short.npy", d[:5, -1].astype(np.int64))
PY
out=$("$HONE" eval "$TMP/digits.onnx" -i "numeric=$TMP/x.npy" --labels "$TMP/y.npy" \
  --reference "$TMP/digits.onnx" --output probabilities --json)
echo "eval: $out"
/usr/bin/python3 -c "
import json, sys
r = json.loads(sys.argv[1])
assert r['n'] == 1797 and r['top1'] > 0.9 and r['cosine'] > 0.999999 and r['max_abs_err'] == 0, r
" "$out"
if "$HONE" eval "$TMP/digits.onnx" -i "numeric=$TMP/x.npy" --labels "$TMP/y_short.npy" 2> "$TMP/err"; then
  echo "eval accepted 5 labels for 1797 rows"; exit 1
fi
grep -q "5 labels for 1797 rows" "$TMP/err"
echo "fit_check: ok"
