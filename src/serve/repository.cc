#include "serve/repository.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "serve/model_config.pb.h"

namespace hone::serve {
namespace {

namespace fs = std::filesystem;
namespace pb = hone::serve::config;

// Parser messages as "path:line:column: message" (1-based, as editors count).
class Collector final : public google::protobuf::io::ErrorCollector {
 public:
  explicit Collector(std::string path) : path_(std::move(path)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (error_.empty()) error_ = fmt::format("{}:{}:{}: {}", path_, line + 1, column + 1, message);
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    warnings_.push_back(
        fmt::format("{}:{}:{}: {} (ignored)", path_, line + 1, column + 1, message));
  }
  const std::string& error() const { return error_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  std::string path_;
  std::string error_;
  std::vector<std::string> warnings_;
};

StatusOr<DataType> FromConfigType(pb::DataType t, const std::string& where) {
  switch (t) {
    case pb::TYPE_BOOL:
      return DataType::kBool;
    case pb::TYPE_UINT8:
      return DataType::kUInt8;
    case pb::TYPE_UINT16:
      return DataType::kUInt16;
    case pb::TYPE_UINT32:
      return DataType::kUInt32;
    case pb::TYPE_UINT64:
      return DataType::kUInt64;
    case pb::TYPE_INT8:
      return DataType::kInt8;
    case pb::TYPE_INT16:
      return DataType::kInt16;
    case pb::TYPE_INT32:
      return DataType::kInt32;
    case pb::TYPE_INT64:
      return DataType::kInt64;
    case pb::TYPE_FP16:
      return DataType::kFloat16;
    case pb::TYPE_FP32:
      return DataType::kFloat32;
    case pb::TYPE_FP64:
      return DataType::kFloat64;
    case pb::TYPE_STRING:
      return DataType::kString;
    case pb::TYPE_BF16:
      return DataType::kBFloat16;
    default:
      return InvalidArgument("{}: data_type is missing or TYPE_INVALID", where);
  }
}

StatusOr<std::vector<TensorSpec>> Tensors(
    const google::protobuf::RepeatedPtrField<pb::ModelTensor>& list, const std::string& path,
    const char* field) {
  std::vector<TensorSpec> out;
  for (int i = 0; i < list.size(); ++i) {
    const pb::ModelTensor& t = list[i];
    const std::string where = fmt::format("{}: {}[{}]", path, field, i);
    if (t.name().empty()) return InvalidArgument("{}: name is missing", where);
    for (const auto& o : out)
      if (o.name == t.name())
        return InvalidArgument("{}: name '{}' appears twice", where, t.name());
    TensorSpec s;
    s.name = t.name();
    HONE_ASSIGN_OR_RETURN(s.dtype, FromConfigType(t.data_type(), where + " '" + t.name() + "'"));
    for (int64_t d : t.dims()) {
      if (d < -1 || d == 0)
        return InvalidArgument("{} '{}': dims: {} is not a size (>= 1, or -1 for any)", where,
                               t.name(), d);
      s.dims.push_back(d);
    }
    out.push_back(std::move(s));
  }
  return out;
}

StatusOr<std::string> ReadText(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return Status(StatusCode::kUnavailable, fmt::format("cannot read {}", p.string()));
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// Numeric subdirectories, ascending; anything else is noted in warnings.
std::vector<int64_t> VersionDirs(const fs::path& dir, std::vector<std::string>& warnings) {
  std::vector<int64_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_directory()) continue;
    const std::string n = e.path().filename().string();
    const bool numeric = !n.empty() && n.size() < 19 && std::all_of(n.begin(), n.end(), [](char c) {
      return c >= '0' && c <= '9';
    });
    if (!numeric) {
      warnings.push_back(
          fmt::format("{}: '{}' is not a version number (ignored)", dir.string(), n));
      continue;
    }
    out.push_back(std::stoll(n));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string ModelEntry::ModelPath(int64_t version) const {
  return (fs::path(dir) / std::to_string(version) / spec.model_filename).string();
}

StatusOr<ModelSpec> ParseModelConfig(const std::string& text, const std::string& path,
                                     std::vector<std::string>* warnings) {
  pb::ModelConfig c;
  google::protobuf::TextFormat::Parser parser;
  Collector collector(path);
  parser.RecordErrorsTo(&collector);
  parser.AllowUnknownField(true);  // Triton's config has fields hone does not use: warn
  if (!parser.ParseFromString(text, &c))
    return InvalidArgument("{}",
                           collector.error().empty() ? path + ": cannot parse" : collector.error());
  // A field Triton defines that hone does not use is a warning; any other unknown name is a
  // typo, and an error.
  static const char* const kTritonOnly[] = {"optimization",
                                            "model_warmup",
                                            "parameters",
                                            "sequence_batching",
                                            "ensemble_scheduling",
                                            "model_operations",
                                            "model_transaction_policy",
                                            "model_repository_agents",
                                            "runtime",
                                            "cc_model_filenames",
                                            "metric_tags",
                                            "batch_input",
                                            "batch_output",
                                            "model_metrics",
                                            "label_filename",
                                            "format",
                                            "reshape",
                                            "is_shape_tensor",
                                            "allow_ragged_batch",
                                            "optional",
                                            "priority_levels",
                                            "default_priority_level",
                                            "priority_queue_policy",
                                            "profile",
                                            "passive",
                                            "host_policy",
                                            "secondary_devices",
                                            "rate_limiter",
                                            "allow_timeout_override",
                                            "default_queue_policy_timeout",
                                            "preferred_batch_size_list"};
  for (const std::string& w : collector.warnings()) {
    const size_t at = w.find("has no field named \"");
    bool triton = false;
    if (at != std::string::npos) {
      const size_t b = at + 20, e = w.find('"', b);
      const std::string field = w.substr(b, e - b);
      for (const char* t : kTritonOnly) triton = triton || field == t;
    }
    if (!triton)
      return InvalidArgument("{}", w.substr(0, w.size() - std::string(" (ignored)").size()));
    if (warnings != nullptr) warnings->push_back(w);
  }
  ModelSpec s;
  s.name = c.name();
  if (c.max_batch_size() < 0)
    return InvalidArgument("{}: max_batch_size: must be >= 0, got {}", path, c.max_batch_size());
  s.max_batch_size = c.max_batch_size();
  s.batcher.max_batch_size = s.max_batch_size;
  HONE_ASSIGN_OR_RETURN(s.inputs, Tensors(c.input(), path, "input"));
  HONE_ASSIGN_OR_RETURN(s.outputs, Tensors(c.output(), path, "output"));
  if (c.has_dynamic_batching()) {
    const pb::DynamicBatching& b = c.dynamic_batching();
    if (s.max_batch_size == 0)
      return InvalidArgument("{}: dynamic_batching needs max_batch_size > 0", path);
    s.dynamic_batching = true;
    for (int p : b.preferred_batch_size()) {
      if (p < 1 || p > s.max_batch_size)
        return InvalidArgument(
            "{}: dynamic_batching.preferred_batch_size: {} is not within 1 ... max_batch_size "
            "({})",
            path, p, s.max_batch_size);
      s.batcher.preferred_batch_sizes.push_back(p);
    }
    s.batcher.max_queue_delay_us = static_cast<int64_t>(b.max_queue_delay_microseconds());
    s.batcher.preserve_ordering = b.preserve_ordering();
    const pb::QueuePolicy& q = b.default_queue_policy();
    s.batcher.max_queue_size = q.max_queue_size();
    s.batcher.default_timeout_us = static_cast<int64_t>(q.default_timeout_microseconds());
    s.batcher.timeout_action = q.timeout_action() == pb::QueuePolicy::DELAY
                                   ? TimeoutAction::kDelay
                                   : TimeoutAction::kReject;
  }
  int instances = 0;
  for (int i = 0; i < c.instance_group_size(); ++i) {
    const pb::InstanceGroup& g = c.instance_group(i);
    if (g.kind() == pb::InstanceGroup::KIND_GPU)
      return InvalidArgument(
          "{}: instance_group[{}].kind: KIND_GPU: hone serve runs on the CPU "
          "(KIND_CPU)",
          path, i);
    if (g.count() < 0)
      return InvalidArgument("{}: instance_group[{}].count: must be >= 1, got {}", path, i,
                             g.count());
    instances += g.count() == 0 ? 1 : g.count();
  }
  s.instances = std::max(instances, 1);
  s.response_cache = c.response_cache().enable();
  if (c.version_policy().has_all()) {
    s.version_policy = VersionPolicyKind::kAll;
  } else if (c.version_policy().has_specific()) {
    s.version_policy = VersionPolicyKind::kSpecific;
    for (int64_t v : c.version_policy().specific().versions()) s.specific_versions.push_back(v);
    if (s.specific_versions.empty())
      return InvalidArgument("{}: version_policy.specific: no versions listed", path);
  } else if (c.version_policy().has_latest()) {
    s.latest_versions = std::max<int64_t>(c.version_policy().latest().num_versions(), 1);
  }
  if (!c.default_model_filename().empty()) s.model_filename = c.default_model_filename();
  return s;
}

StatusOr<ModelEntry> ScanModel(const std::string& repo, const std::string& name) {
  ModelEntry e;
  e.name = name;
  e.dir = (fs::path(repo) / name).string();
  std::error_code ec;
  if (!fs::is_directory(e.dir, ec))
    return NotFound("model '{}': no directory {} in the repository", name, e.dir);
  const fs::path config = fs::path(e.dir) / "config.pbtxt";
  if (fs::exists(config, ec)) {
    e.config_path = config.string();
    HONE_ASSIGN_OR_RETURN(std::string text, ReadText(config));
    HONE_ASSIGN_OR_RETURN(e.spec, ParseModelConfig(text, e.config_path, &e.warnings));
    if (!e.spec.name.empty() && e.spec.name != name)
      return InvalidArgument("{}: name: '{}' differs from the model's directory name '{}'",
                             e.config_path, e.spec.name, name);
  }
  e.spec.name = name;
  std::vector<int64_t> found = VersionDirs(e.dir, e.warnings);
  std::vector<int64_t> usable;
  for (int64_t v : found) {
    if (fs::exists(fs::path(e.dir) / std::to_string(v) / e.spec.model_filename, ec))
      usable.push_back(v);
    else
      e.warnings.push_back(
          fmt::format("{}/{}: no {} (version skipped)", e.dir, v, e.spec.model_filename));
  }
  switch (e.spec.version_policy) {
    case VersionPolicyKind::kAll:
      e.versions = usable;
      break;
    case VersionPolicyKind::kLatest: {
      const size_t keep = std::min(usable.size(), static_cast<size_t>(e.spec.latest_versions));
      e.versions.assign(usable.end() - static_cast<std::ptrdiff_t>(keep), usable.end());
      break;
    }
    case VersionPolicyKind::kSpecific:
      for (int64_t v : e.spec.specific_versions) {
        if (std::find(usable.begin(), usable.end(), v) == usable.end())
          return InvalidArgument("{}: version_policy.specific: version {} has no {}", e.config_path,
                                 v, e.spec.model_filename);
        e.versions.push_back(v);
      }
      std::sort(e.versions.begin(), e.versions.end());
      break;
  }
  if (e.versions.empty())
    return InvalidArgument("model '{}': no version directory with {} under {}", name,
                           e.spec.model_filename, e.dir);
  return e;
}

RepositoryScan ScanRepository(const std::string& repo) {
  RepositoryScan scan;
  std::error_code ec;
  if (!fs::is_directory(repo, ec)) {
    scan.errors.push_back(fmt::format("model repository {} is not a directory", repo));
    return scan;
  }
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(repo, ec))
    if (e.is_directory()) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    auto m = ScanModel(repo, n);
    if (m.ok())
      scan.models.push_back(std::move(*m));
    else
      scan.errors.push_back(m.status().message());
  }
  return scan;
}

}  // namespace hone::serve
