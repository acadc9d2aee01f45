// hone/npy.h: NumPy .npy files (format versions 1-3, C order).
//
//   auto t = hone::ReadNpy("x.npy");            // StatusOr<Tensor>
//   hone::Status s = hone::WriteNpy("y.npy", *t);
//
// Every numeric dtype and bool; float16 as '<f2'; bfloat16 has no NumPy type and is refused.
#pragma once

#include <string>

#include "hone/status.h"
#include "hone/tensor.h"

namespace hone {

StatusOr<Tensor> ReadNpy(const std::string& path);
StatusOr<Tensor> ParseNpy(const std::string& bytes, const std::string& what = "npy data");
Status WriteNpy(const std::string& path, const Tensor& tensor);

}  // namespace hone
