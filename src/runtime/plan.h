// A compiled graph: nodes in execution order with their kernels, values numbered.
// Built once per (sub)graph at session creation; immutable afterwards and shared by every run.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "hone/session.h"
#include "ir/graph.h"
#include "kernels/kernel.h"
#include "kernels/registry.h"
#include "runtime/arena.h"

namespace hone {

class ThreadPool;

struct PlanNode {
  const Node* node = nullptr;  // owned by the Model (or a subgraph attribute) that the Plan serves
  const KernelDef* def = nullptr;
  std::unique_ptr<Kernel> kernel;
  // The reference implementation, when `kernel` is a fast one: it serves the runs whose shapes
  // the fast kernel declines at compute time (Compute returning NotSupported).
  std::unique_ptr<Kernel> fallback;
  std::vector<int> inputs;           // value index, -1 = omitted
  std::vector<int> outputs;          // value index, -1 = unused
  std::vector<int> implicit_inputs;  // values read by this node's subgraphs
  std::vector<int> release;          // values whose last use is this node (freed after it runs)
  // Per input: produced by a node of this plan, read once by this node and never again, so the
  // kernel may write over it (ComputeContext::InputDiesHere).
  std::vector<bool> input_dies;
  // A pure function of the run's input shapes (and constants): Shape / Size of any value, or a
  // shape-arithmetic op whose inputs are all such values or constants. Runs of one input-shape
  // signature reuse its outputs (ShapeMemo) instead of computing them again.
  bool shape_static = false;
  bool shape_root = false;  // Shape / Size: valid when input 0 has the recorded shape
};

struct Plan {
  std::vector<std::string> value_names;
  std::unordered_map<std::string, int> index;
  std::vector<std::pair<int, Value>> constants;  // initializers (graph inputs may override them)
  std::vector<int> inputs;                       // graph inputs, in order
  std::vector<int> outputs;                      // graph outputs, in order
  std::vector<std::pair<int, std::string>> captures;  // values read from an enclosing graph
  std::vector<PlanNode> nodes;
  std::vector<bool> fixed;  // per value: an initializer that no graph input overrides
  size_t max_inputs = 0;    // the most inputs any node has (the executor sizes its list once)
};

// The outputs of a plan's shape_static nodes for one input-shape signature, recorded by its
// first run. Immutable once recorded; shared by the runs of that signature.
struct ShapeMemo {
  std::vector<Shape> root_shapes;           // per node: input 0's shape (shape_root only)
  std::vector<std::vector<Value>> outputs;  // per node: empty = not kept (too large)
  size_t bytes = 0;                         // in `outputs`
};

// The containers one run of a plan fills, kept by the session between runs (one per signature
// and concurrent run) so that a steady run reuses their capacity instead of allocating. Between
// runs they hold no values.
struct FrameScratch {
  std::vector<Value> values;
  std::vector<uint8_t> memo_valid;
  std::vector<const Value*> node_inputs;
  std::vector<Value> node_outputs;
  std::vector<std::pair<std::string, Tensor>> shared;
};

// How one run of a plan gets memory and shape-static values (all optional).
struct RunSetup {
  RunAllocator* allocator = nullptr;       // null: activations on the heap
  ShapeMemo* memo_record = nullptr;        // filled by this run
  const ShapeMemo* memo_replay = nullptr;  // reused by this run
  FrameScratch* scratch = nullptr;         // null: the frame's containers are its own
  // Set: the graph outputs go here (its capacity reused) and RunPlan returns an empty vector.
  std::vector<Value>* results = nullptr;
};

struct CompileOptions {
  const std::map<std::string, int64_t>* opsets = nullptr;
  bool fast_kernels = true;
  bool verbose = false;
};

// `outer` holds the names visible from enclosing graphs (empty for the main graph).
StatusOr<std::shared_ptr<const Plan>> CompilePlan(const Graph& graph, const CompileOptions& options,
                                                  const std::set<std::string>& outer);

// Per-run state of one (sub)graph execution.
// Per-node timings collected during runs (SessionOptions::profile). Thread-safe.
class Profiler {
 public:
  void Add(const PlanNode& pn, double ms);
  std::vector<NodeProfile> Snapshot() const;

 private:
  mutable std::mutex mu_;  // guards by_node_
  std::map<const PlanNode*, NodeProfile> by_node_;
};

struct Frame {
  const Plan* plan = nullptr;
  Profiler* profiler = nullptr;  // null unless profiling; borrowed from the session
  std::vector<Value> values;
  const Frame* parent = nullptr;
  ThreadPool* pool = nullptr;
  // Buffers several nodes write parts of (ComputeContext::SharedBuffer), by key; per run (an
  // entry whose tensor is undefined is free).
  mutable std::vector<std::pair<std::string, Tensor>> shared;
  RunSetup setup;
  bool in_static_node = false;      // shape_static nodes allocate on the heap (not in the arena)
  bool memo_missed = false;         // a shape_static node could not reuse its recorded value
  std::vector<uint8_t> memo_valid;  // per value: equal to the recorded one (replay)
  std::vector<const Value*> node_inputs;  // the running node's inputs
  std::vector<Value> node_outputs;        // the running node's outputs

  // An activation buffer for the node running now (the arena when the run has one).
  std::shared_ptr<Buffer> Allocate(size_t bytes, bool zero) const;
  // References to `b` held by the run's allocator rather than by values.
  long AllocatorReferences(const Buffer& b) const {
    return setup.allocator != nullptr ? setup.allocator->HeldReferences(b) : 0;
  }
};

// Runs every node of frame.plan; frame.values must hold the inputs (and constants) already.
Status Execute(Frame& frame);

// Binds constants, captures and `inputs` (in plan->inputs order; unset = keep the
// initializer) into a fresh frame, runs it and returns the graph outputs.
// `setup` applies to this plan's own nodes only (subgraph runs use the heap). `memo_missed`, when
// given, is set when a replayed shape value did not match.
StatusOr<std::vector<Value>> RunPlan(const Plan& plan, const std::vector<Value>& inputs,
                                     const Frame* parent, ThreadPool& pool,
                                     Profiler* profiler = nullptr, const RunSetup& setup = {},
                                     bool* memo_missed = nullptr);

}  // namespace hone
