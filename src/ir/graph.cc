#include "ir/graph.h"

namespace hone {
namespace {

// Names `g` reads from its enclosing scopes (nested subgraphs included).
void CollectFreeNames(const Graph& g, std::set<std::string>& out) {
  std::set<std::string> local;
  for (const auto& i : g.inputs) local.insert(i.name);
  for (const auto& [k, v] : g.initializers) local.insert(k);
  for (const auto& nd : g.nodes) {
    for (const auto& i : nd.inputs)
      if (!i.empty() && !local.count(i)) out.insert(i);
    for (const auto& name : SubgraphFreeNames(nd))
      if (!local.count(name)) out.insert(name);
    for (const auto& o : nd.outputs) local.insert(o);
  }
  for (const auto& o : g.outputs)
    if (!local.count(o.name)) out.insert(o.name);
}

}  // namespace

std::set<std::string> SubgraphFreeNames(const Node& node) {
  std::set<std::string> out;
  for (const auto& [k, a] : node.attributes) {
    if (a.g) CollectFreeNames(*a.g, out);
    for (const auto& sg : a.graphs) CollectFreeNames(*sg, out);
  }
  return out;
}

}  // namespace hone
