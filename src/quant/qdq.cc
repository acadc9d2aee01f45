#include "quant/qdq.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/errors.h"
#include "passes/graph_util.h"
#include "passes/pattern_util.h"

namespace hone::quant {
namespace {

int64_t OnnxOpset(const Model& m) { return m.opsets.count("") ? m.opsets.at("") : 0; }

bool IsConstant(const Graph& g, const std::string& v) { return g.constant(v) != nullptr; }

int64_t IntAttr(const Node& n, const char* key, int64_t fallback) {
  const Attribute* a = n.attr(key);
  return a ? a->i : fallback;
}
float FloatAttr(const Node& n, const char* key, float fallback) {
  const Attribute* a = n.attr(key);
  return a ? a->f : fallback;
}

// A Relu, or a Clip whose lower bound is 0, reading `value` alone: the quantized range then
// starts at 0. Returns its output, or "".
std::string ZeroFloorActivation(const Graph& g, const GraphIndex& index, const std::string& value) {
  const int r = SoleReader(index, value);
  if (r < 0) return "";
  const Node& n = g.nodes[static_cast<size_t>(r)];
  if (IsOp(n, "Relu")) return n.outputs[0];
  if (IsOp(n, "Clip")) {
    float lo;
    if (n.inputs.size() > 1 && !n.inputs[1].empty())
      lo = ConstantScalarF32(g, n.inputs[1]);
    else
      lo = n.inputs.size() > 1 ? -std::numeric_limits<float>::infinity()
                               : FloatAttr(n, "min", -std::numeric_limits<float>::infinity());
    if (lo == 0.0f) return n.outputs[0];
  }
  return "";
}

// Unique value and node names for what the rewrite adds.
class Namer {
 public:
  explicit Namer(const Graph& g) {
    for (const auto& i : g.inputs) used_.insert(i.name);
    for (const auto& [k, v] : g.initializers) used_.insert(k);
    for (const auto& n : g.nodes) {
      used_.insert(n.name);
      for (const auto& o : n.outputs) used_.insert(o);
    }
  }
  std::string operator()(const std::string& base) {
    std::string n = base;
    for (int k = 1; used_.count(n); ++k) n = base + "_" + std::to_string(k);
    used_.insert(n);
    return n;
  }

