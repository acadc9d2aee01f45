// hone/session.h: load an ONNX model and run it.
//
//   #include <hone/hone.h>
//   auto created = hone::Session::FromFile("resnet18.onnx");
//   if (!created.ok()) { /* created.status().ToString() says why */ }
//   std::unique_ptr<hone::Session> session = std::move(created).value();
//   hone::Tensor x = hone::Tensor::Empty(hone::DataType::kFloat32, {1, 3, 224, 224});
//   auto out = session->Run({{session->inputs()[0].name, x}});
//   if (out.ok()) { const hone::Tensor& y = (*out)[0].tensor; }
//
// A Session is immutable after creation; Run() is const and may be called from several threads
// at once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "hone/status.h"
#include "hone/tensor.h"
#include "hone/value.h"

namespace hone {

// One dimension of a declared shape: a number, a symbol ("batch"), or unknown.
struct Dim {
  int64_t value = -1;  // >= 0 when known
  std::string symbol;  // set when the model names the dimension
  bool known() const { return value >= 0; }
};

struct ValueInfo {
  // What the graph declares for the value; dtype/shape describe the tensor (or the elements).
  enum class Kind { kTensor, kSequence, kOptionalTensor, kOptionalSequence, kOther };
  std::string name;
  Kind kind = Kind::kTensor;
  DataType dtype = DataType::kUndefined;
  bool has_shape = false;  // false: rank unknown
  std::vector<Dim> shape;
};

// "[batch,3,224,224]"; "?" for an unknown dim, "*" for an unknown rank.
std::string DimsToString(const ValueInfo& info);

// How much a session rewrites the graph before running it (see docs/architecture.md, passes).
enum class GraphOptimization {
  kNone = 0,   // only Constant nodes to initializers
  kBasic = 1,  // rewrites that keep standard ONNX ops (Identity/Dropout removal, BatchNorm folding)
  kAll = 2,    // also hone's fused and channel-blocked ops (needs use_fast_kernels)
};

struct SessionOptions {
  int threads = 0;  // intra-op threads; 0 = one per core
  GraphOptimization optimization = GraphOptimization::kAll;
  bool use_fast_kernels = true;  // false: reference kernels only
  bool verbose = false;          // log kernel choices and why others declined
  bool profile = false;          // time every node; read with Session::profile()
  // Plan activations per input-shape signature: the first run of a shape records its buffers,
  // later ones take them from one arena and reuse its shape arithmetic (docs/architecture.md).
  // false: every run allocates from the heap.
  bool memory_plan = true;
};

// Accumulated per-node timings (SessionOptions::profile), subgraph nodes included.
struct NodeProfile {
  std::string node;    // node name
  std::string op;      // op type
  std::string kernel;  // implementation that ran, e.g. "CreateDnnlConv"
  int64_t calls = 0;
  double total_ms = 0;
};

struct ModelInfo {
  int64_t ir_version = 0;
  std::map<std::string, int64_t> opsets;  // domain ("" = ai.onnx) -> version
  std::string producer;
  std::map<std::string, int64_t> op_histogram;  // "domain::op" or "op" -> count, subgraphs included
  int64_t parameter_count = 0;                  // elements in initializers
  int64_t parameter_bytes = 0;
  int64_t node_count = 0;
};

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

struct NamedValue {
  std::string name;
  Value value;
};

class SessionImpl;

class Session {
 public:
  // `path`'s folder anchors external data.
  static StatusOr<std::unique_ptr<Session>> FromFile(const std::string& path,
                                                     const SessionOptions& options = {});
  // `base_dir` anchors external data; empty refuses models that have any.
  static StatusOr<std::unique_ptr<Session>> FromBytes(std::span<const uint8_t> bytes,
                                                      const SessionOptions& options = {},
                                                      const std::string& base_dir = "");
  ~Session();

  const std::vector<ValueInfo>& inputs() const;
  const std::vector<ValueInfo>& outputs() const;
  const ModelInfo& info() const;
  // Per-node timings accumulated over every Run since creation (empty unless profiling).
  std::vector<NodeProfile> profile() const;

  // Feeds `inputs` by name (every graph input without an initializer is required) and returns
  // the requested outputs, all graph outputs when `output_names` is empty, in that order.
  StatusOr<std::vector<NamedTensor>> Run(const std::vector<NamedTensor>& inputs,
                                         const std::vector<std::string>& output_names = {}) const;
  // The same for models whose inputs or outputs are sequences or optionals.
  StatusOr<std::vector<NamedValue>> RunValues(
      const std::vector<NamedValue>& inputs,
      const std::vector<std::string>& output_names = {}) const;

 private:
  explicit Session(std::unique_ptr<SessionImpl> impl);
  std::unique_ptr<SessionImpl> impl_;
};

}  // namespace hone
