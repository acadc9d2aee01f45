#!/usr/bin/env python3
"""`hone quantize` from the command line on the bundled example (no corpus needed): it writes a
QDQ model and a report that hone runs, and bad input gets the right exit code and a message that
names the problem, with no output file left behind.

    tests/cli/quantize_cli_check.py HONE
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "examples", "digits_mlp.onnx")


def npy(path, descr, shape, payload):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, "".join(f"{d}, " for d in shape))
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload)


def main():
    hone = sys.argv[1]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        cal = os.path.join(tmp, "cal.npy")
        rows = 40
        npy(cal, "<f4", (rows, 64), struct.pack(f"<{rows * 64}f", *[(i * 7 % 17) / 16.0 for i in range(rows * 64)]))
        out, report = os.path.join(tmp, "q.onnx"), os.path.join(tmp, "r.json")

        def run(*args):
            return subprocess.run([hone, "quantize", MODEL, "-o", out, *args], capture_output=True, text=True)

        p = run("--calibration", cal, "--batch", "8", "--report", report, "-q")
        if p.returncode != 0:
            failures.append(f"quantize failed: {p.stderr}")
        else:
            r = json.load(open(report))
            layers = [l for l in r["layers"] if l["precision"] == "int8"]
            if r["calibration_batches"] != 5 or len(layers) != 3:
                failures.append(f"report: {r['calibration_batches']} batches, {len(layers)} int8 layers")
            ev = subprocess.run([hone, "eval", out, "--data", os.path.join(ROOT, "examples", "digit7.npy"),
                                 "--reference", MODEL, "--json"], capture_output=True, text=True)
            if ev.returncode != 0 or json.loads(ev.stdout)["cosine"] < 0.99:
                failures.append(f"quantized model vs float: {ev.stdout} {ev.stderr}")
            os.remove(out)

        wrong_type = os.path.join(tmp, "int.npy")
        npy(wrong_type, "<i8", (2, 64), b"\0" * 8 * 128)
        wrong_shape = os.path.join(tmp, "shape.npy")
        npy(wrong_shape, "<f4", (2, 3, 64), b"\0" * 4 * 384)
        cases = [
            (["--calibration", os.path.join(tmp, "missing.npy")], 3, "missing.npy"),
            (["--calibration", wrong_type], 2, "int64"),
            (["--calibration", wrong_shape], 2, "does not fit input"),
            (["--calibration", cal, "--method", "entropyish"], 2, "--method must be"),
            (["--calibration", cal, "--percentile", "20"], 2, "--percentile"),
            (["--calibration", cal, "--exclude", "no_such_node"], 2, "no_such_node"),
            (["--calibration", cal, "--batch", "64"], 2, "fewer than one batch"),
        ]
        for args, code, words in cases:
            p = run(*args)
            if p.returncode != code or words not in p.stderr or os.path.exists(out):
                failures.append(f"{args}: exit {p.returncode} (want {code}), stderr {p.stderr.strip()!r}, "
                                f"output left: {os.path.exists(out)}")
    for f in failures:
        print("FAIL:", f)
    print(f"quantize_cli_check: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
