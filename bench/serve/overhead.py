#!/usr/bin/python3
"""bench/serve/overhead.py: hone serve's per-request overhead at concurrency 1 over HTTP/JSON.

Starts `hone serve` on a repository holding examples/digits_mlp.onnx (no batching), sends
--requests sequential inference requests over one keep-alive connection, and reports:
- the client's round-trip median (Python's http.client: includes the client's own JSON work),
- from the server's /metrics: mean time in the server per request (hone_request_duration_us)
  and mean model execution (hone_compute_duration_us); their difference is the server's
  overhead per request (parsing, queueing, writing the answer).

  bench/serve/overhead.py [--requests 2000] [--hone build/release/bin/hone]
"""
import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def metric(text, name):
    m = re.search(name + r'\{model="digits",version="1"\} ([0-9.e+]+)', text)
    return float(m.group(1)) if m else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--hone", default=os.path.join(ROOT, "build", "release", "bin", "hone"))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    os.makedirs(os.path.join(tmp, "digits", "1"))
    shutil.copy(os.path.join(ROOT, "examples", "digits_mlp.onnx"),
                os.path.join(tmp, "digits", "1", "model.onnx"))
    proc = subprocess.Popen([args.hone, "serve", "--model-repository", tmp, "--http-port", "0",
                             "--metrics-port", "-1", "--grpc-port", "-1", "--host", "127.0.0.1", "--threads", "1"],
                            stderr=subprocess.PIPE, text=True)
    try:
        port = int(re.search(r":(\d+)/v2", proc.stderr.readline()).group(1))
        conn = http.client.HTTPConnection("127.0.0.1", port)
        body = json.dumps({"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32",
                                       "data": [0.5] * 64}]}).encode()
        times = []
        for i in range(args.requests + 100):
            t0 = time.perf_counter()
            conn.request("POST", "/v2/models/digits/infer", body,
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            assert r.status == 200
            if i >= 100:  # warm-up excluded
                times.append((time.perf_counter() - t0) * 1e6)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        req = metric(text, "hone_request_duration_us_sum") / metric(
            text, "hone_request_duration_us_count")
        comp = metric(text, "hone_compute_duration_us_sum") / metric(
            text, "hone_compute_duration_us_count")
        print(f"requests: {args.requests} (+100 warm-up), concurrency 1, HTTP/JSON, digits MLP")
        print(f"client round trip: median {statistics.median(times):.1f} us, "
              f"p99 {sorted(times)[int(len(times) * 0.99)]:.1f} us")
        print(f"server: mean time per request {req:.1f} us, mean compute {comp:.1f} us, "
              f"overhead {req - comp:.1f} us")
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
