#!/usr/bin/python3
"""bench/serve/run.py: hone serve under load, measured with bench/serve's hone_loadgen.

Tasks (--task, default all but soak):
  overhead  per-request overhead at concurrency 1 on the digits MLP (no batching, 1 intra-op
            thread): each protocol's p50 round trip (HTTP/JSON, HTTP/binary, gRPC) minus the
            in-process Session::Run p50 on the same input, and the server-side overhead from
            /metrics (time in the server minus model execution).
  batching  throughput and p50/p99 latency at concurrency 1, 16 and 64, with dynamic batching
            and with max_batch_size 0, on digits CNN, the 256-hidden encoder (sequences of 32 and
            128 tokens) and
            mobilenet_v2 (exported with batch 1, so only without batching); p99 is compared with
            max queue delay + 2 x the mean compute time of a batch (from /metrics).
  soak      --soak-seconds of load at concurrency 64 (digits CNN, dynamic batching), sampling
            the server's RSS every 10 s: failed requests and RSS at the end against RSS after
            the first minute.

Models come from bench/models/cache (bench/models/prepare). Every configuration runs in its own
server process; the loadgen shares the machine's cores with it (as a client on the same host
would).

  bench/serve/run.py [--task overhead,batching] [--seconds 5] [--rounds 3] [--soak-seconds 600]
                     [--protocol grpc] [--warmup 5]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.path.join(ROOT, "bench", "models", "cache")
BIN = os.path.join(ROOT, "build", "release", "bin")

BATCHED = """max_batch_size: {max_batch}
dynamic_batching {{ max_queue_delay_microseconds: {delay} }}
instance_group [{{ count: {instances} }}]
"""
UNBATCHED = """max_batch_size: 0
instance_group [{{ count: {instances} }}]
"""


class Serve:
    """hone serve on free ports over a one-model repository; stopped on exit."""

    def __init__(self, model_file, name, config=None, threads=0, extra=()):
        self.tmp = tempfile.mkdtemp()
        os.makedirs(os.path.join(self.tmp, name, "1"))
        shutil.copy(model_file, os.path.join(self.tmp, name, "1", "model.onnx"))
        if config:
            with open(os.path.join(self.tmp, name, "config.pbtxt"), "w") as f:
                f.write(config)
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "hone"), "serve", "--model-repository", self.tmp, "--http-port",
             "0", "--grpc-port", "0", "--metrics-port", "-1", "--host", "127.0.0.1",
             "--threads", str(threads), *extra], stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        m = re.search(r":(\d+)/v2 and grpc://[0-9.]+:(\d+)", line)
        if not m:
            self.close()
            sys.exit(f"hone serve did not start: {line}{self.proc.stderr.read()}")
        self.http, self.grpc = int(m.group(1)), int(m.group(2))

    def metrics(self):
        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/metrics") as r:
            return r.read().decode()

    def rss(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) * 1024

    def close(self):
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def metric_mean(text, name, model):
    labels = r'\{model="' + model + r'",version="1"\}'
    s = re.search(name + "_sum" + labels + r" ([0-9.e+]+)", text)
    c = re.search(name + "_count" + labels + r" ([0-9.e+]+)", text)
    return float(s.group(1)) / max(float(c.group(1)), 1) if s and c else float("nan")


def loadgen(*args):
    out = subprocess.run([os.path.join(BIN, "hone_loadgen"), *map(str, args)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"hone_loadgen {' '.join(map(str, args))} failed: {out.stderr}{out.stdout}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def overhead(args):
    model = os.path.join(ROOT, "examples", "digits_mlp.onnx")
    # "grpc, 2 threads": the server started with --grpc-threads 2 (lowest latency at
    # concurrency 1; the default keeps 128 for concurrent load).
    rows = {p: [] for p in ("json", "binary", "grpc", "grpc, 2 threads")}
    inproc, server_side = [], {p: [] for p in rows}
    for _ in range(args.rounds):
        inproc.append(loadgen("--in-process", model, "--threads", 1, "--seconds", args.seconds)
                      ["p50_us"])
        for p in rows:
            extra = ("--grpc-threads", "2") if p == "grpc, 2 threads" else ()
            s = Serve(model, "digits", threads=1, extra=extra)
            try:
                r = loadgen("--model", "digits", "--http-port", s.http, "--grpc-port", s.grpc,
                            "--protocol", p.split(",")[0], "--seconds", args.seconds)
                rows[p].append(r["p50_us"])
                text = s.metrics()
                server_side[p].append(metric_mean(text, "hone_request_duration_us", "digits") -
                                      metric_mean(text, "hone_compute_duration_us", "digits"))
            finally:
                s.close()
    base = statistics.median(inproc)
    print(f"\n## overhead: digits MLP, concurrency 1, 1 intra-op thread, {args.rounds} rounds of "
          f"{args.seconds} s (medians)\n")
    print(f"in-process Session::Run p50: {base:.1f} us\n")
    print("| protocol | round-trip p50 (us) | overhead = p50 - in-process p50 (us) | "
          "server-side overhead (us, /metrics) |")
    print("|---|---|---|---|")
    for p, v in rows.items():
        m = statistics.median(v)
        print(f"| {p} | {m:.1f} | {m - base:.1f} | {statistics.median(server_side[p]):.1f} |")


def batching(args):
    enc = lambda n: ["--shape", f"input_ids=1x{n}", "--shape", f"attention_mask=1x{n}"]
    # Two instances (one per core, one intra-op thread each) in both configurations; batches of
    # up to 32 rows, so that the two hold the 64 requests in flight.
    models = [("digits_cnn", "", 32, 1000, []), ("bert_256x4", "seq 32", 32, 2000, enc(32)),
              ("bert_256x4", "seq 128", 32, 2000, enc(128)), ("mobilenet_v2", "", 0, 0, [])]
    print(f"\n## dynamic batching: throughput (requests/s) and latency, {args.protocol}, "
          f"{args.seconds} s per point after {args.warmup} s of warm-up, {args.rounds} rounds "
          f"(medians), {args.instances} instances sharing one intra-op thread per core\n")
    print("| model | batching | concurrency | throughput | p50 (ms) | p99 (ms) | "
          "mean batch | mean compute per batch (ms) | p99 bound: delay + 2 x compute (ms) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, note, max_batch, delay, shape in models:
        path = os.path.join(CACHE, name, "model.onnx")
        if not os.path.exists(path):
            print(f"| {name} | (missing: run bench/models/prepare) |")
            continue
        configs = [("none", UNBATCHED.format(instances=args.instances))]
        if max_batch:
            configs.append((f"dynamic, {delay} us",
                            BATCHED.format(max_batch=max_batch, delay=delay,
                                           instances=args.instances)))
        ratios = {}
        for label, config in configs:
            for c in (1, 16, 64):
                runs = []
                for _ in range(args.rounds):
                    s = Serve(path, name, config)
                    try:
                        r = loadgen("--model", name, "--http-port", s.http, "--grpc-port",
                                    s.grpc, "--protocol", args.protocol, "--concurrency", c,
                                    "--seconds", args.seconds, "--warmup", args.warmup, *shape)
                        text = s.metrics()
                        r["compute_ms"] = metric_mean(text, "hone_compute_duration_us",
                                                      name) / 1000
                        r["batch"] = metric_mean(text, "hone_batch_size", name)
                        runs.append(r)
                    finally:
                        s.close()
                med = lambda k: statistics.median(x[k] for x in runs)
                ratios[(label, c)] = med("throughput")
                bound = delay / 1000 + 2 * med("compute_ms") if label != "none" else float("nan")
                print(f"| {name} {note} | {label} | {c} | {med('throughput'):.0f} | "
                      f"{med('p50_us') / 1000:.2f} | {med('p99_us') / 1000:.2f} | "
                      f"{med('batch'):.1f} | {med('compute_ms'):.2f} | {bound:.2f} |")
        if max_batch:
            for c in (16, 64):
                print(f"| {name} {note} | **dynamic / none** | {c} | "
                      f"**{ratios[(configs[1][0], c)] / ratios[('none', c)]:.2f}x** | | | | | |")


def soak(args):
    path = os.path.join(CACHE, "digits_cnn", "model.onnx")
    s = Serve(path, "digits_cnn", BATCHED.format(max_batch=32, delay=1000,
                                                 instances=args.instances))
    try:
        gen = subprocess.Popen([os.path.join(BIN, "hone_loadgen"), "--model", "digits_cnn",
                                "--http-port", str(s.http), "--grpc-port", str(s.grpc),
                                "--protocol", "grpc", "--concurrency", "64", "--warmup", "0",
                                "--seconds", str(args.soak_seconds)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        samples = []
        t0 = time.time()
        while gen.poll() is None:
            time.sleep(10)
            if gen.poll() is None:
                samples.append((time.time() - t0, s.rss()))
                print(f"  {samples[-1][0]:6.0f} s  RSS {samples[-1][1] / 2**20:.1f} MiB",
                      flush=True)
        out, err = gen.communicate()
        r = json.loads(out.strip().splitlines()[-1])
        warm = next((rss for t, rss in samples if t >= 60), samples[0][1])
        end = samples[-1][1]
        print(f"\n## soak: {args.soak_seconds} s at concurrency 64, digits CNN, dynamic batching, "
              f"gRPC\n")
        print(f"requests {r['requests']}, failed {r['errors']}, throughput "
              f"{r['throughput']:.0f}/s, p99 {r['p99_us'] / 1000:.2f} ms")
        print(f"RSS after warm-up (60 s) {warm / 2**20:.1f} MiB, at the end {end / 2**20:.1f} "
              f"MiB: {100 * (end - warm) / warm:+.2f}%; max {max(x for _, x in samples) / 2**20:.1f} MiB")
        if err.strip():
            print(err.strip())
    finally:
        s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="overhead,batching")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--soak-seconds", type=int, default=600)
    ap.add_argument("--warmup", type=float, default=5, help="batching: seconds before measuring")
    ap.add_argument("--protocol", default="grpc", help="batching: json, binary or grpc")
    ap.add_argument("--instances", type=int, default=2, help="instance_group count")
    args = ap.parse_args()
    for t in args.task.split(","):
        {"overhead": overhead, "batching": batching, "soak": soak}[t](args)


if __name__ == "__main__":
    main()
