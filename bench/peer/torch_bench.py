#!/usr/bin/python3
"""Benchmark one model with PyTorch (CPU, TorchScript) the way `hone bench --json` benchmarks it,
and print the same one-line JSON object.

    /usr/bin/python3 bench/peer/torch_bench.py MODEL_DIR [--threads N] [--warmup W] [--runs R]
                                               [--mode optimize|freeze|script] [--model FILE] [--check]
    /usr/bin/python3 bench/peer/torch_bench.py --version

MODEL_DIR holds model.pt (written by bench/models/generate for the models it builds with torch:
the module that was exported to model.onnx, eval mode, same weights, as torch.jit.script) and
inputs/<S>.npy, one per ONNX graph input, S = the input name with every character outside
[A-Za-z0-9._-] replaced by '_'. The input names, in forward() argument order, come from the
extra file hone.json inside model.pt (the ONNX graph's input order; the bert models take
input_ids, attention_mask). --model FILE benchmarks another TorchScript file with those inputs.

Settings: torch.set_num_threads(N) (default 1; torch's OpenMP intra-op pool),
torch.set_num_interop_threads(1), every call inside torch.inference_mode().
--mode (default optimize) is what happens to the loaded module before timing:
    optimize  torch.jit.optimize_for_inference (freeze + oneDNN/MKLDNN layouts for convolutions,
              conv-bn folding): PyTorch's documented TorchScript inference path
    freeze    torch.jit.freeze only
    script    the module as saved
create_ms is the wall time of torch.jit.load plus that step; importing torch and loading the
inputs are not timed. Then W untimed warm-up runs (default 5) and R timed runs (default 20), each
one module(*inputs) timed with time.perf_counter; the same input tensors every run. The warm-ups
also let TorchScript's profiling executor specialise the graph (the first two calls are slow), so
W below 2 penalises torch.

Output (stdout, one line), keys as `hone bench --json`:
  {"model": ..., "threads": N, "create_ms": ..., "median_ms": ..., "p90_ms": ..., "min_ms": ...,
   "runs": R, "peak_rss_mb": ...}
median/p90 use the nearest-rank rule (sorted[ceil(p*R)-1]), as hone does. peak_rss_mb is
getrusage(RUSAGE_SELF).ru_maxrss / 1024: the peak resident set of the whole Python process, so it
includes the interpreter, numpy and libtorch (about 225 MB after `import torch`, before any model).

--check: after the timing, compare the outputs with MODEL_DIR/expected/<S>.npy (ONNX Runtime's,
from bench/models/reference) and add "check_max_rel_diff" (max |torch - expected| /
max(1, max |expected|) over all outputs) to the JSON; exit 1 if it is above 1e-4.
--version prints the torch version.

Exit status: 0 ok, 1 error (message on stderr), 2 bad arguments, 3 torch is not importable
(run with /usr/bin/python3; Debian: apt install python3-torch).
"""

import argparse
import json
import math
import os
import re
import resource
import sys
import time

CHECK_TOL = 1e-4


def fail(msg, code=1):
    print(f"torch_bench: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def sanitize(name):
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def percentile(sorted_ms, p):
    """Nearest-rank percentile, identical to hone's tools/hone/bench.cc and ort_bench.js."""
    k = min(len(sorted_ms) - 1, math.ceil(p * len(sorted_ms)) - 1)
    return sorted_ms[max(0, k)]


def parse_args(argv):
    class Parser(argparse.ArgumentParser):
        def error(self, message):
            fail(message, 2)

    ap = Parser(prog="torch_bench.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", nargs="?", metavar="MODEL_DIR")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--mode", choices=["optimize", "freeze", "script"], default="optimize")
    ap.add_argument("--model", default=None, metavar="FILE")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--version", action="store_true")
    a = ap.parse_args(argv)
    if a.version:
        return a
    for name, v, lo in (("--threads", a.threads, 1), ("--warmup", a.warmup, 0), ("--runs", a.runs, 1)):
        if v < lo:
            fail(f"{name} needs an integer >= {lo}, got {v}", 2)
    if a.dir is None:
        fail("missing MODEL_DIR (see --help)", 2)
    if a.model is None:
        a.model = os.path.join(a.dir, "model.pt")
    return a


def main():
    args = parse_args(sys.argv[1:])
    try:
        import numpy as np
        import torch
    except ImportError as e:
        fail(f"cannot import torch/numpy with {sys.executable}: {e} (Debian: apt install python3-torch)", 3)
    if args.version:
        print(torch.__version__)
        return 0
    if not os.path.isfile(args.model):
        fail(f"no model file {args.model} (bench/models/generate writes model.pt for the torch-built models)")

    # Before anything runs in parallel: the inter-op pool can only be sized once.
    torch.set_num_interop_threads(1)
    torch.set_num_threads(args.threads)

    extra = {"hone.json": ""}
    t0 = time.perf_counter()
    module = torch.jit.load(args.model, map_location="cpu", _extra_files=extra)
    module.eval()
    if args.mode == "optimize":
        module = torch.jit.optimize_for_inference(module)
    elif args.mode == "freeze":
        module = torch.jit.freeze(module)
    create_ms = (time.perf_counter() - t0) * 1e3

    try:
        meta = json.loads(extra["hone.json"])
        names = meta["inputs"]
    except (ValueError, KeyError, TypeError):
        fail(f"{args.model} has no hone.json input list (rebuild it with bench/models/generate)")
    feeds = []
    for name in names:
        f = os.path.join(args.dir, "inputs", sanitize(name) + ".npy")
        if not os.path.isfile(f):
            fail(f"no input file for graph input '{name}' (expected {f})")
        feeds.append(torch.from_numpy(np.load(f, allow_pickle=False)))

    with torch.inference_mode():
        for _ in range(args.warmup):
            module(*feeds)
        ms = []
        for _ in range(args.runs):
            a = time.perf_counter()
            out = module(*feeds)
            ms.append((time.perf_counter() - a) * 1e3)
    ms.sort()
    result = {
        "model": args.model,
        "threads": args.threads,
        "create_ms": round(create_ms, 3),
        "median_ms": round(percentile(ms, 0.5), 4),
        "p90_ms": round(percentile(ms, 0.9), 4),
        "min_ms": round(ms[0], 4),
        "runs": args.runs,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }

    bad = None
    if args.check:
        outs = out if isinstance(out, (tuple, list)) else (out,)
        out_names = meta.get("outputs", [])
        if len(out_names) != len(outs):
            fail(f"model.pt returns {len(outs)} output(s), hone.json names {len(out_names)}")
        worst = 0.0
        for name, t in zip(out_names, outs):
            f = os.path.join(args.dir, "expected", sanitize(name) + ".npy")
            if not os.path.isfile(f):
                fail(f"--check: no {f} (run bench/models/reference)")
            want = np.load(f, allow_pickle=False).astype(np.float64)
            got = t.numpy().astype(np.float64)
            if got.shape != want.shape:
                fail(f"--check: output '{name}' has shape {list(got.shape)}, expected/ {list(want.shape)}")
            d = float(np.abs(got - want).max() / max(1.0, float(np.abs(want).max())))
            worst = max(worst, d)
            if not d <= CHECK_TOL:
                bad = f"output '{name}' differs from expected/ by {d:.3g} (relative; tolerance {CHECK_TOL})"
        result["check_max_rel_diff"] = float(f"{worst:.3g}")

    print(json.dumps(result), flush=True)
    if bad:
        fail(bad)
    return 0


if __name__ == "__main__":
    sys.exit(main())
