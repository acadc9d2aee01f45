#include "passes/layout_nchwc.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/errors.h"
#include "passes/graph_util.h"

namespace hone {
namespace {

struct BlockedValue {
  std::string name;  // the blocked tensor's value name
  int64_t channels = 0;
};

int64_t ConstInt(const Node& n, const char* key, int64_t dflt) {
  const Attribute* a = n.attr(key);
  return a ? a->i : dflt;
}

// Conv nodes the blocked kernel serves: 2-D, float32 constant weights (and bias), and a grouping
// oneDNN runs well in blocked layouts (none, depthwise, or block-multiple channels per group).
bool ConvEligible(const Graph& g, const Node& n, int64_t block) {
  if (n.op_type != "Conv" || !n.domain.empty() || n.inputs.size() < 2 || n.outputs.size() != 1)
    return false;
  const Tensor* w = ConstantF32(g, n.inputs[1]);
  if (!w || w->rank() != 4) return false;
  if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
    const Tensor* b = ConstantF32(g, n.inputs[2]);
    if (!b || b->numel() != w->dim(0)) return false;
  }
  const int64_t group = ConstInt(n, "group", 1);
  if (group < 1 || w->dim(0) % group != 0) return false;
  const int64_t c = w->dim(1) * group, m = w->dim(0);
  const bool ok_group = block == 0 || group == 1 || (group == c && group == m) ||
                        ((c / group) % block == 0 && (m / group) % block == 0);
  if (!ok_group) return false;
  for (const char* k : {"strides", "dilations", "kernel_shape"})
    if (const Attribute* a = n.attr(k); a && a->ints.size() != 2) return false;
  if (const Attribute* a = n.attr("pads"); a && a->ints.size() != 4) return false;
  return true;
}

// Elementwise unary ops that keep padding channels finite; the value is the activation name the
// fused Conv understands ("" = cannot be fused).
const std::map<std::string, std::string>& UnaryOps() {
  static const std::map<std::string, std::string> ops = {{"Relu", "Relu"},
                                                         {"LeakyRelu", "LeakyRelu"},
                                                         {"Clip", "Clip"},
                                                         {"Sigmoid", "Sigmoid"},
                                                         {"Tanh", "Tanh"},
                                                         {"HardSigmoid", "HardSigmoid"},
                                                         {"HardSwish", "HardSwish"},
                                                         {"Abs", ""},
                                                         {"Neg", ""}};
  return ops;
}

// Parameters of an activation for the fused Conv; false when they are not constants.
bool ActivationParams(const Graph& g, const Node& n, std::vector<float>& params) {
  params.clear();
  if (n.op_type == "LeakyRelu") {
    const Attribute* a = n.attr("alpha");
    params = {a ? a->f : 0.01f};
  } else if (n.op_type == "HardSigmoid") {
    const Attribute* a = n.attr("alpha");
    const Attribute* b = n.attr("beta");
    params = {a ? a->f : 0.2f, b ? b->f : 0.5f};
  } else if (n.op_type == "Clip") {
    float lo = -3.4028235e38f, hi = 3.4028235e38f;
    if (const Attribute* a = n.attr("min")) lo = a->f;
    if (const Attribute* a = n.attr("max")) hi = a->f;
    for (size_t k = 1; k < 3 && k < n.inputs.size(); ++k) {
      if (n.inputs[k].empty()) continue;
      const Tensor* t = ConstantF32(g, n.inputs[k]);
      if (!t || t->numel() != 1) return false;
      (k == 1 ? lo : hi) = t->data<float>()[0];
    }
    params = {lo, hi};
  }
  return true;
}

// Channel count of a constant that broadcasts per channel against NCHW ([C,1,1] or [1,C,1,1]);
// 0 otherwise.
int64_t ChannelwiseCount(const Tensor& t) {
  const auto& s = t.shape();
  if (s.size() == 3 && s[1] == 1 && s[2] == 1) return s[0];
  if (s.size() == 4 && s[0] == 1 && s[2] == 1 && s[3] == 1) return s[1];
  return 0;
}

bool SameStaticShape(const Graph& g, const std::string& a, const std::string& b) {
  auto ia = g.value_info.find(a), ib = g.value_info.find(b);
  if (ia == g.value_info.end() || ib == g.value_info.end()) return false;
  const ValueInfo &va = ia->second, &vb = ib->second;
  if (!va.has_shape || !vb.has_shape || va.shape.size() != 4 || vb.shape.size() != 4) return false;
  for (size_t k = 0; k < 4; ++k) {
    const Dim &x = va.shape[k], &y = vb.shape[k];
    if (x.known() && y.known() && x.value == y.value) continue;
    if (!x.known() && !y.known() && !x.symbol.empty() && x.symbol == y.symbol) continue;
    return false;
  }
  return true;
}

int64_t DeclaredChannels(const Graph& g, const std::string& v) {
  auto it = g.value_info.find(v);
  if (it == g.value_info.end()) {
    for (const auto& in : g.inputs)
      if (in.name == v && in.has_shape && in.shape.size() == 4) return in.shape[1].value;
    return -1;
  }
  const ValueInfo& vi = it->second;
  if (!vi.has_shape || vi.shape.size() != 4 || vi.dtype != DataType::kFloat32) return -1;
  return vi.shape[1].value;
}

class Converter {
 public:
  Converter(Graph& g, int64_t block) : g_(g), index_(g), block_(block) {
    for (const auto& i : g.inputs) used_.insert(i.name);
    for (const auto& [k, v] : g.initializers) used_.insert(k);
    for (const auto& nd : g.nodes)
      for (const auto& o : nd.outputs) used_.insert(o);
  }

