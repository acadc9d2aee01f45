#include "runtime/plan.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "core/errors.h"
#include "ir/schema_check.h"

namespace hone {

StatusOr<std::shared_ptr<const Plan>> CompilePlan(const Graph& graph, const CompileOptions& options,
                                                  const std::set<std::string>& outer) {
  auto plan = std::make_shared<Plan>();
  auto add_value = [&](const std::string& name) {
    auto [it, inserted] = plan->index.emplace(name, static_cast<int>(plan->value_names.size()));
    if (inserted) plan->value_names.push_back(name);
    return it->second;
  };
  std::set<std::string> visible;  // names defined so far in this graph
  for (const auto& in : graph.inputs) {
    if (in.name.empty()) return InvalidModel("graph '{}': an input has no name", graph.name);
    plan->inputs.push_back(add_value(in.name));
    visible.insert(in.name);
  }
  for (const auto& [name, t] : graph.initializers) {
    plan->constants.emplace_back(add_value(name), Value(t));
    visible.insert(name);
  }

  // Order nodes topologically (ONNX requires it; some exporters don't honour it).
  const size_t n = graph.nodes.size();
  std::vector<int> order;
  order.reserve(n);
  {
    std::vector<bool> done(n, false);
    std::set<std::string> avail = visible;
    bool progress = true;
    // Names a node reads through its subgraphs' outer scope also count as dependencies.
    std::vector<std::set<std::string>> needs(n);
    for (size_t i = 0; i < n; ++i) {
      const Node& nd = graph.nodes[i];
      for (const auto& in : nd.inputs)
        if (!in.empty()) needs[i].insert(in);
      for (const auto& name : SubgraphFreeNames(nd)) needs[i].insert(name);
    }
    size_t next_unscheduled = 0;
    while (order.size() < n && progress) {
      progress = false;
      for (size_t i = next_unscheduled; i < n; ++i) {
        if (done[i]) continue;
        bool ready = true;
        for (const auto& need : needs[i])
          if (!avail.count(need) && !outer.count(need)) {
            // Produced later in this graph? Then wait; otherwise it is missing altogether.
            ready = false;
            break;
          }
        if (!ready) continue;
        done[i] = true;
        order.push_back(static_cast<int>(i));
        for (const auto& o : graph.nodes[i].outputs)
          if (!o.empty()) avail.insert(o);
        progress = true;
      }
      while (next_unscheduled < n && done[next_unscheduled]) ++next_unscheduled;
    }
    if (order.size() < n) {
      // Name the first stuck node and the value it waits for.
      std::set<std::string> produced;
      for (const auto& nd : graph.nodes)
        for (const auto& o : nd.outputs) produced.insert(o);
      for (size_t i = 0; i < n; ++i) {
        if (done[i]) continue;
        for (const auto& need : needs[i]) {
          if (avail.count(need) || outer.count(need)) continue;
          if (!produced.count(need))
            return InvalidModel(
                "{}: input '{}' is not a graph input, an initializer or the output "
                "of any node",
                graph.nodes[i].Describe(), need);
          return InvalidModel("{}: input '{}' is part of a cycle", graph.nodes[i].Describe(), need);
        }
      }
      return InvalidModel("graph '{}' cannot be ordered", graph.name);
    }
  }

  const auto& registry = KernelRegistry::Global();
  std::set<std::string> scope_for_subgraphs = outer;
  for (const auto& v : visible) scope_for_subgraphs.insert(v);
  for (const auto& nd : graph.nodes)
    for (const auto& o : nd.outputs)
      if (!o.empty()) scope_for_subgraphs.insert(o);

  for (int idx : order) {
    const Node& node = graph.nodes[static_cast<size_t>(idx)];
    PlanNode pn;
    pn.node = &node;
    std::vector<const Tensor*> constants;
    for (const auto& in : node.inputs) {
      if (in.empty()) {
        pn.inputs.push_back(-1);
        constants.push_back(nullptr);
        continue;
      }
      if (!plan->index.count(in) && outer.count(in)) {
        int v = add_value(in);
        plan->captures.emplace_back(v, in);
      }
      pn.inputs.push_back(plan->index.at(in));
      constants.push_back(graph.constant(in));
    }
    for (const auto& out : node.outputs) {
      if (out.empty()) {
        pn.outputs.push_back(-1);
        continue;
      }
      if (plan->index.count(out) && visible.count(out))
        return InvalidModel("{}: output '{}' is already defined in the graph", node.Describe(),
                            out);
      visible.insert(out);
      pn.outputs.push_back(add_value(out));
    }
    // Values of enclosing graphs read inside this node's subgraphs must be captured here too,
    // and count as uses of this node (so they are not released before it runs).
    for (const auto& name : SubgraphFreeNames(node)) {
      if (!plan->index.count(name) && outer.count(name))
        plan->captures.emplace_back(add_value(name), name);
      auto it = plan->index.find(name);
      if (it != plan->index.end()) pn.implicit_inputs.push_back(it->second);
    }

    const int64_t opset = [&]() -> int64_t {
      auto it = options.opsets->find(node.domain);
      return it == options.opsets->end() ? -1 : it->second;
    }();
    if (opset < 0)
      return InvalidModel("{}: the model does not import domain '{}'", node.Describe(),
                          node.domain);
    HONE_RETURN_IF_ERROR(CheckNodeArity(node, opset));
    auto candidates = registry.Lookup(node.domain, node.op_type, opset, options.fast_kernels);
    if (candidates.empty()) {
      if (registry.Knows(node.domain, node.op_type))
        return NotSupported("{}: hone has no kernel for {} at opset {}", node.Describe(),
                            node.op_type, opset);
      return NotSupported("{}: unknown operator '{}'{}", node.Describe(), node.op_type,
                          node.domain.empty() ? "" : " in domain '" + node.domain + "'");
    }
    auto compile = [&options, &scope_for_subgraphs](const Graph& g) {
      return CompilePlan(g, options, scope_for_subgraphs);
    };
    InitContext ictx(node, opset, constants, compile);
    std::string declined;
    for (const KernelDef* def : candidates) {
      auto kernel = def->create();
      Status s = kernel->Init(ictx);
      if (s.ok()) {
        pn.def = def;
        pn.kernel = std::move(kernel);
        if (def->backend != Backend::kReference) {
          for (const KernelDef* ref : candidates) {
            if (ref->backend != Backend::kReference) continue;
            auto fb = ref->create();
            if (fb->Init(ictx).ok()) pn.fallback = std::move(fb);
            break;
          }
        }
        if (options.verbose)
          spdlog::info("{}: {} chosen{}", node.Describe(), def->name,
                       declined.empty() ? "" : " (declined: " + declined + ")");
        break;
      }
      if (s.code() != StatusCode::kNotSupported) return s;
      if (def->backend == Backend::kReference)
        return s.message().rfind("node \"", 0) == 0 ? s : s.WithContext(node.Describe());
      declined += std::string(def->name) + ": " + s.message() + "; ";
    }
    if (!pn.kernel) return Internal("{}: no implementation accepted", node.Describe());
    plan->nodes.push_back(std::move(pn));
  }

  for (const auto& out : graph.outputs) {
    auto it = plan->index.find(out.name);
    if (it == plan->index.end()) {
      if (!outer.count(out.name))
        return InvalidModel("graph output '{}' is not produced by any node, input or initializer",
                            out.name);
      int v = add_value(out.name);
      plan->captures.emplace_back(v, out.name);
      plan->outputs.push_back(v);
    } else {
      plan->outputs.push_back(it->second);
    }
  }

  // Release each intermediate value after its last reader; graph outputs are never released.
  std::vector<int> last_use(plan->value_names.size(), -1);
  for (size_t i = 0; i < plan->nodes.size(); ++i)
    for (const auto* list : {&plan->nodes[i].inputs, &plan->nodes[i].implicit_inputs})
      for (int v : *list)
        if (v >= 0) last_use[static_cast<size_t>(v)] = static_cast<int>(i);
  for (int v : plan->outputs) last_use[static_cast<size_t>(v)] = -1;
  for (size_t v = 0; v < last_use.size(); ++v)
    if (last_use[v] >= 0)
      plan->nodes[static_cast<size_t>(last_use[v])].release.push_back(static_cast<int>(v));
  std::vector<bool> produced(plan->value_names.size(), false);
  for (const auto& pn : plan->nodes)
    for (int v : pn.outputs)
      if (v >= 0) produced[static_cast<size_t>(v)] = true;
  for (size_t i = 0; i < plan->nodes.size(); ++i) {
    PlanNode& pn = plan->nodes[i];
    pn.input_dies.assign(pn.inputs.size(), false);
    for (size_t k = 0; k < pn.inputs.size(); ++k) {
      const int v = pn.inputs[k];
      if (v < 0 || !produced[static_cast<size_t>(v)] ||
          last_use[static_cast<size_t>(v)] != static_cast<int>(i))
        continue;
      if (std::count(pn.inputs.begin(), pn.inputs.end(), v) != 1) continue;
      if (std::count(pn.implicit_inputs.begin(), pn.implicit_inputs.end(), v) != 0) continue;
      pn.input_dies[k] = true;
    }
  }
  return std::shared_ptr<const Plan>(std::move(plan));
}

Status Execute(Frame& frame) {
  const Plan& plan = *frame.plan;
  for (const PlanNode& pn : plan.nodes) {
    std::vector<const Value*> inputs;
    inputs.reserve(pn.inputs.size());
    const bool any_value = pn.kernel->AcceptsAnyValue();
    for (size_t i = 0; i < pn.inputs.size(); ++i) {
      int v = pn.inputs[i];
      if (v < 0) {
        inputs.push_back(nullptr);
        continue;
      }
      const Value& t = frame.values[static_cast<size_t>(v)];
      if (!t.is_set())
        return Internal("{}: input '{}' has no value", pn.node->Describe(), plan.value_names[v]);
      if (!any_value && !t.is_tensor()) {
        if (t.is_none()) {  // an empty optional reads as an omitted input
          inputs.push_back(nullptr);
          continue;
        }
        return InvalidArgument("{}: input '{}' is a sequence; {} takes tensors",
                               pn.node->Describe(), plan.value_names[v], pn.node->op_type);
      }
      inputs.push_back(&t);
    }
    std::vector<Value> outputs(pn.outputs.size());
    ComputeContext ctx(*pn.node, std::move(inputs), outputs, *frame.pool, frame);
    ctx.set_dying_inputs(&pn.input_dies);
    const auto start =
        frame.profiler ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    Status s = pn.kernel->Compute(ctx);
    if (s.code() == StatusCode::kNotSupported && pn.fallback) {
      std::fill(outputs.begin(), outputs.end(), Value());
      s = pn.fallback->Compute(ctx);
    }
    if (!s.ok()) return s;
    if (frame.profiler)
      frame.profiler->Add(
          pn, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                  .count());
    for (size_t i = 0; i < pn.outputs.size(); ++i) {
      if (pn.outputs[i] < 0) continue;
      if (!outputs[i].is_set())
        return Internal("{}: {} produced no value for output {}", pn.node->Describe(), pn.def->name,
                        i);
      frame.values[static_cast<size_t>(pn.outputs[i])] = std::move(outputs[i]);
    }
    for (int v : pn.release) frame.values[static_cast<size_t>(v)] = Value();
  }
  return Status::Ok();
}

namespace {
const Value* LookupOuter(const Frame* f, const std::string& name) {
  for (; f != nullptr; f = f->parent) {
    auto it = f->plan->index.find(name);
    if (it != f->plan->index.end() && f->values[static_cast<size_t>(it->second)].is_set())
      return &f->values[static_cast<size_t>(it->second)];
  }
  return nullptr;
}
}  // namespace

void Profiler::Add(const PlanNode& pn, double ms) {
  std::lock_guard<std::mutex> lock(mu_);
  NodeProfile& p = by_node_[&pn];
  if (p.calls == 0) {
    p.node = pn.node->name;
    p.op = pn.node->op_type;
    p.kernel = std::string(pn.def->name);
  }
  p.calls++;
  p.total_ms += ms;
}

std::vector<NodeProfile> Profiler::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<NodeProfile> out;
  for (const auto& [k, v] : by_node_) out.push_back(v);
  return out;
}