 private:
  std::set<std::string> used_;
};

Attribute IntAttribute(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}

}  // namespace

void NameNodes(Graph& g) {
  std::set<std::string> used;
  for (const Node& n : g.nodes)
    if (!n.name.empty()) used.insert(n.name);
  int k = 0;
  for (Node& n : g.nodes) {
    if (!n.name.empty()) continue;
    std::string name;
    do name = n.op_type + "_" + std::to_string(k++);
    while (used.count(name));
    used.insert(name);
    n.name = name;
  }
}

std::vector<QuantizedNode> PlanStatic(const Graph& g, const QdqOptions& options,
                                      std::vector<std::string>* skipped) {
  std::vector<QuantizedNode> plan;
  const GraphIndex index(g);
  auto skip = [&](const Node& n, const std::string& why) {
    if (skipped) skipped->push_back(n.name + ": " + why);
  };
  for (const Node& n : g.nodes) {
    if (!n.domain.empty()) continue;
    const bool candidate =
        n.op_type == "Conv" || n.op_type == "Gemm" || n.op_type == "MatMul" || n.op_type == "Add";
    if (!candidate) continue;
    if (options.exclude.count(n.name)) {
      skip(n, "excluded (--exclude)");
      continue;
    }
    QuantizedNode q;
    q.node = n.name;
    q.op = n.op_type;
    if (n.op_type == "Add") {
      if (n.inputs.size() != 2 || IsConstant(g, n.inputs[0]) || IsConstant(g, n.inputs[1]))
        continue;  // a bias or scalar Add stays float without comment
      const ValueInfo* a = FindValueInfo(g, n.inputs[0]);
      const ValueInfo* b = FindValueInfo(g, n.inputs[1]);
      if (!a || !b || a->dtype != DataType::kFloat32 || b->dtype != DataType::kFloat32) continue;
      q.activations = {n.inputs[0], n.inputs[1]};
    } else {
      const Tensor* w = n.inputs.size() > 1 ? ConstantF32(g, n.inputs[1]) : nullptr;
      if (!w) {
        skip(n, "weight is not a constant float32 tensor");
        continue;
      }
      if (n.op_type == "Conv") {
        if (w->rank() != 4) {
          skip(n, "not a 2-D convolution");
          continue;
        }
        q.weight_axis = 0;
        if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
          if (!ConstantF32(g, n.inputs[2])) {
            skip(n, "bias is not constant");
            continue;
          }
          q.bias = n.inputs[2];
        }
      } else if (n.op_type == "Gemm") {
        if (w->rank() != 2 || IntAttr(n, "transA", 0) != 0 || FloatAttr(n, "alpha", 1.0f) != 1.0f ||
            FloatAttr(n, "beta", 1.0f) != 1.0f) {
          skip(n, "Gemm with transA, alpha or beta");
          continue;
        }
        q.weight_axis = IntAttr(n, "transB", 0) ? 0 : 1;
        if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
          const Tensor* c = ConstantF32(g, n.inputs[2]);
          if (!c || c->rank() != 1 || c->dim(0) != w->dim(q.weight_axis)) {
            skip(n, "Gemm bias C is not a constant vector over the outputs");
            continue;
          }
          q.bias = n.inputs[2];
        }
      } else {  // MatMul
        if (w->rank() != 2) {
          skip(n, "MatMul weight is not 2-D");
          continue;
        }
        q.weight_axis = 1;
      }
      q.weight = n.inputs[1];
      q.activations = {n.inputs[0]};
      if (IsConstant(g, n.inputs[0])) {
        skip(n, "constant input");
        continue;
      }
    }
    q.output = n.outputs[0];
    if (std::string act = ZeroFloorActivation(g, index, q.output); !act.empty()) q.output = act;
    plan.push_back(std::move(q));
  }
  return plan;
}

std::vector<std::string> CalibrationValues(const std::vector<QuantizedNode>& plan) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  auto add = [&](const std::string& v) {
    if (seen.insert(v).second) out.push_back(v);
  };
  for (const QuantizedNode& q : plan) {
    for (const std::string& a : q.activations) add(a);
    add(q.output);
  }
  return out;
}

QParams ActivationParams(const Range& r) {
  const double lo = std::min<double>(r.lo, 0.0), hi = std::max<double>(r.hi, 0.0);
  QParams p;
  if (!(hi > lo)) return p;
  p.scale = static_cast<float>((hi - lo) / 255.0);
  p.zero_point = static_cast<uint8_t>(std::clamp(std::nearbyint(-lo / p.scale), 0.0, 255.0));
  return p;
}