  int Run() {
    std::vector<Node> nodes = std::move(g_.nodes);
    g_.nodes.clear();
    for (size_t i = 0; i < nodes.size(); ++i) {
      Node& n = nodes[i];
      const int idx = static_cast<int>(i);
      if (!Convert(n, idx)) Keep(std::move(n));
    }
    for (const auto& o : g_.outputs) MakePlain(o.name);
    g_.nodes = std::move(out_);
    return rewrites_;
  }

 private:
  // An unconverted node: what it reads must exist in NCHW.
  void Keep(Node n) {
    for (const auto& r : NodeReads(n)) MakePlain(r);
    out_.push_back(std::move(n));
  }

  void Emit(Node n) { out_.push_back(std::move(n)); }

  // A value name used nowhere in the graph yet.
  std::string Fresh(const std::string& base) {
    std::string n = base;
    for (int k = 1; used_.count(n); ++k) n = base + "_" + std::to_string(k);
    used_.insert(n);
    return n;
  }

  void MakePlain(const std::string& v) {
    if (!missing_plain_.count(v)) return;
    missing_plain_.erase(v);
    const BlockedValue& b = blocked_.at(v);
    Node r;
    r.name = v + "/reorder_out";
    r.op_type = "ReorderOutput";
    r.domain = kHoneDomain;
    r.inputs = {b.name};
    r.outputs = {v};
    Attribute a;
    a.kind = Attribute::Kind::kInt;
    a.i = b.channels;
    r.attributes["channels"] = a;
    Emit(std::move(r));
  }

  // The blocked version of `v`, creating a ReorderInput when it exists only in NCHW.
  std::string ToBlocked(const std::string& v, int64_t channels) {
    auto it = blocked_.find(v);
    if (it != blocked_.end()) return it->second.name;
    Node r;
    r.name = v + "/reorder_in";
    r.op_type = "ReorderInput";
    r.domain = kHoneDomain;
    r.inputs = {v};
    const std::string name = Fresh(v + "_nchwc");
    r.outputs = {name};
    Attribute a;
    a.kind = Attribute::Kind::kInt;
    a.i = block_;
    r.attributes["block"] = a;
    Emit(std::move(r));
    blocked_[v] = {name, channels};  // the NCHW value stays available too
    return name;
  }

  // Emits `node` (a converted node) with a fresh blocked output standing for the original value
  // `original`; returns the blocked name.
  std::string EmitBlocked(Node node, const std::string& original, int64_t channels) {
    const std::string y = Fresh(original + "_nchwc");
    node.outputs = {y};
    Emit(std::move(node));
    Produced(original, y, channels);
    ++rewrites_;
    return y;
  }

  // Records that original value `v` now exists as blocked `name` (and not in NCHW).
  void Produced(const std::string& v, const std::string& name, int64_t channels) {
    blocked_[v] = {name, channels};
    missing_plain_.insert(v);
  }

