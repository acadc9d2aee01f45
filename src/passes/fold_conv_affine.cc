#include "passes/fold_conv_affine.h"

#include "passes/graph_util.h"
#include "passes/pattern_util.h"

namespace hone {
namespace {

// Per-output-channel values of constant `c` for a Conv with `m` outputs: numel 1 broadcasts;
// [M,1,1] and [1,M,1,1] are per channel. Empty when `c` broadcasts any other way.
std::vector<float> PerChannel(const Tensor& c, int64_t m) {
  const auto& s = c.shape();
  const bool per_channel = (s.size() == 3 && s[0] == m && s[1] == 1 && s[2] == 1) ||
                           (s.size() == 4 && s[0] == 1 && s[1] == m && s[2] == 1 && s[3] == 1);
  if (c.numel() == 1 && c.rank() <= 4)  // a scalar of higher rank would raise the output's rank
    return std::vector<float>(static_cast<size_t>(m), c.data<float>()[0]);
  if (!per_channel) return {};
  return std::vector<float>(c.data<float>(), c.data<float>() + m);
}

// One sweep; returns how many nodes were folded.
int Sweep(Graph& g) {
  GraphIndex index(g);
  std::vector<bool> dead(g.nodes.size(), false);
  std::vector<bool> touched(g.nodes.size(), false);  // a Conv rewritten in this sweep
  int folded = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const bool mul = IsOp(n, "Mul"), div = IsOp(n, "Div"), add = IsOp(n, "Add"),
               sub = IsOp(n, "Sub");
    if (!(mul || div || add || sub) || n.inputs.size() != 2 || n.outputs.size() != 1) continue;
    for (int k = 0; k < 2; ++k) {
      if ((div || sub) && k == 1) break;  // only conv / c and conv - c
      const std::string& x = n.inputs[static_cast<size_t>(k)];
      const std::string& c = n.inputs[static_cast<size_t>(1 - k)];
      const int ci = index.producer(x);
      if (ci < 0 || touched[static_cast<size_t>(ci)] || dead[static_cast<size_t>(ci)]) continue;
      Node& conv = g.nodes[static_cast<size_t>(ci)];
      if (!IsOp(conv, "Conv") || conv.outputs.size() != 1 || conv.inputs.size() < 2) continue;
      if (SoleReader(index, x) != static_cast<int>(i) || x == c) continue;
      const Tensor* w = ConstantF32(g, conv.inputs[1]);
      const bool has_b = conv.inputs.size() > 2 && !conv.inputs[2].empty();
      const Tensor* b = has_b ? ConstantF32(g, conv.inputs[2]) : nullptr;
      const Tensor* ct = ConstantF32(g, c);
      if (!w || w->rank() != 4 || (has_b && !b) || !ct) continue;
      const int64_t m = w->dim(0);
      if (b && b->numel() != m) continue;
      std::vector<float> v = PerChannel(*ct, m);
      if (v.empty()) continue;
      Tensor nw = w->Clone();
      Tensor nb = Tensor::Empty(DataType::kFloat32, {m});
      const int64_t per = w->numel() / m;
      for (int64_t o = 0; o < m; ++o) {
        float bias = b ? b->data<float>()[o] : 0.f;
        const float s = v[static_cast<size_t>(o)];
        if (mul || div) {
          const float f = mul ? s : 1.f / s;
          float* row = nw.data<float>() + o * per;
          for (int64_t j = 0; j < per; ++j) row[j] *= f;
          bias *= f;
        } else {
          bias += add ? s : -s;
        }
        nb.data<float>()[o] = bias;
      }
      const std::string wn = FreshName(g, conv.inputs[1] + "_affine");
      g.initializers[wn] = std::move(nw);
      const std::string bn = FreshName(g, conv.outputs[0] + "_affine_bias");
      g.initializers[bn] = std::move(nb);
      conv.inputs.resize(3);
      conv.inputs[1] = wn;
      conv.inputs[2] = bn;
      g.value_info.erase(conv.outputs[0]);
      conv.outputs[0] = n.outputs[0];
      touched[static_cast<size_t>(ci)] = true;
      dead[i] = true;
      ++folded;
      break;
    }
  }
  if (folded) EraseNodes(g, dead);
  return folded;
}

}  // namespace

StatusOr<int> FoldAffineIntoConv(Graph& graph) {
  int total = 0;
  for (int n = Sweep(graph); n > 0; n = Sweep(graph)) total += n;
  return total;
}

}  // namespace hone