StatusOr<QdqResult> InsertQdq(Model& model, const std::vector<QuantizedNode>& plan,
                              const std::map<std::string, Range>& ranges,
                              const QdqOptions& options) {
  Graph& g = model.graph;
  const int64_t opset = OnnxOpset(model);
  if (opset < 10)
    return NotSupported(
        "the model's ai.onnx opset is {}: QuantizeLinear/DequantizeLinear need 10 or later "
        "(convert the model to a newer opset first, e.g. with onnx.version_converter)",
        opset);
  QdqResult result;
  result.per_channel = options.per_channel && opset >= 13;
  std::map<std::string, QParams> act;  // value -> its activation parameters
  std::vector<Node> added;
  Namer fresh(g);

  auto scalar = [&](const std::string& base, DataType dt, const void* v) {
    const std::string name = fresh(base);
    Tensor t = Tensor::Empty(dt, {});
    std::memcpy(t.raw_data(), v, DataTypeSize(dt));
    g.initializers[name] = t;
    return name;
  };
  auto node = [&](const char* op, std::vector<std::string> in, std::string out,
                  const std::string& name) {
    Node n;
    n.op_type = op;
    n.name = fresh(name);
    n.inputs = std::move(in);
    n.outputs = {std::move(out)};
    return n;
  };

  // A MaxPool's output takes its quantized input's parameters: runtimes then pool the 8-bit
  // values directly (max commutes with dequantization). All parameters are chosen before the
  // graph is rewritten.
  const GraphIndex index(g);
  auto range_of = [&](const std::string& v) -> const Range* {
    std::string at = v;
    for (int hops = 0; hops < 8; ++hops) {
      const int p = index.producer(at);
      if (p < 0 || !IsOp(g.nodes[static_cast<size_t>(p)], "MaxPool")) break;
      const std::string& in = g.nodes[static_cast<size_t>(p)].inputs[0];
      if (!ranges.count(in)) break;
      at = in;
    }
    auto it = ranges.find(at);
    return it == ranges.end() ? nullptr : &it->second;
  };
  const std::vector<std::string> values = CalibrationValues(plan);
  for (const std::string& v : values) {
    const Range* r = range_of(v);
    if (!r) return Internal("no calibrated range for '{}' (was it computed on every batch?)", v);
    act[v] = ActivationParams(*r);
  }
  // Activations: one QuantizeLinear -> DequantizeLinear pair per value; every read of the value
  // reads the dequantized copy.
  for (const std::string& v : values) {
    const QParams p = act.at(v);
    const std::string s = scalar(v + "_scale", DataType::kFloat32, &p.scale);
    const std::string z = scalar(v + "_zero_point", DataType::kUInt8, &p.zero_point);
    const std::string vq = fresh(v + "_quantized");
    std::string vin = v, vdq;
    if (std::any_of(g.outputs.begin(), g.outputs.end(),
                    [&](const ValueInfo& o) { return o.name == v; })) {
      // A graph output keeps its name on the dequantized copy, so that the quantized op's
      // output is read only by its QuantizeLinear (what ONNX Runtime's fusion looks for).
      vin = fresh(v + "_float");
      for (Node& n : g.nodes)
        for (std::string& o : n.outputs)
          if (o == v) o = vin;
      vdq = v;
      if (auto it = g.value_info.find(v); it != g.value_info.end()) {
        ValueInfo moved = it->second;
        moved.name = vin;
        g.value_info.erase(it);
        g.value_info[vin] = moved;
      }
    } else {
      vdq = fresh(v + "_dequantized");
      RenameUses(g, v, vdq);  // the added nodes are not in g yet: the Q node keeps reading v
    }
    added.push_back(node("QuantizeLinear", {vin, s, z}, vq, v + "_QuantizeLinear"));
    added.push_back(node("DequantizeLinear", {vq, s, z}, vdq, v + "_DequantizeLinear"));
    result.dequantized[v] = vdq;
    // The copies keep the value's declared shape (passes match on it).
    ValueInfo di;
    if (const ValueInfo* known = FindValueInfo(g, vin)) di = *known;
    di.kind = ValueInfo::Kind::kTensor;
    di.dtype = DataType::kFloat32;
    ValueInfo qi = di;
    qi.name = vq;
    qi.dtype = DataType::kUInt8;
    g.value_info[vq] = qi;
    di.name = vdq;
    if (vdq != v) g.value_info[vdq] = di;
  }

  // Weights and biases: stored quantized, dequantized by a DequantizeLinear per reading node.
  for (const QuantizedNode& q : plan) {
    if (q.weight.empty()) continue;
    auto ni = std::find_if(g.nodes.begin(), g.nodes.end(),
                           [&](const Node& n) { return n.name == q.node; });
    if (ni == g.nodes.end()) return Internal("planned node '{}' is gone", q.node);
    const Tensor w = g.initializers.at(q.weight);
    const int64_t axis = q.weight_axis;
    const int64_t channels = result.per_channel ? w.dim(axis) : 1;
    // Element i belongs to channel (i / inner) % dim(axis).
    int64_t inner = 1;
    for (int64_t d = axis + 1; d < w.rank(); ++d) inner *= w.dim(d);
    auto channel = [&](int64_t i) { return result.per_channel ? (i / inner) % w.dim(axis) : 0; };
    std::vector<float> amax(static_cast<size_t>(channels), 0.0f);
    const float* wf = w.data<float>();
    for (int64_t i = 0; i < w.numel(); ++i)
      amax[static_cast<size_t>(channel(i))] =
          std::max(amax[static_cast<size_t>(channel(i))], std::fabs(wf[i]));
    Shape cshape = result.per_channel ? Shape{channels} : Shape{};
    Tensor scale = Tensor::Empty(DataType::kFloat32, cshape);
    for (int64_t c = 0; c < channels; ++c)
      scale.data<float>()[c] =
          amax[static_cast<size_t>(c)] > 0 ? amax[static_cast<size_t>(c)] / 127.0f : 1.0f;
    Tensor wq = Tensor::Empty(DataType::kInt8, w.shape());
    for (int64_t i = 0; i < w.numel(); ++i)
      wq.data<int8_t>()[i] = static_cast<int8_t>(
          std::clamp(std::nearbyint(wf[i] / scale.data<float>()[channel(i)]), -127.0f, 127.0f));
    const std::string base = q.weight;
    const std::string wq_name = fresh(base + "_quantized");
    g.initializers[wq_name] = wq;
    const std::string ws_name = fresh(base + "_scale");
    g.initializers[ws_name] = scale;
    const std::string wz_name = fresh(base + "_zero_point");
    g.initializers[wz_name] = Tensor::Empty(DataType::kInt8, cshape);
    const std::string wdq = fresh(base + "_dequantized");
    Node dq =
        node("DequantizeLinear", {wq_name, ws_name, wz_name}, wdq, base + "_DequantizeLinear");
    if (result.per_channel) dq.attributes["axis"] = IntAttribute(axis);
    ni->inputs[1] = wdq;
    added.push_back(std::move(dq));

    if (!q.bias.empty()) {
      const Tensor b = g.initializers.at(q.bias);
      const float sx = act.at(q.activations[0]).scale;
      const int64_t n_out = b.numel();
      Tensor bs = Tensor::Empty(DataType::kFloat32, result.per_channel ? Shape{n_out} : Shape{});
      Tensor bq = Tensor::Empty(DataType::kInt32, {n_out});
      for (int64_t c = 0; c < n_out; ++c) {
        const float s = sx * scale.data<float>()[result.per_channel ? c : 0];
        if (result.per_channel || c == 0) bs.data<float>()[result.per_channel ? c : 0] = s;
        const double v = std::nearbyint(static_cast<double>(b.data<float>()[c]) / s);
        bq.data<int32_t>()[c] = static_cast<int32_t>(
            std::clamp(v, static_cast<double>(std::numeric_limits<int32_t>::min()),
                       static_cast<double>(std::numeric_limits<int32_t>::max())));
      }
      const std::string bq_name = fresh(q.bias + "_quantized");
      g.initializers[bq_name] = bq;
      const std::string bs_name = fresh(q.bias + "_scale");
      g.initializers[bs_name] = bs;
      const std::string bz_name = fresh(q.bias + "_zero_point");
      g.initializers[bz_name] = Tensor::Empty(DataType::kInt32, bs.shape());
      const std::string bdq = fresh(q.bias + "_dequantized");
      Node bdq_node =
          node("DequantizeLinear", {bq_name, bs_name, bz_name}, bdq, q.bias + "_DequantizeLinear");
      if (result.per_channel) bdq_node.attributes["axis"] = IntAttribute(0);
      ni->inputs[2] = bdq;
      added.push_back(std::move(bdq_node));
    }
  }
  for (Node& n : added) g.nodes.push_back(std::move(n));
  if (!TopoSort(g)) return Internal("the quantized graph does not sort");
  RemoveUnusedInitializers(g);  // the float weights and biases
  return result;
}

}  // namespace hone::quant
