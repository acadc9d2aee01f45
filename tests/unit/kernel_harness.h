// Runs one kernel implementation on one node, outside a session: the fast-kernel tests compare
// every registered implementation with the reference this way, and see a decline as a status
// (a session would quietly fall back to the reference kernel).
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "ir/graph.h"
#include "kernels/kernel.h"
#include "kernels/registry.h"
#include "runtime/plan.h"

namespace hone::testing {

inline Attribute IntAttr(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}
inline Attribute FloatAttr(float v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = v;
  return a;
}
inline Attribute IntsAttr(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = std::move(v);
  return a;
}
inline Attribute StringAttr(std::string v) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = std::move(v);
  return a;
}

// A node `op` reading in0, in1, ... and writing out0, out1, ...
inline Node MakeNode(const std::string& domain, const std::string& op, int inputs, int outputs,
                     std::map<std::string, Attribute> attrs = {}) {
  Node n;
  n.name = "node";
  n.domain = domain;
  n.op_type = op;
  for (int i = 0; i < inputs; ++i) n.inputs.push_back("in" + std::to_string(i));
  for (int i = 0; i < outputs; ++i) n.outputs.push_back("out" + std::to_string(i));
  n.attributes = std::move(attrs);
  return n;
}

// The implementation of (domain, op, opset) whose factory is `factory`, or nullptr.
inline const KernelDef* FindKernel(const std::string& domain, const std::string& op, int64_t opset,
                                   const std::string& factory) {
  for (const KernelDef* d : KernelRegistry::Global().Lookup(domain, op, opset, true))
    if (d->name == factory) return d;
  return nullptr;
}

// The reference implementation of (domain, op, opset), or nullptr.
inline const KernelDef* FindReference(const std::string& domain, const std::string& op,
                                      int64_t opset) {
  for (const KernelDef* d : KernelRegistry::Global().Lookup(domain, op, opset, false))
    if (d->backend == Backend::kReference) return d;
  return nullptr;
}

// Init + Compute of `def` on `node`; inputs flagged in `constant` are visible to Init as
// initializers. Returns the outputs, or the status of the phase that failed (a decline is
// NotSupported).
inline StatusOr<std::vector<Tensor>> RunKernel(const KernelDef& def, const Node& node,
                                               int64_t opset, const std::vector<Tensor>& inputs,
                                               const std::vector<bool>& constant,
                                               ThreadPool& pool) {
  std::unique_ptr<Kernel> kernel = def.create();
  std::vector<const Tensor*> constants;
  for (size_t i = 0; i < inputs.size(); ++i)
    constants.push_back(i < constant.size() && constant[i] ? &inputs[i] : nullptr);
  InitContext ictx(node, opset, constants,
                   [](const Graph&) -> StatusOr<std::shared_ptr<const Plan>> {
                     return Internal("no subgraphs in kernel tests");
                   });
  HONE_RETURN_IF_ERROR(kernel->Init(ictx));
  std::vector<Value> values(inputs.begin(), inputs.end());
  std::vector<const Value*> ptrs;
  for (const Value& v : values) ptrs.push_back(&v);
  std::vector<Value> outputs(node.outputs.size());
  Frame frame;
  frame.pool = &pool;
  ComputeContext cctx(node, ptrs, outputs, pool, frame);
  HONE_RETURN_IF_ERROR(kernel->Compute(cctx));
  std::vector<Tensor> out;
  for (const Value& v : outputs) out.push_back(v.is_tensor() ? v.tensor() : Tensor());
  return out;
}

// Uniform random float32 values in [lo, hi).
inline Tensor RandomTensor(std::vector<int64_t> shape, float lo, float hi, std::mt19937& rng) {
  Tensor t = Tensor::Empty(DataType::kFloat32, std::move(shape));
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

// "" when `got` matches `want` in shape and, elementwise, |got - want| <= atol + rtol * |want|
// (NaN matches NaN, inf the same inf); else what differs first.
inline std::string Compare(const Tensor& got, const Tensor& want, double rtol, double atol) {
  if (got.dtype() != want.dtype()) return "dtype differs";
  if (got.shape() != want.shape())
    return "shape " + ShapeToString(got.shape()) + " != " + ShapeToString(want.shape());
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double g = got.data<float>()[i], w = want.data<float>()[i];
    if (std::isnan(g) && std::isnan(w)) continue;
    if (std::isinf(w) && g == w) continue;
    if (!(std::fabs(g - w) <= atol + rtol * std::fabs(w)))
      return fmt::format("element {}: {} != {}", i, g, w);
  }
  return "";
}

}  // namespace hone::testing