StatusOr<std::vector<Value>> RunPlan(const Plan& plan, const std::vector<Value>& inputs,
                                     const Frame* parent, ThreadPool& pool, Profiler* profiler) {
  Frame frame;
  frame.plan = &plan;
  frame.profiler = profiler ? profiler : (parent ? parent->profiler : nullptr);
  frame.parent = parent;
  frame.pool = &pool;
  frame.values.resize(plan.value_names.size());
  for (const auto& [v, t] : plan.constants) frame.values[static_cast<size_t>(v)] = t;
  for (const auto& [v, name] : plan.captures) {
    const Value* t = LookupOuter(parent, name);
    if (t == nullptr) return Internal("value '{}' of an enclosing graph is not available", name);
    frame.values[static_cast<size_t>(v)] = *t;
  }
  for (size_t i = 0; i < inputs.size() && i < plan.inputs.size(); ++i)
    if (inputs[i].is_set()) frame.values[static_cast<size_t>(plan.inputs[i])] = inputs[i];
  HONE_RETURN_IF_ERROR(Execute(frame));
  std::vector<Value> out;
  out.reserve(plan.outputs.size());
  for (int v : plan.outputs) {
    const Value& t = frame.values[static_cast<size_t>(v)];
    if (!t.is_set())
      return InvalidArgument("graph output '{}' was not computed (missing input?)",
                             plan.value_names[static_cast<size_t>(v)]);
    out.push_back(t);
  }
  return out;
}

}  // namespace hone
