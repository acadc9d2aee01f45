#!/usr/bin/env node
'use strict';
// Run a model once with the peer runtime (onnxruntime-node, CPU EP) on MODEL_DIR's inputs and
// compare every output with MODEL_DIR/expected/<output>.npy (what bench/models/reference wrote):
// tests/models/optimize_check.sh uses it to show that ONNX Runtime loads and runs the models
// `hone optimize` writes, with the original model's results.
//
//   node bench/peer/ort_check.js MODEL_DIR --model FILE [--rtol 1e-3] [--atol 1e-4]
//                                [--save-optimized FILE]  (the graph ORT runs, after its fusions)
//                                [--write DIR]  (ORT's outputs as DIR/<output>.npy; no comparison)
//
// Exit status: 0 all outputs match, 1 mismatch or error (message on stderr), 2 bad arguments,
// 3 onnxruntime-node is not installed.

const fs = require('fs');
const path = require('path');

const HERE = __dirname;

function fail(msg, code = 1) {
  process.stderr.write(`ort_check: error: ${msg}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const a = { dir: null, model: null, rtol: 1e-3, atol: 1e-4, saveOptimized: null, write: null };
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i];
    if (s === '--model') a.model = argv[++i];
    else if (s === '--rtol') a.rtol = Number(argv[++i]);
    else if (s === '--atol') a.atol = Number(argv[++i]);
    else if (s === '--save-optimized') a.saveOptimized = argv[++i];
    else if (s === '--write') a.write = argv[++i];
    else if (s.startsWith('-')) fail(`unknown option '${s}'`, 2);
    else if (a.dir === null) a.dir = s;
    else fail(`unexpected argument '${s}'`, 2);
  }
  if (a.dir === null || a.model === null) fail('usage: ort_check.js MODEL_DIR --model FILE', 2);
  if (!(a.rtol >= 0) || !(a.atol >= 0)) fail('--rtol and --atol need numbers >= 0', 2);
  return a;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const npy = require(path.join(HERE, 'npy.js'));
  let ort;
  try {
    ort = require(require.resolve('onnxruntime-node', { paths: [HERE] }));
  } catch (e) {
    fail(`cannot load onnxruntime-node: ${e.message}`, 3);
  }
  ort.env.logLevel = 'error';
  const sanitize = (name) => name.replace(/[^A-Za-z0-9._-]/g, '_');
  const options = { executionProviders: ['cpu'] };
  if (args.saveOptimized) options.optimizedModelFilePath = args.saveOptimized;
  const session = await ort.InferenceSession.create(args.model, options);
  const feeds = {};
  for (const name of session.inputNames) {
    const a = npy.load(path.join(args.dir, 'inputs', sanitize(name) + '.npy'));
    feeds[name] = new ort.Tensor(a.dtype, a.data, a.shape);
  }
  const out = await session.run(feeds);
  if (args.write) {
    fs.mkdirSync(args.write, { recursive: true });
    for (const name of session.outputNames) {
      const t = out[name];
      npy.save(path.join(args.write, sanitize(name) + '.npy'), { dtype: t.type, shape: t.dims, data: t.data });
    }
    console.log(`ort_check: ${path.basename(args.model)}: wrote ${session.outputNames.length} output(s)`);
    return;
  }
  let bad = 0;
  for (const name of session.outputNames) {
    const want = npy.load(path.join(args.dir, 'expected', sanitize(name) + '.npy'));
    const got = out[name];
    if (got.dims.join(',') !== want.shape.join(',')) {
      process.stderr.write(`ort_check: ${name}: shape [${got.dims}] != expected [${want.shape}]\n`);
      bad++;
      continue;
    }
    let worst = 0;
    for (let i = 0; i < want.data.length; i++) {
      const g = Number(got.data[i]), w = Number(want.data[i]);
      const excess = Math.abs(g - w) - (args.atol + args.rtol * Math.abs(w));
      if (!(excess <= 0)) { bad++; worst = Math.max(worst, Math.abs(g - w)); break; }
    }
    if (worst) process.stderr.write(`ort_check: ${name}: differs from expected (|d| ${worst})\n`);
  }
  if (bad) process.exit(1);
  console.log(`ort_check: ${path.basename(args.model)}: ${session.outputNames.length} output(s) match`);
}

main().catch((e) => fail(e.message));
