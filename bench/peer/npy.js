'use strict';
// Minimal NumPy .npy reader/writer (format versions 1.0, 2.0 and 3.0, C order).
//
// Supported dtypes (names follow ONNX Runtime's tensor type strings):
//   float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64 bool
// 'bool' data is a Uint8Array of 0/1 (what onnxruntime-node uses for bool tensors);
// int64/uint64 data are BigInt64Array/BigUint64Array.
//
//   const npy = require('./npy');
//   const { dtype, shape, data } = npy.load('x.npy');   // or npy.parse(buffer)
//   npy.save('y.npy', { dtype: 'float32', shape: [2, 3], data: new Float32Array(6) });
//   const buf = npy.serialize({ dtype, shape, data });
//
// Big-endian files ('>' byte order) are read and byte-swapped; files are always
// written little-endian. Fortran-order arrays are rejected.

const fs = require('fs');
const path = require('path');

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

// dtype name -> [numpy descr (little-endian), element size, TypedArray constructor]
const DTYPES = {
  float32: ['<f4', 4, Float32Array],
  float64: ['<f8', 8, Float64Array],
  int8: ['|i1', 1, Int8Array],
  int16: ['<i2', 2, Int16Array],
  int32: ['<i4', 4, Int32Array],
  int64: ['<i8', 8, BigInt64Array],
  uint8: ['|u1', 1, Uint8Array],
  uint16: ['<u2', 2, Uint16Array],
  uint32: ['<u4', 4, Uint32Array],
  uint64: ['<u8', 8, BigUint64Array],
  bool: ['|b1', 1, Uint8Array],
};

// numpy kind+size (without byte-order char) -> dtype name
const KIND_TO_DTYPE = {};
for (const [name, [descr]] of Object.entries(DTYPES)) KIND_TO_DTYPE[descr.slice(1)] = name;

class NpyError extends Error {}

function numel(shape) {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function parseHeader(text, where) {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) throw new NpyError(`${where}: cannot parse .npy header: ${text.trim()}`);
  const dims = shape[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const v = Number(s.replace(/L$/, ''));
      if (!Number.isInteger(v) || v < 0) throw new NpyError(`${where}: bad dimension '${s}' in .npy header`);
      return v;
    });
  return { descr: descr[1], fortranOrder: fortran[1] === 'True', shape: dims };
}

function byteSwapInPlace(bytes, size) {
  if (size === 1) return;
  for (let i = 0; i < bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

/** Parse the contents of a .npy file. Returns { dtype, shape, data }. */
function parse(buf, where = '<buffer>') {
  if (!Buffer.isBuffer(buf)) buf = Buffer.from(buf.buffer || buf, buf.byteOffset || 0, buf.byteLength);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new NpyError(`${where}: not a .npy file (bad magic)`);
  const major = buf[6];
  let headerLen;
  let offset;
  let encoding = 'latin1';
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    offset = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw new NpyError(`${where}: truncated .npy header`);
    headerLen = buf.readUInt32LE(8);
    offset = 12;
    if (major === 3) encoding = 'utf8';
  } else {
    throw new NpyError(`${where}: unsupported .npy format version ${major}.${buf[7]}`);
  }
  if (offset + headerLen > buf.length) throw new NpyError(`${where}: truncated .npy header`);
  const header = parseHeader(buf.toString(encoding, offset, offset + headerLen), where);
  if (header.fortranOrder) throw new NpyError(`${where}: Fortran-order arrays are not supported`);
  const order = header.descr[0];
  const kind = header.descr.slice(1);
  const dtype = KIND_TO_DTYPE[kind];
  if (!dtype || !'<>|='.includes(order)) throw new NpyError(`${where}: unsupported dtype '${header.descr}'`);
  const [, size, Ctor] = DTYPES[dtype];
  const n = numel(header.shape);
  const start = offset + headerLen;
  const nbytes = n * size;
  if (buf.length - start < nbytes) {
    throw new NpyError(`${where}: truncated data: expected ${nbytes} bytes, found ${buf.length - start}`);
  }
  // Copy into a fresh, aligned ArrayBuffer.
  const bytes = new Uint8Array(nbytes);
  bytes.set(buf.subarray(start, start + nbytes));
  if (order === '>') byteSwapInPlace(bytes, size);
  return { dtype, shape: header.shape, data: new Ctor(bytes.buffer, 0, n) };
}

/** Read a .npy file. Returns { dtype, shape, data }. */
function load(file) {
  return parse(fs.readFileSync(file), file);
}

function dtypeOf(data) {
  for (const [name, [, , Ctor]] of Object.entries(DTYPES)) {
    if (name !== 'bool' && data instanceof Ctor) return name;
  }
  return undefined;
}

/** Serialize { dtype, shape, data } to a Buffer holding a .npy file (v1.0, or v2.0 for huge headers). */
function serialize({ dtype, shape, data }) {
  if (dtype === undefined) dtype = dtypeOf(data);
  const spec = DTYPES[dtype];
  if (!spec) throw new NpyError(`unsupported dtype '${dtype}'`);
  const [descr, size, Ctor] = spec;
  shape = Array.from(shape, Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new NpyError(`bad shape [${shape}]`);
  const n = numel(shape);
  if (data.length !== n) throw new NpyError(`data has ${data.length} elements, shape [${shape}] needs ${n}`);
  let src = data;
  if (dtype === 'bool') {
    src = Uint8Array.from(data, (v) => (v ? 1 : 0));
  } else if (!(data instanceof Ctor)) {
    src = Ctor.from(data);
  }
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  // Total header (magic + version + length field + dict + padding + '\n') is a multiple of 64.
  let version = 1;
  let pre = 10;
  let total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  if (total - pre > 0xffff) {
    version = 2;
    pre = 12;
    total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  }
  dict = dict + ' '.repeat(total - pre - dict.length - 1) + '\n';
  const out = Buffer.alloc(total + n * size);
  MAGIC.copy(out, 0);
  out[6] = version;
  out[7] = 0;
  if (version === 1) out.writeUInt16LE(dict.length, 8);
  else out.writeUInt32LE(dict.length, 8);
  out.write(dict, pre, 'latin1');
  const bytes = new Uint8Array(src.buffer, src.byteOffset, n * size);
  out.set(bytes, total);
  if (!isLittleEndian()) byteSwapInPlace(out.subarray(total), size);
  return out;
}

let littleEndian;
function isLittleEndian() {
  if (littleEndian === undefined) littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  return littleEndian;
}

/** Write { dtype, shape, data } to a .npy file (atomically: temp file + rename). */
function save(file, array) {
  const buf = serialize(array);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, buf);
  fs.renameSync(tmp, file);
}

module.exports = { load, save, parse, serialize, numel, DTYPES, NpyError };
