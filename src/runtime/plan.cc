#include "runtime/plan.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "core/errors.h"
#include "ir/schema_check.h"

namespace hone {
namespace {

// Ops that are pure functions of their inputs and turn up in shape arithmetic (torch.onnx exports
// compute Reshape targets with Shape -> Gather -> Unsqueeze -> Concat chains).
bool ShapeArithmeticOp(const Node& n) {
  static const std::set<std::string> kOps = {"Shape",
                                             "Size",
                                             "Gather",
                                             "Unsqueeze",
                                             "Squeeze",
                                             "Concat",
                                             "Cast",
                                             "Slice",
                                             "Add",
                                             "Sub",
                                             "Mul",
                                             "Div",
                                             "Mod",
                                             "Neg",
                                             "Abs",
                                             "Floor",
                                             "Ceil",
                                             "Sqrt",
                                             "Min",
                                             "Max",
                                             "Equal",
                                             "Less",
                                             "Greater",
                                             "LessOrEqual",
                                             "Not",
                                             "And",
                                             "Or",
                                             "Where",
                                             "GreaterOrEqual",
                                             "Range",
                                             "Reshape",
                                             "Expand",
                                             "Identity",
                                             "Flatten",
                                             "ConstantOfShape",
                                             "Tile",
                                             "Transpose",
                                             "ReduceProd",
                                             "ReduceSum",
                                             "ReduceMin",
                                             "ReduceMax",
                                             "Constant"};
  return n.domain.empty() && kOps.count(n.op_type) != 0;
}

void MarkShapeStatic(Plan& plan, const std::vector<bool>& is_output) {
  const size_t nv = plan.value_names.size();
  plan.fixed.assign(nv, false);
  for (const auto& [v, t] : plan.constants) plan.fixed[static_cast<size_t>(v)] = true;
  for (int v : plan.inputs) plan.fixed[static_cast<size_t>(v)] = false;  // the caller may feed it
  std::vector<bool> known = plan.fixed;  // fixed, or computed by a shape_static node
  for (PlanNode& pn : plan.nodes) {
    if (!pn.implicit_inputs.empty() || !ShapeArithmeticOp(*pn.node)) continue;
    const bool root = pn.node->op_type == "Shape" || pn.node->op_type == "Size";
    bool ok = !root || (!pn.inputs.empty() && pn.inputs[0] >= 0);
    if (!root)
      for (int v : pn.inputs) ok = ok && (v < 0 || known[static_cast<size_t>(v)]);
    for (int v : pn.outputs) ok = ok && v >= 0 && !is_output[static_cast<size_t>(v)];
    if (!ok) continue;
    pn.shape_static = true;
    pn.shape_root = root;
    for (int v : pn.outputs) known[static_cast<size_t>(v)] = true;
  }
}

}  // namespace

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
  // Outputs nobody reads (a MaxPool's Indices, a LayerNormalization's Mean) die where they are
  // made.
  std::vector<bool> is_output(plan->value_names.size(), false);
  for (int v : plan->outputs) is_output[static_cast<size_t>(v)] = true;
  for (auto& pn : plan->nodes)
    for (int v : pn.outputs)
      if (v >= 0 && last_use[static_cast<size_t>(v)] < 0 && !is_output[static_cast<size_t>(v)])
        pn.release.push_back(v);
  MarkShapeStatic(*plan, is_output);
  for (const PlanNode& pn : plan->nodes)
    plan->max_inputs = std::max(plan->max_inputs, pn.inputs.size());
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

namespace {

// Replay: whether a shape_static node's recorded outputs hold for this run.
bool MemoHolds(const Frame& frame, size_t i, const PlanNode& pn) {
  const ShapeMemo& memo = *frame.setup.memo_replay;
  if (pn.shape_root) {
    const Value& x = frame.values[static_cast<size_t>(pn.inputs[0])];
    return x.is_tensor() && x.tensor().shape() == memo.root_shapes[i];
  }
  for (int v : pn.inputs)
    if (v >= 0 && !frame.plan->fixed[static_cast<size_t>(v)] &&
        !frame.memo_valid[static_cast<size_t>(v)])
      return false;
  return true;
}

// Per signature; shape values past it (rare: a position-embedding Gather is 128 KiB) are
// recomputed.
constexpr size_t kMaxMemoBytes = size_t{4} << 20;

void RecordMemo(Frame& frame, size_t i, const PlanNode& pn) {
  ShapeMemo& memo = *frame.setup.memo_record;
  if (pn.shape_root)
    memo.root_shapes[i] = frame.values[static_cast<size_t>(pn.inputs[0])].tensor().shape();
  size_t bytes = 0;
  for (int v : pn.outputs) {
    const Value& out = frame.values[static_cast<size_t>(v)];
    if (!out.is_tensor()) return;
    bytes += out.tensor().nbytes();
  }
  if (memo.bytes + bytes > kMaxMemoBytes) return;
  memo.bytes += bytes;
  for (int v : pn.outputs) memo.outputs[i].push_back(frame.values[static_cast<size_t>(v)]);
}

}  // namespace

std::shared_ptr<Buffer> Frame::Allocate(size_t bytes, bool zero) const {
  if (setup.allocator != nullptr && !in_static_node) return setup.allocator->Allocate(bytes, zero);
  return Buffer::Allocate(bytes, zero);
}

Status Execute(Frame& frame) {
  const Plan& plan = *frame.plan;
  const bool replay = frame.setup.memo_replay != nullptr;
  if (replay) frame.memo_valid.assign(plan.value_names.size(), 0);
  if (frame.setup.memo_record != nullptr) {
    frame.setup.memo_record->root_shapes.assign(plan.nodes.size(), {});
    frame.setup.memo_record->outputs.assign(plan.nodes.size(), {});
  }
  std::vector<const Value*>& inputs = frame.node_inputs;
  inputs.reserve(plan.max_inputs);
  std::vector<Value>& outputs = frame.node_outputs;
  for (size_t n = 0; n < plan.nodes.size(); ++n) {
    const PlanNode& pn = plan.nodes[n];
    bool memo_holds = false;
    if (pn.shape_static && replay) {
      memo_holds = MemoHolds(frame, n, pn);
      const auto& kept = frame.setup.memo_replay->outputs[n];
      if (memo_holds && !kept.empty()) {
        for (size_t i = 0; i < pn.outputs.size(); ++i) {
          frame.values[static_cast<size_t>(pn.outputs[i])] = kept[i];
          frame.memo_valid[static_cast<size_t>(pn.outputs[i])] = 1;
        }
        for (int v : pn.release) frame.values[static_cast<size_t>(v)] = Value();
        continue;
      }
      if (!memo_holds) frame.memo_missed = true;
    }
    inputs.clear();
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
    outputs.clear();
    outputs.resize(pn.outputs.size());
    ComputeContext ctx(*pn.node, inputs, outputs, *frame.pool, frame);
    ctx.set_dying_inputs(&pn.input_dies);
    frame.in_static_node = pn.shape_static;
    const auto start =
        frame.profiler ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    Status s = pn.kernel->Compute(ctx);
    if (s.code() == StatusCode::kNotSupported && pn.fallback) {
      std::fill(outputs.begin(), outputs.end(), Value());
      s = pn.fallback->Compute(ctx);
    }
    frame.in_static_node = false;
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
      if (memo_holds) frame.memo_valid[static_cast<size_t>(pn.outputs[i])] = 1;
    }
    if (pn.shape_static && frame.setup.memo_record != nullptr) RecordMemo(frame, n, pn);
    for (int v : pn.release) frame.values[static_cast<size_t>(v)] = Value();
    if (frame.setup.allocator != nullptr) frame.setup.allocator->AfterNode();
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
                                     const Frame* parent, ThreadPool& pool, Profiler* profiler,
                                     const RunSetup& setup, bool* memo_missed) {
  Frame frame;
  frame.setup = setup;
  frame.plan = &plan;
  frame.profiler = profiler ? profiler : (parent ? parent->profiler : nullptr);
  frame.parent = parent;
  frame.pool = &pool;
  // Borrow the scratch containers for this run and hand them back empty (capacity kept).
  struct ScratchLease {
    Frame& frame;
    FrameScratch* scratch;
    void Swap() {
      frame.values.swap(scratch->values);
      frame.memo_valid.swap(scratch->memo_valid);
      frame.node_inputs.swap(scratch->node_inputs);
      frame.node_outputs.swap(scratch->node_outputs);
      frame.shared.swap(scratch->shared);
    }
    ~ScratchLease() {
      if (scratch == nullptr) return;
      frame.values.clear();
      frame.node_inputs.clear();
      frame.node_outputs.clear();
      for (auto& [key, t] : frame.shared) t = Tensor();
      Swap();
    }
  } lease{frame, setup.scratch};
  if (setup.scratch != nullptr) lease.Swap();
  frame.values.resize(plan.value_names.size());
  for (const auto& [v, t] : plan.constants) frame.values[static_cast<size_t>(v)] = t;
  for (const auto& [v, name] : plan.captures) {
    const Value* t = LookupOuter(parent, name);
    if (t == nullptr) return Internal("value '{}' of an enclosing graph is not available", name);
    frame.values[static_cast<size_t>(v)] = *t;
  }
  for (size_t i = 0; i < inputs.size() && i < plan.inputs.size(); ++i)
    if (inputs[i].is_set()) frame.values[static_cast<size_t>(plan.inputs[i])] = inputs[i];
  Status status = Execute(frame);
  if (memo_missed != nullptr) *memo_missed = frame.memo_missed;
  HONE_RETURN_IF_ERROR(status);
  std::vector<Value> own;
  std::vector<Value>& out = setup.results != nullptr ? *setup.results : own;
  out.clear();
  out.reserve(plan.outputs.size());
  for (int v : plan.outputs) {
    const Value& t = frame.values[static_cast<size_t>(v)];
    if (!t.is_set())
      return InvalidArgument("graph output '{}' was not computed (missing input?)",
                             plan.value_names[static_cast<size_t>(v)]);
    out.push_back(t);
  }
  return own;
}

}  // namespace hone
