// KServe v2 / Open Inference Protocol messages for hone serve's REST frontend: the JSON
// inference request parsed into tensors (simdjson), the response and the metadata written as
// JSON. Transport-free, so it is tested without a socket.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hone/session.h"
#include "hone/status.h"
#include "hone/tensor.h"
#include "serve/repository.h"

namespace hone::serve {

// "FP32", "INT64", "BYTES", ... <-> hone's dtypes; an empty string / kUndefined for none.
std::string ProtocolType(DataType dtype);
DataType FromProtocolType(const std::string& name);

// The element count of `dims`; errors (negative or overflowing sizes) name input `name`.
StatusOr<int64_t> ElementCount(const std::vector<int64_t>& dims, const std::string& name);
// A tensor's elements as raw bytes, little-endian without padding, BYTES elements each as a
// 4-byte little-endian length and the bytes: Triton's binary tensor extension and gRPC's
// raw_input_contents / raw_output_contents.
void AppendRawTensor(const Tensor& t, std::string& out);
// The tensor of `dtype` and `dims` whose raw bytes are `bytes`; errors name input `name`.
StatusOr<Tensor> RawTensor(std::string_view bytes, DataType dtype, const std::vector<int64_t>& dims,
                           const std::string& name);

struct InferRequest {
  std::string id;
  std::vector<NamedTensor> inputs;
  std::vector<std::string> outputs;  // requested by name; empty: all
  // Triton's binary tensor extension: outputs to answer as raw bytes after the JSON header
  // (an output's "parameters": {"binary_data": true}), or all of them
  // ("parameters": {"binary_data_output": true}).
  std::vector<std::string> binary_outputs;
  bool all_binary = false;
  bool Binary(const std::string& output) const;
};

// Parses an inference request body. `json_bytes` < 0: the body is JSON; else (the
// Inference-Header-Content-Length header) its first json_bytes are the JSON header and the
// rest the inputs with "parameters": {"binary_data_size": n}, in order (BYTES elements as a
// 4-byte little-endian length and the bytes). Every error is InvalidArgument naming the input
// and the problem (malformed JSON, missing field, unknown datatype, element count not matching
// the shape, a value of the wrong kind, binary sizes that do not add up).
StatusOr<InferRequest> ParseInferRequest(const std::string& body, int64_t json_bytes = -1);

struct InferResponse {
  std::string body;
  int64_t json_bytes = -1;  // >= 0: binary outputs follow the JSON (the response header)
};
InferResponse MakeInferResponse(const std::string& model, int64_t version,
                                const InferRequest& request,
                                const std::vector<NamedTensor>& outputs);
// All outputs as JSON data.
std::string InferResponseJson(const std::string& model, int64_t version, const std::string& id,
                              const std::vector<NamedTensor>& outputs);

// A tensor's shape as metadata states it: the batch dimension as -1 first when the model
// batches (max_batch_size > 0), -1 for any other free dimension.
std::vector<int64_t> MetadataShape(const ModelSpec& spec, const TensorSpec& t);

// {"name": ..., "versions": [...], "platform": "onnx", "inputs": [...], "outputs": [...]}.
std::string ModelMetadataJson(const ModelSpec& spec, const std::vector<int64_t>& versions);

// {"error": "<message>"}.
std::string ErrorJson(const std::string& message);

}  // namespace hone::serve