  Node* FusedConvProducing(const std::string& blocked_name) {
    auto it = conv_of_.find(blocked_name);
    return it == conv_of_.end() ? nullptr : &out_[static_cast<size_t>(it->second)];
  }

  bool Convert(Node& n, int idx) {
    if (!n.domain.empty() && !(n.domain == kHoneDomain && n.op_type == "HardSwish")) return false;
    if (ConvEligible(g_, n, block_)) return ConvertConv(n);
    if (n.inputs.empty() || !blocked_.count(n.inputs[0])) {
      if ((n.op_type == "Add" || n.op_type == "Sub" || n.op_type == "Mul" || n.op_type == "Div") &&
          n.inputs.size() == 2 && blocked_.count(n.inputs[1]))
        return ConvertBinary(n, idx);
      return false;
    }
    if (UnaryOps().count(n.op_type)) return ConvertUnary(n, idx);
    if (n.op_type == "Add" || n.op_type == "Sub" || n.op_type == "Mul" || n.op_type == "Div")
      return n.inputs.size() == 2 && ConvertBinary(n, idx);
    if (n.op_type == "MaxPool" || n.op_type == "AveragePool" || n.op_type == "GlobalAveragePool" ||
        n.op_type == "GlobalMaxPool")
      return ConvertPool(n);
    if (n.op_type == "Concat") return ConvertConcat(n, idx);
    if (n.op_type == "Resize") return ConvertResize(n);
    return false;
  }

  // Nearest-neighbour Resize with constant scales [1, 1, sh, sw]: the same on blocked tensors
  // with scales [1, 1, sh, sw, 1].
  bool ConvertResize(Node& n) {
    const Attribute* mode = n.attr("mode");
    if (!mode || mode->s != "nearest" || n.outputs.size() != 1 || n.attr("axes")) return false;
    const size_t at = n.inputs.size() == 2 ? 1 : 2;  // opset 10: (X, scales)
    if (n.inputs.size() <= at || n.inputs.size() > 3) return false;
    if (at == 2 && !n.inputs[1].empty()) return false;  // a roi
    const Tensor* sc = ConstantF32(g_, n.inputs[at]);
    if (!sc || sc->numel() != 4 || sc->data<float>()[0] != 1 || sc->data<float>()[1] != 1)
      return false;
    Tensor s5 = Tensor::Empty(DataType::kFloat32, {5});
    for (int k = 0; k < 4; ++k) s5.data<float>()[k] = sc->data<float>()[k];
    s5.data<float>()[4] = 1;
    const std::string sname = Fresh(n.inputs[at] + "_nchwc");
    g_.initializers[sname] = std::move(s5);
    const BlockedValue in = blocked_.at(n.inputs[0]);
    Node r = n;
    r.inputs[0] = in.name;
    r.inputs[at] = sname;
    EmitBlocked(std::move(r), n.outputs[0], in.channels);
    return true;
  }

  bool ConvertConv(Node& n) {
    const Tensor* w = ConstantF32(g_, n.inputs[1]);
    const int64_t group = ConstInt(n, "group", 1);
    const int64_t c = w->dim(1) * group, m = w->dim(0);
    std::string x = n.inputs[0];
    if (blocked_.count(x)) {
      if (blocked_[x].channels != c) return false;
      x = blocked_[x].name;
    } else if (!(block_ != 0 && group == 1 && c <= 4)) {  // few channels: read NCHW directly
      x = ToBlocked(x, c);
    }
    Node f;
    f.name = n.name;
    f.op_type = "Conv";
    f.domain = kHoneDomain;
    f.attributes = n.attributes;
    Attribute a;
    a.kind = Attribute::Kind::kInt;
    a.i = block_;
    f.attributes["block"] = a;
    f.inputs = {x, n.inputs[1]};
    if (n.inputs.size() > 2 && !n.inputs[2].empty()) f.inputs.push_back(n.inputs[2]);
    const std::string y = EmitBlocked(std::move(f), n.outputs[0], m);
    conv_of_[y] = static_cast<int>(out_.size()) - 1;
    return true;
  }

