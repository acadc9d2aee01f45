#!/usr/bin/env node
'use strict';
// Run a `hone fit` model with the peer runtime (onnxruntime-node, CPU EP) on rows of its CSV and
// compare each predicted label (or regression value) with what hone predicted
// (`hone fit --predictions`):
// tests/models/fit_check.sh uses it to show that ONNX Runtime runs the exported pipeline with
// the same predictions.
//
//   node bench/peer/ort_fit_check.js MODEL.onnx DATA.csv REPORT.json PREDICTIONS.csv
//
// The report names the numeric and string columns (graph inputs "numeric" and "categorical").
// Empty cells and NA, NaN, nan, N/A, null, NULL are missing: NaN for numbers, "" for strings.
// Exit status: 0 every label matches, 1 mismatch or error, 2 bad arguments, 3 onnxruntime-node
// is not installed.

const fs = require('fs');
const path = require('path');

const HERE = __dirname;
const MISSING = new Set(['', 'NA', 'NaN', 'nan', 'N/A', 'null', 'NULL']);

function fail(msg, code = 1) {
  process.stderr.write(`ort_fit_check: error: ${msg}\n`);
  process.exit(code);
}

// RFC 4180: quoted cells may hold commas, quotes ("") and line breaks.
function parseCsv(text) {
  const rows = [];
  let row = [], cell = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell); rows.push(row); row = []; cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv.length !== 4) fail('usage: ort_fit_check.js MODEL.onnx DATA.csv REPORT.json PREDICTIONS.csv', 2);
  const [modelPath, dataPath, reportPath, predPath] = argv;
  let ort;
  try {
    ort = require(require.resolve('onnxruntime-node', { paths: [HERE] }));
  } catch (e) {
    fail(`cannot load onnxruntime-node: ${e.message}`, 3);
  }
  ort.env.logLevel = 'error';
  const data = parseCsv(fs.readFileSync(dataPath, 'utf8'));
  const header = data[0];
  const report = JSON.parse(fs.readFileSync(reportPath, 'utf8'));
  const preds = parseCsv(fs.readFileSync(predPath, 'utf8')).slice(1);
  const col = (name) => {
    const i = header.indexOf(name);
    if (i < 0) fail(`${dataPath} has no column '${name}'`);
    return i;
  };
  const num = report.numeric_columns.map(col), str = report.string_columns.map(col);
  const n = preds.length;
  const feeds = {};
  if (num.length) {
    const a = new Float32Array(n * num.length);
    preds.forEach(([row], i) => num.forEach((c, j) => {
      const v = data[Number(row) + 1][c];
      a[i * num.length + j] = MISSING.has(v) ? NaN : Number(v);
    }));
    feeds.numeric = new ort.Tensor('float32', a, [n, num.length]);
  }
  if (str.length) {
    const a = [];
    preds.forEach(([row]) => str.forEach((c) => {
      const v = data[Number(row) + 1][c];
      a.push(MISSING.has(v) ? '' : v);
    }));
    feeds.categorical = new ort.Tensor('string', a, [n, str.length]);
  }
  const session = await ort.InferenceSession.create(modelPath, { executionProviders: ['cpu'] });
  const out = await session.run(feeds);
  // Classifiers: the label must match exactly. Regressors ("prediction"): hone's value (double
  // precision) within 1e-4 relative of ORT's float32 one, and 1e-4 of the targets' scale.
  const regression = out.prediction !== undefined;
  const got = regression ? out.prediction.data : out.label.data;
  const scale = regression ? Math.max(...preds.map((p) => Math.abs(Number(p[1])))) : 0;
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const ok = regression
      ? Math.abs(got[i] - Number(preds[i][1])) <= 1e-4 * (Math.abs(Number(preds[i][1])) + scale)
      : String(got[i]) === preds[i][1];
    if (!ok) {
      if (bad < 5) process.stderr.write(`ort_fit_check: row ${preds[i][0]}: ORT ${got[i]}, hone ${preds[i][1]}\n`);
      bad++;
    }
  }
  if (bad) fail(`${bad} of ${n} ${regression ? 'predictions' : 'labels'} differ`);
  console.log(`ort_fit_check: ${path.basename(modelPath)}: ${n} ${regression ? 'predictions' : 'labels'} match`);
}

main().catch((e) => fail(e.message));
