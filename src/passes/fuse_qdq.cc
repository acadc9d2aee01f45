#include "passes/fuse_qdq.h"

#include <cmath>
#include <set>

#include "core/errors.h"
#include "passes/graph_util.h"
#include "passes/pattern_util.h"

namespace hone {
namespace {

Attribute FloatAttribute(float v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = v;
  return a;
}
Attribute IntAttribute(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}
Attribute FloatsAttribute(std::vector<float> v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloats;
  a.floats = std::move(v);
  return a;
}
Attribute StringAttribute(std::string v) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = std::move(v);
  return a;
}

// Only the attributes every opset gives the same meaning (no blocked or float8 forms).
bool PlainQdqAttributes(const Node& n) {
  for (const auto& [k, a] : n.attributes)
    if (k != "axis" && !(k == "saturate" && a.i == 1) && !(k == "block_size" && a.i == 0))
      return false;
  return true;
}

// A per-tensor uint8 (de)quantization: scale and zero point from constant inputs.
struct ActParams {
  float scale = 1;
  int zero_point = 0;
};
bool PerTensorU8(const Graph& g, const Node& n, ActParams& p) {
  if (n.inputs.size() != 3 || !PlainQdqAttributes(n)) return false;
  const Tensor* s = ConstantF32(g, n.inputs[1]);
  const Tensor* z = g.constant(n.inputs[2]);
  if (!s || s->numel() != 1 || !z || z->dtype() != DataType::kUInt8 || z->numel() != 1)
    return false;
  p.scale = s->data<float>()[0];
  p.zero_point = z->data<uint8_t>()[0];
  return p.scale > 0 && std::isfinite(p.scale);
}

// Constant int8 weights with zero point 0, per tensor or along `axis`.
struct WeightParams {
  const Tensor* w = nullptr;
  std::vector<float> scales;  // 1 or w->dim(axis)
  int64_t axis = 0;
};
bool ConstantInt8Weights(const Graph& g, const GraphIndex& index, const std::string& value,
                         WeightParams& p) {
  const int d = index.producer(value);
  if (d < 0) return false;
  const Node& n = g.nodes[static_cast<size_t>(d)];
  if (!IsOp(n, "DequantizeLinear") || n.inputs.size() < 2 || !PlainQdqAttributes(n)) return false;
  p.w = g.constant(n.inputs[0]);
  const Tensor* s = ConstantF32(g, n.inputs[1]);
  if (!p.w || p.w->dtype() != DataType::kInt8 || !s) return false;
  if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
    const Tensor* z = g.constant(n.inputs[2]);
    if (!z || z->dtype() != DataType::kInt8) return false;
    for (int64_t i = 0; i < z->numel(); ++i)
      if (z->data<int8_t>()[i] != 0) return false;
  }
  const Attribute* a = n.attr("axis");
  p.axis = a ? a->i : 1;
  if (p.axis < 0) p.axis += p.w->rank();
  if (s->numel() != 1 &&
      (s->rank() != 1 || p.axis >= p.w->rank() || s->numel() != p.w->dim(p.axis)))
    return false;
  p.scales.assign(s->data<float>(), s->data<float>() + s->numel());
  for (float v : p.scales)
    if (!(v > 0) || !std::isfinite(v)) return false;
  return true;
}

// A constant bias in real units: float32, or a DequantizeLinear of int32 with zero point 0.
bool ConstantBias(const Graph& g, const GraphIndex& index, const std::string& value, int64_t n_out,
                  std::vector<float>& bias) {
  if (const Tensor* b = ConstantF32(g, value)) {
    if (b->numel() != n_out) return false;
    bias.assign(b->data<float>(), b->data<float>() + n_out);
    return true;
  }
  const int d = index.producer(value);
  if (d < 0) return false;
  const Node& n = g.nodes[static_cast<size_t>(d)];
  if (!IsOp(n, "DequantizeLinear") || n.inputs.size() < 2 || !PlainQdqAttributes(n)) return false;
  const Tensor* q = g.constant(n.inputs[0]);
  const Tensor* s = ConstantF32(g, n.inputs[1]);
  if (!q || q->dtype() != DataType::kInt32 || q->numel() != n_out || !s ||
      (s->numel() != 1 && s->numel() != n_out))
    return false;
  if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
    const Tensor* z = g.constant(n.inputs[2]);
    if (!z || z->dtype() != DataType::kInt32) return false;
    for (int64_t i = 0; i < z->numel(); ++i)
      if (z->data<int32_t>()[i] != 0) return false;
  }
  bias.resize(static_cast<size_t>(n_out));
  for (int64_t c = 0; c < n_out; ++c)
    bias[static_cast<size_t>(c)] =
        static_cast<float>(q->data<int32_t>()[c]) * s->data<float>()[s->numel() == 1 ? 0 : c];
  return true;
}

