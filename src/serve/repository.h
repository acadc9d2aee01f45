// A model repository in Triton's layout: <repo>/<model>/<version>/model.onnx with an optional
// <repo>/<model>/config.pbtxt (protobuf text format, Triton's field names: serve/
// model_config.proto). Scanning reads directories and configs only; models load later
// (serve/model_manager, lazily in on-demand mode).
//
//   RepositoryScan scan = ScanRepository("models");
//   for (const auto& e : scan.errors) LOG(e);  // one bad model does not stop the others
//   for (const ModelEntry& m : scan.models) ... m.spec.max_batch_size, m.versions ...
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hone/status.h"
#include "hone/tensor.h"
#include "serve/batcher.h"

namespace hone::serve {

struct TensorSpec {
  std::string name;
  DataType dtype = DataType::kFloat32;
  std::vector<int64_t> dims;  // without the batch dimension when max_batch_size > 0; -1: any
};

enum class VersionPolicyKind { kLatest, kAll, kSpecific };

// A model's serving settings: config.pbtxt's, or the defaults when it has none.
struct ModelSpec {
  std::string name;
  int64_t max_batch_size = 0;  // 0: requests run as they come, no batch dimension added
  std::vector<TensorSpec> inputs, outputs;  // empty: completed from the model when it loads
  bool dynamic_batching = false;
  BatcherConfig batcher;
  int instances = 1;  // instance_group count (KIND_CPU): model copies running in parallel
  bool response_cache = false;
  VersionPolicyKind version_policy = VersionPolicyKind::kLatest;
  int64_t latest_versions = 1;             // kLatest
  std::vector<int64_t> specific_versions;  // kSpecific
  std::string model_filename = "model.onnx";
};

struct ModelEntry {
  std::string name;
  std::string dir;          // <repo>/<model>
  std::string config_path;  // empty: no config.pbtxt
  ModelSpec spec;
  std::vector<int64_t> versions;  // served ones (the version policy applied), ascending
  std::vector<std::string> warnings;

  // <dir>/<version>/<model file>.
  std::string ModelPath(int64_t version) const;
};

struct RepositoryScan {
  std::vector<ModelEntry> models;   // the models that scanned cleanly, by name
  std::vector<std::string> errors;  // one per model that did not, naming its file and field
};

RepositoryScan ScanRepository(const std::string& repo);
// One model of the repository (for explicit load / reload).
StatusOr<ModelEntry> ScanModel(const std::string& repo, const std::string& name);

// Parses config.pbtxt text; errors name `path`, line, column and the field.
StatusOr<ModelSpec> ParseModelConfig(const std::string& text, const std::string& path,
                                     std::vector<std::string>* warnings = nullptr);

}  // namespace hone::serve
