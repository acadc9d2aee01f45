#include "passes/constants_to_initializers.h"

#include "core/errors.h"

namespace hone {
namespace {

// The value of a Constant node (ONNX Constant 1-22), or an undefined tensor when the node uses
// a form this pass leaves to the kernel.
Tensor ConstantValue(const Node& n) {
  if (const Attribute* a = n.attr("value"); a && a->t.defined()) return a->t;
  if (const Attribute* a = n.attr("value_float")) {
    Tensor t = Tensor::Empty(DataType::kFloat32, {});
    t.data<float>()[0] = a->f;
    return t;
  }
  if (const Attribute* a = n.attr("value_int")) {
    Tensor t = Tensor::Empty(DataType::kInt64, {});
    t.data<int64_t>()[0] = a->i;
    return t;
  }
  if (const Attribute* a = n.attr("value_floats")) {
    Tensor t = Tensor::Empty(DataType::kFloat32, {static_cast<int64_t>(a->floats.size())});
    std::copy(a->floats.begin(), a->floats.end(), t.data<float>());
    return t;
  }
  if (const Attribute* a = n.attr("value_ints")) {
    Tensor t = Tensor::Empty(DataType::kInt64, {static_cast<int64_t>(a->ints.size())});
    std::copy(a->ints.begin(), a->ints.end(), t.data<int64_t>());
    return t;
  }
  return Tensor();
}

}  // namespace

StatusOr<int> ConstantsToInitializers(Graph& graph) {
  int folded = 0;
  std::vector<Node> kept;
  kept.reserve(graph.nodes.size());
  for (auto& n : graph.nodes) {
    if (n.op_type == "Constant" && n.domain.empty() && n.inputs.empty() && n.outputs.size() == 1 &&
        !n.outputs[0].empty() && n.attributes.size() == 1) {
      Tensor t = ConstantValue(n);
      if (t.defined()) {
        if (graph.initializers.count(n.outputs[0]))
          return InvalidModel("{}: output '{}' is already an initializer", n.Describe(),
                              n.outputs[0]);
        graph.initializers[n.outputs[0]] = std::move(t);
        ++folded;
        continue;
      }
    }
    // Identity of a constant (PyTorch exports shared weights this way): the same constant.
    if (n.op_type == "Identity" && n.domain.empty() && n.inputs.size() == 1 &&
        n.outputs.size() == 1 && !n.outputs[0].empty() && !graph.initializers.count(n.outputs[0])) {
      if (const Tensor* c = graph.constant(n.inputs[0])) {
        graph.initializers[n.outputs[0]] = *c;  // shares the bytes
        ++folded;
        continue;
      }
    }
    kept.push_back(std::move(n));
  }
  graph.nodes = std::move(kept);
  return folded;
}

}  // namespace hone