// The uint8 input behind a per-tensor DequantizeLinear producing `value`.
bool DequantizedInput(const Graph& g, const GraphIndex& index, const std::string& value,
                      std::string& q, ActParams& p) {
  const int d = index.producer(value);
  if (d < 0) return false;
  const Node& n = g.nodes[static_cast<size_t>(d)];
  if (!IsOp(n, "DequantizeLinear") || !PerTensorU8(g, n, p)) return false;
  if (g.constant(n.inputs[0])) return false;
  q = n.inputs[0];
  return true;
}

// An activation that may fold into an int8 op, then the QuantizeLinear reading the result.
struct OutputChain {
  std::vector<int> nodes;  // the activation (if any) and the QuantizeLinear, in order
  std::string activation;  // "", "Relu" or "Clip"
  float clip_max = 0;
  ActParams y;
  std::string output;  // the QuantizeLinear's output
};
bool QuantizedOutput(const Graph& g, const GraphIndex& index, int64_t opset,
                     const std::string& value, OutputChain& c) {
  int r = SoleReader(index, value);
  if (r < 0) return false;
  const Node* n = &g.nodes[static_cast<size_t>(r)];
  if (IsOp(*n, "Relu") || IsOp(*n, "Clip")) {
    if (IsOp(*n, "Clip")) {
      float lo, hi;
      if (opset >= 11) {
        if (n->inputs.size() < 3 || n->inputs[1].empty() || n->inputs[2].empty()) return false;
        lo = ConstantScalarF32(g, n->inputs[1]);
        hi = ConstantScalarF32(g, n->inputs[2]);
      } else {
        const Attribute* a = n->attr("min");
        const Attribute* b = n->attr("max");
        if (!a || !b) return false;
        lo = a->f;
        hi = b->f;
      }
      if (lo != 0.0f || !(hi > 0) || !std::isfinite(hi)) return false;
      c.activation = "Clip";
      c.clip_max = hi;
    } else {
      c.activation = "Relu";
    }
    c.nodes.push_back(r);
    r = SoleReader(index, n->outputs[0]);
    if (r < 0) return false;
    n = &g.nodes[static_cast<size_t>(r)];
  }
  if (!IsOp(*n, "QuantizeLinear") || !PerTensorU8(g, *n, c.y)) return false;
  c.nodes.push_back(r);
  c.output = n->outputs[0];
  return true;
}

int DeclaredRank(const Graph& g, const std::string& v) {
  const ValueInfo* i = FindValueInfo(g, v);
  return i && i->has_shape ? static_cast<int>(i->shape.size()) : -1;
}

bool SameKnownShape(const Graph& g, const std::string& a, const std::string& b) {
  const ValueInfo* x = FindValueInfo(g, a);
  const ValueInfo* y = FindValueInfo(g, b);
  if (!x || !y || !x->has_shape || !y->has_shape || x->shape.size() != y->shape.size())
    return false;
  for (size_t i = 0; i < x->shape.size(); ++i) {
    const Dim &p = x->shape[i], &q = y->shape[i];
    const bool same = (p.known() && q.known() && p.value == q.value) ||
                      (!p.symbol.empty() && p.symbol == q.symbol);
    if (!same) return false;
  }
  return true;
}

enum class Kind { kConv, kAdd, kMatMul, kMaxPool };

struct Match {
  Kind kind;
  int op = -1;
  std::vector<std::string> inputs;  // uint8 activations
  std::vector<ActParams> in_params;
  WeightParams w;
  std::vector<float> bias;  // real units; empty: none
  OutputChain out;
  bool live = true;
};

