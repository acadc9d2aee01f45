// Helpers shared by the graph passes: who produces and who reads each value, unique names,
// node removal. Passes rewrite one Graph (not its subgraphs); a value read inside a node's
// subgraph counts as a use by that node.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace hone {

// The internal op domain of fused and layout-specific ops that passes create
// (kernels in kernels/cpu). `hone optimize` writes it with opset version 1.
inline constexpr const char* kHoneDomain = "com.hone";

class GraphIndex {
 public:
  explicit GraphIndex(const Graph& g);
  // Index of the node producing `value`, or -1 (graph input, initializer, or unknown).
  int producer(const std::string& value) const;
  // Indices of the nodes reading `value` (a node reading it twice appears twice).
  const std::vector<int>& consumers(const std::string& value) const;
  bool is_graph_output(const std::string& value) const { return outputs_.count(value) > 0; }
  // Readers plus one if it is a graph output.
  int use_count(const std::string& value) const;
  // True when `value` has exactly one reader, node `reader`, and is not a graph output: a pass
  // may then fold the producer into the reader.
  bool only_read_by(const std::string& value, int reader) const;

 private:
  std::map<std::string, int> producer_;
  std::map<std::string, std::vector<int>> consumers_;
  std::set<std::string> outputs_;
};

// Every value a node reads: its inputs and what its subgraphs read from enclosing scopes.
std::vector<std::string> NodeReads(const Node& node);
// Reorders the nodes topologically, keeping the given order where it already is one; false (and
// nothing changed) when the graph has a cycle or reads a value nothing defines.
bool TopoSort(Graph& g);
// Removes the nodes whose flag is set, keeping the order of the others.
void EraseNodes(Graph& g, const std::vector<bool>& dead);
// Flags `nodes` (all but `keep`) in `dead` and drops their outputs' declared types: what a fusion
// does to the nodes its fused node replaces (EraseNodes removes them afterwards).
void RetireNodes(Graph& g, const std::vector<int>& nodes, int keep, std::vector<bool>& dead);
// Removes nodes none of whose outputs is used (transitively); returns how many.
int RemoveDeadNodes(Graph& g);
// Removes initializers no node (or subgraph) reads and that are not graph inputs or outputs.
void RemoveUnusedInitializers(Graph& g);
// A value name not yet used in the graph, derived from `base`.
std::string FreshName(const Graph& g, const std::string& base);
// Replaces every read of `from` by `to` in the graph's nodes (not graph outputs).
void RenameUses(Graph& g, const std::string& from, const std::string& to);
// The float32 initializer `name` when it is constant (see Graph::constant), else nullptr.
const Tensor* ConstantF32(const Graph& g, const std::string& name);

}  // namespace hone
