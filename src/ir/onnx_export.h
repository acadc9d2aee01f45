// hone::Model -> ONNX ModelProto bytes: what `hone optimize` writes. Weights go inline as
// raw_data; value types as the model declares them (tensors, sequences, optionals).
#pragma once

#include <string>

#include "hone/status.h"
#include "ir/graph.h"

namespace hone {

// Fails (NotSupported) for what the in-memory model does not keep: TypeProto attributes, and
// models whose serialized form would pass protobuf's 2 GiB limit.
StatusOr<std::string> ExportOnnxModel(const Model& model);

}  // namespace hone
