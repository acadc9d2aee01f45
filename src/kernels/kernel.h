// The kernel interface: what one implementation of one op sees.
//
// Phases (STYLE.md): Init runs once per node when a session is created (read attributes, prepack
// constant weights, or Decline); Compute runs per Run and is const, so one kernel instance serves
// concurrent runs. Compute allocates its outputs through the context (the executor owns memory).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/errors.h"
#include "hone/status.h"
#include "hone/tensor.h"
#include "hone/value.h"
#include "ir/graph.h"

namespace hone {

class ThreadPool;
struct Plan;
struct Frame;

// Returned by Init when an implementation cannot serve a node; lookup moves on to the next one.
inline Status Decline(std::string why) { return Status(StatusCode::kNotSupported, std::move(why)); }

class InitContext {
 public:
  InitContext(const Node& node, int64_t opset, std::vector<const Tensor*> constant_inputs,
              std::function<StatusOr<std::shared_ptr<const Plan>>(const Graph&)> compile)
      : node_(node),
        opset_(opset),
        constants_(std::move(constant_inputs)),
        compile_(std::move(compile)) {}

  const Node& node() const { return node_; }
  int64_t opset() const { return opset_; }
  int num_inputs() const { return static_cast<int>(node_.inputs.size()); }
  int num_outputs() const { return static_cast<int>(node_.outputs.size()); }
  bool has_input(int i) const { return i < num_inputs() && !node_.inputs[i].empty(); }
  // The value of input i when it is an initializer (constant for the session), else nullptr.
  const Tensor* constant_input(int i) const {
    return i < static_cast<int>(constants_.size()) ? constants_[i] : nullptr;
  }
  // Compiles a subgraph attribute; the plan may read values of the enclosing graphs.
  StatusOr<std::shared_ptr<const Plan>> CompileSubgraph(const Graph& g) const {
    return compile_(g);
  }

  bool has_attr(const std::string& k) const { return node_.attr(k) != nullptr; }
  int64_t attr_int(const std::string& k, int64_t dflt) const;
  float attr_float(const std::string& k, float dflt) const;
  std::string attr_string(const std::string& k, const std::string& dflt) const;
  std::vector<int64_t> attr_ints(const std::string& k, std::vector<int64_t> dflt = {}) const;
  std::vector<float> attr_floats(const std::string& k, std::vector<float> dflt = {}) const;
  std::vector<std::string> attr_strings(const std::string& k) const;
  const Tensor* attr_tensor(const std::string& k) const;
  const Graph* attr_graph(const std::string& k) const;

  // An error naming this node: InvalidModel("node "x" (Conv): ...").
  template <typename... Args>
  Status Invalid(fmt::format_string<Args...> f, Args&&... args) const {
    return Status(StatusCode::kInvalidModel,
                  node_.Describe() + ": " + fmt::format(f, std::forward<Args>(args)...));
  }

 private:
  const Node& node_;
  int64_t opset_;
  std::vector<const Tensor*> constants_;
  std::function<StatusOr<std::shared_ptr<const Plan>>(const Graph&)> compile_;
};

class ComputeContext {
 public:
  // `inputs` is borrowed for the context's lifetime.
  ComputeContext(const Node& node, std::span<const Value* const> inputs,
                 std::vector<Value>& outputs, ThreadPool& pool, const Frame& frame)
      : node_(node), inputs_(inputs), outputs_(outputs), pool_(pool), frame_(frame) {}

  const Node& node() const { return node_; }
  int num_inputs() const { return static_cast<int>(inputs_.size()); }
  // nullptr when the input is omitted (or, for kernels that accept them, not a tensor).
  const Tensor* input(int i) const {
    const Value* v = input_value(i);
    return v && v->is_tensor() ? &v->tensor() : nullptr;
  }
  // Any kind of value; nullptr when omitted.
  const Value* input_value(int i) const {
    return i < static_cast<int>(inputs_.size()) ? inputs_[i] : nullptr;
  }
  int num_outputs() const { return static_cast<int>(outputs_.size()); }
  // Allocates output i (zeroed).
  Tensor& Output(int i, DataType dtype, Shape shape);
  // Allocates output i with unspecified contents: for kernels that write every element.
  Tensor& OutputUninitialized(int i, DataType dtype, Shape shape);
  // A buffer for this node's own use (contents unspecified), released when the kernel drops it;
  // planned in the run's arena like the activations.
  Tensor Temporary(DataType dtype, Shape shape);
  // True when input i is a value no later node reads, held only here (its buffer is not shared
  // with another value or the caller): the kernel may write its output over it.
  bool InputDiesHere(int i) const;
  void set_dying_inputs(const std::vector<bool>* dies) { dies_ = dies; }
  // Output i as allocated so far (after Output / OutputUninitialized / SetOutput).
  Tensor& output(int i) { return outputs_[static_cast<size_t>(i)].mutable_tensor(); }
  // Sets output i to an existing tensor (a view or a constant); no copy.
  void SetOutput(int i, Tensor t) { outputs_[i] = Value(std::move(t)); }
  void SetOutputValue(int i, Value v) { outputs_[i] = std::move(v); }
  ThreadPool& pool() const { return pool_; }
  // A buffer for this run shared by the nodes that ask for the same key: the first call allocates
  // it (contents unspecified), later ones with the same dtype and shape get the same tensor
  // (another dtype or shape: a fresh one). Producers of a Concat write their parts into its
  // output this way (com.hone Conv with concat_* attributes).
  Tensor SharedBuffer(const std::string& key, DataType dtype, const Shape& shape);
  // Drops this run's reference to the shared buffer `key` (its readers keep theirs).
  void ReleaseSharedBuffer(const std::string& key);

  // Runs a compiled subgraph with this node's frame as the enclosing scope.
  StatusOr<std::vector<Value>> RunSubgraph(const Plan& plan,
                                           const std::vector<Value>& inputs) const;

  // An error naming this node, for data-dependent failures found at compute time.
  template <typename... Args>
  Status Error(fmt::format_string<Args...> f, Args&&... args) const {
    return Status(StatusCode::kInvalidArgument,
                  node_.Describe() + ": " + fmt::format(f, std::forward<Args>(args)...));
  }

 private:
  const Node& node_;
  std::span<const Value* const> inputs_;
  std::vector<Value>& outputs_;
  ThreadPool& pool_;
  const Frame& frame_;
  const std::vector<bool>* dies_ = nullptr;  // from the plan; null outside a plan
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual Status Init(const InitContext& ctx) { return Status::Ok(); }
  virtual Status Compute(ComputeContext& ctx) const = 0;
  // True for kernels that take sequences or empty optionals as inputs (sequence ops, control
  // flow). For the others the executor guarantees every present input is a tensor.
  virtual bool AcceptsAnyValue() const { return false; }
};

}  // namespace hone