  bool ConvertUnary(Node& n, int idx) {
    if (n.outputs.size() != 1) return false;
    const std::string act = UnaryOps().at(n.op_type);
    std::vector<float> params;
    const bool params_ok = ActivationParams(g_, n, params);
    if (n.op_type == "Clip" && !params_ok) return false;  // tensor-valued bounds
    const BlockedValue in = blocked_.at(n.inputs[0]);
    Node* conv = FusedConvProducing(in.name);
    if (conv && !act.empty() && !conv->attr("activation") && !conv->attr("post_linear") &&
        index_.only_read_by(n.inputs[0], idx)) {
      Attribute a;
      a.kind = Attribute::Kind::kString;
      a.s = act;
      conv->attributes["activation"] = a;
      if (!params.empty()) {
        Attribute p;
        p.kind = Attribute::Kind::kFloats;
        p.floats = params;
        conv->attributes["activation_params"] = p;
      }
      conv->name += "+" + n.op_type;
      missing_plain_.erase(n.inputs[0]);
      blocked_.erase(n.inputs[0]);
      Produced(n.outputs[0], in.name, in.channels);
      ++rewrites_;
      return true;
    }
    Node u = n;
    u.inputs[0] = in.name;
    EmitBlocked(std::move(u), n.outputs[0], in.channels);
    return true;
  }

  bool ConvertBinary(Node& n, int idx) {
    if (n.outputs.size() != 1) return false;
    const std::string &a = n.inputs[0], &b = n.inputs[1];
    const bool ab = blocked_.count(a) > 0, bb = blocked_.count(b) > 0;
    const int64_t ch = ab ? blocked_[a].channels : blocked_[b].channels;
    const bool is_div = n.op_type == "Div";
    std::string na, nb;
    if (ab && bb) {
      if (blocked_[a].channels != blocked_[b].channels) return false;
      if (is_div) return false;  // the divisor's padding channels may be zero
      if (n.op_type == "Add" && TryFuseSum(n, idx)) return true;
      na = blocked_[a].name;
      nb = blocked_[b].name;
    } else {
      const std::string& other = ab ? b : a;
      if (is_div && !ab) return false;  // x / blocked: same concern
      if (TryFuseLinear(n, idx, ab ? a : b, other, /*blocked_first=*/ab)) return true;
      if (const Tensor* c = ConstantF32(g_, other)) {
        std::string cn;
        if (c->rank() > 4) return false;  // would raise the result's rank
        if (c->numel() == 1) {
          cn = other;
        } else if (ChannelwiseCount(*c) == ch) {
          cn = BlockedConstant(other, *c, ch, is_div ? 1.f : 0.f);
        } else {
          return false;
        }
        na = ab ? blocked_[a].name : cn;
        nb = ab ? cn : blocked_[b].name;
      } else {
        if (DeclaredChannels(g_, other) != ch) return false;
        // Its padding channels would be zeros: x / 0 is not finite.
        if (is_div && block_ != 0 && ch % block_ != 0) return false;
        const std::string ob = ToBlocked(other, ch);
        na = ab ? blocked_[a].name : ob;
        nb = ab ? ob : blocked_[b].name;
      }
    }
    Node e = n;
    e.inputs = {na, nb};
    EmitBlocked(std::move(e), n.outputs[0], ch);
    return true;
  }

  // conv * s, conv / s, conv + s, conv - s (and s * conv, s + conv) with a constant scalar s: an
  // affine post-op (y = alpha * y + beta) after everything the Conv already applies.
  bool TryFuseLinear(Node& n, int idx, const std::string& x, const std::string& c, bool x_first) {
    const Tensor* ct = ConstantF32(g_, c);
    if (!ct || ct->numel() != 1 || ct->rank() > 4 || !index_.only_read_by(x, idx)) return false;
    const bool sub = n.op_type == "Sub", div = n.op_type == "Div";
    if ((sub || div) && !x_first) return false;
    Node* conv = FusedConvProducing(blocked_[x].name);
    if (!conv) return false;
    float alpha = 1, beta = 0;
    if (const Attribute* p = conv->attr("post_linear"); p && p->floats.size() == 2) {
      alpha = p->floats[0];
      beta = p->floats[1];
    }
    const float v = ct->data<float>()[0];
    if (n.op_type == "Mul" || div) {
      const float f = div ? 1.f / v : v;
      alpha *= f;
      beta *= f;
    } else {
      beta += sub ? -v : v;
    }
    Attribute p;
    p.kind = Attribute::Kind::kFloats;
    p.floats = {alpha, beta};
    conv->attributes["post_linear"] = p;
    if (conv->name.find("+Linear") == std::string::npos) conv->name += "+Linear";
    const BlockedValue bx = blocked_[x];
    missing_plain_.erase(x);
    blocked_.erase(x);
    Produced(n.outputs[0], bx.name, bx.channels);
    ++rewrites_;
    return true;
  }

