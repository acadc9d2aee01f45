// hone/value.h: what flows along a graph edge: a tensor, a sequence of tensors, or an empty
// optional.
//
//   hone::Value v = tensor;                                        // a tensor
//   hone::Value s = hone::Value::Sequence({a, b}, hone::DataType::kFloat32);
//   hone::Value n = hone::Value::None();                           // optional without a value
#pragma once

#include <memory>
#include <vector>

#include "hone/tensor.h"

namespace hone {

class Value {
 public:
  enum class Kind { kUnset, kNone, kTensor, kSequence };

  Value() = default;                                                // unset (no value computed)
  Value(Tensor t) : kind_(Kind::kTensor), tensor_(std::move(t)) {}  // NOLINT: implicit by design
  static Value None() {
    Value v;
    v.kind_ = Kind::kNone;
    return v;
  }
  // `elem_dtype` types the elements (needed for empty sequences).
  static Value Sequence(std::vector<Tensor> items, DataType elem_dtype) {
    Value v;
    v.kind_ = Kind::kSequence;
    v.seq_ = std::make_shared<const std::vector<Tensor>>(std::move(items));
    v.seq_dtype_ = elem_dtype;
    return v;
  }

  Kind kind() const { return kind_; }
  bool is_set() const { return kind_ != Kind::kUnset; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_tensor() const { return kind_ == Kind::kTensor; }
  bool is_sequence() const { return kind_ == Kind::kSequence; }

  const Tensor& tensor() const { return tensor_; }
  Tensor& mutable_tensor() { return tensor_; }
  const std::vector<Tensor>& sequence() const {
    static const std::vector<Tensor> kEmpty;
    return seq_ ? *seq_ : kEmpty;
  }
  DataType sequence_dtype() const { return seq_dtype_; }

 private:
  Kind kind_ = Kind::kUnset;
  Tensor tensor_;
  std::shared_ptr<const std::vector<Tensor>> seq_;  // shared by copies; never mutated
  DataType seq_dtype_ = DataType::kUndefined;
};

}  // namespace hone