bool MatchConv(const Graph& g, const GraphIndex& index, int64_t opset, int i, Match& m) {
  const Node& n = g.nodes[static_cast<size_t>(i)];
  if (n.inputs.size() < 2) return false;
  m.kind = Kind::kConv;
  m.op = i;
  std::string xq;
  ActParams xp;
  if (!DequantizedInput(g, index, n.inputs[0], xq, xp)) return false;
  if (!ConstantInt8Weights(g, index, n.inputs[1], m.w) || m.w.w->rank() != 4) return false;
  if (m.w.scales.size() != 1 && m.w.axis != 0) return false;
  if (n.inputs.size() > 2 && !n.inputs[2].empty() &&
      !ConstantBias(g, index, n.inputs[2], m.w.w->dim(0), m.bias))
    return false;
  if (!QuantizedOutput(g, index, opset, n.outputs[0], m.out)) return false;
  m.inputs = {xq};
  m.in_params = {xp};
  return true;
}

bool MatchAdd(const Graph& g, const GraphIndex& index, int64_t opset, int i, Match& m) {
  const Node& n = g.nodes[static_cast<size_t>(i)];
  if (n.inputs.size() != 2) return false;
  m.kind = Kind::kAdd;
  m.op = i;
  m.inputs.resize(2);
  m.in_params.resize(2);
  for (int k = 0; k < 2; ++k)
    if (!DequantizedInput(g, index, n.inputs[static_cast<size_t>(k)],
                          m.inputs[static_cast<size_t>(k)], m.in_params[static_cast<size_t>(k)]))
      return false;
  if (!SameKnownShape(g, n.inputs[0], n.inputs[1]) || DeclaredRank(g, n.inputs[0]) != 4)
    return false;
  if (!QuantizedOutput(g, index, opset, n.outputs[0], m.out) || m.out.activation == "Clip")
    return false;
  return true;
}

bool MatchMatMul(const Graph& g, const GraphIndex& index, int64_t opset, int i, Match& m) {
  const Node& n = g.nodes[static_cast<size_t>(i)];
  const bool gemm = IsOp(n, "Gemm");
  if (n.inputs.size() < 2) return false;
  m.kind = Kind::kMatMul;
  m.op = i;
  std::string xq;
  ActParams xp;
  if (!DequantizedInput(g, index, n.inputs[0], xq, xp)) return false;
  if (!ConstantInt8Weights(g, index, n.inputs[1], m.w) || m.w.w->rank() != 2) return false;
  int64_t n_axis = 1;
  if (gemm) {
    auto ival = [&](const char* k) {
      const Attribute* a = n.attr(k);
      return a ? a->i : 0;
    };
    auto fval = [&](const char* k) {
      const Attribute* a = n.attr(k);
      return a ? a->f : 1.0f;
    };
    if (ival("transA") != 0 || fval("alpha") != 1.0f || fval("beta") != 1.0f) return false;
    if (ival("transB")) n_axis = 0;
    if (DeclaredRank(g, n.inputs[0]) != 2) return false;
    if (n.inputs.size() > 2 && !n.inputs[2].empty() &&
        !ConstantBias(g, index, n.inputs[2], m.w.w->dim(n_axis), m.bias))
      return false;
  } else if (DeclaredRank(g, n.inputs[0]) < 2) {
    return false;
  }
  if (m.w.scales.size() != 1 && m.w.axis != n_axis) return false;
  m.w.axis = n_axis;  // from here on: the output-channel axis of w
  if (!QuantizedOutput(g, index, opset, n.outputs[0], m.out) || m.out.activation == "Clip")
    return false;
  m.inputs = {xq};
  m.in_params = {xp};
  return true;
}