  // Add(conv, z) with z of the same shape: z becomes the Conv's Sum input.
  bool TryFuseSum(Node& n, int idx) {
    for (int k = 0; k < 2; ++k) {
      const std::string& x = n.inputs[static_cast<size_t>(k)];
      const std::string& z = n.inputs[static_cast<size_t>(1 - k)];
      if (x == z) continue;
      Node* conv = FusedConvProducing(blocked_[x].name);
      if (!conv || conv->attr("activation") || conv->attr("post_linear") || conv->inputs.size() > 3)
        continue;
      if (!index_.only_read_by(x, idx) || !SameStaticShape(g_, x, z)) continue;
      if (conv->inputs.size() == 2) conv->inputs.push_back("");
      conv->inputs.push_back(blocked_[z].name);
      conv->name += "+Add";
      const BlockedValue bx = blocked_[x];
      missing_plain_.erase(x);
      blocked_.erase(x);
      Produced(n.outputs[0], bx.name, bx.channels);
      ++rewrites_;
      return true;
    }
    return false;
  }

  std::string BlockedConstant(const std::string& name, const Tensor& c, int64_t ch, float pad) {
    const std::string key = name + "#" + std::to_string(pad);
    auto it = constants_.find(key);
    if (it != constants_.end()) return it->second;
    const int64_t b = block_ == 0 ? ch : block_, cb = (ch + b - 1) / b;
    Tensor t = Tensor::Empty(DataType::kFloat32, {1, cb, 1, 1, b});
    float* p = t.data<float>();
    for (int64_t k = 0; k < cb * b; ++k) p[k] = k < ch ? c.data<float>()[k] : pad;
    const std::string n = Fresh(name + "_nchwc");
    g_.initializers[n] = std::move(t);
    constants_[key] = n;
    return n;
  }

  bool ConvertPool(Node& n) {
    if (n.outputs.size() != 1 || n.inputs.size() != 1) return false;
    if (const Attribute* a = n.attr("kernel_shape"); a && a->ints.size() != 2) return false;
    if (const Attribute* a = n.attr("dilations"))
      for (auto d : a->ints)
        if (d != 1) return false;
    if (ConstInt(n, "storage_order", 0) != 0) return false;
    if (n.op_type == "MaxPool" || n.op_type == "AveragePool") {
      const Attribute* k = n.attr("kernel_shape");
      if (!k) return false;
      if (const Attribute* s = n.attr("strides"); s && s->ints.size() != 2) return false;
      if (const Attribute* p = n.attr("pads"); p && p->ints.size() != 4) return false;
    }
    const BlockedValue in = blocked_.at(n.inputs[0]);
    Node p = n;
    p.domain = kHoneDomain;
    p.inputs = {in.name};
    EmitBlocked(std::move(p), n.outputs[0], in.channels);
    return true;
  }

  bool ConvertConcat(Node& n, int idx) {
    const int64_t axis = ConstInt(n, "axis", 1);
    if ((axis != 1 && axis != -3) || n.outputs.size() != 1) return false;
    int64_t total = 0;
    for (const auto& in : n.inputs) {
      auto it = blocked_.find(in);
      if (it == blocked_.end() || (block_ != 0 && it->second.channels % block_ != 0)) return false;
      total += it->second.channels;
    }
    Node c = n;
    for (auto& in : c.inputs) in = blocked_.at(in).name;
    c.attributes["axis"].kind = Attribute::Kind::kInt;
    c.attributes["axis"].i = block_ == 0 ? 4 : 1;  // NHWC: channels are the last axis
    const std::string y = EmitBlocked(std::move(c), n.outputs[0], total);
    if (block_ != 0) PlaceIntoConcat(n, idx, y, total);
    return true;
  }

