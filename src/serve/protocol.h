// KServe v2 / Open Inference Protocol messages for hone serve's REST frontend: the JSON
// inference request parsed into tensors (simdjson), the response and the metadata written as
// JSON. Transport-free, so it is tested without a socket.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hone/session.h"
#include "hone/status.h"
#include "hone/tensor.h"
#include "serve/repository.h"

namespace hone::serve {

// "FP32", "INT64", "BYTES", ... <-> hone's dtypes; an empty string / kUndefined for none.
std::string ProtocolType(DataType dtype);
DataType FromProtocolType(const std::string& name);

struct InferRequest {
  std::string id;
  std::vector<NamedTensor> inputs;
  std::vector<std::string> outputs;  // requested by name; empty: all
};

// Parses a JSON inference request body. Every error is InvalidArgument naming the input and
// the problem (malformed JSON, missing field, unknown datatype, element count not matching the
// shape, a value of the wrong kind).
StatusOr<InferRequest> ParseInferRequest(const std::string& body);

std::string InferResponseJson(const std::string& model, int64_t version, const std::string& id,
                              const std::vector<NamedTensor>& outputs);

// {"name": ..., "versions": [...], "platform": "onnx", "inputs": [...], "outputs": [...]}.
std::string ModelMetadataJson(const ModelSpec& spec, const std::vector<int64_t>& versions);

// {"error": "<message>"}.
std::string ErrorJson(const std::string& message);

}  // namespace hone::serve
