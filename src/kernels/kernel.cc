#include "kernels/kernel.h"

#include <algorithm>

#include "runtime/plan.h"

namespace hone {

int64_t InitContext::attr_int(const std::string& k, int64_t dflt) const {
  const Attribute* a = node_.attr(k);
  return a ? a->i : dflt;
}
float InitContext::attr_float(const std::string& k, float dflt) const {
  const Attribute* a = node_.attr(k);
  return a ? a->f : dflt;
}
std::string InitContext::attr_string(const std::string& k, const std::string& dflt) const {
  const Attribute* a = node_.attr(k);
  return a ? a->s : dflt;
}
std::vector<int64_t> InitContext::attr_ints(const std::string& k, std::vector<int64_t> dflt) const {
  const Attribute* a = node_.attr(k);
  return a ? a->ints : dflt;
}
std::vector<float> InitContext::attr_floats(const std::string& k, std::vector<float> dflt) const {
  const Attribute* a = node_.attr(k);
  return a ? a->floats : dflt;
}
std::vector<std::string> InitContext::attr_strings(const std::string& k) const {
  const Attribute* a = node_.attr(k);
  return a ? a->strings : std::vector<std::string>{};
}
const Tensor* InitContext::attr_tensor(const std::string& k) const {
  const Attribute* a = node_.attr(k);
  return a && a->t.defined() ? &a->t : nullptr;
}
const Graph* InitContext::attr_graph(const std::string& k) const {
  const Attribute* a = node_.attr(k);
  return a ? a->g.get() : nullptr;
}

namespace {
Tensor NewTensor(const Frame& frame, DataType dtype, Shape shape, bool zero) {
  if (dtype == DataType::kString) return Tensor::Empty(dtype, std::move(shape));
  const int64_t n = ShapeSize(shape);
  HONE_CHECK(n >= 0);
  std::shared_ptr<Buffer> b = frame.Allocate(DataBytes(dtype, n), zero);
  return Tensor(dtype, std::move(shape), std::move(b));
}
}  // namespace

Tensor& ComputeContext::Output(int i, DataType dtype, Shape shape) {
  outputs_[static_cast<size_t>(i)] = Value(NewTensor(frame_, dtype, std::move(shape), true));
  return outputs_[static_cast<size_t>(i)].mutable_tensor();
}

Tensor& ComputeContext::OutputUninitialized(int i, DataType dtype, Shape shape) {
  outputs_[static_cast<size_t>(i)] = Value(NewTensor(frame_, dtype, std::move(shape), false));
  return outputs_[static_cast<size_t>(i)].mutable_tensor();
}

Tensor ComputeContext::Temporary(DataType dtype, Shape shape) {
  return NewTensor(frame_, dtype, std::move(shape), false);
}

bool ComputeContext::InputDiesHere(int i) const {
  if (!dies_ || i < 0 || i >= static_cast<int>(dies_->size()) || !(*dies_)[static_cast<size_t>(i)])
    return false;
  const Tensor* t = input(i);
  return t && t->buffer() &&
         t->buffer().use_count() == 1 + frame_.AllocatorReferences(*t->buffer());
}

Tensor ComputeContext::SharedBuffer(const std::string& key, DataType dtype, const Shape& shape) {
  auto it = std::find_if(frame_.shared.begin(), frame_.shared.end(),
                         [&](const auto& e) { return e.first == key; });
  if (it != frame_.shared.end() && it->second.defined() && it->second.dtype() == dtype &&
      it->second.shape() == shape)
    return it->second;
  Tensor t = NewTensor(frame_, dtype, shape, false);
  if (it == frame_.shared.end())
    frame_.shared.emplace_back(key, t);
  else
    it->second = t;
  return t;
}

void ComputeContext::ReleaseSharedBuffer(const std::string& key) {
  for (auto& [k, t] : frame_.shared)
    if (k == key) t = Tensor();
}

StatusOr<std::vector<Value>> ComputeContext::RunSubgraph(const Plan& plan,
                                                         const std::vector<Value>& inputs) const {
  return RunPlan(plan, inputs, &frame_, pool_);
}

}  // namespace hone
