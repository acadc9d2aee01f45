#include "passes/graph_util.h"

#include <functional>

namespace hone {
std::vector<std::string> NodeReads(const Node& nd) {
  std::vector<std::string> r;
  for (const auto& i : nd.inputs)
    if (!i.empty()) r.push_back(i);
  const std::set<std::string> inner = SubgraphFreeNames(nd);
  r.insert(r.end(), inner.begin(), inner.end());
  return r;
}

namespace {

const std::vector<int> kNone;

}  // namespace

bool TopoSort(Graph& g) {
  const size_t n = g.nodes.size();
  std::map<std::string, int> producer;
  for (size_t i = 0; i < n; ++i)
    for (const auto& o : g.nodes[i].outputs)
      if (!o.empty()) producer[o] = static_cast<int>(i);
  // Reads of values no node produces (inputs, initializers, outer scopes) are always ready.
  std::vector<std::vector<int>> readers(n);
  std::vector<int> waiting(n, 0);
  for (size_t i = 0; i < n; ++i)
    for (const auto& r : NodeReads(g.nodes[i])) {
      auto it = producer.find(r);
      if (it == producer.end()) continue;
      readers[static_cast<size_t>(it->second)].push_back(static_cast<int>(i));
      ++waiting[i];
    }
  std::set<int> ready;  // by original position, so an already sorted graph keeps its order
  for (size_t i = 0; i < n; ++i)
    if (waiting[i] == 0) ready.insert(static_cast<int>(i));
  std::vector<int> order;
  order.reserve(n);
  while (!ready.empty()) {
    const int i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(i);
    for (int r : readers[static_cast<size_t>(i)])
      if (--waiting[static_cast<size_t>(r)] == 0) ready.insert(r);
  }
  if (order.size() != n) return false;
  std::vector<Node> sorted;
  sorted.reserve(n);
  for (int i : order) sorted.push_back(std::move(g.nodes[static_cast<size_t>(i)]));
  g.nodes = std::move(sorted);
  return true;
}

GraphIndex::GraphIndex(const Graph& g) {
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const auto& o : g.nodes[i].outputs)
      if (!o.empty()) producer_[o] = static_cast<int>(i);
    for (const auto& r : NodeReads(g.nodes[i])) consumers_[r].push_back(static_cast<int>(i));
  }
  for (const auto& o : g.outputs) outputs_.insert(o.name);
}

int GraphIndex::producer(const std::string& value) const {
  auto it = producer_.find(value);
  return it == producer_.end() ? -1 : it->second;
}

const std::vector<int>& GraphIndex::consumers(const std::string& value) const {
  auto it = consumers_.find(value);
  return it == consumers_.end() ? kNone : it->second;
}

int GraphIndex::use_count(const std::string& value) const {
  return static_cast<int>(consumers(value).size()) + (is_graph_output(value) ? 1 : 0);
}

bool GraphIndex::only_read_by(const std::string& value, int reader) const {
  const auto& c = consumers(value);
  return !is_graph_output(value) && c.size() == 1 && c[0] == reader;
}

void EraseNodes(Graph& g, const std::vector<bool>& dead) {
  std::vector<Node> kept;
  kept.reserve(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (i >= dead.size() || !dead[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
}

void RetireNodes(Graph& g, const std::vector<int>& nodes, int keep, std::vector<bool>& dead) {
  for (int n : nodes) {
    if (n == keep) continue;
    dead[static_cast<size_t>(n)] = true;
    for (const auto& o : g.nodes[static_cast<size_t>(n)].outputs) g.value_info.erase(o);
  }
}

int RemoveDeadNodes(Graph& g) {
  std::set<std::string> live;
  for (const auto& o : g.outputs) live.insert(o.name);
  std::vector<bool> dead(g.nodes.size(), true);
  for (size_t k = g.nodes.size(); k-- > 0;) {  // nodes are (mostly) topologically ordered
    bool used = false;
    for (const auto& o : g.nodes[k].outputs) used = used || (!o.empty() && live.count(o));
    if (!used) continue;
    dead[k] = false;
    for (const auto& r : NodeReads(g.nodes[k])) live.insert(r);
  }
  // A producer listed after its reader (out-of-order exporters) was judged before the reader:
  // iterate until nothing changes.
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t k = 0; k < g.nodes.size(); ++k) {
      if (!dead[k]) continue;
      bool used = false;
      for (const auto& o : g.nodes[k].outputs) used = used || (!o.empty() && live.count(o));
      if (!used) continue;
      dead[k] = false;
      changed = true;
      for (const auto& r : NodeReads(g.nodes[k])) live.insert(r);
    }
  }
  int removed = 0;
  for (bool d : dead) removed += d ? 1 : 0;
  if (removed) EraseNodes(g, dead);
  return removed;
}

void RemoveUnusedInitializers(Graph& g) {
  std::set<std::string> keep;
  for (const auto& i : g.inputs) keep.insert(i.name);
  for (const auto& o : g.outputs) keep.insert(o.name);
  for (const auto& nd : g.nodes)
    for (const auto& r : NodeReads(nd)) keep.insert(r);
  for (auto it = g.initializers.begin(); it != g.initializers.end();)
    it = keep.count(it->first) ? std::next(it) : g.initializers.erase(it);
}

std::string FreshName(const Graph& g, const std::string& base) {
  std::set<std::string> used;
  for (const auto& i : g.inputs) used.insert(i.name);
  for (const auto& [k, v] : g.initializers) used.insert(k);
  for (const auto& nd : g.nodes)
    for (const auto& o : nd.outputs) used.insert(o);
  if (!used.count(base)) return base;
  for (int k = 1;; ++k) {
    std::string n = base + "_" + std::to_string(k);
    if (!used.count(n)) return n;
  }
}

void RenameUses(Graph& g, const std::string& from, const std::string& to) {
  for (auto& nd : g.nodes)
    for (auto& i : nd.inputs)
      if (i == from) i = to;
}

const Tensor* ConstantF32(const Graph& g, const std::string& name) {
  const Tensor* t = g.constant(name);
  return t && t->dtype() == DataType::kFloat32 ? t : nullptr;
}

}  // namespace hone