  // Channel blocks of a batch-1 blocked Concat are contiguous: the Convs producing its inputs
  // write straight into the Concat's output (concat_* attributes; ComputeContext::SharedBuffer),
  // and the Concat kernel finds its inputs already in place. Any input not from such a Conv
  // leaves the copy as it is.
  void PlaceIntoConcat(const Node& n, int idx, const std::string& y, int64_t total) {
    std::set<std::string> seen;
    std::vector<Node*> convs;
    for (const auto& in : n.inputs) {
      Node* conv = FusedConvProducing(blocked_.at(in).name);
      if (!conv || !seen.insert(in).second || !index_.only_read_by(in, idx) ||
          conv->attr("concat_output"))
        return;
      convs.push_back(conv);
    }
    int64_t offset = 0;
    for (size_t k = 0; k < convs.size(); ++k) {
      Attribute out, off, blocks;
      out.kind = Attribute::Kind::kString;
      out.s = y;
      off.kind = blocks.kind = Attribute::Kind::kInt;
      off.i = offset;
      blocks.i = total / block_;
      convs[k]->attributes["concat_output"] = out;
      convs[k]->attributes["concat_block_offset"] = off;
      convs[k]->attributes["concat_blocks"] = blocks;
      offset += blocked_.at(n.inputs[k]).channels / block_;
    }
  }

  Graph& g_;
  GraphIndex index_;  // of the original graph: who reads each original value
  int64_t block_;
  std::vector<Node> out_;
  std::map<std::string, BlockedValue> blocked_;  // original value -> its blocked version
  std::set<std::string> missing_plain_;          // blocked-only values (no NCHW version yet)
  std::map<std::string, int> conv_of_;           // blocked value -> index of its com.hone Conv
  std::map<std::string, std::string> constants_;
  std::set<std::string> used_;  // value names taken
  int rewrites_ = 0;
};

}  // namespace

int64_t PreferredBlock(const Graph& graph, int64_t simd_block) {
  double weight = 0, weighted_channels = 0;
  for (const auto& n : graph.nodes) {
    if (n.op_type != "Conv" || !n.domain.empty() || n.inputs.size() < 2) continue;
    const Tensor* w = ConstantF32(graph, n.inputs[1]);
    if (!w || w->rank() != 4) continue;
    const int64_t group = ConstInt(n, "group", 1);
    if (group > 1 && w->dim(1) == 1) return simd_block;  // depthwise
    // 1x1 convolutions run about as fast either way; spatial ones decide. Weighted by FLOPs
    // (parameters x output pixels where shape inference knows them).
    if (w->dim(2) * w->dim(3) == 1) continue;
    double flops = static_cast<double>(w->numel());
    auto it = graph.value_info.find(n.outputs[0]);
    if (it != graph.value_info.end() && it->second.has_shape && it->second.shape.size() == 4 &&
        it->second.shape[2].known() && it->second.shape[3].known())
      flops *= static_cast<double>(it->second.shape[2].value * it->second.shape[3].value);
    weight += flops;
    weighted_channels += flops * static_cast<double>(std::min(w->dim(0), w->dim(1)));
  }
  // oneDNN's NHWC (brgemm) kernels beat its blocked ones on wide spatial convolutions (ResNet:
  // 64-512 channels, ~15% faster) and lose on narrow ones (16-32 channels: ~25% slower; a
  // 3-channel first layer reads NCHW directly only in blocked form).
  return weight > 0 && weighted_channels / weight >= 48 ? 0 : simd_block;
}

StatusOr<int> ConvertToBlockedLayout(Graph& graph, int64_t block) {
  if (block != 0 && block != 8 && block != 16)
    return InvalidArgument("channel block must be 8, 16 or 0 (NHWC), not {}", block);
  bool any = false;
  for (const auto& n : graph.nodes) any = any || ConvEligible(graph, n, block);
  if (!any) return 0;
  Converter c(graph, block);
  const int rewrites = c.Run();
  if (!TopoSort(graph)) return Internal("the blocked-layout rewrite produced an unordered graph");
  return rewrites;
}

}  // namespace hone
