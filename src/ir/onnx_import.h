// ONNX ModelProto -> hone::Model, with validation and shape inference.
#pragma once

#include <span>
#include <string>

#include "hone/status.h"
#include "ir/graph.h"

namespace hone {

struct ImportOptions {
  // Folder that external-data locations are resolved against; empty refuses external data.
  std::string base_dir;
  // Run ONNX shape inference at load and fail on contradictions.
  bool infer_shapes = true;
};

StatusOr<Model> ImportOnnxModel(std::span<const uint8_t> bytes, const ImportOptions& options);
StatusOr<Model> ImportOnnxFile(const std::string& path, bool infer_shapes = true);

}  // namespace hone
