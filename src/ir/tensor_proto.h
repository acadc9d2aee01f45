// ONNX TensorProto / SparseTensorProto -> hone::Tensor.
#pragma once

#include <string>

#include "hone/status.h"
#include "hone/tensor.h"

namespace onnx {
class TensorProto;
class SparseTensorProto;
}  // namespace onnx

namespace hone {

// `base_dir` anchors external data; empty refuses external data. `what` names the tensor in errors.
StatusOr<Tensor> TensorFromProto(const onnx::TensorProto& proto, const std::string& base_dir,
                                 const std::string& what);
// The same, but moves a large raw_data blob into the tensor instead of copying it (the proto's
// raw_data is released). External data is memory-mapped either way.
StatusOr<Tensor> TakeTensorFromProto(onnx::TensorProto& proto, const std::string& base_dir,
                                     const std::string& what);
StatusOr<Tensor> TensorFromSparseProto(const onnx::SparseTensorProto& proto,
                                       const std::string& base_dir, const std::string& what);

// Maps `length` bytes at `offset` of `location` (checked as for ReadExternalData) into memory,
// copy-on-write; the buffer keeps the mapping alive.
StatusOr<std::shared_ptr<Buffer>> MapExternalData(const std::string& base_dir,
                                                  const std::string& location, int64_t offset,
                                                  int64_t length, const std::string& what);

// Reads `length` bytes at `offset` from `location`, which must stay inside `base_dir`
// (no absolute path, no "..", no symlink leading out). length < 0 reads to the end.
StatusOr<std::string> ReadExternalData(const std::string& base_dir, const std::string& location,
                                       int64_t offset, int64_t length, const std::string& what);

}  // namespace hone
