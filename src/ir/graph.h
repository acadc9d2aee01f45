// The in-memory model: Model -> Graph -> Node, values named by strings as in ONNX.
// Built by ir/onnx_import from a ModelProto; read by the runtime's planner.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "hone/session.h"
#include "hone/tensor.h"

namespace hone {

struct Graph;

struct Attribute {
  enum class Kind {
    kFloat,
    kInt,
    kString,
    kTensor,
    kGraph,
    kFloats,
    kInts,
    kStrings,
    kTensors,
    kGraphs,
    kTypeProto,
    kUnknown
  };
  Kind kind = Kind::kUnknown;
  float f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  // Subgraphs are shared between copies of a Node; the Model owns them through these pointers.
  std::shared_ptr<const Graph> g;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::vector<std::shared_ptr<const Graph>> graphs;
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;                // "" for ai.onnx
  std::vector<std::string> inputs;   // "" = omitted optional input
  std::vector<std::string> outputs;  // "" = unused optional output
  std::map<std::string, Attribute> attributes;

  const Attribute* attr(const std::string& key) const {
    auto it = attributes.find(key);
    return it == attributes.end() ? nullptr : &it->second;
  }
  // "node "conv_3" (Conv)" for error messages.
  std::string Describe() const;
};

struct Graph {
  std::string name;
  std::vector<ValueInfo> inputs;  // includes inputs that also have initializers
  std::vector<ValueInfo> outputs;
  std::map<std::string, ValueInfo> value_info;  // declared/inferred types of intermediate values
  std::map<std::string, Tensor> initializers;
  std::vector<Node> nodes;

  // The initializer `name` when it is constant for the session: not also a graph input (those
  // can be overridden at run time). nullptr otherwise.
  const Tensor* constant(const std::string& name) const {
    auto it = initializers.find(name);
    if (it == initializers.end()) return nullptr;
    for (const auto& in : inputs)
      if (in.name == name) return nullptr;
    return &it->second;
  }
};

// Names a node's subgraphs (If/Loop/Scan bodies, any depth) read from enclosing scopes: used
// there but defined by none of their inputs, initializers or nodes.
std::set<std::string> SubgraphFreeNames(const Node& node);

struct Model {
  int64_t ir_version = 0;
  std::map<std::string, int64_t> opsets;  // "" = ai.onnx
  std::string producer_name;
  std::string producer_version;
  Graph graph;
};

}  // namespace hone