// DQ(a) -> MaxPool -> Q with the same scale and zero point: max commutes with the monotonic
// dequantization, so the pool runs on the uint8 values.
bool MatchMaxPool(const Graph& g, const GraphIndex& index, int64_t opset, int i, Match& m) {
  const Node& n = g.nodes[static_cast<size_t>(i)];
  if (n.outputs.size() > 1 && !n.outputs[1].empty()) return false;  // Indices
  if (const Attribute* a = n.attr("storage_order"); a && a->i != 0) return false;
  if (const Attribute* a = n.attr("kernel_shape"); !a || a->ints.size() != 2) return false;
  m.kind = Kind::kMaxPool;
  m.op = i;
  std::string xq;
  ActParams xp;
  if (!DequantizedInput(g, index, n.inputs[0], xq, xp)) return false;
  if (!QuantizedOutput(g, index, opset, n.outputs[0], m.out) || !m.out.activation.empty())
    return false;
  if (m.out.y.scale != xp.scale || m.out.y.zero_point != xp.zero_point) return false;
  m.inputs = {xq};
  m.in_params = {xp};
  return true;
}

// int8 [K, N] from w (transposed when its output axis is 0).
Tensor WeightsKN(const WeightParams& w) {
  if (w.axis == 1) return *w.w;
  const int64_t n = w.w->dim(0), k = w.w->dim(1);
  Tensor t = Tensor::Empty(DataType::kInt8, {k, n});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) t.data<int8_t>()[j * n + i] = w.w->data<int8_t>()[i * k + j];
  return t;
}

// Dequantizes constant int8/uint8/int32 `q` with per-tensor or per-axis scale and zero point.
bool DequantizeConstant(const Tensor& q, const Tensor& s, const Tensor* z, int64_t axis,
                        Tensor& out) {
  if (s.dtype() != DataType::kFloat32) return false;
  if (q.dtype() != DataType::kInt8 && q.dtype() != DataType::kUInt8 &&
      q.dtype() != DataType::kInt32)
    return false;
  if (z && (z->dtype() != q.dtype() || z->numel() != s.numel())) return false;
  if (axis < 0) axis += q.rank();
  int64_t inner = 1, dim = 1;
  if (s.numel() != 1) {
    if (axis < 0 || axis >= q.rank() || q.dim(axis) != s.numel()) return false;
    dim = q.dim(axis);
    for (int64_t d = axis + 1; d < q.rank(); ++d) inner *= q.dim(d);
  }
  auto load = [](const Tensor& t, int64_t i) -> double {
    switch (t.dtype()) {
      case DataType::kInt8:
        return t.data<int8_t>()[i];
      case DataType::kUInt8:
        return t.data<uint8_t>()[i];
      default:
        return t.data<int32_t>()[i];
    }
  };
  out = Tensor::Empty(DataType::kFloat32, q.shape());
  for (int64_t i = 0; i < q.numel(); ++i) {
    const int64_t c = s.numel() == 1 ? 0 : (i / inner) % dim;
    out.data<float>()[i] = static_cast<float>((load(q, i) - (z ? load(*z, c) : 0.0)) *
                                              static_cast<double>(s.data<float>()[c]));
  }
  return true;
}

int FoldConstantDequantize(Graph& g) {
  std::vector<bool> dead(g.nodes.size(), false);
  int folded = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!IsOp(n, "DequantizeLinear") || n.inputs.size() < 2 || !PlainQdqAttributes(n)) continue;
    const Tensor* q = g.constant(n.inputs[0]);
    const Tensor* s = g.constant(n.inputs[1]);
    const Tensor* z =
        n.inputs.size() > 2 && !n.inputs[2].empty() ? g.constant(n.inputs[2]) : nullptr;
    if (!q || !s || (n.inputs.size() > 2 && !n.inputs[2].empty() && !z)) continue;
    if (g.initializers.count(n.outputs[0])) continue;
    const Attribute* a = n.attr("axis");
    Tensor out;
    if (!DequantizeConstant(*q, *s, z, a ? a->i : 1, out)) continue;
    g.initializers[n.outputs[0]] = out;
    dead[i] = true;
    ++folded;
  }
  if (folded) EraseNodes(g, dead);
  return folded;
}

}  // namespace

