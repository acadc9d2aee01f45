// ONNX Slice's window (opsets 1-22: attributes before 10, inputs from 10), resolved once for the
// reference kernel (ref/data_ops.cc) and the fast one (cpu/slice.cc): per axis the first
// element, the step and the count, with ONNX's clamping of out-of-range starts and ends.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/kernel.h"

namespace hone::ref {

struct SliceWindow {
  Shape start, step, out_shape;  // one entry per axis of the input
};

class SliceSpec {
 public:
  Status Init(const InitContext& ctx);
  StatusOr<SliceWindow> Resolve(const ComputeContext& ctx, const Tensor& x) const;

 private:
  bool from_inputs_ = true;
  bool has_axes_ = false;
  Shape starts_, ends_, axes_;
};

}  // namespace hone::ref
