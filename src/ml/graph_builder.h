// A few lines of help for src/ml's exporters, which append standard ONNX nodes (and ai.onnx.ml
// ones) to a Graph: unique value names, initializers from vectors, nodes with attributes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"

namespace hone::ml {

// The declaration of a graph input or output with a batch dimension "N": shape [N] when
// `columns` < 0, else [N, columns].
inline ValueInfo BatchTensor(const std::string& name, DataType dtype, int64_t columns = -1) {
  ValueInfo v;
  v.name = name;
  v.dtype = dtype;
  v.has_shape = true;
  v.shape = {Dim{-1, "N"}};
  if (columns >= 0) v.shape.push_back(Dim{columns, ""});
  return v;
}

class GraphBuilder {
 public:
  // Names start with `prefix` ("pre_", "logreg_", ...) so that parts built apart never collide.
  GraphBuilder(Graph& g, std::string prefix) : g_(g), prefix_(std::move(prefix)) {}

  // A fresh value name.
  std::string Name(const std::string& what) {
    return prefix_ + what + "_" + std::to_string(next_++);
  }
  std::string Floats(const std::string& what, const std::vector<float>& v, Shape shape) {
    Tensor t = Tensor::Uninitialized(DataType::kFloat32, std::move(shape));
    std::copy(v.begin(), v.end(), t.data<float>());
    return Init(what, std::move(t));
  }
  std::string Ints(const std::string& what, const std::vector<int64_t>& v, Shape shape) {
    Tensor t = Tensor::Uninitialized(DataType::kInt64, std::move(shape));
    std::copy(v.begin(), v.end(), t.data<int64_t>());
    return Init(what, std::move(t));
  }
  std::string Strings(const std::string& what, const std::vector<std::string>& v, Shape shape) {
    Tensor t = Tensor::Empty(DataType::kString, std::move(shape));
    std::copy(v.begin(), v.end(), t.data<std::string>());
    return Init(what, std::move(t));
  }
  std::string Init(const std::string& what, Tensor t) {
    const std::string name = Name(what);
    g_.initializers[name] = std::move(t);
    return name;
  }
  // Appends a node; returns it so the caller can add attributes. Outputs must be named.
  Node& Add(const std::string& op, std::vector<std::string> inputs,
            std::vector<std::string> outputs, const std::string& domain = "") {
    Node n;
    n.name = Name(op);
    n.op_type = op;
    n.domain = domain;
    n.inputs = std::move(inputs);
    n.outputs = std::move(outputs);
    g_.nodes.push_back(std::move(n));
    return g_.nodes.back();
  }
  // One-output node whose output gets a fresh name; returns that name.
  std::string Op(const std::string& op, std::vector<std::string> inputs) {
    const std::string out = Name(op);
    Add(op, std::move(inputs), {out});
    return out;
  }

  // A classifier's head: `scores` (float32 [N, columns] logits) -> `probabilities` float32
  // [N, classes] and `index` int64 [N] (ArgMax, the first of equal ones). One column (two
  // classes, the logit of the second): Sigmoid, with 1 - p for the first; more: Softmax.
  void ClassHead(const std::string& scores, bool one_column, const std::string& probabilities,
                 const std::string& index) {
    if (one_column) {
      const std::string p1 = Op("Sigmoid", {scores});
      const std::string p0 = Op("Sub", {Floats("one", {1.f}, {}), p1});
      SetInt(Add("Concat", {p0, p1}, {probabilities}), "axis", 1);
    } else {
      SetInt(Add("Softmax", {scores}, {probabilities}), "axis", 1);
    }
    Node& arg = Add("ArgMax", {probabilities}, {index});
    SetInt(arg, "axis", 1);
    SetInt(arg, "keepdims", 0);
  }

  static void SetInt(Node& n, const std::string& k, int64_t v) {
    Attribute a;
    a.kind = Attribute::Kind::kInt;
    a.i = v;
    n.attributes[k] = std::move(a);
  }
  static void SetInts(Node& n, const std::string& k, std::vector<int64_t> v) {
    Attribute a;
    a.kind = Attribute::Kind::kInts;
    a.ints = std::move(v);
    n.attributes[k] = std::move(a);
  }
  static void SetFloats(Node& n, const std::string& k, std::vector<float> v) {
    Attribute a;
    a.kind = Attribute::Kind::kFloats;
    a.floats = std::move(v);
    n.attributes[k] = std::move(a);
  }
  static void SetString(Node& n, const std::string& k, std::string v) {
    Attribute a;
    a.kind = Attribute::Kind::kString;
    a.s = std::move(v);
    n.attributes[k] = std::move(a);
  }
  static void SetStrings(Node& n, const std::string& k, std::vector<std::string> v) {
    Attribute a;
    a.kind = Attribute::Kind::kStrings;
    a.strings = std::move(v);
    n.attributes[k] = std::move(a);
  }

 private:
  Graph& g_;
  std::string prefix_;
  int next_ = 0;
};

}  // namespace hone::ml
