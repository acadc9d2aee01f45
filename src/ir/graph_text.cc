#include "ir/graph_text.h"

#include <fmt/format.h>

namespace hone {
namespace {

std::string TypeOf(const ValueInfo& v) {
  if (v.dtype == DataType::kUndefined) return "";
  return std::string(DataTypeName(v.dtype)) + DimsToString(v);
}

template <typename T>
std::string List(const std::vector<T>& v, size_t max = 8) {
  std::string s = "[";
  for (size_t i = 0; i < v.size() && i < max; ++i) s += (i ? "," : "") + fmt::format("{}", v[i]);
  if (v.size() > max) s += fmt::format(",... {} values", v.size());
  return s + "]";
}

std::string AttrText(const Attribute& a) {
  using K = Attribute::Kind;
  switch (a.kind) {
    case K::kFloat:
      return fmt::format("{}", a.f);
    case K::kInt:
      return fmt::format("{}", a.i);
    case K::kString:
      return "\"" + a.s + "\"";
    case K::kTensor:
      return fmt::format("tensor {}{}", DataTypeName(a.t.dtype()), ShapeToString(a.t.shape()));
    case K::kGraph:
      return fmt::format("graph({} nodes)", a.g->nodes.size());
    case K::kFloats:
      return List(a.floats);
    case K::kInts:
      return List(a.ints);
    case K::kStrings:
      return List(a.strings);
    case K::kTensors:
      return fmt::format("{} tensors", a.tensors.size());
    case K::kGraphs:
      return fmt::format("{} graphs", a.graphs.size());
    default:
      return "?";
  }
}

void Append(const Graph& g, const std::string& indent, std::string& out) {
  auto typed = [&](const std::string& name) {
    auto it = g.value_info.find(name);
    std::string t = it == g.value_info.end() ? "" : TypeOf(it->second);
    return t.empty() ? name : name + ":" + t;
  };
  out += fmt::format("{}graph \"{}\"\n", indent, g.name);
  for (const auto& v : g.inputs)
    if (!g.initializers.count(v.name))
      out += fmt::format("{}  input  {} {}\n", indent, v.name, TypeOf(v));
  for (const auto& v : g.outputs)
    out += fmt::format("{}  output {} {}\n", indent, v.name, TypeOf(v));
  int64_t bytes = 0;
  for (const auto& [k, t] : g.initializers) bytes += static_cast<int64_t>(t.nbytes());
  out += fmt::format("{}  {} initializers ({:.2f} MB), {} nodes\n", indent, g.initializers.size(),
                     static_cast<double>(bytes) / 1e6, g.nodes.size());
  for (const auto& n : g.nodes) {
    std::string outs, ins, attrs;
    for (const auto& o : n.outputs) outs += (outs.empty() ? "" : ", ") + typed(o);
    for (const auto& i : n.inputs) {
      std::string shown = i;
      if (const Tensor* t = g.constant(i))
        shown = fmt::format("{}={}{}", i, DataTypeName(t->dtype()), ShapeToString(t->shape()));
      ins += (ins.empty() ? "" : ", ") + shown;
    }
    for (const auto& [k, a] : n.attributes)
      attrs += (attrs.empty() ? "" : ", ") + k + "=" + AttrText(a);
    out += fmt::format(
        "{}  {} = {}{}({}){}{}\n", indent, outs, n.domain.empty() ? "" : n.domain + ".", n.op_type,
        ins, attrs.empty() ? "" : " {" + attrs + "}", n.name.empty() ? "" : "  # " + n.name);
    for (const auto& [k, a] : n.attributes) {
      if (a.g) Append(*a.g, indent + "    ", out);
      for (const auto& sg : a.graphs) Append(*sg, indent + "    ", out);
    }
  }
}

}  // namespace

std::string GraphToText(const Graph& graph) {
  std::string out;
  Append(graph, "", out);
  return out;
}

}  // namespace hone
