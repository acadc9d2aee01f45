#!/usr/bin/python3
"""Static int8 quantization, side by side: hone fp32, hone int8, ONNX Runtime fp32 and ONNX
Runtime on the same QDQ file that `hone quantize` wrote, plus the accuracy the int8 model keeps.

    bench/quant/compare.py [--models resnet18,mobilenet_v2,digits_cnn,digits_mlp]
                           [--threads 1,2] [--rounds 3] [--runs 30] [--hone PATH] [--json OUT]

For each model: `hone quantize` (calibration: the digits models' training split; for the
random-weight torchvision models, 8 seeded uniform [-1, 1] images, as their reference input is
drawn) into bench/quant/cache/<model>.int8.onnx, then K rounds that alternate
    hone bench fp32, hone bench int8, ORT fp32 (bench/peer/ort_bench.js), ORT int8
each a fresh process with the model's reference input, and the median over rounds of each
engine's median latency. Ratios come from the same rounds: int8 speed-up over hone fp32, and
hone int8 / ORT int8 (below 1: hone faster). Digits models also get top-1 on the 540-image test
split, fp32 and int8 (`hone eval`). Needs bench/models/prepare and bench/peer's npm install.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.environ.get("HONE_MODEL_CACHE", os.path.join(ROOT, "bench", "models", "cache"))
OUT = os.path.join(ROOT, "bench", "quant", "cache")


def log(msg):
    print(f"quant-compare: {msg}", file=sys.stderr, flush=True)


def run_json(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {p.stderr.strip().splitlines()[-1:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def calibration(model):
    own = os.path.join(CACHE, model, "calibration.npy")
    if os.path.exists(own):
        return own, 0
    path = os.path.join(OUT, f"{model}.calibration.npy")
    if not os.path.exists(path):
        import numpy as np
        x = np.load(os.path.join(CACHE, model, "inputs", "input.npy"))
        rng = np.random.default_rng(20261128)
        cal = rng.uniform(-1, 1, (8,) + x.shape[1:]).astype(np.float32)
        np.save(path, cal)
    return path, 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="resnet18,mobilenet_v2,digits_cnn,digits_mlp")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--hone", default=os.environ.get("HONE_BIN", os.path.join(ROOT, "build", "release", "bin", "hone")))
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    threads = [int(t) for t in a.threads.split(",")]
    results = []
    for m in a.models.split(","):
        d = os.path.join(CACHE, m)
        fp32 = os.path.join(d, "model.onnx")
        if not os.path.exists(fp32):
            log(f"{m}: not in the cache (bench/models/prepare), skipped")
            continue
        int8 = os.path.join(OUT, f"{m}.int8.onnx")
        cal, batch = calibration(m)
        cmd = [a.hone, "quantize", fp32, "-o", int8, "--calibration", cal, "-q",
               "--report", os.path.join(OUT, f"{m}.report.json")]
        if batch:
            cmd += ["--batch", str(batch)]
        t0 = time.time()
        subprocess.run(cmd, check=True)
        log(f"{m}: quantized in {time.time() - t0:.1f} s")
        row = {"model": m}
        labels = os.path.join(d, "labels.npy")
        if os.path.exists(labels):
            for name, f in (("top1_fp32", fp32), ("top1_int8", int8)):
                row[name] = run_json([a.hone, "eval", f, "--data", os.path.join(d, "inputs", "input.npy"),
                                      "--labels", labels, "--json"])["top1"]
        inp = [f"{n[:-4]}={os.path.join(d, 'inputs', n)}" for n in sorted(os.listdir(os.path.join(d, "inputs")))]
        for t in threads:
            times = {"hone_fp32": [], "hone_int8": [], "ort_fp32": [], "ort_int8": []}
            for r in range(a.rounds):
                for eng, f in (("hone_fp32", fp32), ("hone_int8", int8), ("ort_fp32", fp32), ("ort_int8", int8)):
                    if eng.startswith("hone"):
                        cmd = [a.hone, "bench", f, "--threads", str(t), "--runs", str(a.runs), "--json"]
                        for i in inp:
                            cmd += ["--input", i]
                    else:
                        cmd = ["node", os.path.join(ROOT, "bench", "peer", "ort_bench.js"), d, "--model", f,
                               "--threads", str(t), "--runs", str(a.runs)]
                    times[eng].append(run_json(cmd)["median_ms"])
                log(f"{m} threads {t} round {r + 1}/{a.rounds}")
            med = {k: statistics.median(v) for k, v in times.items()}
            row[f"t{t}"] = {"median_ms": med, "rounds": times,
                            "int8_speedup": med["hone_fp32"] / med["hone_int8"],
                            "hone_over_ort_int8": med["hone_int8"] / med["ort_int8"],
                            "ort_int8_speedup": med["ort_fp32"] / med["ort_int8"]}
        results.append(row)

    print(f"| model | threads | hone fp32 ms | hone int8 ms | int8 speed-up | ORT fp32 ms | ORT int8 ms | ORT speed-up | hone int8 / ORT int8 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in results:
        for t in threads:
            r = row[f"t{t}"]
            md = r["median_ms"]
            print(f"| {row['model']} | {t} | {md['hone_fp32']:.3f} | {md['hone_int8']:.3f} | {r['int8_speedup']:.2f}x "
                  f"| {md['ort_fp32']:.3f} | {md['ort_int8']:.3f} | {r['ort_int8_speedup']:.2f}x | {r['hone_over_ort_int8']:.2f} |")
    for t in threads:
        ratios = [row[f"t{t}"]["hone_over_ort_int8"] for row in results]
        if ratios:
            g = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
            print(f"\nthreads {t}: geometric mean hone int8 / ORT int8 = {g:.3f} over {len(ratios)} models")
    if len(threads) > 1:
        for row in results:
            t1, tn = row[f"t{threads[0]}"], row[f"t{threads[-1]}"]
            print(f"{row['model']}: int8 {threads[-1]} threads vs {threads[0]}: "
                  f"{t1['median_ms']['hone_int8'] / tn['median_ms']['hone_int8']:.2f}x (ORT "
                  f"{t1['median_ms']['ort_int8'] / tn['median_ms']['ort_int8']:.2f}x)")
    for row in results:
        if "top1_fp32" in row:
            print(f"{row['model']}: top-1 fp32 {row['top1_fp32'] * 100:.2f}%, int8 {row['top1_int8'] * 100:.2f}% "
                  f"(drop {(row['top1_fp32'] - row['top1_int8']) * 100:.2f} points)")
    print(f"\nmachine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}; command: {' '.join(sys.argv)}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
