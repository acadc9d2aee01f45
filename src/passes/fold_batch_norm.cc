#include "passes/fold_batch_norm.h"

#include <cmath>

#include "passes/graph_util.h"

namespace hone {

StatusOr<int> FoldBatchNormIntoConv(Graph& graph) {
  int folded = 0;
  std::vector<bool> dead(graph.nodes.size(), false);
  GraphIndex index(graph);
  for (size_t bi = 0; bi < graph.nodes.size(); ++bi) {
    const Node& bn = graph.nodes[bi];
    if (bn.op_type != "BatchNormalization" || !bn.domain.empty() || bn.inputs.size() != 5) continue;
    if (bn.outputs.empty() || bn.outputs[0].empty()) continue;
    bool extra_outputs = false;
    for (size_t k = 1; k < bn.outputs.size(); ++k) extra_outputs |= !bn.outputs[k].empty();
    if (extra_outputs) continue;
    if (const Attribute* a = bn.attr("training_mode"); a && a->i != 0) continue;
    const int ci = index.producer(bn.inputs[0]);
    if (ci < 0 || dead[ci]) continue;
    Node& conv = graph.nodes[ci];
    if (conv.op_type != "Conv" || !conv.domain.empty() || conv.outputs.size() != 1) continue;
    if (!index.only_read_by(conv.outputs[0], static_cast<int>(bi))) continue;
    const Tensor* w = ConstantF32(graph, conv.inputs[1]);
    const Tensor* b = conv.inputs.size() > 2 && !conv.inputs[2].empty()
                          ? ConstantF32(graph, conv.inputs[2])
                          : nullptr;
    if (!w || w->rank() < 3) continue;
    if (conv.inputs.size() > 2 && !conv.inputs[2].empty() && !b) continue;
    const int64_t m = w->dim(0);
    const Tensor* gamma = ConstantF32(graph, bn.inputs[1]);
    const Tensor* beta = ConstantF32(graph, bn.inputs[2]);
    const Tensor* mean = ConstantF32(graph, bn.inputs[3]);
    const Tensor* var = ConstantF32(graph, bn.inputs[4]);
    if (!gamma || !beta || !mean || !var) continue;
    if (gamma->numel() != m || beta->numel() != m || mean->numel() != m || var->numel() != m)
      continue;
    if (b && b->numel() != m) continue;
    const Attribute* eps_attr = bn.attr("epsilon");
    const double eps = eps_attr ? eps_attr->f : 1e-5;

    Tensor nw = Tensor::Empty(DataType::kFloat32, w->shape());
    Tensor nb = Tensor::Empty(DataType::kFloat32, {m});
    const int64_t per = w->numel() / m;
    for (int64_t o = 0; o < m; ++o) {
      const double s = gamma->data<float>()[o] / std::sqrt(var->data<float>()[o] + eps);
      const float* src = w->data<float>() + o * per;
      float* dst = nw.data<float>() + o * per;
      for (int64_t k = 0; k < per; ++k) dst[k] = static_cast<float>(src[k] * s);
      const double bias = b ? b->data<float>()[o] : 0.0;
      nb.data<float>()[o] =
          static_cast<float>((bias - mean->data<float>()[o]) * s + beta->data<float>()[o]);
    }
    const std::string wname = FreshName(graph, conv.inputs[1] + "_bnfold");
    graph.initializers[wname] = std::move(nw);
    const std::string bname = FreshName(graph, conv.outputs[0] + "_bnfold_bias");
    graph.initializers[bname] = std::move(nb);
    conv.inputs.resize(3);
    conv.inputs[1] = wname;
    conv.inputs[2] = bname;
    conv.outputs[0] = bn.outputs[0];
    if (conv.name.empty() || bn.name.empty()) conv.name += bn.name;
    graph.value_info.erase(bn.inputs[0]);
    dead[bi] = true;
    ++folded;
  }
  if (folded) EraseNodes(graph, dead);
  return folded;
}

}  // namespace hone
