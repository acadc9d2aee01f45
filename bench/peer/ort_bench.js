#!/usr/bin/env node
'use strict';
// Benchmark one model with the peer runtime (onnxruntime-node, CPU EP) the way
// `hone bench --json` benchmarks it, and print the same one-line JSON object.
//
//   node bench/peer/ort_bench.js MODEL_DIR [--threads N] [--warmup W] [--runs R] [--model FILE]
//
// MODEL_DIR holds model.onnx and inputs/<S>.npy, one per graph input, where S is the input
// name with every character outside [A-Za-z0-9._-] replaced by '_' (bench/models/README.md).
// --model FILE benchmarks another .onnx file with the inputs of MODEL_DIR.
//
// Session options: CPU EP only, intraOpNumThreads = N (default 1), interOpNumThreads = 1,
// graphOptimizationLevel 'all', executionMode 'sequential'. create_ms is the wall time of
// InferenceSession.create (read + parse + optimise + kernel set-up); input loading is not timed.
// Then W untimed warm-up runs (default 5) and R timed runs (default 20), each one
// `await session.run(feeds)` timed with process.hrtime; the same input tensors every run.
//
// Output (stdout, one line), keys as `hone bench --json`:
//   {"model": ..., "threads": N, "create_ms": ..., "median_ms": ..., "p90_ms": ..., "min_ms": ...,
//    "runs": R, "peak_rss_mb": ...}
// median/p90 use the nearest-rank rule (sorted[ceil(p*R)-1]), as hone does. peak_rss_mb is
// process.resourceUsage().maxRSS / 1024: the peak resident set of the whole node process,
// so it includes node itself (~40-50 MB) and the ORT shared library.
//
// Exit status: 0 ok, 1 error (message on stderr), 2 bad arguments,
// 3 onnxruntime-node is not installed.

const fs = require('fs');
const path = require('path');

const HERE = __dirname;

function fail(msg, code = 1) {
  process.stderr.write(`ort_bench: error: ${msg}\n`);
  process.exit(code);
}

function usage() {
  const src = fs.readFileSync(__filename, 'utf8').split('\n');
  return src.slice(2, src.findIndex((l) => l.startsWith('const fs'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n').trim();
}

function parseArgs(argv) {
  const a = { dir: null, model: null, threads: 1, warmup: 5, runs: 20 };
  const num = (name, v, min) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) fail(`${name} needs an integer >= ${min}, got '${v}'`, 2);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    let s = argv[i];
    let val;
    const eq = s.indexOf('=');
    if (s.startsWith('--') && eq > 0) {
      val = s.slice(eq + 1);
      s = s.slice(0, eq);
    }
    const next = () => (val !== undefined ? val : argv[++i]);
    if (s === '-h' || s === '--help') {
      console.log(usage());
      process.exit(0);
    } else if (s === '--threads') a.threads = num('--threads', next(), 1);
    else if (s === '--warmup') a.warmup = num('--warmup', next(), 0);
    else if (s === '--runs') a.runs = num('--runs', next(), 1);
    else if (s === '--model') a.model = next();
    else if (s.startsWith('-')) fail(`unknown option '${s}' (see --help)`, 2);
    else if (a.dir === null) a.dir = s;
    else fail(`unexpected argument '${s}'`, 2);
  }
  if (a.dir === null) fail('missing MODEL_DIR (see --help)', 2);
  if (a.model === null) a.model = path.join(a.dir, 'model.onnx');
  return a;
}

function requirePeer(mod) {
  try {
    return require(require.resolve(mod, { paths: [HERE] }));
  } catch (e) {
    fail(`cannot load '${mod}' from ${HERE}: ${e.message}\n` +
      '  install it with: (cd bench/peer && ONNXRUNTIME_NODE_INSTALL=skip npm ci)', 3);
  }
}

// Nearest-rank percentile, identical to hone's tools/hone/bench.cc.
function percentile(sorted, p) {
  const k = Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1);
  return sorted[Math.max(0, k)];
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(args.model)) fail(`no model file ${args.model}`);
  const npy = require(path.join(HERE, 'npy.js'));
  const ort = requirePeer('onnxruntime-node');
  ort.env.logLevel = 'error';
  const sanitize = (name) => name.replace(/[^A-Za-z0-9._-]/g, '_');

  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(args.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const createMs = Number(process.hrtime.bigint() - t0) / 1e6;

  const feeds = {};
  for (const name of session.inputNames) {
    const f = path.join(args.dir, 'inputs', sanitize(name) + '.npy');
    if (!fs.existsSync(f)) fail(`no input file for graph input '${name}' (expected ${f})`);
    const a = npy.load(f);
    feeds[name] = new ort.Tensor(a.dtype, a.data, a.shape);
  }

  for (let i = 0; i < args.warmup; i++) await session.run(feeds);
  const ms = [];
  for (let i = 0; i < args.runs; i++) {
    const a = process.hrtime.bigint();
    await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - a) / 1e6);
  }
  ms.sort((x, y) => x - y);
  const out = {
    model: args.model,
    threads: args.threads,
    create_ms: +createMs.toFixed(3),
    median_ms: +percentile(ms, 0.5).toFixed(4),
    p90_ms: +percentile(ms, 0.9).toFixed(4),
    min_ms: +ms[0].toFixed(4),
    runs: args.runs,
    peak_rss_mb: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  if (session.release) await session.release();
}

main().catch((e) => fail(e && e.message ? e.message.split('\n')[0] : String(e)));