StatusOr<int> FuseQdq(Graph& g, int64_t opset, bool fuse) {
  int rewrites = 0;
  if (fuse) {
    const GraphIndex index(g);
    std::vector<Match> matches;
    for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i) {
      const Node& n = g.nodes[static_cast<size_t>(i)];
      Match m;
      const bool ok =
          (IsOp(n, "Conv") && MatchConv(g, index, opset, i, m)) ||
          (IsOp(n, "Add") && MatchAdd(g, index, opset, i, m)) ||
          (IsOp(n, "MaxPool") && MatchMaxPool(g, index, opset, i, m)) ||
          ((IsOp(n, "Gemm") || IsOp(n, "MatMul")) && MatchMatMul(g, index, opset, i, m));
      if (ok) matches.push_back(std::move(m));
    }
    // Channels-last values: the inputs and outputs of the Conv and Add matches. Each needs a
    // producer that can write the layout (a match, or a QuantizeLinear of a 4-D float value)
    // and readers that can read it (matches, or DequantizeLinear nodes); a match with a value
    // that does not qualify stays float, until nothing changes.
    std::map<std::string, int> produced_by;  // value -> match
    std::map<std::string, std::set<int>> read_by;
    bool changed = true;
    while (changed) {
      changed = false;
      produced_by.clear();
      read_by.clear();
      for (int k = 0; k < static_cast<int>(matches.size()); ++k) {
        const Match& m = matches[static_cast<size_t>(k)];
        if (!m.live) continue;
        produced_by[m.out.output] = k;
        for (const std::string& v : m.inputs) read_by[v].insert(k);
      }
      for (Match& m : matches) {
        if (!m.live) continue;
        std::vector<std::string> values = m.inputs;
        const bool nhwc = m.kind != Kind::kMatMul;
        if (nhwc) values.push_back(m.out.output);
        bool ok = true;
        for (const std::string& v : values) {
          if (index.is_graph_output(v)) ok = false;
          // Producer.
          const bool by_match = produced_by.count(v) > 0;
          if (by_match &&
              nhwc != (matches[static_cast<size_t>(produced_by.at(v))].kind != Kind::kMatMul))
            ok = false;
          if (!by_match) {
            const int p = index.producer(v);
            ActParams ap;
            if (p < 0 || !IsOp(g.nodes[static_cast<size_t>(p)], "QuantizeLinear") ||
                !PerTensorU8(g, g.nodes[static_cast<size_t>(p)], ap))
              ok = false;
            else if (nhwc && DeclaredRank(g, g.nodes[static_cast<size_t>(p)].inputs[0]) != 4)
              ok = false;
          }
          // Readers.
          for (int r : index.consumers(v)) {
            const Node& rn = g.nodes[static_cast<size_t>(r)];
            bool reader_ok = false;
            if (IsOp(rn, "DequantizeLinear") && rn.inputs[0] == v) {
              // A DequantizeLinear that a live match consumes through is replaced by it; any
              // other reads the value as it is.
              ActParams ap;
              reader_ok = PerTensorU8(g, rn, ap);
            }
            if (!reader_ok) ok = false;
          }
          for (int k : read_by[v])
            if ((matches[static_cast<size_t>(k)].kind != Kind::kMatMul) != nhwc) ok = false;
        }
        if (!ok) {
          m.live = false;
          changed = true;
        }
      }
    }
    // Rewrite.
    std::set<std::string> nhwc_values;
    std::vector<bool> dead(g.nodes.size(), false);
    for (Match& m : matches) {
      if (!m.live) continue;
      const Node op = g.nodes[static_cast<size_t>(m.op)];
      Node f;
      f.domain = kHoneDomain;
      f.name = op.name.empty() ? m.out.output : op.name;
      f.outputs = {m.out.output};
      f.inputs = m.inputs;
      if (m.kind == Kind::kMaxPool) {
        // hone's channels-last MaxPool (kernels/cpu/dnnl_pool.cc) pools the uint8 values.
        f.op_type = "MaxPool";
        for (const auto& [k, a] : op.attributes)
          if (k != "storage_order") f.attributes[k] = a;
        RetireNodes(g, {m.op, m.out.nodes.back()}, m.out.nodes.back(), dead);
        g.nodes[static_cast<size_t>(m.out.nodes.back())] = std::move(f);
        nhwc_values.insert(m.inputs[0]);
        nhwc_values.insert(m.out.output);
        ++rewrites;
        continue;
      }
      const int64_t n_out = m.kind == Kind::kAdd ? 0 : m.w.w->dim(m.w.axis);
      if (m.kind != Kind::kAdd) {
        const std::string w_name = FreshName(g, op.name + "_int8_weights");
        g.initializers[w_name] = m.kind == Kind::kConv ? *m.w.w : WeightsKN(m.w);
        f.inputs.push_back(w_name);
        f.attributes["w_scales"] = FloatsAttribute(m.w.scales);
        if (!m.bias.empty()) {
          // Bias in accumulator units: bias / (x_scale * w_scale[c]).
          Tensor b = Tensor::Empty(DataType::kFloat32, {n_out});
          for (int64_t c = 0; c < n_out; ++c)
            b.data<float>()[c] = m.bias[static_cast<size_t>(c)] /
                                 (m.in_params[0].scale *
                                  m.w.scales[m.w.scales.size() == 1 ? 0 : static_cast<size_t>(c)]);
          const std::string b_name = FreshName(g, op.name + "_int8_bias");
          g.initializers[b_name] = b;
          f.inputs.push_back(b_name);
        }
      }
      if (m.kind == Kind::kConv) {
        f.op_type = "QConv";
        for (const char* k : {"strides", "pads", "dilations", "group", "auto_pad", "kernel_shape"})
          if (const Attribute* a = op.attr(k)) f.attributes[k] = *a;
      } else if (m.kind == Kind::kAdd) {
        f.op_type = "QAdd";
        f.attributes["b_scale"] = FloatAttribute(m.in_params[1].scale);
        f.attributes["b_zero_point"] = IntAttribute(m.in_params[1].zero_point);
      } else {
        f.op_type = "QMatMul";
      }
      f.attributes[m.kind == Kind::kAdd ? "a_scale" : "x_scale"] =
          FloatAttribute(m.in_params[0].scale);
      f.attributes[m.kind == Kind::kAdd ? "a_zero_point" : "x_zero_point"] =
          IntAttribute(m.in_params[0].zero_point);
      f.attributes["y_scale"] = FloatAttribute(m.out.y.scale);
      f.attributes["y_zero_point"] = IntAttribute(m.out.y.zero_point);
      if (!m.out.activation.empty()) {
        f.attributes["activation"] = StringAttribute(m.out.activation);
        if (m.out.activation == "Clip") f.attributes["clip_max"] = FloatAttribute(m.out.clip_max);
      }
      std::vector<int> nodes = {m.op};
      nodes.insert(nodes.end(), m.out.nodes.begin(), m.out.nodes.end());
      RetireNodes(g, nodes, nodes.back(), dead);
      g.nodes[static_cast<size_t>(nodes.back())] = std::move(f);
      if (m.kind != Kind::kMatMul) {
        nhwc_values.insert(m.inputs.begin(), m.inputs.end());
        nhwc_values.insert(m.out.output);
      }
      ++rewrites;
    }
    // The edges of the channels-last region: its QuantizeLinear producers and DequantizeLinear
    // readers convert the layout.
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      Node& n = g.nodes[i];
      if (dead[i] || !n.domain.empty()) continue;
      const bool q = n.op_type == "QuantizeLinear" && nhwc_values.count(n.outputs[0]);
      const bool dq = n.op_type == "DequantizeLinear" && nhwc_values.count(n.inputs[0]);
      if (!q && !dq) continue;
      ActParams p;
      if (!PerTensorU8(g, n, p))
        return Internal("{}: lost its per-tensor parameters", n.Describe());
      n.domain = kHoneDomain;
      n.inputs.resize(1);
      n.attributes.clear();
      n.attributes["scale"] = FloatAttribute(p.scale);
      n.attributes["zero_point"] = IntAttribute(p.zero_point);
      ++rewrites;
    }
    for (const std::string& v : nhwc_values) g.value_info.erase(v);
    EraseNodes(g, dead);
    if (rewrites) RemoveDeadNodes(g);
  }
  rewrites += FoldConstantDequantize(g);
  return rewrites;
}

}  // namespace hone
